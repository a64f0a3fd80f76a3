//! The integer network: every weight, bias, format and shift of the quantized
//! network, and the bounds interval analysis proves for every value.

use std::fmt;

use ndarray::ArrayD;
use serde::{Deserialize, Serialize};

use super::analysis::analyze;
use super::contract::FixedFormat;
use super::interval::Interval;
use super::QuantError;
use crate::model::{MaxPool2d, Shape};

/// What values a layer's integer weights may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WeightKind {
    /// `{0, ±2^k}` with `k` in `0..=max_shift` (INQ).
    Pow2 { max_shift: u32 },
    /// `{-1, +1}`.
    Binary,
    /// `{-1, 0, +1}`.
    Ternary,
    /// Any integer of a signed `bits`-bit word.
    Fixed { bits: u32 },
    /// Weight sharing: at most `2^index_bits` distinct nonzero values, each a
    /// signed `bits`-bit integer (a codebook of fixed-point constants).
    Shared { index_bits: u32, bits: u32 },
}

impl WeightKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WeightKind::Pow2 { .. } => "pow2",
            WeightKind::Binary => "binary",
            WeightKind::Ternary => "ternary",
            WeightKind::Fixed { .. } => "fixed",
            WeightKind::Shared { .. } => "shared",
        }
    }

    /// Whether `w` is a value of this kind.
    pub fn admits(self, w: i32) -> bool {
        match self {
            WeightKind::Pow2 { max_shift } => {
                w == 0
                    || (w.unsigned_abs().is_power_of_two()
                        && w.unsigned_abs().trailing_zeros() <= max_shift)
            }
            WeightKind::Binary => w == 1 || w == -1,
            WeightKind::Ternary => (-1..=1).contains(&w),
            WeightKind::Fixed { bits } | WeightKind::Shared { bits, .. } => {
                FixedFormat::new(true, bits.clamp(2, 32), 0)
                    .expect("clamped to a valid width")
                    .contains(w as i64)
            }
        }
    }

    /// Bits of one stored weight code.
    pub fn code_bits(self) -> u32 {
        match self {
            // Sign, zero flag and the shift.
            WeightKind::Pow2 { max_shift } => 2 + (32 - max_shift.leading_zeros()),
            WeightKind::Binary => 1,
            WeightKind::Ternary => 2,
            WeightKind::Fixed { bits } => bits,
            // An index into the codebook.
            WeightKind::Shared { index_bits, .. } => index_bits,
        }
    }

    pub(super) fn check(self) -> Result<(), String> {
        match self {
            WeightKind::Pow2 { max_shift } if max_shift > 30 => {
                Err(format!("power-of-two weights shift at most 30, got {max_shift}"))
            }
            WeightKind::Fixed { bits } | WeightKind::Shared { bits, .. }
                if !(2..=16).contains(&bits) =>
            {
                Err(format!("fixed and shared weights need 2 to 16 bits, got {bits}"))
            }
            WeightKind::Shared { index_bits, .. } if !(1..=8).contains(&index_bits) => {
                Err(format!("shared weights need 1 to 8 index bits, got {index_bits}"))
            }
            _ => Ok(()),
        }
    }
}

impl fmt::Display for WeightKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WeightKind::Pow2 { max_shift } => write!(f, "pow2(2^0..2^{max_shift})"),
            WeightKind::Binary => f.write_str("binary"),
            WeightKind::Ternary => f.write_str("ternary"),
            WeightKind::Fixed { bits } => write!(f, "fixed{bits}"),
            WeightKind::Shared { index_bits, bits } => write!(f, "shared{index_bits}(fixed{bits})"),
        }
    }
}

/// A per-output-channel integer multiplier: `acc2 = acc * multipliers[j]`, with
/// `frac` extra fraction bits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelScale {
    pub multipliers: Vec<i64>,
    pub frac: u32,
}

/// The integer arithmetic of a dense or convolution layer.
#[derive(Clone, Debug, PartialEq)]
pub struct Weighted {
    pub kind: WeightKind,
    /// The real weight is `W_int * 2^exponent`.
    pub exponent: i32,
    /// `[out, in]` (dense) or `[oc, ic, kh, kw]` (convolution).
    pub weights: ArrayD<i32>,
    /// One per output channel, in the accumulator format.
    pub bias: Vec<i64>,
    pub scale: Option<ChannelScale>,
    pub relu: bool,
}

impl Weighted {
    pub fn out_channels(&self) -> usize {
        self.weights.shape()[0]
    }

    /// Number of distinct nonzero weight values (the codebook of a shared layer).
    pub fn distinct_nonzero(&self) -> usize {
        self.weights.iter().filter(|&&v| v != 0).collect::<std::collections::BTreeSet<_>>().len()
    }

    /// Weights of one output channel, flattened in (ic, kh, kw) order.
    pub fn row(&self, j: usize) -> ndarray::ArrayViewD<'_, i32> {
        self.weights.index_axis(ndarray::Axis(0), j)
    }

    /// Fraction bits of the accumulator: `frac_x - exponent`.
    pub fn acc_frac(&self, input: FixedFormat) -> i32 {
        input.frac() - self.exponent
    }

    /// Fraction bits after the channel scale.
    pub fn scaled_frac(&self, input: FixedFormat) -> i32 {
        self.acc_frac(input) + self.scale.as_ref().map_or(0, |s| s.frac as i32)
    }

    /// The requantization shift: `frac(acc2) - frac_y`.
    pub fn shift(&self, input: FixedFormat, output: FixedFormat) -> i32 {
        self.scaled_frac(input) - output.frac()
    }

    /// The multiplier of channel `j` (1 without a scale).
    pub fn multiplier(&self, j: usize) -> i64 {
        self.scale.as_ref().map_or(1, |s| s.multipliers[j])
    }
}

/// The operation of an integer layer.
#[derive(Clone, Debug, PartialEq)]
pub enum IntOp {
    Dense(Weighted),
    Conv2d { layer: Weighted, stride: [usize; 2], padding: [usize; 2] },
    MaxPool2d(MaxPool2d),
    Relu,
    Flatten,
}

impl IntOp {
    pub fn as_str(&self) -> &'static str {
        match self {
            IntOp::Dense(_) => "dense",
            IntOp::Conv2d { .. } => "conv2d",
            IntOp::MaxPool2d(_) => "maxpool2d",
            IntOp::Relu => "relu",
            IntOp::Flatten => "flatten",
        }
    }

    pub fn weighted(&self) -> Option<&Weighted> {
        match self {
            IntOp::Dense(w) | IntOp::Conv2d { layer: w, .. } => Some(w),
            IntOp::MaxPool2d(_) | IntOp::Relu | IntOp::Flatten => None,
        }
    }
}

/// One layer as given to [`IntNetwork::new`]: the op and, for weighted layers,
/// the output format (other layers keep their input's format).
#[derive(Clone, Debug, PartialEq)]
pub struct IntLayerSpec {
    pub name: String,
    pub op: IntOp,
    pub format: Option<FixedFormat>,
}

/// A validated integer layer with its derived facts.
#[derive(Clone, Debug, PartialEq)]
pub struct IntLayer {
    pub name: String,
    pub op: IntOp,
    pub input: Shape,
    pub output: Shape,
    pub input_format: FixedFormat,
    pub format: FixedFormat,
    /// Proven accumulator bounds (after the channel scale), one per output channel;
    /// empty for layers without weights.
    pub acc_bounds: Vec<Interval>,
    /// Proven output bounds, one per output channel (per value for flat outputs).
    pub bounds: Vec<Interval>,
}

impl IntLayer {
    /// The channel a flat output index belongs to.
    pub fn channel_of(&self, index: usize) -> usize {
        match self.output {
            Shape::Flat(_) => index,
            Shape::Image { h, w, .. } => index / (h * w),
        }
    }

    /// The proven bounds of every output value, in (C, H, W) order.
    pub fn value_bounds(&self) -> Vec<Interval> {
        (0..self.output.numel()).map(|i| self.bounds[self.channel_of(i)]).collect()
    }
}

/// A validated integer network: input format, layers, and proven bounds.
#[derive(Clone, Debug, PartialEq)]
pub struct IntNetwork {
    input: Shape,
    input_format: FixedFormat,
    layers: Vec<IntLayer>,
}

pub(super) fn per_channel_count(s: Shape) -> usize {
    match s {
        Shape::Flat(n) => n,
        Shape::Image { c, .. } => c,
    }
}

impl IntNetwork {
    /// Validates the layers (shapes, weight values, formats, widths) and proves
    /// the bounds of every accumulator and output by interval analysis.
    pub fn new(
        input: Shape,
        input_format: FixedFormat,
        specs: Vec<IntLayerSpec>,
    ) -> Result<IntNetwork, QuantError> {
        if specs.is_empty() {
            return Err(QuantError::Invalid("the integer network has no layers".into()));
        }
        let mut shape = input;
        let mut format = input_format;
        let mut bounds = vec![Interval::of_format(input_format); per_channel_count(input)];
        let mut layers = Vec::with_capacity(specs.len());
        for (index, spec) in specs.into_iter().enumerate() {
            let err = |reason: String| QuantError::Layer {
                index,
                name: spec.name.clone(),
                op: spec.op.as_str(),
                reason,
            };
            let (output, out_format, acc_bounds, out_bounds) =
                analyze(&spec.op, spec.format, shape, format, &bounds).map_err(err)?;
            layers.push(IntLayer {
                name: spec.name,
                op: spec.op,
                input: shape,
                output,
                input_format: format,
                format: out_format,
                acc_bounds,
                bounds: out_bounds.clone(),
            });
            shape = output;
            format = out_format;
            bounds = out_bounds;
        }
        let mut names = std::collections::BTreeSet::new();
        for l in &layers {
            if !names.insert(l.name.as_str()) {
                return Err(QuantError::Invalid(format!("duplicate layer name `{}`", l.name)));
            }
        }
        Ok(IntNetwork { input, input_format, layers })
    }

    pub fn input(&self) -> Shape {
        self.input
    }
    pub fn input_format(&self) -> FixedFormat {
        self.input_format
    }
    pub fn layers(&self) -> &[IntLayer] {
        &self.layers
    }
    pub fn output(&self) -> Shape {
        self.layers.last().expect("validated: at least one layer").output
    }
    pub fn output_format(&self) -> FixedFormat {
        self.layers.last().expect("validated: at least one layer").format
    }
}

impl IntNetwork {
    /// The float network this integer network stands for: weights
    /// `W_int * 2^e * alpha_j`, biases `B_int * 2^-frac_acc * alpha_j` (alpha_j the
    /// channel multiplier's real value), fused ReLUs as layers of their own.
    /// Activation quantization is not part of it. Layers are named by kind and
    /// position (`fc1`, `relu2`), as architecture specs and ONNX import name them.
    pub fn to_float(&self) -> Result<crate::model::Network, QuantError> {
        use crate::model::{Conv2d, Dense, Layer, Network, Op};
        let mut counters = std::collections::BTreeMap::<&str, usize>::new();
        let mut name = |prefix: &'static str| {
            let n = counters.entry(prefix).or_insert(0);
            *n += 1;
            format!("{prefix}{n}")
        };
        let mut layers = Vec::new();
        for l in &self.layers {
            let real = |w: &Weighted| {
                let unit = (w.exponent as f64).exp2();
                let acc_unit = (-w.acc_frac(l.input_format) as f64).exp2();
                let alpha = |j: usize| {
                    w.scale
                        .as_ref()
                        .map_or(1.0, |s| s.multipliers[j] as f64 / (s.frac as f64).exp2())
                };
                let mut weights = w.weights.mapv(|v| v as f64 * unit);
                for (j, mut row) in weights.axis_iter_mut(ndarray::Axis(0)).enumerate() {
                    row.mapv_inplace(|v| v * alpha(j));
                }
                let bias: ndarray::Array1<f32> = (0..w.out_channels())
                    .map(|j| (w.bias[j] as f64 * acc_unit * alpha(j)) as f32)
                    .collect();
                (weights.mapv(|v| v as f32), bias)
            };
            match &l.op {
                IntOp::Dense(w) => {
                    let (weights, bias) = real(w);
                    let weight = weights.into_dimensionality().expect("dense weights are 2-D");
                    layers.push(Layer { name: name("fc"), op: Op::Dense(Dense { weight, bias }) });
                    if w.relu {
                        layers.push(Layer { name: name("relu"), op: Op::Relu });
                    }
                }
                IntOp::Conv2d { layer: w, stride, padding } => {
                    let (weights, bias) = real(w);
                    let weight = weights.into_dimensionality().expect("conv weights are 4-D");
                    let conv = Conv2d { weight, bias, stride: *stride, padding: *padding };
                    layers.push(Layer { name: name("conv"), op: Op::Conv2d(conv) });
                    if w.relu {
                        layers.push(Layer { name: name("relu"), op: Op::Relu });
                    }
                }
                IntOp::MaxPool2d(p) => {
                    layers.push(Layer { name: name("pool"), op: Op::MaxPool2d(*p) })
                }
                IntOp::Relu => layers.push(Layer { name: name("relu"), op: Op::Relu }),
                IntOp::Flatten => layers.push(Layer { name: name("flatten"), op: Op::Flatten }),
            }
        }
        Ok(Network::new(self.input, layers)?)
    }
}
