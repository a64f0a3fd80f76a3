//! The integer layers: every weight, bias, format and shift of one layer of
//! the quantized network, as given ([`IntLayerSpec`]) and as validated, with
//! the bounds interval analysis proves for its values ([`IntLayer`]).

use ndarray::ArrayD;
use serde::{Deserialize, Serialize};

use super::coding::WeightKind;
use super::contract::FixedFormat;
use super::interval::Interval;
use crate::model::{MaxPool2d, Shape};

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

pub(super) fn per_channel_count(s: Shape) -> usize {
    match s {
        Shape::Flat(n) => n,
        Shape::Image { c, .. } => c,
    }
}
