//! Recipes: compression steps run in order, each checked before any runs.
//! The types here are the one description of a step; `run_recipe` (in
//! `run.rs`) carries them out, the CLI and recipe files only build them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use super::{
    check_schedule, check_sparsity, CompressError, Rank, Scope, UnitCriterion, WeightCriterion,
};
use crate::quant::{
    check_range, Levels, QuantSettings, RangeRule, WeightSpec, INQ_BITS, SHARE_INDEX_BITS,
    SHARE_VALUE_BITS,
};
use crate::train::{
    self, OptimizerConfig, Purpose, TrainConfig, TrainError, TrainSettings, MAX_EPOCHS,
};

/// The defaults of the compression steps.
pub mod defaults {
    /// INQ bits per weight, zero included.
    pub const INQ_BITS: u32 = 5;
    /// INQ accumulated portions.
    pub const INQ_SCHEDULE: [f32; 4] = [0.5, 0.75, 0.875, 1.0];
    /// INQ retraining epochs after each portion.
    pub const INQ_EPOCHS: usize = 2;
    /// Binary and ternary training epochs.
    pub const BINARY_EPOCHS: usize = 10;
    /// Binary and ternary layers take a per-channel scale.
    pub const BINARY_SCALE: bool = true;
    /// Bits of a shared (k-means) value.
    pub const SHARE_VALUE_BITS: u32 = 8;
    /// Pruning rounds.
    pub const PRUNE_ITERATIONS: usize = 1;
    /// FitNets hint training epochs.
    pub const HINT_EPOCHS: usize = 3;
    /// Validation samples that OBD, Taylor and APoZ saliencies are measured on.
    pub const SALIENCY_SAMPLES: usize = 2000;
    /// Validation samples that a hint's fit is measured on.
    pub const HINT_FIT_SAMPLES: usize = 2000;
}

/// A checked recipe: what `run_recipe` runs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Recipe {
    /// Every retraining run (its `epochs` is each step's)...
    pub train: TrainConfig,
    /// ...but binary, ternary and hint steps train with this optimizer
    /// (`Purpose::Adaptive`: Adam unless the settings name one).
    pub adaptive: OptimizerConfig,
    pub distill: Option<DistillSpec>,
    /// The integer network made after every step.
    pub quantize: QuantSettings,
    pub steps: Vec<Step>,
}

/// Where the teacher comes from and how it teaches.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DistillSpec {
    /// `None`: the input model (the float original).
    pub teacher: Option<PathBuf>,
    pub temperature: f32,
    pub lambda: f32,
    /// Anneals `λ` linearly to this over the epochs of each retraining run
    /// (a finetune step; each round of INQ or iterative pruning).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lambda_end: Option<f32>,
}

/// One step of a recipe.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Step {
    #[serde(flatten)]
    pub kind: StepKind,
    /// The layers it works on, by name (`None`: the method's default).
    pub layers: Option<Vec<String>>,
    /// Training epochs (per iteration for pruning, per portion for INQ).
    pub epochs: usize,
    pub lr: Option<f32>,
    /// Learn from the recipe's teacher.
    pub distill: bool,
    /// Coding steps: keep the first and last of the step's layers at this
    /// precision instead.
    pub keep_first_last: Option<WeightSpec>,
}

/// What a step does.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum StepKind {
    Prune {
        sparsity: f32,
        scope: Scope,
        iterations: usize,
        criterion: WeightCriterion,
    },
    Structured {
        fraction: f32,
        criterion: UnitCriterion,
    },
    Merge {
        fraction: f32,
    },
    Svd {
        rank: Rank,
    },
    Kmeans {
        bits: u32,
        width: u32,
    },
    /// `layer_bits` overrides `bits` for single layers.
    Inq {
        bits: u32,
        layer_bits: BTreeMap<String, u32>,
        schedule: Vec<f32>,
        /// How each layer's exponent range is chosen.
        range: RangeRule,
    },
    Binary {
        levels: Levels,
        scale: bool,
    },
    /// FitNets' first stage: the student's layers up to `guided` regress the
    /// teacher's layer `hint` (the recipe's teacher).
    Hint {
        hint: String,
        guided: String,
    },
    Finetune,
}

impl StepKind {
    /// The training epochs of a step that names none.
    pub fn default_epochs(&self) -> usize {
        match self {
            StepKind::Inq { .. } => defaults::INQ_EPOCHS,
            StepKind::Binary { .. } => defaults::BINARY_EPOCHS,
            StepKind::Hint { .. } => defaults::HINT_EPOCHS,
            _ => 0,
        }
    }

    /// Steps that code weights (later steps keep them frozen).
    pub fn codes(&self) -> bool {
        self.coding().is_some()
    }

    /// The weight spec a coding step gives its layers (INQ: those that
    /// `layer_bits` names get their own width).
    pub fn coding(&self) -> Option<WeightSpec> {
        match *self {
            StepKind::Kmeans { bits, width } => {
                Some(WeightSpec::Shared { index_bits: bits, bits: width })
            }
            StepKind::Inq { bits, .. } => Some(WeightSpec::Pow2 { bits }),
            StepKind::Binary { levels: Levels::Binary, scale } => {
                Some(WeightSpec::Binary { scale })
            }
            StepKind::Binary { levels: Levels::Ternary, scale } => {
                Some(WeightSpec::Ternary { scale })
            }
            _ => None,
        }
    }
}

impl Step {
    /// A step of this kind on the default layers, with its default epochs.
    pub fn new(kind: StepKind) -> Step {
        Step {
            epochs: kind.default_epochs(),
            kind,
            layers: None,
            lr: None,
            distill: false,
            keep_first_last: None,
        }
    }

    /// A short description for tables: `prune 90% global`, `inq 5-bit`.
    pub fn label(&self) -> String {
        let mut s = match &self.kind {
            StepKind::Prune { sparsity, scope, criterion, .. } => {
                let scope = match scope {
                    Scope::Layer => "per layer",
                    Scope::Global => "global",
                };
                let by = match criterion {
                    WeightCriterion::Magnitude => "",
                    WeightCriterion::Obd => " by OBD",
                };
                format!("prune {:.0}% {scope}{by}", sparsity * 100.0)
            }
            StepKind::Structured { fraction, criterion } => {
                let by = match criterion {
                    UnitCriterion::L1 => "L1",
                    UnitCriterion::Taylor => "Taylor",
                    UnitCriterion::Apoz => "APoZ",
                };
                format!("{by} structured {:.0}%", fraction * 100.0)
            }
            StepKind::Merge { fraction } => format!("merge {:.0}%", fraction * 100.0),
            StepKind::Svd { rank: Rank::Fixed(k) } => format!("svd rank {k}"),
            StepKind::Svd { rank: Rank::Energy(e) } => format!("svd {:.0}% energy", e * 100.0),
            StepKind::Kmeans { bits, .. } => format!("kmeans {bits}-bit"),
            StepKind::Inq { bits, .. } => format!("inq {bits}-bit"),
            StepKind::Binary { levels: Levels::Binary, .. } => "binary".into(),
            StepKind::Binary { levels: Levels::Ternary, .. } => "ternary".into(),
            StepKind::Hint { hint, guided } => format!("FitNets hint {hint} -> {guided}"),
            StepKind::Finetune => "finetune".into(),
        };
        if self.distill && !matches!(self.kind, StepKind::Hint { .. }) {
            s.push_str(" +KD");
        }
        s
    }

    /// Checks the step's settings; `has_teacher`: the recipe has a teacher.
    pub fn check(&self, has_teacher: bool) -> Result<(), CompressError> {
        let fraction = |setting: &'static str, v: f32| {
            if (0.0..1.0).contains(&v) {
                Ok(())
            } else {
                Err(CompressError::Setting {
                    setting,
                    reason: format!("must be at least 0 and below 1, got {v}"),
                })
            }
        };
        match &self.kind {
            StepKind::Prune { sparsity, iterations, .. } => {
                check_sparsity(*sparsity)?;
                if !(1..=MAX_ITERATIONS).contains(iterations) {
                    return Err(setting(
                        "iterations",
                        format!("must be 1 to {MAX_ITERATIONS}, got {iterations}"),
                    ));
                }
            }
            StepKind::Structured { fraction: f, .. } | StepKind::Merge { fraction: f } => {
                fraction("fraction", *f)?
            }
            StepKind::Svd { rank: Rank::Fixed(k) } if *k == 0 => {
                return Err(setting("rank", "must be at least 1".into()))
            }
            StepKind::Svd { rank: Rank::Energy(e) } if !(*e > 0.0 && *e <= 1.0) => {
                return Err(setting("energy", format!("must be above 0 and at most 1, got {e}")))
            }
            StepKind::Svd { .. } => {}
            StepKind::Kmeans { bits, width } => {
                check_range("k-means index bits (bits)", *bits, SHARE_INDEX_BITS)?;
                check_range("bits of a shared value (width)", *width, SHARE_VALUE_BITS)?;
            }
            StepKind::Inq { bits, layer_bits, schedule, .. } => {
                check_range("INQ bits", *bits, INQ_BITS)?;
                for &b in layer_bits.values() {
                    check_range("INQ bits (layer_bits)", b, INQ_BITS)?;
                }
                check_schedule(schedule)?;
            }
            StepKind::Binary { .. } => {}
            StepKind::Finetune if self.epochs == 0 => {
                return Err(setting("epochs", "of finetune must be at least 1".into()))
            }
            StepKind::Finetune => {}
            StepKind::Hint { .. } if !has_teacher => {
                return Err(setting(
                    "hint",
                    "needs the recipe's teacher: add a [distill] table".into(),
                ))
            }
            StepKind::Hint { .. } if self.layers.is_some() => {
                return Err(setting(
                    "layers",
                    "is not a setting of hint: it trains every layer up to `guided`".into(),
                ))
            }
            StepKind::Hint { .. } if self.epochs == 0 => {
                return Err(setting("epochs", "of a hint step must be at least 1".into()))
            }
            StepKind::Hint { .. } => {}
        }
        if let Some(layers) = &self.layers {
            if layers.is_empty() {
                return Err(setting(
                    "layers",
                    "names no layer; leave it out for the method's default layers".into(),
                ));
            }
            let dup = layers.iter().enumerate().find(|(i, a)| layers[..*i].contains(a));
            if let Some((_, dup)) = dup {
                return Err(setting("layers", format!("names `{dup}` twice")));
            }
        }
        if self.epochs > MAX_EPOCHS {
            return Err(setting(
                "epochs",
                format!("{} is more than the {MAX_EPOCHS} a run may take", self.epochs),
            ));
        }
        if self.distill && !has_teacher {
            return Err(setting("distill", "needs a teacher: the recipe has none".into()));
        }
        if let Some(lr) = self.lr {
            if !(lr > 0.0 && lr.is_finite()) {
                return Err(setting("lr", format!("must be positive, got {lr}")));
            }
        }
        if let Some(spec) = &self.keep_first_last {
            spec.check()?;
        }
        Ok(())
    }
}

/// Pruning rounds of one step at most.
const MAX_ITERATIONS: usize = 1000;

fn setting(setting: &'static str, reason: String) -> CompressError {
    CompressError::Setting { setting, reason }
}

impl Recipe {
    /// A recipe of these steps with the default retraining and quantization.
    pub fn new(steps: Vec<Step>) -> Recipe {
        let (train, adaptive) =
            Recipe::retrain(&TrainSettings::default()).expect("the defaults are valid");
        Recipe { train, adaptive, distill: None, quantize: QuantSettings::default(), steps }
    }

    /// The retraining of a recipe as `settings` give it: the runs of every
    /// step, and the optimizer of the binary and ternary ones.
    pub fn retrain(settings: &TrainSettings) -> Result<(TrainConfig, OptimizerConfig), TrainError> {
        let adaptive = settings.resolve(Purpose::Adaptive, 0)?.optimizer;
        Ok((settings.resolve(Purpose::Retrain, 0)?, adaptive))
    }

    /// The training run of `step`: its epochs, its kind's optimizer, its
    /// learning rate when it names one.
    pub fn step_config(&self, step: &Step) -> TrainConfig {
        let optimizer = match step.kind {
            StepKind::Binary { .. } | StepKind::Hint { .. } => self.adaptive,
            _ => self.train.optimizer,
        };
        TrainConfig {
            epochs: step.epochs,
            optimizer: step.lr.map_or(optimizer, |lr| optimizer.with_lr(lr)),
            ..self.train.clone()
        }
    }

    /// Checks every setting; the first step that cannot run is named.
    pub fn check(&self) -> Result<(), CompressError> {
        self.train.check()?;
        TrainConfig { optimizer: self.adaptive, ..self.train.clone() }.check()?;
        if let Some(d) = &self.distill {
            train::check_distill(d.temperature, d.lambda, d.lambda_end)?;
        }
        self.quantize.check()?;
        if self.steps.is_empty() {
            return Err(CompressError::Config(
                "the recipe has no step (no [[step]] in a recipe file)".into(),
            ));
        }
        for (i, step) in self.steps.iter().enumerate() {
            step.check(self.distill.is_some()).map_err(|e| e.in_step(i, step))?;
        }
        Ok(())
    }

    /// The steps' labels joined by ` -> `: the method of the result.
    pub fn method(&self) -> String {
        self.steps.iter().map(Step::label).collect::<Vec<_>>().join(" -> ")
    }
}

impl CompressError {
    /// This error, as step `index` (from 0) of a recipe.
    pub fn in_step(self, index: usize, step: &Step) -> CompressError {
        CompressError::Step { step: index + 1, label: step.label(), error: Box::new(self) }
    }
}
