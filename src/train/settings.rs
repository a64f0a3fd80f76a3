//! Training settings as a user gives them (flags or a recipe's `[train]`
//! table), and the one home of their defaults.

use serde::Deserialize;

use super::{LrSchedule, OptimizerConfig, TrainConfig, TrainError};

/// The defaults of training and retraining.
pub mod defaults {
    use crate::data::DatasetName;

    /// Mini-batch size (of retraining, and of training unless the dataset
    /// says otherwise).
    pub const BATCH: usize = 64;
    /// SGD momentum.
    pub const MOMENTUM: f32 = 0.9;
    /// Seed of the initial weights and the shuffling.
    pub const SEED: u64 = 1;
    /// Epochs of `train` (unless the dataset says otherwise).
    pub const EPOCHS: usize = 10;

    /// Epochs and batch size of training from scratch on `dataset`: the digits
    /// set is small (1,259 training rows), so it takes more and smaller steps.
    pub fn schedule(dataset: DatasetName) -> (usize, usize) {
        match dataset {
            DatasetName::Digits => (60, 32),
            DatasetName::FashionMnist => (EPOCHS, BATCH),
        }
    }
    /// SGD learning rate and weight decay to train from scratch...
    pub const TRAIN_LR: f32 = 0.05;
    /// ...but a convolutional network on Fashion-MNIST takes a smaller rate
    /// (LeNet-5, 10 epochs, seed 1: 90.30% test accuracy at 0.02, 89.83% at
    /// 0.05).
    pub const CONV_TRAIN_LR: f32 = 0.02;

    /// The SGD learning rate of training a network from scratch on
    /// `dataset`, `convolutional` or not.
    pub fn train_lr(dataset: DatasetName, convolutional: bool) -> f32 {
        match (dataset, convolutional) {
            (DatasetName::FashionMnist, true) => CONV_TRAIN_LR,
            _ => TRAIN_LR,
        }
    }
    pub const TRAIN_WEIGHT_DECAY: f32 = 0.0;
    /// ...and to retrain a compressed network.
    pub const RETRAIN_LR: f32 = 0.01;
    pub const RETRAIN_WEIGHT_DECAY: f32 = 5e-4;
    /// Adam's learning rate, for any purpose.
    pub const ADAM_LR: f32 = 0.001;
    /// Distillation temperature `T` and weight `λ` of the soft targets.
    pub const TEMPERATURE: f32 = 4.0;
    pub const LAMBDA: f32 = 0.5;
}

/// The optimizer, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    Sgd,
    Adam,
}

/// What a run is for; the optimizer, learning rate and weight decay default
/// by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Training from scratch: SGD.
    Train,
    /// Retraining a compressed network: SGD.
    Retrain,
    /// Training that moves weights far from where they are: towards binary
    /// or ternary weights, and FitNets' hint stage. Adam, whose per-weight
    /// steps move the latent weights across the coding thresholds better
    /// than SGD's (Fashion-MNIST LeNet-5 ternary lost 0.44 points with Adam,
    /// 1.24 with SGD), and which regresses a hint without the dead ReLUs SGD
    /// left (LeNet-5's hint into a thin student: 5 of 16 guided maps dead
    /// with SGD at 0.02, none new with Adam, and half the hint loss).
    Adaptive,
}

/// Training settings, any left out taking its default.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSettings {
    /// `None`: the purpose's.
    pub optimizer: Option<OptimizerKind>,
    pub lr: Option<f32>,
    pub momentum: Option<f32>,
    pub weight_decay: Option<f32>,
    pub batch: Option<usize>,
    pub schedule: Option<LrSchedule>,
    pub seed: Option<u64>,
}

impl TrainSettings {
    /// The run these settings describe, with `epochs` epochs.
    pub fn resolve(&self, purpose: Purpose, epochs: usize) -> Result<TrainConfig, TrainError> {
        self.resolve_with(purpose, epochs, None)
    }

    /// The run of training a network from scratch on `dataset`: as
    /// [`TrainSettings::resolve`], with SGD's learning rate, left out, the
    /// one for the dataset and the kind of network ([`defaults::train_lr`]).
    pub fn resolve_train(
        &self,
        dataset: crate::data::DatasetName,
        convolutional: bool,
        epochs: usize,
    ) -> Result<TrainConfig, TrainError> {
        let lr = defaults::train_lr(dataset, convolutional);
        self.resolve_with(Purpose::Train, epochs, Some(lr))
    }

    fn resolve_with(
        &self,
        purpose: Purpose,
        epochs: usize,
        lr_from_scratch: Option<f32>,
    ) -> Result<TrainConfig, TrainError> {
        use defaults::*;
        let (sgd_lr, decay) = match purpose {
            Purpose::Train => (lr_from_scratch.unwrap_or(TRAIN_LR), TRAIN_WEIGHT_DECAY),
            Purpose::Retrain | Purpose::Adaptive => (RETRAIN_LR, RETRAIN_WEIGHT_DECAY),
        };
        let weight_decay = self.weight_decay.unwrap_or(decay);
        let kind = self.optimizer.unwrap_or(match purpose {
            Purpose::Train | Purpose::Retrain => OptimizerKind::Sgd,
            Purpose::Adaptive => OptimizerKind::Adam,
        });
        let optimizer = match kind {
            OptimizerKind::Sgd => OptimizerConfig::Sgd {
                lr: self.lr.unwrap_or(sgd_lr),
                momentum: self.momentum.unwrap_or(MOMENTUM),
                weight_decay,
            },
            OptimizerKind::Adam => {
                OptimizerConfig::adam(self.lr.unwrap_or(ADAM_LR)).with_weight_decay(weight_decay)
            }
        };
        let config = TrainConfig {
            epochs,
            batch_size: self.batch.unwrap_or(BATCH),
            optimizer,
            schedule: self.schedule.unwrap_or(LrSchedule::Cosine),
            seed: self.seed.unwrap_or(SEED),
        };
        config.check()?;
        Ok(config)
    }
}

/// Epochs of one run at most.
pub const MAX_EPOCHS: usize = 10_000;

impl TrainConfig {
    /// Checks the settings that cannot work: no batch or too many epochs, a
    /// learning rate that is not a positive number, a weight decay below zero,
    /// a momentum outside [0, 1).
    pub fn check(&self) -> Result<(), TrainError> {
        if self.batch_size == 0 {
            return Err(TrainError::Config("the batch size must be at least 1".into()));
        }
        if self.epochs > MAX_EPOCHS {
            return Err(TrainError::Config(format!(
                "{} epochs is more than the {MAX_EPOCHS} a run may take",
                self.epochs
            )));
        }
        let lr = self.optimizer.lr();
        if !(lr > 0.0 && lr.is_finite()) {
            return Err(TrainError::Config(format!(
                "the learning rate must be positive, got {lr}"
            )));
        }
        let (momentum, decay) = match self.optimizer {
            OptimizerConfig::Sgd { momentum, weight_decay, .. } => (momentum, weight_decay),
            OptimizerConfig::Adam { weight_decay, .. } => (0.0, weight_decay),
        };
        if !(0.0..1.0).contains(&momentum) {
            return Err(TrainError::Config(format!(
                "the momentum must be at least 0 and below 1, got {momentum}"
            )));
        }
        if !(decay >= 0.0 && decay.is_finite()) {
            return Err(TrainError::Config(format!(
                "the weight decay must be a finite number of at least 0, got {decay}"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_purpose() {
        let s = TrainSettings::default();
        let train = s.resolve(Purpose::Train, 3).unwrap();
        assert_eq!(train.optimizer, OptimizerConfig::sgd(0.05));
        assert_eq!(train.epochs, 3);
        let retrain = s.resolve(Purpose::Retrain, 0).unwrap();
        assert_eq!(retrain.optimizer, OptimizerConfig::sgd(0.01).with_weight_decay(5e-4));
        let adaptive = s.resolve(Purpose::Adaptive, 0).unwrap();
        assert_eq!(adaptive.optimizer, OptimizerConfig::adam(0.001).with_weight_decay(5e-4));
        let adam = TrainSettings { optimizer: Some(OptimizerKind::Adam), ..s };
        assert_eq!(adam.resolve(Purpose::Train, 1).unwrap().optimizer.lr(), 0.001);
        // A named optimizer holds for every purpose.
        let sgd = TrainSettings { optimizer: Some(OptimizerKind::Sgd), ..Default::default() };
        assert_eq!(
            sgd.resolve(Purpose::Adaptive, 0).unwrap(),
            sgd.resolve(Purpose::Retrain, 0).unwrap()
        );
    }

    #[test]
    fn a_convolutional_network_on_fashion_mnist_trains_at_its_own_rate() {
        use crate::data::DatasetName::{Digits, FashionMnist};
        use defaults::{ADAM_LR, CONV_TRAIN_LR, TRAIN_LR};
        // ...unless a rate is given or the optimizer is Adam.
        let lr =
            |s: &TrainSettings, data, conv| s.resolve_train(data, conv, 1).unwrap().optimizer.lr();
        let default = TrainSettings::default();
        assert_eq!(lr(&default, FashionMnist, true), CONV_TRAIN_LR);
        assert_eq!(lr(&default, FashionMnist, false), TRAIN_LR);
        assert_eq!(lr(&default, Digits, true), TRAIN_LR);
        let given = TrainSettings { lr: Some(0.3), ..Default::default() };
        assert_eq!(lr(&given, FashionMnist, true), 0.3);
        let adam = TrainSettings { optimizer: Some(OptimizerKind::Adam), ..Default::default() };
        assert_eq!(lr(&adam, FashionMnist, true), ADAM_LR);
    }

    #[test]
    fn settings_that_cannot_work_are_refused() {
        assert!(TrainSettings::default().resolve(Purpose::Train, MAX_EPOCHS + 1).is_err());
        for s in [
            TrainSettings { batch: Some(0), ..Default::default() },
            TrainSettings { lr: Some(0.0), ..Default::default() },
            TrainSettings { lr: Some(f32::NAN), ..Default::default() },
            TrainSettings { weight_decay: Some(-1.0), ..Default::default() },
            TrainSettings { momentum: Some(f32::INFINITY), ..Default::default() },
            TrainSettings { momentum: Some(5.0), ..Default::default() },
            TrainSettings { momentum: Some(-1.0), ..Default::default() },
        ] {
            assert!(s.resolve(Purpose::Retrain, 1).is_err(), "{s:?}");
        }
    }
}
