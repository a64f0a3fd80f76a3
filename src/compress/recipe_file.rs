//! Recipe files: TOML whose tables map onto a [`Recipe`], for example
//!
//! ```toml
//! [train]                      # every retraining step (defaults shown)
//! # optimizer = "sgd"          # left out: sgd, and adam for binary/ternary/hint steps
//! # lr = 0.01                  # left out: the optimizer's (sgd 0.01, adam 0.001)
//! momentum = 0.9
//! weight_decay = 5e-4
//! batch = 64
//! schedule = "cosine"          # or "constant"
//! seed = 1
//!
//! [distill]                    # optional: every retraining step learns from a teacher
//! teacher = "original"         # the input model, or a .skm path (relative to the recipe)
//! temperature = 4.0
//! lambda = 0.5
//! lambda_end = 0.0             # optional: anneal lambda linearly to this over each retraining run
//!
//! [quantize]                   # the integer network made after every step
//! weights = "fixed8"           # layers that no step coded
//! act_bits = 8
//! input_bits = 8
//! calibration = 5000
//!
//! [[step]]
//! method = "prune"             # magnitude pruning
//! sparsity = 0.9
//! scope = "global"             # or "layer"
//! iterations = 3
//! epochs = 2                   # fine-tuning after each iteration
//!
//! [[step]]
//! method = "inq"
//! bits = 5
//! ```
//!
//! Methods and their settings (`layers`, `epochs`, `lr` and `distill` go with
//! every method): `prune` (sparsity, scope, iterations, criterion: `magnitude`
//! or `obd`), `structured` (fraction of units removed, criterion: `l1`,
//! `taylor` or `apoz`; the data-driven criteria and OBD measure on the
//! validation split), `merge` (fraction of neurons merged
//! away, data-free), `svd` (rank or energy; dense layers, or a convolution as
//! KH x 1 then 1 x KW), `kmeans` (bits, width), `inq`
//! (bits, layer_bits, schedule, range: `min-error` or the paper's `max`;
//! `epochs` per portion), `binary` / `ternary`
//! (scale), `finetune`; the coding ones (kmeans, inq, binary, ternary) also take
//! keep_first_last; `hint` (FitNets' first stage: `hint`, the teacher's
//! layer, and `guided`, the student's; needs `[distill]`). Defaults are those of `train::defaults`,
//! `quant::defaults` and `compress::defaults`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::recipe::{defaults, DistillSpec, Recipe, Step, StepKind};
use super::{CompressError, Rank, Scope, UnitCriterion, WeightCriterion};
use crate::quant::{Levels, QuantSettings, RangeRule, WeightSpec};
use crate::train::{self, TrainSettings};

/// Why a recipe file was refused.
#[derive(Debug, thiserror::Error)]
pub enum RecipeError {
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Not TOML, or a table or setting the format does not have.
    #[error("{0}")]
    Toml(#[from] toml::de::Error),
    /// A step whose settings do not fit its method.
    #[error("step {step}: {reason}")]
    Step { step: usize, reason: String },
    /// Settings that cannot work.
    #[error(transparent)]
    Invalid(#[from] CompressError),
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RecipeToml {
    #[serde(default)]
    train: TrainSettings,
    distill: Option<DistillToml>,
    #[serde(default)]
    quantize: QuantSettings,
    #[serde(default)]
    step: Vec<StepToml>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DistillToml {
    teacher: Option<String>,
    temperature: Option<f32>,
    lambda: Option<f32>,
    lambda_end: Option<f32>,
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct StepToml {
    method: String,
    layers: Option<Vec<String>>,
    epochs: Option<usize>,
    lr: Option<f32>,
    distill: Option<bool>,
    sparsity: Option<f32>,
    scope: Option<Scope>,
    iterations: Option<usize>,
    fraction: Option<f32>,
    rank: Option<usize>,
    energy: Option<f32>,
    bits: Option<u32>,
    width: Option<u32>,
    schedule: Option<Vec<f32>>,
    layer_bits: Option<BTreeMap<String, u32>>,
    range: Option<RangeRule>,
    scale: Option<bool>,
    keep_first_last: Option<WeightSpec>,
    criterion: Option<String>,
    hint: Option<String>,
    guided: Option<String>,
}

impl StepToml {
    /// The method-specific settings present.
    fn present(&self) -> Vec<&'static str> {
        let flags = [
            ("sparsity", self.sparsity.is_some()),
            ("scope", self.scope.is_some()),
            ("iterations", self.iterations.is_some()),
            ("fraction", self.fraction.is_some()),
            ("rank", self.rank.is_some()),
            ("energy", self.energy.is_some()),
            ("bits", self.bits.is_some()),
            ("width", self.width.is_some()),
            ("schedule", self.schedule.is_some()),
            ("range", self.range.is_some()),
            ("layer_bits", self.layer_bits.is_some()),
            ("scale", self.scale.is_some()),
            ("keep_first_last", self.keep_first_last.is_some()),
            ("criterion", self.criterion.is_some()),
            ("hint", self.hint.is_some()),
            ("guided", self.guided.is_some()),
        ];
        flags.iter().filter(|f| f.1).map(|f| f.0).collect()
    }
}

const METHODS: &str = "prune, structured, merge, svd, kmeans, inq, binary, ternary, finetune, hint";

impl Recipe {
    /// Reads and checks a recipe file; paths in it are relative to its folder.
    pub fn load(path: &Path) -> Result<Recipe, RecipeError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| RecipeError::Io { path: path.to_path_buf(), source })?;
        Recipe::parse(&text, path.parent().unwrap_or(Path::new(".")))
    }

    /// Parses and checks recipe text; `base` resolves relative paths.
    pub fn parse(text: &str, base: &Path) -> Result<Recipe, RecipeError> {
        let raw: RecipeToml = toml::from_str(text)?;
        let distill = raw.distill.map(|d| DistillSpec {
            teacher: match d.teacher.as_deref() {
                None | Some("original") => None,
                Some(p) => Some(base.join(p)),
            },
            temperature: d.temperature.unwrap_or(train::defaults::TEMPERATURE),
            lambda: d.lambda.unwrap_or(train::defaults::LAMBDA),
            lambda_end: d.lambda_end,
        });
        let steps = raw
            .step
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                step_of(s, distill.is_some())
                    .map_err(|reason| RecipeError::Step { step: i + 1, reason })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let (train, adaptive) = Recipe::retrain(&raw.train).map_err(CompressError::from)?;
        let recipe = Recipe { train, adaptive, distill, quantize: raw.quantize, steps };
        recipe.check()?;
        Ok(recipe)
    }
}

/// A step of the file as a [`Step`]: the settings its method takes, those it
/// needs, defaults for the rest (values are checked by `Recipe::check`).
fn step_of(s: StepToml, has_teacher: bool) -> Result<Step, String> {
    let allowed: &[&str] = match s.method.as_str() {
        "prune" => &["sparsity", "scope", "iterations", "criterion"],
        "structured" => &["fraction", "criterion"],
        "merge" => &["fraction"],
        "svd" => &["rank", "energy"],
        "kmeans" => &["bits", "width", "keep_first_last"],
        "inq" => &["bits", "layer_bits", "schedule", "range", "keep_first_last"],
        "binary" | "ternary" => &["scale", "keep_first_last"],
        "finetune" => &[],
        "hint" => &["hint", "guided"],
        other => return Err(format!("unknown method `{other}`; expected one of {METHODS}")),
    };
    if let Some(bad) = s.present().into_iter().find(|k| !allowed.contains(k)) {
        return Err(format!(
            "`{bad}` is not a setting of {}; it takes {}layers, epochs, lr and distill",
            s.method,
            allowed.iter().map(|a| format!("{a}, ")).collect::<String>()
        ));
    }
    let need = |v: Option<f32>, what: &str| v.ok_or_else(|| format!("{} needs `{what}`", s.method));
    let kind = match s.method.as_str() {
        "prune" => StepKind::Prune {
            sparsity: need(s.sparsity, "sparsity")?,
            scope: s.scope.unwrap_or(Scope::Layer),
            iterations: s.iterations.unwrap_or(defaults::PRUNE_ITERATIONS),
            criterion: match s.criterion.as_deref() {
                None | Some("magnitude") => WeightCriterion::Magnitude,
                Some("obd") => WeightCriterion::Obd,
                Some(c) => return Err(format!("prune `criterion` is magnitude or obd, not `{c}`")),
            },
        },
        "structured" => StepKind::Structured {
            fraction: need(s.fraction, "fraction")?,
            criterion: match s.criterion.as_deref() {
                None | Some("l1") => UnitCriterion::L1,
                Some("taylor") => UnitCriterion::Taylor,
                Some("apoz") => UnitCriterion::Apoz,
                Some(c) => {
                    return Err(format!("structured `criterion` is l1, taylor or apoz, not `{c}`"))
                }
            },
        },
        "merge" => StepKind::Merge { fraction: need(s.fraction, "fraction")? },
        "svd" => StepKind::Svd {
            rank: match (s.rank, s.energy) {
                (Some(k), None) => Rank::Fixed(k),
                (None, Some(e)) => Rank::Energy(e),
                (Some(_), Some(_)) => return Err("svd takes `rank` or `energy`, not both".into()),
                (None, None) => return Err("svd needs `rank` (k >= 1) or `energy` (0 to 1)".into()),
            },
        },
        "kmeans" => StepKind::Kmeans {
            bits: s.bits.ok_or("kmeans needs `bits` (2^bits centroids)")?,
            width: s.width.unwrap_or(defaults::SHARE_VALUE_BITS),
        },
        "inq" => StepKind::Inq {
            bits: s.bits.ok_or("inq needs `bits`")?,
            layer_bits: s.layer_bits.unwrap_or_default(),
            schedule: s.schedule.unwrap_or_else(|| defaults::INQ_SCHEDULE.to_vec()),
            range: s.range.unwrap_or_default(),
        },
        "binary" | "ternary" => StepKind::Binary {
            levels: if s.method == "binary" { Levels::Binary } else { Levels::Ternary },
            scale: s.scale.unwrap_or(defaults::BINARY_SCALE),
        },
        "hint" => StepKind::Hint {
            hint: s.hint.clone().ok_or("hint needs `hint`, the teacher's layer")?,
            guided: s.guided.clone().ok_or("hint needs `guided`, the student's layer")?,
        },
        _ => StepKind::Finetune,
    };
    if matches!(kind, StepKind::Finetune) && s.epochs.unwrap_or(0) == 0 {
        return Err("finetune needs `epochs` (at least 1)".into());
    }
    if s.distill == Some(true) && !has_teacher {
        return Err("`distill = true` needs a [distill] table with the teacher".into());
    }
    Ok(Step {
        epochs: s.epochs.unwrap_or(kind.default_epochs()),
        kind,
        layers: s.layers,
        lr: s.lr,
        distill: s.distill.unwrap_or(has_teacher),
        keep_first_last: s.keep_first_last,
    })
}
