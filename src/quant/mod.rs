//! Quantization: the numeric contract, the integer network, interval analysis,
//! batch-norm folding and calibration.
//!
//! [`contract`] is the one home of every integer rule; [`IntNetwork`] is the
//! single source of truth that the simulator and the code generator both read.

pub mod contract;
mod file;
mod fold;
mod interval;
mod network;
mod quantize;

pub use contract::{FixedFormat, Term};
pub use file::{read_integer, write_integer};
pub use fold::fold_batchnorm;
pub use interval::{dot_bounds, Interval};
pub use network::{ChannelScale, IntLayer, IntLayerSpec, IntNetwork, IntOp, WeightKind, Weighted};
pub use quantize::{calibrate, quantize, QuantizeConfig, WeightSpec, ACT_BITS, SCALE_BITS};

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
    /// Settings that cannot work.
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Model(#[from] ModelError),
}
