//! Optimizers (SGD with momentum, Adam), with per-tensor gradient masks.

use std::collections::BTreeMap;

use ndarray::{ArrayD, Zip};

use super::engine::Grads;
use crate::model::{Network, ParamId};

/// Per-tensor masks: where a mask is 0 the parameter never changes (frozen or
/// pruned); where it is 1 it trains. Tensors without a mask train freely.
pub type Masks = BTreeMap<ParamId, ArrayD<f32>>;

/// The optimizer and its hyperparameters.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
#[serde(tag = "optimizer", rename_all = "lowercase")]
pub enum OptimizerConfig {
    /// PyTorch's SGD: `v = momentum * v + (g + wd * w)`, `w -= lr * v`.
    Sgd { lr: f32, momentum: f32, weight_decay: f32 },
    /// Adam with L2 weight decay added to the gradient (PyTorch's `Adam`).
    Adam { lr: f32, beta1: f32, beta2: f32, eps: f32, weight_decay: f32 },
}

impl OptimizerConfig {
    pub fn sgd(lr: f32) -> OptimizerConfig {
        OptimizerConfig::Sgd { lr, momentum: super::defaults::MOMENTUM, weight_decay: 0.0 }
    }
    pub fn adam(lr: f32) -> OptimizerConfig {
        OptimizerConfig::Adam { lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0 }
    }
    pub fn lr(&self) -> f32 {
        match *self {
            OptimizerConfig::Sgd { lr, .. } | OptimizerConfig::Adam { lr, .. } => lr,
        }
    }
    pub fn name(&self) -> &'static str {
        match self {
            OptimizerConfig::Sgd { .. } => "sgd",
            OptimizerConfig::Adam { .. } => "adam",
        }
    }
    /// The same optimizer with another learning rate.
    pub fn with_lr(self, lr: f32) -> OptimizerConfig {
        match self {
            OptimizerConfig::Sgd { momentum, weight_decay, .. } => {
                OptimizerConfig::Sgd { lr, momentum, weight_decay }
            }
            OptimizerConfig::Adam { beta1, beta2, eps, weight_decay, .. } => {
                OptimizerConfig::Adam { lr, beta1, beta2, eps, weight_decay }
            }
        }
    }

    /// The same optimizer with another weight decay.
    pub fn with_weight_decay(self, wd: f32) -> OptimizerConfig {
        match self {
            OptimizerConfig::Sgd { lr, momentum, .. } => {
                OptimizerConfig::Sgd { lr, momentum, weight_decay: wd }
            }
            OptimizerConfig::Adam { lr, beta1, beta2, eps, .. } => {
                OptimizerConfig::Adam { lr, beta1, beta2, eps, weight_decay: wd }
            }
        }
    }
}

/// How the learning rate changes over the epochs of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LrSchedule {
    Constant,
    /// Cosine decay from the base rate towards zero over the run (per epoch).
    Cosine,
}

impl LrSchedule {
    /// The learning rate of epoch `epoch` (from 1) of `epochs`.
    pub fn lr_at(self, base: f32, epoch: usize, epochs: usize) -> f32 {
        match self {
            LrSchedule::Constant => base,
            LrSchedule::Cosine => {
                let t = (epoch - 1) as f32 / epochs.max(1) as f32;
                base * 0.5 * (1.0 + (std::f32::consts::PI * t).cos())
            }
        }
    }
}

/// Optimizer state: one or two moment buffers per parameter tensor.
#[derive(Debug)]
pub struct Optimizer {
    config: OptimizerConfig,
    first: BTreeMap<ParamId, ArrayD<f32>>,
    second: BTreeMap<ParamId, ArrayD<f32>>,
    steps: u32,
}

impl Optimizer {
    pub fn new(config: OptimizerConfig) -> Optimizer {
        Optimizer { config, first: BTreeMap::new(), second: BTreeMap::new(), steps: 0 }
    }

    /// Changes the learning rate, keeping the moment buffers.
    pub fn set_lr(&mut self, lr: f32) {
        self.config = self.config.with_lr(lr);
    }

    /// Applies one update. Masked-out entries (mask 0) keep their value exactly.
    pub fn step(&mut self, net: &mut Network, grads: &Grads, masks: &Masks) {
        self.steps += 1;
        let t = self.steps as i32;
        for (id, mut w) in net.params_mut() {
            let Some(g) = grads.get(id) else { continue };
            let mask = masks.get(&id);
            let shape = w.raw_dim();
            match self.config {
                OptimizerConfig::Sgd { lr, momentum, weight_decay } => {
                    let v = self.first.entry(id).or_insert_with(|| ArrayD::zeros(shape));
                    Zip::from(v).and(&w).and(g).for_each(|v, &w, &g| {
                        *v = momentum * *v + g + weight_decay * w;
                    });
                    let v = &self.first[&id];
                    match mask {
                        Some(m) => Zip::from(&mut w).and(v).and(m).for_each(|w, &v, &m| {
                            if m != 0.0 {
                                *w -= lr * v
                            }
                        }),
                        None => Zip::from(&mut w).and(v).for_each(|w, &v| *w -= lr * v),
                    }
                }
                OptimizerConfig::Adam { lr, beta1, beta2, eps, weight_decay } => {
                    let m1 = self.first.entry(id).or_insert_with(|| ArrayD::zeros(shape.clone()));
                    let m2 = self.second.entry(id).or_insert_with(|| ArrayD::zeros(shape));
                    let c1 = 1.0 - beta1.powi(t);
                    let c2 = 1.0 - beta2.powi(t);
                    let ones;
                    let mask = match mask {
                        Some(m) => m,
                        None => {
                            ones = ArrayD::<f32>::ones(w.raw_dim());
                            &ones
                        }
                    };
                    Zip::from(&mut w).and(m1).and(m2).and(g).and(mask).for_each(
                        |w, m1, m2, &g, &m| {
                            let g = g + weight_decay * *w;
                            *m1 = beta1 * *m1 + (1.0 - beta1) * g;
                            *m2 = beta2 * *m2 + (1.0 - beta2) * g * g;
                            if m != 0.0 {
                                *w -= lr * (*m1 / c1) / ((*m2 / c2).sqrt() + eps);
                            }
                        },
                    );
                }
            }
        }
    }
}
