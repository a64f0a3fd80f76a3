//! `compress`: a recipe of compression steps run in order, each reporting
//! accuracy and size after it; the single-method flags (INQ, binary, ternary)
//! are one-step recipes.

use super::*;
use crate::compress::{Recipe, Step, StepKind, StepRow};
use crate::model::Record;
use crate::quant::{Levels, QuantSettings, RangeRule};
use crate::report::ModelReport;

/// The single compression method of `shiftkit compress --method`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Inq,
    Binary,
    Ternary,
}

/// The single-method settings of `shiftkit compress --method` and `flow`.
#[derive(Clone, Debug)]
pub struct MethodJob {
    pub method: Method,
    /// INQ bits per weight for every compressed layer...
    pub bits: u32,
    /// ...except these, by layer name.
    pub layer_bits: BTreeMap<String, u32>,
    pub schedule: Vec<f32>,
    /// How INQ picks each layer's exponent range.
    pub range: RangeRule,
    /// INQ retraining epochs after each portion.
    pub epochs_per_step: usize,
    /// Binary/ternary training epochs.
    pub epochs: usize,
    /// Keep the first and last weighted layers at this precision.
    pub keep_first_last: Option<WeightSpec>,
    /// Binary/ternary per-channel scale.
    pub scale: bool,
    /// The retraining settings (the epochs are the method's).
    pub train: train::TrainSettings,
    pub quantize: QuantSettings,
}

impl MethodJob {
    /// `method` with every other setting at its default.
    pub fn new(method: Method) -> MethodJob {
        MethodJob {
            method,
            bits: compress::defaults::INQ_BITS,
            layer_bits: BTreeMap::new(),
            schedule: compress::defaults::INQ_SCHEDULE.to_vec(),
            range: RangeRule::default(),
            epochs_per_step: compress::defaults::INQ_EPOCHS,
            epochs: compress::defaults::BINARY_EPOCHS,
            keep_first_last: None,
            scale: compress::defaults::BINARY_SCALE,
            train: train::TrainSettings::default(),
            quantize: QuantSettings::default(),
        }
    }

    /// The one-step recipe these flags stand for, checked.
    pub fn to_recipe(&self) -> Result<Recipe, CompressError> {
        let (kind, epochs) = match self.method {
            Method::Inq => (
                StepKind::Inq {
                    bits: self.bits,
                    layer_bits: self.layer_bits.clone(),
                    schedule: self.schedule.clone(),
                    range: self.range,
                },
                self.epochs_per_step,
            ),
            Method::Binary | Method::Ternary => (
                StepKind::Binary {
                    levels: if self.method == Method::Binary {
                        Levels::Binary
                    } else {
                        Levels::Ternary
                    },
                    scale: self.scale,
                },
                self.epochs,
            ),
        };
        let step = Step { epochs, keep_first_last: self.keep_first_last, ..Step::new(kind) };
        let (train, adaptive) = Recipe::retrain(&self.train)?;
        let recipe = Recipe { train, adaptive, quantize: self.quantize, ..Recipe::new(vec![step]) };
        recipe.check()?;
        Ok(recipe)
    }
}

/// `shiftkit compress`.
#[derive(Clone, Debug)]
pub struct CompressJob {
    pub model: PathBuf,
    pub dataset: Option<DatasetName>,
    pub data_dir: Option<PathBuf>,
    /// Retrain on this many training samples, an equal share of each class
    /// (`None`: the whole training split); accuracy is still measured on the
    /// whole validation and test splits.
    pub train_samples: Option<usize>,
    pub recipe: Recipe,
    pub output: PathBuf,
}

/// The settings `compress` records in the model's provenance: the recipe's,
/// and the training subset when there is one.
#[derive(Serialize)]
struct CompressRecord<'a> {
    #[serde(flatten)]
    recipe: &'a Recipe,
    #[serde(skip_serializing_if = "Option::is_none")]
    train_samples: Option<usize>,
}

/// One row of the per-layer compression table.
#[derive(Clone, Debug, Serialize)]
pub struct CompressLayerRow {
    pub name: String,
    pub weights: String,
    pub code_bits: u32,
    pub params: usize,
    pub distinct: usize,
    pub sparsity: f64,
}

/// What `shiftkit compress` reports.
#[derive(Clone, Debug, Serialize)]
pub struct CompressOutcome {
    pub output: PathBuf,
    pub dataset: String,
    /// The steps, joined by ` -> `.
    pub method: String,
    pub layers: Vec<CompressLayerRow>,
    /// The model before compression (test split, as every `*accuracy` without
    /// `val_`).
    pub original_accuracy: f64,
    /// The compressed float network.
    pub float_accuracy: f64,
    /// The integer network (bit-exact simulator).
    pub integer_accuracy: f64,
    /// The model before compression and the integer network on the
    /// validation split.
    pub original_val_accuracy: f64,
    pub val_integer_accuracy: f64,
    /// Bits of the weight codes at their code width, over all weighted layers.
    pub weight_bits: u64,
    /// Parameter bytes, as `report::storage` counts them (dense or sparse,
    /// Huffman-coded shared layers, biases at 32 bits).
    pub bytes: u64,
    /// The original's weights and biases at float32.
    pub float_bytes: u64,
    pub train_seconds: f64,
    /// The training samples retraining learned from.
    pub train_samples: usize,
    pub steps: Vec<StepRow>,
    /// The survey row of the result.
    pub report: ModelReport,
}

pub fn run_compress(
    job: &CompressJob,
    observer: &mut dyn compress::InqObserver,
) -> Result<CompressOutcome, AppError> {
    let mut file = model::load(&job.model)?;
    let name = dataset_of(&file, job.dataset, &job.model)?;
    let data = load_for_training(name, job.data_dir.as_deref(), job.train_samples)?;
    check_input_fits(file.float.input(), &data)?;
    let recipe = &job.recipe;
    let original = &file.float;
    let teacher = match recipe.distill.as_ref().and_then(|d| d.teacher.as_ref()) {
        Some(path) => model::load(path)?.float,
        None => original.clone(),
    };
    let float_accuracy = train::evaluate(original, &data.test);
    let original_val_accuracy = train::evaluate(original, &data.val);
    let float_bytes = crate::report::float_bytes(original);
    let done = compress::run_recipe(original, &teacher, recipe, &data, observer)?;
    let train_seconds = done.steps.iter().map(|s| s.train_seconds).sum();
    let method = recipe.method();
    let last = done.steps.last().expect("a recipe has at least one step");
    let integer_accuracy = last.integer_accuracy;
    let compressed_float_accuracy = last.float_accuracy;
    let q = done.integer;
    let mut report = done.report;
    report.name = model_name(&job.output);
    report.method = method.clone();
    report.accuracy = Some(integer_accuracy);
    report.val_accuracy = Some(last.val_integer_accuracy);
    report.reference_accuracy = Some(float_accuracy);
    report.rtl_adders = default_design(&q).map(|m| m.cost.adders);
    file.provenance.dataset.get_or_insert_with(|| name.to_string());
    file.provenance.steps.push(Record::new(
        "compress",
        Some(method.clone()),
        &CompressRecord { recipe, train_samples: job.train_samples },
        &serde_json::json!({
            "float_accuracy": compressed_float_accuracy,
            "integer_accuracy": integer_accuracy,
            "val_integer_accuracy": last.val_integer_accuracy,
        }),
    ));
    file.float = done.net;
    quant::write_integer(&q, &mut file.rest);
    model::save(&job.output, &file)?;
    Ok(CompressOutcome {
        output: job.output.clone(),
        dataset: name.to_string(),
        method,
        layers: compress_rows(&q),
        original_accuracy: float_accuracy,
        float_accuracy: compressed_float_accuracy,
        integer_accuracy,
        original_val_accuracy,
        val_integer_accuracy: last.val_integer_accuracy,
        weight_bits: q
            .layers()
            .iter()
            .filter_map(|l| l.op.weighted())
            .map(|w| w.kind.code_bits() as u64 * w.weights.len() as u64)
            .sum(),
        bytes: report.bytes,
        float_bytes,
        train_seconds,
        train_samples: data.train.len(),
        steps: done.steps,
        report,
    })
}

fn compress_rows(net: &IntNetwork) -> Vec<CompressLayerRow> {
    net.layers()
        .iter()
        .filter_map(|l| {
            let w = l.op.weighted()?;
            let distinct: BTreeSet<i32> = w.weights.iter().copied().collect();
            let zeros = w.weights.iter().filter(|&&v| v == 0).count();
            Some(CompressLayerRow {
                name: l.name.clone(),
                weights: w.kind.to_string(),
                code_bits: w.kind.code_bits(),
                params: w.weights.len(),
                distinct: distinct.len(),
                sparsity: zeros as f64 / w.weights.len() as f64,
            })
        })
        .collect()
}

impl CompressOutcome {
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        if self.steps.len() > 1 {
            let _ = writeln!(
                s,
                "{:<5} {:<28} {:>9} {:>9} {:>10} {:>8} {:>9}",
                "step", "method", "float", "integer", "bytes", "ratio", "sparsity"
            );
            for r in &self.steps {
                let _ = writeln!(
                    s,
                    "{:<5} {:<28} {:>8.2}% {:>8.2}% {:>10} {:>7.1}x {:>8.1}%",
                    r.step,
                    r.method,
                    r.float_accuracy * 100.0,
                    r.integer_accuracy * 100.0,
                    r.bytes,
                    r.compression,
                    r.sparsity * 100.0
                );
            }
            s.push('\n');
        }
        for r in &self.steps {
            if let Some(e) = r.hint_explained {
                let worse = if e < 0.0 { " (worse than predicting each value's mean)" } else { "" };
                let _ = writeln!(
                    s,
                    "step {} ({}): the guided layer explains {:.1}% of the hint's variance on \
                     validation{worse}\n",
                    r.step,
                    r.method,
                    e * 100.0
                );
            }
        }
        let _ = writeln!(
            s,
            "{:<10} {:<22} {:>5} {:>9} {:>9} {:>9}",
            "layer", "weights", "bits", "params", "distinct", "sparsity"
        );
        for l in &self.layers {
            let _ = writeln!(
                s,
                "{:<10} {:<22} {:>5} {:>9} {:>9} {:>8.1}%",
                l.name,
                l.weights,
                l.code_bits,
                l.params,
                l.distinct,
                l.sparsity * 100.0
            );
        }
        let _ = writeln!(
            s,
            "{} test accuracy: original {:.2}%, compressed float {:.2}%, integer {:.2}% ({:+.2} \
             points; validation {:+.2}); {} bytes vs {} at float32 ({:.1}x); {:.1}s of training on {}; \
             written to {}",
            self.dataset,
            self.original_accuracy * 100.0,
            self.float_accuracy * 100.0,
            self.integer_accuracy * 100.0,
            (self.integer_accuracy - self.original_accuracy) * 100.0,
            (self.val_integer_accuracy - self.original_val_accuracy) * 100.0,
            self.bytes,
            self.float_bytes,
            self.float_bytes as f64 / self.bytes as f64,
            self.train_seconds,
            crate::report::count(self.train_samples as u64, "sample"),
            self.output.display()
        );
        s
    }
}
