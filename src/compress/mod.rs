//! Compression passes on the float network, with the retraining each needs:
//! magnitude and structured pruning, neuron merging, weight sharing, low-rank
//! factors, INQ powers of two, binary and ternary weights; and recipes, which
//! chain them ([`Recipe`], [`run_recipe`]).

mod binary;
mod hint;
mod inq;
mod kmeans;
mod lowrank;
mod prune;
mod recipe;
mod recipe_file;
mod run;
mod saliency;
mod sensitivity;
mod surgery;

pub use binary::Binarizer;
pub use hint::{train_hint, HintFit};
pub use inq::{check_schedule, partition, run_inq, InqConfig, InqObserver, InqStep};
pub use kmeans::{kmeans, Clusters, SharedWeights};
pub use lowrank::{svd_layer, Rank};
pub use prune::{
    check_sparsity, merge_masks, prune_by, prune_to, pruned_masks, run_prune, sparsity,
    weighted_layers, PruneConfig, PruneRound, Scope, WeightCriterion,
};
pub use recipe::{defaults, DistillSpec, Recipe, Step, StepKind};
pub use recipe_file::RecipeError;
pub use run::{run_recipe, RecipeOutcome, StepRow};
pub use saliency::{
    activation_layer, apoz, hessian_diagonal, obd_saliency, taylor_scores, unit_importance,
    Saliency, UnitCriterion,
};
pub use sensitivity::{sensitivity, Probes};
pub use surgery::{l1_norms, l1_order, merge_neurons, prune_units, prune_units_by};

use crate::model::ModelError;
use crate::quant::{QuantError, WeightSpec};
use crate::sim::SimError;
use crate::train::TrainError;

/// Errors of the compression stage.
#[derive(Debug, thiserror::Error)]
pub enum CompressError {
    /// Settings that cannot work.
    #[error("{0}")]
    Config(String),
    /// A setting of a step or recipe, by its name, that cannot work.
    #[error("`{setting}` {reason}")]
    Setting { setting: &'static str, reason: String },
    /// A layer named that the network does not have.
    #[error("no layer `{layer}`; the weighted layers are {}", weighted.join(", "))]
    NoLayer { layer: String, weighted: Vec<String> },
    /// A layer named for a step on weights that has none.
    #[error("layer `{layer}` has no weights")]
    NotWeighted { layer: String },
    /// A step that would change weights an earlier step coded.
    #[error(
        "layer `{layer}` is already coded as {spec}; prune, reshape and share weights before \
         coding them"
    )]
    AlreadyCoded { layer: String, spec: WeightSpec },
    /// Binary weights asked of a layer with pruned (zero) weights.
    #[error(
        "layer `{layer}` has pruned (zero) weights, and binary weights have no zero; use ternary"
    )]
    PrunedBinary { layer: String },
    /// What went wrong in one step of a recipe (in the message, so not also
    /// a source: a chain printer would say it twice).
    #[error("step {step} ({label}): {error}")]
    Step { step: usize, label: String, error: Box<CompressError> },
    #[error(transparent)]
    Train(#[from] TrainError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Quant(#[from] QuantError),
    #[error(transparent)]
    Sim(#[from] SimError),
}
