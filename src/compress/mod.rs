//! Compression passes on the float network, with the retraining each needs:
//! INQ powers of two, binary and ternary weights.

mod binary;
mod inq;

pub use binary::{code, Binarizer, Coded, Levels};
pub use inq::{
    check_bits, check_schedule, partition, run_inq, InqConfig, InqObserver, InqStep, Pow2Range,
};

use crate::model::ModelError;
use crate::train::TrainError;

/// Errors of the compression stage.
#[derive(Debug, thiserror::Error)]
pub enum CompressError {
    /// Settings that cannot work.
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Train(#[from] TrainError),
    #[error(transparent)]
    Model(#[from] ModelError),
}
