//! The float engine and trainer.
//!
//! [`engine`] holds the forward and backward passes of every layer; [`train`]
//! runs mini-batch training with the hooks later stages need (gradient masks,
//! straight-through weight transforms, pluggable losses); [`evaluate`] measures
//! top-1 accuracy.

pub mod engine;
mod eval;
mod loss;
mod optim;
mod settings;
mod trainer;

pub use eval::{argmax_rows, check_split, evaluate, predict_all};
pub use loss::{check_distill, softmax, Distillation, Hint, Loss, SoftmaxCrossEntropy};
pub use optim::{LrSchedule, Masks, Optimizer, OptimizerConfig};
pub use settings::{defaults, OptimizerKind, Purpose, TrainSettings, MAX_EPOCHS};
pub use trainer::{
    train, ActivationQuant, EpochReport, Hooks, Observer, Quiet, TrainConfig, WeightTransform,
    SHARDS,
};

/// Errors of the training stage.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Data that does not fit the network.
    #[error("{0}")]
    Data(String),
    /// Hyperparameters that cannot work.
    #[error("{0}")]
    Config(String),
    /// `what` says what is not finite: the loss, or a named parameter.
    #[error("training diverged in epoch {epoch} ({what}); lower the learning rate (it is {lr})")]
    Diverged { epoch: usize, lr: f32, what: String },
}
