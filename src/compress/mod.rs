//! Compression passes on the float network, with the retraining each needs:
//! magnitude and structured pruning, neuron merging, weight sharing, low-rank
//! factors, INQ powers of two, binary and ternary weights.

mod binary;
mod inq;
mod kmeans;
mod prune;
mod surgery;

pub use binary::{code, Binarizer, Coded, Levels};
pub use inq::{
    check_bits, check_schedule, partition, run_inq, InqConfig, InqObserver, InqStep, Pow2Range,
};
pub use kmeans::{check_share_bits, kmeans, Clusters, SharedWeights};
pub use prune::{
    check_sparsity, merge_masks, prune_to, pruned_masks, run_prune, sparsity, weighted_layers,
    PruneConfig, PruneRound, Scope,
};
pub use surgery::{l1_order, merge_neurons, prune_units, svd_layer, Rank};

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
