//! The integer network: its layers ([`super::layer`]) validated in order by
//! the interval analysis, so every value carries proven bounds.

use super::analysis::analyze;
use super::contract::FixedFormat;
use super::interval::Interval;
use super::layer::{per_channel_count, IntLayer, IntLayerSpec, IntOp, Weighted};
use super::QuantError;
use crate::model::Shape;

/// A validated integer network: input format, layers, and proven bounds.
#[derive(Clone, Debug, PartialEq)]
pub struct IntNetwork {
    input: Shape,
    input_format: FixedFormat,
    layers: Vec<IntLayer>,
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
