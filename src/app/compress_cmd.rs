//! `compress`: a recipe of compression steps run in order, each reporting
//! accuracy and size after it; the single-method flags (INQ, binary, ternary)
//! are one-step recipes.

use super::recipe::{QuantSpec, Recipe, Step, StepKind};
use super::*;
use crate::compress::SharedWeights;
use crate::model::{Network, Op, ParamId, ParamKind};
use crate::report::ModelReport;
use crate::train::{Distillation, Loss, Masks, SoftmaxCrossEntropy};

/// The single compression method of `shiftkit compress --method`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Inq,
    Binary,
    Ternary,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Inq => "inq",
            Method::Binary => "binary",
            Method::Ternary => "ternary",
        }
    }
}

/// The single-method settings of `shiftkit compress --method`.
#[derive(Clone, Debug)]
pub struct MethodJob {
    pub method: Method,
    /// INQ bits per weight (2..=8) for every compressed layer...
    pub bits: u32,
    /// ...except these, by layer name.
    pub layer_bits: BTreeMap<String, u32>,
    pub schedule: Vec<f32>,
    /// INQ retraining epochs after each portion.
    pub epochs_per_step: usize,
    /// Binary/ternary training epochs.
    pub epochs: usize,
    /// Keep the first and last weighted layers at this precision.
    pub keep_first_last: Option<WeightSpec>,
    /// Binary/ternary per-channel scale.
    pub scale: bool,
    /// The retraining run (its `epochs` is replaced per method).
    pub train: TrainConfig,
    pub act_bits: u32,
    pub input_bits: u32,
    pub calibration: usize,
}

impl MethodJob {
    /// The one-step recipe these flags stand for.
    pub fn to_recipe(&self) -> Recipe {
        let kind = match self.method {
            Method::Inq => StepKind::Inq {
                bits: self.bits,
                layer_bits: self.layer_bits.clone(),
                schedule: self.schedule.clone(),
            },
            Method::Binary | Method::Ternary => StepKind::Binary {
                levels: if self.method == Method::Binary {
                    Levels::Binary
                } else {
                    Levels::Ternary
                },
                scale: self.scale,
            },
        };
        let epochs = if self.method == Method::Inq { self.epochs_per_step } else { self.epochs };
        Recipe {
            train: self.train.clone(),
            distill: None,
            quantize: QuantSpec {
                weights: WeightSpec::Fixed { bits: 8 },
                act_bits: self.act_bits,
                input_bits: self.input_bits,
                calibration: self.calibration,
            },
            steps: vec![Step {
                kind,
                layers: None,
                epochs,
                lr: None,
                distill: false,
                keep_first_last: self.keep_first_last,
            }],
        }
    }
}

/// `shiftkit compress`.
#[derive(Clone, Debug)]
pub struct CompressJob {
    pub model: PathBuf,
    pub dataset: Option<DatasetName>,
    pub data_dir: Option<PathBuf>,
    pub recipe: Recipe,
    pub output: PathBuf,
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

/// Accuracy and size after one step.
#[derive(Clone, Debug, Serialize)]
pub struct StepRow {
    pub step: usize,
    pub method: String,
    /// The float network after the step.
    pub float_accuracy: f64,
    /// Its integer network (bit-exact simulator).
    pub integer_accuracy: f64,
    /// Parameter bytes as `report::storage` counts them.
    pub bytes: u64,
    /// Float32 bytes of the original over `bytes`.
    pub compression: f64,
    /// Fraction of zero weights over all weighted layers.
    pub sparsity: f64,
    /// Weights of the weighted layers (structured pruning, merging and SVD change it).
    pub weights: usize,
    pub train_seconds: f64,
}

/// What `shiftkit compress` reports.
#[derive(Clone, Debug, Serialize)]
pub struct CompressOutcome {
    pub output: PathBuf,
    pub dataset: String,
    /// The steps, joined by ` -> `.
    pub method: String,
    pub layers: Vec<CompressLayerRow>,
    /// The model before compression.
    pub float_accuracy: f64,
    /// The integer network (bit-exact simulator).
    pub integer_accuracy: f64,
    /// Bits of the weight codes at their code width, over all weighted layers.
    pub weight_bits: u64,
    /// Parameter bytes, as `report::storage` counts them (dense or sparse,
    /// Huffman-coded shared layers, biases at 32 bits).
    pub bytes: u64,
    /// The original's weights and biases at float32.
    pub float_bytes: u64,
    pub train_seconds: f64,
    pub steps: Vec<StepRow>,
    /// The survey row of the result.
    pub report: ModelReport,
}

/// The compressed network between steps.
struct State {
    net: Network,
    /// Layers whose weights a step coded (INQ, shared, binary, ...), with the
    /// weight spec that quantizes them; later steps keep their weights frozen.
    coded: BTreeMap<String, WeightSpec>,
}

pub fn run_compress(
    job: &CompressJob,
    observer: &mut dyn compress::InqObserver,
) -> Result<CompressOutcome, AppError> {
    let mut file = model::load(&job.model)?;
    let name = dataset_of(&file, job.dataset, &job.model)?;
    let data = data::load(name, job.data_dir.as_deref())?;
    check_input_fits(file.float.input(), &data)?;
    let recipe = &job.recipe;
    let original = file.float.clone();
    let teacher = match recipe.distill.as_ref().and_then(|d| d.teacher.as_ref()) {
        Some(path) => model::load(path)?.float,
        None => original.clone(),
    };
    let float_accuracy = train::evaluate(&original, &data.test);
    let float_bytes = crate::report::float_bytes(&original);
    let mut state = State { net: original.clone(), coded: BTreeMap::new() };
    let mut steps = Vec::new();
    let mut last = None;
    let mut train_seconds = 0.0;
    for (index, step) in recipe.steps.iter().enumerate() {
        let what = format!("step {} ({})", index + 1, step.label());
        tracing::info!(step = %what, "compressing");
        let start = std::time::Instant::now();
        let distill = match (&recipe.distill, step.distill) {
            (Some(d), true) => Some(Distillation {
                teacher: &teacher,
                temperature: d.temperature,
                lambda: d.lambda,
            }),
            _ => None,
        };
        if let Some(d) = &distill {
            d.check(&state.net)?;
        }
        let loss: &dyn Loss = match &distill {
            Some(d) => d,
            None => &SoftmaxCrossEntropy,
        };
        run_step(&mut state, step, &recipe.train, loss, &data.train, observer)
            .map_err(|e| AppError::Usage(format!("{what}: {e}")))?;
        let seconds = start.elapsed().as_secs_f64();
        train_seconds += seconds;
        let q = quantize_state(&state, &recipe.quantize, &data)
            .map_err(|e| AppError::Usage(format!("{what}: quantizing: {e}")))?;
        let integer_accuracy = sim::accuracy(&q, &data.test)?;
        let report = ModelReport::new("", &step.label(), &original, &q, None, None);
        let weights: usize = report.layers.iter().map(|l| l.storage.weights).sum();
        let zeros: usize =
            report.layers.iter().map(|l| l.storage.weights - l.storage.nonzero).sum();
        steps.push(StepRow {
            step: index + 1,
            method: step.label(),
            float_accuracy: train::evaluate(&state.net, &data.test),
            integer_accuracy,
            bytes: report.bytes,
            compression: report.compression,
            sparsity: zeros as f64 / weights.max(1) as f64,
            weights,
            train_seconds: seconds,
        });
        last = Some((q, report));
    }
    let (q, mut report) = last.expect("a recipe has at least one step");
    let method = recipe.steps.iter().map(Step::label).collect::<Vec<_>>().join(" -> ");
    let integer_accuracy = steps.last().expect("one step").integer_accuracy;
    let stem = job.output.file_stem().map(|s| s.to_string_lossy().to_string());
    report.name = stem.unwrap_or_else(|| "model".into());
    report.method = method.clone();
    report.accuracy = Some(integer_accuracy);
    report.reference_accuracy = Some(float_accuracy);
    report.rtl_adders = rtl_adders(&q);
    file.provenance.dataset.get_or_insert_with(|| name.to_string());
    file.provenance
        .steps
        .push(format!("compress: {method}; integer accuracy {integer_accuracy:.4}"));
    file.float = state.net;
    quant::write_integer(&q, &mut file.rest);
    model::save(&job.output, &file)?;
    Ok(CompressOutcome {
        output: job.output.clone(),
        dataset: name.to_string(),
        method,
        layers: compress_rows(&q),
        float_accuracy,
        integer_accuracy,
        weight_bits: q
            .layers()
            .iter()
            .filter_map(|l| l.op.weighted())
            .map(|w| w.kind.code_bits() as u64 * w.weights.len() as u64)
            .sum(),
        bytes: report.bytes,
        float_bytes,
        train_seconds,
        steps,
        report,
    })
}

fn quantize_state(state: &State, q: &QuantSpec, data: &Dataset) -> Result<IntNetwork, AppError> {
    let config = QuantizeConfig {
        weights: q.weights,
        layer_weights: state.coded.clone(),
        act_bits: q.act_bits,
        input_bits: q.input_bits,
    };
    Ok(quant::quantize(&state.net, data.train.head(q.calibration).x.view(), &config)?)
}

/// The layers a step works on: the named ones, or the method's default: every
/// weighted layer; for structured pruning all but the last; for merging and SVD
/// the dense ones but the last.
fn select(net: &Network, names: Option<&[String]>, kind: &StepKind) -> Result<Vec<usize>, String> {
    let weighted = compress::weighted_layers(net);
    let hidden = &weighted[..weighted.len().saturating_sub(1)];
    if let Some(dup) = names.and_then(|n| n.iter().enumerate().find(|(i, a)| n[..*i].contains(a))) {
        return Err(format!("layer `{}` is named twice", dup.1));
    }
    match names {
        Some(names) => names
            .iter()
            .map(|n| match net.layer_index(n) {
                Some(i) if weighted.contains(&i) => Ok(i),
                Some(_) => Err(format!("layer `{n}` has no weights")),
                None => Err(format!(
                    "no layer `{n}`; the weighted layers are {}",
                    weighted
                        .iter()
                        .map(|&i| net.layers()[i].name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            })
            .collect(),
        None => Ok(match kind {
            StepKind::Structured { .. } => hidden.to_vec(),
            StepKind::Merge { .. } | StepKind::Svd { .. } => hidden
                .iter()
                .copied()
                .filter(|&i| matches!(net.layers()[i].op, Op::Dense(_)))
                .collect(),
            _ => weighted,
        }),
    }
}

fn run_step(
    state: &mut State,
    step: &Step,
    base: &TrainConfig,
    loss: &dyn Loss,
    data: &data::Split,
    observer: &mut dyn compress::InqObserver,
) -> Result<(), AppError> {
    let cfg = TrainConfig {
        epochs: step.epochs,
        optimizer: step.lr.map_or(base.optimizer, |lr| base.optimizer.with_lr(lr)),
        ..base.clone()
    };
    let layers = select(&state.net, step.layers.as_deref(), &step.kind).map_err(AppError::Usage)?;
    let name_of = |net: &Network, i: usize| net.layers()[i].name.clone();
    let codes = !matches!(step.kind, StepKind::Finetune);
    for &i in &layers {
        let n = name_of(&state.net, i);
        if let Some(spec) = state.coded.get(&n).filter(|_| codes) {
            return Err(AppError::Usage(format!(
                "layer `{n}` is already coded as {spec}; prune, reshape and share weights before \
                 coding them"
            )));
        }
    }
    // Coding steps may keep their first and last layers at another precision:
    // those train with this step (free, like any uncoded layer) and are frozen
    // after it.
    let coding = matches!(
        step.kind,
        StepKind::Kmeans { .. } | StepKind::Inq { .. } | StepKind::Binary { .. }
    );
    let mut layers = layers;
    let mut kept = Vec::new();
    if let Some(keep) = step.keep_first_last.filter(|_| coding) {
        for i in [layers.first(), layers.last()].into_iter().flatten() {
            kept.push((name_of(&state.net, *i), keep));
        }
        layers.retain(|&i| !kept.iter().any(|k| k.0 == name_of(&state.net, i)));
        if layers.is_empty() {
            return Err(AppError::Usage(
                "keep_first_last leaves no layer to code; drop it or name more layers".into(),
            ));
        }
    }
    let frozen = frozen_masks(&state.net, &state.coded);
    let mut masks = compress::pruned_masks(&state.net);
    compress::merge_masks(&mut masks, frozen.clone());
    let hooks = Hooks { masks, transform: None, loss };
    // Fine-tuning after a reshaping step: the masks come from the network as it
    // is now (SVD moves layers, structured pruning and merging change shapes).
    let coded = &state.coded;
    let finetune = |net: &mut Network, observer: &mut dyn compress::InqObserver| {
        if cfg.epochs > 0 {
            let mut masks = compress::pruned_masks(net);
            compress::merge_masks(&mut masks, frozen_masks(net, coded));
            train::train(net, data, None, &cfg, &Hooks { masks, transform: None, loss }, observer)?;
        }
        Ok::<_, AppError>(())
    };
    match &step.kind {
        StepKind::Prune { sparsity, scope, iterations } => {
            let config = compress::PruneConfig {
                targets: layers.iter().map(|&i| (i, *sparsity)).collect(),
                scope: *scope,
                iterations: *iterations,
                epochs: step.epochs,
                train: cfg.clone(),
            };
            let hooks = Hooks { masks: frozen.clone(), transform: None, loss };
            compress::run_prune(&mut state.net, data, &config, &hooks, observer)?;
        }
        StepKind::Structured { fraction } => {
            for &i in &layers {
                let units = state.net.output_of(i).channels();
                let remove = (*fraction as f64 * units as f64).round() as usize;
                state.net = compress::prune_units(&state.net, i, remove.min(units - 1))?;
            }
            finetune(&mut state.net, observer)?;
        }
        StepKind::Merge { fraction } => {
            for &i in &layers {
                let units = state.net.output_of(i).channels();
                let count = (*fraction as f64 * units as f64).round() as usize;
                let next = compress::weighted_layers(&state.net).into_iter().find(|&j| j > i);
                if let Some(spec) = next.and_then(|j| state.coded.get(&name_of(&state.net, j))) {
                    return Err(AppError::Usage(format!(
                        "merging `{}` changes the next layer, which is already coded as {spec}",
                        name_of(&state.net, i)
                    )));
                }
                state.net = compress::merge_neurons(&state.net, i, count.min(units - 1))?.0;
            }
            finetune(&mut state.net, observer)?;
        }
        StepKind::Svd { rank } => {
            // Highest index first: each split inserts a layer after its own.
            for &i in layers.iter().rev() {
                if !matches!(state.net.layers()[i].op, Op::Dense(_)) {
                    return Err(AppError::Usage(format!(
                        "SVD factors dense layers; `{}` is a convolution",
                        name_of(&state.net, i)
                    )));
                }
                let (net, _, k) = compress::svd_layer(&state.net, i, *rank)?;
                tracing::info!(layer = %name_of(&state.net, i), rank = k, "svd");
                state.net = net;
            }
            finetune(&mut state.net, observer)?;
        }
        StepKind::Kmeans { bits, width } => {
            let mut clusters = BTreeMap::new();
            for (id, mut w) in state.net.params_mut() {
                if id.kind == ParamKind::Weight && layers.contains(&id.layer) {
                    let flat: Vec<f32> = w.iter().copied().collect();
                    let c = compress::kmeans(&flat, *bits);
                    c.apply(w.view_mut());
                    clusters.insert(id, c);
                }
            }
            if step.epochs > 0 {
                let shared = SharedWeights::new(clusters);
                let hooks = Hooks { transform: Some(&shared), ..hooks };
                train::train(&mut state.net, data, None, &cfg, &hooks, observer)?;
            }
            for &i in &layers {
                let spec = WeightSpec::Shared { index_bits: *bits, bits: *width };
                state.coded.insert(name_of(&state.net, i), spec);
            }
        }
        StepKind::Inq { bits, layer_bits, schedule } => {
            let mut per_layer = Vec::new();
            for &i in &layers {
                let n = name_of(&state.net, i);
                let b = layer_bits.get(&n).copied().unwrap_or(*bits);
                per_layer.push((i, b));
                state.coded.insert(n, WeightSpec::Pow2 { bits: b });
            }
            for n in layer_bits.keys() {
                if !layers.iter().any(|&i| state.net.layers()[i].name == *n) {
                    return Err(AppError::Usage(format!(
                        "layer_bits names `{n}`, which is not a layer this step quantizes"
                    )));
                }
            }
            let config = InqConfig {
                bits: per_layer,
                schedule: schedule.clone(),
                epochs_per_step: step.epochs,
                train: cfg.clone(),
            };
            let hooks = Hooks { masks: frozen.clone(), transform: None, loss };
            compress::run_inq(&mut state.net, data, &config, &hooks, observer)?;
        }
        StepKind::Binary { levels, scale } => {
            let coded = &layers;
            if *levels == Levels::Binary {
                if let Some(&i) = coded.iter().find(|&&i| hooks.masks.contains_key(&weight(i))) {
                    return Err(AppError::Usage(format!(
                        "layer `{}` has pruned (zero) weights, and binary weights have no zero; \
                         use ternary",
                        name_of(&state.net, i)
                    )));
                }
            }
            let params = coded.iter().map(|&layer| weight(layer)).collect();
            let binarizer = Binarizer { params, levels: *levels, scale: *scale };
            if step.epochs > 0 {
                let hooks = Hooks { transform: Some(&binarizer), ..hooks };
                train::train(&mut state.net, data, None, &cfg, &hooks, observer)?;
            }
            // The network now computes with the coded weights: later steps and
            // the float section see what the integer network holds.
            for (id, mut w) in state.net.params_mut() {
                if coded.iter().any(|&l| weight(l) == id) {
                    let real = compress::code(w.view(), *levels, *scale).to_real();
                    w.assign(&real);
                }
            }
            let spec = match levels {
                Levels::Binary => WeightSpec::Binary { scale: *scale },
                Levels::Ternary => WeightSpec::Ternary { scale: *scale },
            };
            for &i in coded {
                state.coded.insert(name_of(&state.net, i), spec);
            }
        }
        StepKind::Finetune => finetune(&mut state.net, observer)?,
    }
    state.coded.extend(kept);
    Ok(())
}

fn weight(layer: usize) -> ParamId {
    ParamId { layer, kind: ParamKind::Weight }
}

/// Masks holding every coded layer's weights where they are.
fn frozen_masks(net: &Network, coded: &BTreeMap<String, WeightSpec>) -> Masks {
    net.params()
        .into_iter()
        .filter(|(id, _)| {
            id.kind == ParamKind::Weight && coded.contains_key(&net.layers()[id.layer].name)
        })
        .map(|(id, w)| (id, ndarray::ArrayD::zeros(w.raw_dim())))
        .collect()
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
            "{} test accuracy: float {:.2}%, integer {:.2}% ({:+.2} points); {} bytes vs {} at \
             float32 ({:.1}x); {:.1}s of training; written to {}",
            self.dataset,
            self.float_accuracy * 100.0,
            self.integer_accuracy * 100.0,
            (self.integer_accuracy - self.float_accuracy) * 100.0,
            self.bytes,
            self.float_bytes,
            self.float_bytes as f64 / self.bytes as f64,
            self.train_seconds,
            self.output.display()
        );
        s
    }
}
