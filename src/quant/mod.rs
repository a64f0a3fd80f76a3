//! Quantization: the numeric contract, the integer network, interval analysis,
//! batch-norm folding and calibration.
//!
//! [`contract`] is the one home of every integer rule, [`coding`] of the
//! weight codings; [`IntNetwork`] is the
//! single source of truth that the simulator and the code generator both read.

mod analysis;
pub mod coding;
pub mod contract;
mod dump;
mod file;
mod fold;
mod interval;
mod layer;
mod network;
mod quantize;

pub use coding::{
    check_range, code, Coded, Levels, Pow2Range, RangeRule, WeightCode, WeightKind, WeightSpec,
    FIXED_BITS, INQ_BITS, MIN_ERROR_STEPS, SHARE_INDEX_BITS, SHARE_VALUE_BITS,
};
pub use contract::{FixedFormat, Term};
pub use file::{read_integer, write_integer};
pub use fold::fold_batchnorm;
pub use interval::{dot_bounds, Interval};
pub use layer::{ChannelScale, IntLayer, IntLayerSpec, IntOp, Weighted};
pub use network::IntNetwork;
pub use quantize::{
    calibrate, defaults, quantize, AwareActivations, QuantSettings, QuantizeConfig, ACT_BITS,
    SCALE_BITS,
};

use crate::model::ModelError;

/// Errors of the quantization stage.
#[derive(Debug, thiserror::Error)]
pub enum QuantError {
    /// A layer that cannot be quantized or is invalid as given.
    #[error("layer {index} `{name}` ({op}): {reason}")]
    Layer { index: usize, name: String, op: &'static str, reason: String },
    /// An integer network that breaks a network-wide rule.
    #[error("invalid integer network: {0}")]
    Invalid(String),
    /// A width or count outside what the contract allows.
    #[error("{setting} {value} is out of range: use {} to {}", range.0, range.1)]
    OutOfRange { setting: &'static str, value: i64, range: (i64, i64) },
    /// Settings that cannot work.
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Model(#[from] ModelError),
}
