//! Compression recipes: a TOML file of steps run in order, for example
//!
//! ```toml
//! [train]                      # every retraining step (defaults shown)
//! optimizer = "sgd"            # or "adam"
//! lr = 0.01
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
//! every method): `prune` (sparsity, scope, iterations), `structured`
//! (fraction of units removed by L1 norm), `merge` (fraction of neurons merged
//! away, data-free), `svd` (rank or energy), `kmeans` (bits, width), `inq`
//! (bits, layer_bits, schedule; `epochs` per portion), `binary` / `ternary`
//! (scale), `finetune`; the coding ones (kmeans, inq, binary, ternary) also take
//! keep_first_last.

use super::*;
use crate::compress::{Rank, Scope};

/// A parsed, checked recipe.
#[derive(Clone, Debug, PartialEq)]
pub struct Recipe {
    pub train: TrainConfig,
    pub distill: Option<DistillSpec>,
    pub quantize: QuantSpec,
    pub steps: Vec<Step>,
}

/// Where the teacher comes from and how it teaches.
#[derive(Clone, Debug, PartialEq)]
pub struct DistillSpec {
    /// `None`: the input model (the float original).
    pub teacher: Option<PathBuf>,
    pub temperature: f32,
    pub lambda: f32,
}

/// The quantization after every step.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantSpec {
    pub weights: WeightSpec,
    pub act_bits: u32,
    pub input_bits: u32,
    pub calibration: usize,
}

/// One step of a recipe.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub kind: StepKind,
    /// The layers it works on, by name (`None`: the method's default).
    pub layers: Option<Vec<String>>,
    /// Training epochs (per iteration for pruning, per portion for INQ).
    pub epochs: usize,
    pub lr: Option<f32>,
    /// Learn from the recipe's teacher (default: when the recipe has one).
    pub distill: bool,
    /// Coding steps: keep the first and last of the step's layers at this
    /// precision instead.
    pub keep_first_last: Option<WeightSpec>,
}

/// What a step does.
#[derive(Clone, Debug, PartialEq)]
pub enum StepKind {
    Prune {
        sparsity: f32,
        scope: Scope,
        iterations: usize,
    },
    Structured {
        fraction: f32,
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
    },
    Binary {
        levels: Levels,
        scale: bool,
    },
    Finetune,
}

impl Step {
    /// A short description for tables: `prune 90% global`, `inq 5-bit`.
    pub fn label(&self) -> String {
        let mut s = match &self.kind {
            StepKind::Prune { sparsity, scope, .. } => {
                format!("prune {:.0}% {}", sparsity * 100.0, scope_name(*scope))
            }
            StepKind::Structured { fraction } => format!("L1 structured {:.0}%", fraction * 100.0),
            StepKind::Merge { fraction } => format!("merge {:.0}%", fraction * 100.0),
            StepKind::Svd { rank: Rank::Fixed(k) } => format!("svd rank {k}"),
            StepKind::Svd { rank: Rank::Energy(e) } => format!("svd {:.0}% energy", e * 100.0),
            StepKind::Kmeans { bits, .. } => format!("kmeans {bits}-bit"),
            StepKind::Inq { bits, .. } => format!("inq {bits}-bit"),
            StepKind::Binary { levels: Levels::Binary, .. } => "binary".into(),
            StepKind::Binary { levels: Levels::Ternary, .. } => "ternary".into(),
            StepKind::Finetune => "finetune".into(),
        };
        if self.distill {
            s.push_str(" +KD");
        }
        s
    }
}

fn scope_name(s: Scope) -> &'static str {
    match s {
        Scope::Layer => "per layer",
        Scope::Global => "global",
    }
}

// The file's layout, before checking.

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RecipeToml {
    #[serde(default)]
    train: TrainToml,
    distill: Option<DistillToml>,
    #[serde(default)]
    quantize: QuantToml,
    #[serde(default)]
    step: Vec<StepToml>,
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TrainToml {
    optimizer: Option<String>,
    lr: Option<f32>,
    momentum: Option<f32>,
    weight_decay: Option<f32>,
    batch: Option<usize>,
    schedule: Option<String>,
    seed: Option<u64>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DistillToml {
    teacher: Option<String>,
    temperature: Option<f32>,
    lambda: Option<f32>,
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct QuantToml {
    weights: Option<String>,
    act_bits: Option<u32>,
    input_bits: Option<u32>,
    calibration: Option<usize>,
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
    scale: Option<bool>,
    keep_first_last: Option<String>,
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
            ("layer_bits", self.layer_bits.is_some()),
            ("scale", self.scale.is_some()),
            ("keep_first_last", self.keep_first_last.is_some()),
        ];
        flags.iter().filter(|f| f.1).map(|f| f.0).collect()
    }
}

const METHODS: &str = "prune, structured, merge, svd, kmeans, inq, binary, ternary, finetune";

impl Recipe {
    /// Reads and checks a recipe file; paths in it are relative to its folder.
    pub fn load(path: &Path) -> Result<Recipe, AppError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| AppError::Io { path: path.to_path_buf(), source })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Recipe::parse(&text, base)
            .map_err(|e| AppError::Usage(format!("recipe {}: {e}", path.display())))
    }

    /// Parses recipe text; `base` resolves relative paths.
    pub fn parse(text: &str, base: &Path) -> Result<Recipe, String> {
        let raw: RecipeToml = toml::from_str(text).map_err(|e| e.to_string())?;
        let t = raw.train;
        let lr = t.lr.unwrap_or(0.01);
        let wd = t.weight_decay.unwrap_or(5e-4);
        let optimizer = match t.optimizer.as_deref().unwrap_or("sgd") {
            "sgd" => train::OptimizerConfig::Sgd {
                lr,
                momentum: t.momentum.unwrap_or(0.9),
                weight_decay: wd,
            },
            "adam" => train::OptimizerConfig::adam(t.lr.unwrap_or(0.001)).with_weight_decay(wd),
            other => return Err(format!("[train] optimizer `{other}`: expected sgd or adam")),
        };
        let schedule = match t.schedule.as_deref().unwrap_or("cosine") {
            "cosine" => train::LrSchedule::Cosine,
            "constant" => train::LrSchedule::Constant,
            other => {
                return Err(format!("[train] schedule `{other}`: expected cosine or constant"))
            }
        };
        let train = TrainConfig {
            epochs: 0,
            batch_size: t.batch.unwrap_or(64),
            optimizer,
            schedule,
            seed: t.seed.unwrap_or(1),
        };
        if train.batch_size == 0 {
            return Err("[train] batch must be at least 1".into());
        }
        let distill = raw.distill.map(|d| {
            let teacher = match d.teacher.as_deref() {
                None | Some("original") => None,
                Some(p) => Some(base.join(p)),
            };
            DistillSpec {
                teacher,
                temperature: d.temperature.unwrap_or(4.0),
                lambda: d.lambda.unwrap_or(0.5),
            }
        });
        if let Some(d) = &distill {
            if !(d.temperature > 0.0 && d.temperature.is_finite()) {
                return Err(format!(
                    "[distill] temperature must be positive, got {}",
                    d.temperature
                ));
            }
            if !(0.0..=1.0).contains(&d.lambda) {
                return Err(format!("[distill] lambda must be in [0, 1], got {}", d.lambda));
            }
        }
        let q = raw.quantize;
        let quantize = QuantSpec {
            weights: q
                .weights
                .as_deref()
                .unwrap_or("fixed8")
                .parse()
                .map_err(|e| format!("[quantize] {e}"))?,
            act_bits: q.act_bits.unwrap_or(8),
            input_bits: q.input_bits.unwrap_or(8),
            calibration: q.calibration.unwrap_or(5000),
        };
        if quantize.calibration == 0 {
            return Err("[quantize] calibration must be at least 1 sample".into());
        }
        if raw.step.is_empty() {
            return Err("the recipe has no [[step]]".into());
        }
        let steps = raw
            .step
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                check_step(s, distill.is_some()).map_err(|e| format!("step {}: {e}", i + 1))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Recipe { train, distill, quantize, steps })
    }
}

fn check_step(s: StepToml, has_teacher: bool) -> Result<Step, String> {
    let allowed: &[&str] = match s.method.as_str() {
        "prune" => &["sparsity", "scope", "iterations"],
        "structured" | "merge" => &["fraction"],
        "svd" => &["rank", "energy"],
        "kmeans" => &["bits", "width", "keep_first_last"],
        "inq" => &["bits", "layer_bits", "schedule", "keep_first_last"],
        "binary" | "ternary" => &["scale", "keep_first_last"],
        "finetune" => &[],
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
    let fraction = |v: f32, what: &str| {
        if (0.0..1.0).contains(&v) {
            Ok(v)
        } else {
            Err(format!("`{what}` must be at least 0 and below 1, got {v}"))
        }
    };
    let kind = match s.method.as_str() {
        "prune" => StepKind::Prune {
            sparsity: fraction(need(s.sparsity, "sparsity")?, "sparsity")?,
            scope: s.scope.unwrap_or(Scope::Layer),
            iterations: match s.iterations.unwrap_or(1) {
                0 => return Err("`iterations` must be at least 1".into()),
                n => n,
            },
        },
        "structured" => {
            StepKind::Structured { fraction: fraction(need(s.fraction, "fraction")?, "fraction")? }
        }
        "merge" => {
            StepKind::Merge { fraction: fraction(need(s.fraction, "fraction")?, "fraction")? }
        }
        "svd" => StepKind::Svd {
            rank: match (s.rank, s.energy) {
                (Some(k), None) if k > 0 => Rank::Fixed(k),
                (None, Some(e)) if e > 0.0 && e <= 1.0 => Rank::Energy(e),
                (Some(_), Some(_)) => return Err("svd takes `rank` or `energy`, not both".into()),
                (None, None) => return Err("svd needs `rank` (k >= 1) or `energy` (0 to 1)".into()),
                _ => return Err("`rank` must be at least 1 and `energy` in (0, 1]".into()),
            },
        },
        "kmeans" => {
            let bits = s.bits.ok_or("kmeans needs `bits` (1 to 8: 2^bits centroids)")?;
            compress::check_share_bits(bits).map_err(|e| e.to_string())?;
            let width = s.width.unwrap_or(8);
            if !(2..=16).contains(&width) {
                return Err(format!(
                    "`width` (bits of a shared value) must be 2 to 16, got {width}"
                ));
            }
            StepKind::Kmeans { bits, width }
        }
        "inq" => {
            let bits = s.bits.ok_or("inq needs `bits` (2 to 8)")?;
            compress::check_bits(bits).map_err(|e| e.to_string())?;
            let schedule = s.schedule.unwrap_or_else(|| vec![0.5, 0.75, 0.875, 1.0]);
            compress::check_schedule(&schedule).map_err(|e| e.to_string())?;
            let layer_bits = s.layer_bits.unwrap_or_default();
            for &b in layer_bits.values() {
                compress::check_bits(b).map_err(|e| e.to_string())?;
            }
            StepKind::Inq { bits, layer_bits, schedule }
        }
        "binary" | "ternary" => StepKind::Binary {
            levels: if s.method == "binary" { Levels::Binary } else { Levels::Ternary },
            scale: s.scale.unwrap_or(true),
        },
        _ => StepKind::Finetune,
    };
    let default_epochs = match kind {
        StepKind::Inq { .. } => 2,
        StepKind::Binary { .. } => 10,
        StepKind::Finetune if s.epochs.unwrap_or(0) == 0 => {
            return Err("finetune needs `epochs` (at least 1)".into())
        }
        _ => 0,
    };
    if s.distill == Some(true) && !has_teacher {
        return Err("`distill = true` needs a [distill] table with the teacher".into());
    }
    if let Some(lr) = s.lr {
        if !(lr > 0.0 && lr.is_finite()) {
            return Err(format!("`lr` must be positive, got {lr}"));
        }
    }
    let keep_first_last = s
        .keep_first_last
        .map(|k| k.parse::<WeightSpec>().map_err(|e| format!("keep_first_last: {e}")))
        .transpose()?;
    Ok(Step {
        kind,
        layers: s.layers,
        epochs: s.epochs.unwrap_or(default_epochs),
        lr: s.lr,
        distill: s.distill.unwrap_or(has_teacher),
        keep_first_last,
    })
}
