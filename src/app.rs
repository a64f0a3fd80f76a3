//! The application layer: one function per CLI subcommand, each taking a
//! checked job description and returning a serializable outcome. The binary
//! only parses flags into these jobs and prints the outcomes.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use std::collections::{BTreeMap, BTreeSet};

use crate::codegen::{self, CodegenError, HdlConfig, Manifest};
use crate::compress::{self, Binarizer, CompressError, InqConfig, Levels};
use crate::data::{self, DataError, Dataset, DatasetName};
use crate::model::{self, ArchSpec, ModelError, ModelFile, NetworkSummary, Provenance, Shape};
use crate::quant::{self, FixedFormat, IntNetwork, IntOp, QuantError, QuantizeConfig, WeightSpec};
use crate::sim::{self, SimError, VectorError};
use crate::train::{self, EpochReport, Hooks, Observer, TrainConfig, TrainError};
use crate::verify::{self, Simulator, Traffic, VerifyError};

/// Errors of the application layer: any stage's error.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Train(#[from] TrainError),
    #[error(transparent)]
    Quant(#[from] QuantError),
    #[error(transparent)]
    Compress(#[from] CompressError),
    #[error(transparent)]
    Codegen(#[from] CodegenError),
    #[error(transparent)]
    Verify(#[from] VerifyError),
    #[error(transparent)]
    Sim(#[from] SimError),
    #[error("{}: {source}", path.display())]
    Vectors {
        path: PathBuf,
        #[source]
        source: VectorError,
    },
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A request that cannot be carried out as given.
    #[error("{0}")]
    Usage(String),
}

/// `shiftkit train`.
#[derive(Clone, Debug)]
pub struct TrainJob {
    pub arch: String,
    pub dataset: DatasetName,
    pub data_dir: Option<PathBuf>,
    pub config: TrainConfig,
    /// Seeds the initial weights (the shuffling seed is in `config`).
    pub init_seed: u64,
    pub output: PathBuf,
}

/// What `shiftkit train` reports.
#[derive(Clone, Debug, Serialize)]
pub struct TrainOutcome {
    pub output: PathBuf,
    pub dataset: String,
    pub arch: String,
    pub epochs: Vec<EpochReport>,
    pub test_accuracy: f64,
    pub seconds: f64,
}

pub fn run_train(job: &TrainJob, observer: &mut dyn Observer) -> Result<TrainOutcome, AppError> {
    let spec = ArchSpec::parse(&job.arch)?;
    let mut net = spec.build(job.init_seed)?;
    let data = data::load(job.dataset, job.data_dir.as_deref())?;
    check_input_fits(net.input(), &data)?;
    tracing::info!(arch = %job.arch, dataset = %job.dataset, "training");
    let reports = train::train(
        &mut net,
        &data.train,
        Some(&data.test),
        &job.config,
        &Hooks::default(),
        observer,
    )?;
    let test_accuracy = train::evaluate(&net, &data.test);
    let opt = &job.config.optimizer;
    let provenance = Provenance {
        arch: Some(job.arch.clone()),
        dataset: Some(job.dataset.to_string()),
        steps: vec![format!(
            "train: {} epochs, batch {}, {} lr {}, seed {}, init seed {}; test accuracy {:.4}",
            job.config.epochs,
            job.config.batch_size,
            opt.name(),
            opt.lr(),
            job.config.seed,
            job.init_seed,
            test_accuracy
        )],
    };
    model::save(&job.output, &ModelFile::new(net, provenance))?;
    Ok(TrainOutcome {
        output: job.output.clone(),
        dataset: job.dataset.to_string(),
        arch: job.arch.clone(),
        seconds: reports.iter().map(|r| r.seconds).sum(),
        epochs: reports,
        test_accuracy,
    })
}

/// Checks that a dataset's samples are what the network takes.
pub fn check_input_fits(input: Shape, data: &Dataset) -> Result<(), AppError> {
    let fits = match input {
        Shape::Flat(n) => n == data.sample.numel(),
        Shape::Image { .. } => input == data.sample,
    };
    if fits {
        Ok(())
    } else {
        Err(AppError::Usage(format!(
            "the network takes input {input}, but {} samples are {} ({} values)",
            data.name,
            data.sample,
            data.sample.numel()
        )))
    }
}

/// What `shiftkit eval` reports.
#[derive(Clone, Debug, Serialize)]
pub struct EvalOutcome {
    pub model: PathBuf,
    pub dataset: String,
    pub split: &'static str,
    pub samples: usize,
    pub float_accuracy: f64,
    /// Accuracy of the integer network (bit-exact simulator), when the model has one.
    pub integer_accuracy: Option<f64>,
}

/// `shiftkit eval`: top-1 accuracy on the test split. The dataset defaults to
/// the one the model was trained on.
pub fn run_eval(
    model_path: &Path,
    dataset: Option<DatasetName>,
    data_dir: Option<&Path>,
) -> Result<EvalOutcome, AppError> {
    let file = model::load(model_path)?;
    let integer = quant::read_integer(&file.rest)?;
    let name = dataset_of(&file, dataset, model_path)?;
    let data = data::load(name, data_dir)?;
    check_input_fits(file.float.input(), &data)?;
    train::check_split(&file.float, &data.test, "test")?;
    Ok(EvalOutcome {
        model: model_path.to_path_buf(),
        dataset: name.to_string(),
        split: "test",
        samples: data.test.len(),
        float_accuracy: train::evaluate(&file.float, &data.test),
        integer_accuracy: integer.map(|n| sim::accuracy(&n, &data.test)).transpose()?,
    })
}

/// Resolves the dataset of a command: the one given, else the one the model
/// records.
fn dataset_of(
    file: &ModelFile,
    given: Option<DatasetName>,
    path: &Path,
) -> Result<DatasetName, AppError> {
    match given {
        Some(d) => Ok(d),
        None => {
            let recorded = file.provenance.dataset.as_deref().ok_or_else(|| {
                AppError::Usage(format!(
                    "{} does not record its dataset; pass --data digits|fashion-mnist",
                    path.display()
                ))
            })?;
            Ok(recorded.parse()?)
        }
    }
}

/// `shiftkit quantize`.
#[derive(Clone, Debug)]
pub struct QuantizeJob {
    pub model: PathBuf,
    pub dataset: Option<DatasetName>,
    pub data_dir: Option<PathBuf>,
    pub config: QuantizeConfig,
    /// Training samples used to calibrate activation formats.
    pub calibration: usize,
    pub output: PathBuf,
}

/// One row of the quantization table.
#[derive(Clone, Debug, Serialize)]
pub struct QuantLayerRow {
    pub name: String,
    pub op: &'static str,
    pub weights: String,
    pub exponent: Option<i32>,
    pub format: FixedFormat,
    pub shift: Option<i32>,
    pub acc_bits: Option<u32>,
}

/// What `shiftkit quantize` reports.
#[derive(Clone, Debug, Serialize)]
pub struct QuantizeOutcome {
    pub output: PathBuf,
    pub dataset: String,
    pub input_format: FixedFormat,
    pub layers: Vec<QuantLayerRow>,
    pub float_accuracy: f64,
    pub integer_accuracy: f64,
}

pub fn run_quantize(job: &QuantizeJob) -> Result<QuantizeOutcome, AppError> {
    let mut file = model::load(&job.model)?;
    let name = dataset_of(&file, job.dataset, &job.model)?;
    let data = data::load(name, job.data_dir.as_deref())?;
    check_input_fits(file.float.input(), &data)?;
    if job.calibration == 0 {
        return Err(AppError::Usage("--calibration must be at least 1 sample".into()));
    }
    let calib = data.train.head(job.calibration);
    let net = quant::quantize(&file.float, calib.x.view(), &job.config)?;
    let float_accuracy = train::evaluate(&file.float, &data.test);
    let integer_accuracy = sim::accuracy(&net, &data.test)?;
    file.provenance.dataset.get_or_insert_with(|| name.to_string());
    file.provenance.steps.push(format!(
        "quantize: weights {:?}, activations {} bits, input {} bits, {} calibration samples; \
         integer accuracy {integer_accuracy:.4}",
        job.config.weights,
        job.config.act_bits,
        job.config.input_bits,
        calib.len()
    ));
    quant::write_integer(&net, &mut file.rest);
    model::save(&job.output, &file)?;
    Ok(QuantizeOutcome {
        output: job.output.clone(),
        dataset: name.to_string(),
        input_format: net.input_format(),
        layers: quant_rows(&net),
        float_accuracy,
        integer_accuracy,
    })
}

fn quant_rows(net: &IntNetwork) -> Vec<QuantLayerRow> {
    net.layers()
        .iter()
        .map(|l| {
            let w = l.op.weighted();
            QuantLayerRow {
                name: l.name.clone(),
                op: l.op.as_str(),
                weights: w.map_or(String::new(), |w| w.kind.to_string()),
                exponent: w.map(|w| w.exponent),
                format: l.format,
                shift: w.map(|w| w.shift(l.input_format, l.format)),
                acc_bits: w.map(|_| {
                    let hull = l.acc_bounds.iter().fold(l.acc_bounds[0], |a, &b| a.hull(b));
                    hull.width().1
                }),
            }
        })
        .collect()
}

impl QuantizeOutcome {
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "input format {}", self.input_format);
        let _ = writeln!(
            s,
            "{:<10} {:<10} {:<10} {:>8} {:>8} {:>6} {:>9}",
            "layer", "op", "weights", "exponent", "format", "shift", "acc bits"
        );
        let opt = |v: Option<i32>| v.map_or(String::new(), |v| v.to_string());
        for l in &self.layers {
            let _ = writeln!(
                s,
                "{:<10} {:<10} {:<10} {:>8} {:>8} {:>6} {:>9}",
                l.name,
                l.op,
                l.weights,
                opt(l.exponent),
                l.format.to_string(),
                opt(l.shift),
                l.acc_bits.map_or(String::new(), |b| b.to_string())
            );
        }
        let _ = writeln!(
            s,
            "{} test accuracy: float {:.2}%, integer {:.2}% ({:+.2} points); written to {}",
            self.dataset,
            self.float_accuracy * 100.0,
            self.integer_accuracy * 100.0,
            (self.integer_accuracy - self.float_accuracy) * 100.0,
            self.output.display()
        );
        s
    }
}

/// Loads the integer network of a model file, or says how to make one.
pub fn load_integer(path: &Path) -> Result<(ModelFile, IntNetwork), AppError> {
    let file = model::load(path)?;
    match quant::read_integer(&file.rest)? {
        Some(net) => Ok((file, net)),
        None => Err(AppError::Usage(format!(
            "{} holds no integer network; make one with `shiftkit quantize`",
            path.display()
        ))),
    }
}

/// What `shiftkit sim` reports.
#[derive(Clone, Debug, Serialize)]
pub struct SimOutcome {
    pub vectors: usize,
    pub output: PathBuf,
    pub trace: Option<PathBuf>,
}

/// `shiftkit sim`: raw integer vectors in, raw integer outputs out; with a
/// trace directory, every layer's raw outputs too (`NN_<layer>.txt`).
pub fn run_sim(
    model_path: &Path,
    input: &Path,
    output: &Path,
    trace: Option<&Path>,
) -> Result<SimOutcome, AppError> {
    let (_, net) = load_integer(model_path)?;
    let text = std::fs::read_to_string(input)
        .map_err(|source| AppError::Io { path: input.into(), source })?;
    let x = sim::parse_vectors(&text, net.input().numel(), net.input_format())
        .map_err(|source| AppError::Vectors { path: input.into(), source })?;
    let outs = sim::run_traced(&net, x.view())?;
    if let Some(dir) = trace {
        std::fs::create_dir_all(dir).map_err(|source| AppError::Io { path: dir.into(), source })?;
        for (i, (layer, out)) in net.layers().iter().zip(&outs).enumerate() {
            let path = dir.join(format!("{i:02}_{}.txt", layer.name));
            model::write_atomically(&path, sim::format_vectors(out).as_bytes())?;
        }
    }
    let last = outs.last().expect("at least one layer");
    model::write_atomically(output, sim::format_vectors(last).as_bytes())?;
    Ok(SimOutcome {
        vectors: x.nrows(),
        output: output.to_path_buf(),
        trace: trace.map(Path::to_path_buf),
    })
}

/// `shiftkit dump --json`: the whole integer network as JSON.
pub fn run_dump(model_path: &Path) -> Result<serde_json::Value, AppError> {
    let (_, net) = load_integer(model_path)?;
    Ok(dump_json(&net))
}

fn dump_json(net: &IntNetwork) -> serde_json::Value {
    use serde_json::json;
    let pairs = |b: &[quant::Interval]| b.iter().map(|i| [i.lo, i.hi]).collect::<Vec<_>>();
    let layers: Vec<_> = net
        .layers()
        .iter()
        .map(|l| {
            let mut v = json!({
                "name": l.name,
                "op": l.op.as_str(),
                "input_shape": l.input.dims(),
                "output_shape": l.output.dims(),
                "input_format": l.input_format,
                "format": l.format,
                "bounds": pairs(&l.bounds),
            });
            let obj = v.as_object_mut().expect("object");
            match &l.op {
                IntOp::Dense(w) | IntOp::Conv2d { layer: w, .. } => {
                    obj.insert("weight_kind".into(), json!(w.kind));
                    obj.insert("exponent".into(), json!(w.exponent));
                    obj.insert("weight_shape".into(), json!(w.weights.shape()));
                    obj.insert("weights".into(), json!(w.weights.iter().collect::<Vec<_>>()));
                    obj.insert("bias".into(), json!(w.bias));
                    obj.insert("scale".into(), json!(w.scale));
                    obj.insert("relu".into(), json!(w.relu));
                    obj.insert("acc_frac".into(), json!(w.acc_frac(l.input_format)));
                    obj.insert("shift".into(), json!(w.shift(l.input_format, l.format)));
                    obj.insert("acc_bounds".into(), json!(pairs(&l.acc_bounds)));
                    if let IntOp::Conv2d { stride, padding, .. } = &l.op {
                        obj.insert("stride".into(), json!(stride));
                        obj.insert("padding".into(), json!(padding));
                    }
                }
                IntOp::MaxPool2d(p) => {
                    obj.insert("kernel".into(), json!(p.kernel));
                    obj.insert("stride".into(), json!(p.stride));
                }
                IntOp::Relu | IntOp::Flatten => {}
            }
            v
        })
        .collect();
    json!({
        "input_shape": net.input().dims(),
        "input_format": net.input_format(),
        "output_format": net.output_format(),
        "layers": layers,
    })
}

/// What `shiftkit info` reports.
#[derive(Clone, Debug, Serialize)]
pub struct InfoOutcome {
    pub model: PathBuf,
    pub provenance: Provenance,
    pub network: NetworkSummary,
}

pub fn run_info(model_path: &Path) -> Result<InfoOutcome, AppError> {
    let file = model::load(model_path)?;
    Ok(InfoOutcome {
        model: model_path.to_path_buf(),
        network: model::summarize(&file.float),
        provenance: file.provenance,
    })
}

impl InfoOutcome {
    /// The text table `shiftkit info` prints.
    pub fn to_text(&self) -> String {
        let n = &self.network;
        let mut s = String::new();
        let _ = writeln!(s, "model   {}", self.model.display());
        if let Some(a) = &self.provenance.arch {
            let _ = writeln!(s, "arch    {a}");
        }
        if let Some(d) = &self.provenance.dataset {
            let _ = writeln!(s, "dataset {d}");
        }
        for step in &self.provenance.steps {
            let _ = writeln!(s, "step    {step}");
        }
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "{:<10} {:<10} {:>10} {:>10} {:>10} {:>12} {:>12}",
            "layer", "op", "input", "output", "params", "bytes@f32", "MACs"
        );
        for l in &n.layers {
            let _ = writeln!(
                s,
                "{:<10} {:<10} {:>10} {:>10} {:>10} {:>12} {:>12}",
                l.name, l.op, l.input, l.output, l.params, l.bytes, l.macs
            );
        }
        let _ = writeln!(
            s,
            "{:<10} {:<10} {:>10} {:>10} {:>10} {:>12} {:>12}",
            "total", "", n.input, n.output, n.params, n.bytes, n.macs
        );
        s
    }
}

/// The compression method of `shiftkit compress`.
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

/// `shiftkit compress`.
#[derive(Clone, Debug)]
pub struct CompressJob {
    pub model: PathBuf,
    pub dataset: Option<DatasetName>,
    pub data_dir: Option<PathBuf>,
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
    pub output: PathBuf,
}

/// One row of the compression table.
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
    pub method: Method,
    pub layers: Vec<CompressLayerRow>,
    /// The model before compression.
    pub float_accuracy: f64,
    /// The integer network (bit-exact simulator).
    pub integer_accuracy: f64,
    /// Weight bits of the compressed layers' weights, over all weighted layers.
    pub weight_bits: u64,
    /// Bytes of weights and biases (biases at 32 bits), compressed.
    pub bytes: u64,
    /// The same at 32-bit float.
    pub float_bytes: u64,
    pub train_seconds: f64,
}

pub fn run_compress(
    job: &CompressJob,
    observer: &mut dyn compress::InqObserver,
) -> Result<CompressOutcome, AppError> {
    let mut file = model::load(&job.model)?;
    let name = dataset_of(&file, job.dataset, &job.model)?;
    let data = data::load(name, job.data_dir.as_deref())?;
    check_input_fits(file.float.input(), &data)?;
    let float_accuracy = train::evaluate(&file.float, &data.test);
    let mut net = file.float.clone();
    let weighted: Vec<usize> = net
        .layers()
        .iter()
        .enumerate()
        .filter(|(_, l)| matches!(l.op, model::Op::Dense(_) | model::Op::Conv2d(_)))
        .map(|(i, _)| i)
        .collect();
    let kept: BTreeSet<usize> = match job.keep_first_last {
        Some(_) => [weighted.first(), weighted.last()].into_iter().flatten().copied().collect(),
        None => BTreeSet::new(),
    };
    for layer in job.layer_bits.keys() {
        if !weighted.iter().any(|&i| net.layers()[i].name == *layer) {
            return Err(AppError::Usage(format!(
                "--layer-bits names `{layer}`, which is not a dense or convolution layer"
            )));
        }
    }
    let compressed: Vec<usize> = weighted.iter().copied().filter(|i| !kept.contains(i)).collect();
    if compressed.is_empty() {
        return Err(AppError::Usage("no layer is left to compress; drop --keep-first-last".into()));
    }
    let mut layer_weights = BTreeMap::new();
    for &i in &kept {
        layer_weights.insert(
            net.layers()[i].name.clone(),
            job.keep_first_last.expect("kept only with a spec"),
        );
    }
    let start = std::time::Instant::now();
    match job.method {
        Method::Inq => {
            let mut bits = Vec::new();
            for &i in &compressed {
                let name = &net.layers()[i].name;
                let b = job.layer_bits.get(name).copied().unwrap_or(job.bits);
                compress::check_bits(b)?;
                bits.push((i, b));
                layer_weights.insert(name.clone(), WeightSpec::Pow2 { bits: b });
            }
            let config = InqConfig {
                bits,
                schedule: job.schedule.clone(),
                epochs_per_step: job.epochs_per_step,
                train: job.train.clone(),
            };
            compress::run_inq(&mut net, &data.train, &config, observer)?;
        }
        Method::Binary | Method::Ternary => {
            let levels =
                if job.method == Method::Binary { Levels::Binary } else { Levels::Ternary };
            let params = compressed
                .iter()
                .map(|&layer| model::ParamId { layer, kind: model::ParamKind::Weight })
                .collect();
            let binarizer = Binarizer { params, levels, scale: job.scale };
            let hooks = Hooks { transform: Some(&binarizer), ..Hooks::default() };
            let cfg = TrainConfig { epochs: job.epochs, ..job.train.clone() };
            if job.epochs > 0 {
                train::train(&mut net, &data.train, None, &cfg, &hooks, observer)?;
            }
            let spec = if levels == Levels::Binary {
                WeightSpec::Binary { scale: job.scale }
            } else {
                WeightSpec::Ternary { scale: job.scale }
            };
            for &i in &compressed {
                layer_weights.insert(net.layers()[i].name.clone(), spec);
            }
        }
    }
    let train_seconds = start.elapsed().as_secs_f64();
    let config = QuantizeConfig {
        weights: WeightSpec::Fixed { bits: 8 },
        layer_weights,
        act_bits: job.act_bits,
        input_bits: job.input_bits,
    };
    if job.calibration == 0 {
        return Err(AppError::Usage("--calibration must be at least 1 sample".into()));
    }
    let q = quant::quantize(&net, data.train.head(job.calibration).x.view(), &config)?;
    let integer_accuracy = sim::accuracy(&q, &data.test)?;
    let layers = compress_rows(&q);
    let weight_bits: u64 = q
        .layers()
        .iter()
        .filter_map(|l| l.op.weighted())
        .map(|w| w.kind.code_bits() as u64 * w.weights.len() as u64)
        .sum();
    let biases: u64 =
        q.layers().iter().filter_map(|l| l.op.weighted()).map(|w| w.bias.len() as u64).sum();
    let scales: u64 = q
        .layers()
        .iter()
        .filter_map(|l| l.op.weighted()?.scale.as_ref())
        .map(|s| s.multipliers.len() as u64 * quant::SCALE_BITS as u64)
        .sum();
    let params: u64 = q
        .layers()
        .iter()
        .filter_map(|l| l.op.weighted())
        .map(|w| (w.weights.len() + w.bias.len()) as u64)
        .sum();
    let bytes = (weight_bits + 32 * biases + scales).div_ceil(8);
    file.provenance.dataset.get_or_insert_with(|| name.to_string());
    file.provenance
        .steps
        .push(format!("compress: {:?}, integer accuracy {integer_accuracy:.4}", job.method));
    file.float = net;
    quant::write_integer(&q, &mut file.rest);
    model::save(&job.output, &file)?;
    Ok(CompressOutcome {
        output: job.output.clone(),
        dataset: name.to_string(),
        method: job.method,
        layers,
        float_accuracy,
        integer_accuracy,
        weight_bits,
        bytes,
        float_bytes: params * 4,
        train_seconds,
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

/// What `shiftkit hdl` reports.
#[derive(Clone, Debug, Serialize)]
pub struct HdlOutcome {
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub seconds: f64,
}

/// `shiftkit hdl`: the Verilog of a quantized model's integer network.
pub fn run_hdl(model_path: &Path, dir: &Path, config: &HdlConfig) -> Result<HdlOutcome, AppError> {
    let (_, net) = load_integer(model_path)?;
    let start = std::time::Instant::now();
    let design = codegen::generate(&net, config)?;
    codegen::write_design(&design, dir)?;
    Ok(HdlOutcome {
        dir: dir.to_path_buf(),
        manifest: design.manifest,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Writes the multiplier baseline of a quantized model (for resource
/// comparisons; see `codegen::multiplier_baseline`).
pub fn run_baseline(model_path: &Path, output: &Path, top: &str) -> Result<(), AppError> {
    let (_, net) = load_integer(model_path)?;
    let text = codegen::multiplier_baseline(&net, top, 8)?;
    model::write_atomically(output, text.as_bytes())?;
    Ok(())
}

impl HdlOutcome {
    pub fn to_text(&self) -> String {
        let m = &self.manifest;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:<12} {:>9} {:>11} {:>9} {:>11} {:>9} {:>8}",
            "layer", "adders", "adder bits", "mux bits", "LUTs (est)", "FFs", "cycles"
        );
        for l in &m.layers {
            let c = &l.cost;
            let _ = writeln!(
                s,
                "{:<12} {:>9} {:>11} {:>9} {:>11} {:>9} {:>8}",
                l.name, c.adders, c.adder_bits, c.mux_bits, c.luts, c.ffs, l.latency
            );
        }
        let c = &m.cost;
        let _ = writeln!(
            s,
            "{:<12} {:>9} {:>11} {:>9} {:>11} {:>9} {:>8}",
            "total", c.adders, c.adder_bits, c.mux_bits, c.luts, c.ffs, m.latency
        );
        let _ = writeln!(
            s,
            "top `{}`: {} x {} in, {} x {} out, latency {} cycles; {} files in {} ({:.2}s)",
            m.top,
            m.inputs,
            m.input_format,
            m.outputs,
            m.output_format,
            m.latency,
            m.files.len() + 3,
            self.dir.display(),
            self.seconds
        );
        s
    }
}

/// `shiftkit verify`.
#[derive(Clone, Debug)]
pub struct VerifyJob {
    pub model: PathBuf,
    /// The design directory `shiftkit hdl` wrote.
    pub dir: PathBuf,
    pub simulators: Vec<Simulator>,
    /// Random in-range vectors (the extremes of the range are always added).
    pub vectors: usize,
    /// Dataset whose test samples are added (quantized), up to `vectors` of them.
    pub dataset: Option<DatasetName>,
    pub data_dir: Option<PathBuf>,
    pub seed: u64,
}

/// One testbench run.
#[derive(Clone, Debug, Serialize)]
pub struct VerifyRun {
    pub traffic: Traffic,
    pub vectors: usize,
    pub seconds: f64,
    /// The first disagreement, if any.
    pub mismatch: Option<String>,
    /// For a mismatch: the first layer whose output differs when the vector
    /// runs alone, from per-layer traces.
    pub diagnosis: Option<String>,
}

/// The runs of one simulator.
#[derive(Clone, Debug, Serialize)]
pub struct SimulatorReport {
    pub simulator: Simulator,
    pub build_seconds: f64,
    pub runs: Vec<VerifyRun>,
}

/// What `shiftkit verify` reports.
#[derive(Clone, Debug, Serialize)]
pub struct VerifyOutcome {
    pub top: String,
    pub latency: u32,
    pub vectors: usize,
    pub reports: Vec<SimulatorReport>,
    pub passed: bool,
}

/// The verification vectors: the extremes of the input range, `n` random
/// in-range vectors, and (quantized) dataset samples.
pub fn verification_vectors(
    net: &IntNetwork,
    n: usize,
    seed: u64,
    samples: Option<&data::Split>,
) -> ndarray::Array2<i64> {
    use rand::{Rng, SeedableRng};
    let f = net.input_format();
    let width = net.input().numel();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut rows: Vec<i64> = Vec::new();
    rows.extend(std::iter::repeat_n(f.min(), width));
    rows.extend(std::iter::repeat_n(f.max(), width));
    rows.extend((0..width).map(|i| if i % 2 == 0 { f.min() } else { f.max() }));
    for _ in 0..n * width {
        rows.push(rng.gen_range(f.min()..=f.max()));
    }
    let mut x = ndarray::Array2::from_shape_vec((3 + n, width), rows).expect("counted");
    if let Some(s) = samples {
        let q = sim::quantize_input(net, s.x.view());
        x = ndarray::concatenate(ndarray::Axis(0), &[x.view(), q.view()]).expect("same width");
    }
    x
}

pub fn run_verify(job: &VerifyJob) -> Result<VerifyOutcome, AppError> {
    let (_, net) = load_integer(&job.model)?;
    let manifest_path = job.dir.join("manifest.json");
    let text = std::fs::read_to_string(&manifest_path)
        .map_err(|source| AppError::Io { path: manifest_path.clone(), source })?;
    let manifest: Manifest = serde_json::from_str(&text).map_err(|e| {
        AppError::Usage(format!("{} is not a shiftkit manifest ({e})", manifest_path.display()))
    })?;
    let hash = codegen::network_hash(&net);
    if manifest.network_hash != hash {
        return Err(AppError::Usage(format!(
            "{} holds a design of another network ({}, the model is {hash}); run `shiftkit hdl` again",
            job.dir.display(),
            manifest.network_hash
        )));
    }
    let samples = match job.dataset {
        Some(name) => {
            let d = data::load(name, job.data_dir.as_deref())?;
            check_input_fits(net.input(), &d)?;
            Some(d.test.head(job.vectors.max(1)))
        }
        None => None,
    };
    let x = verification_vectors(&net, job.vectors, job.seed, samples.as_ref());
    let expected = sim::run(&net, x.view())?;
    let argmax = manifest.argmax_bits > 0;
    let steady = x.nrows().min(64);
    let mut reports = Vec::new();
    for &simulator in &job.simulators {
        let build_dir = job.dir.join("build").join(simulator.as_str());
        let built = verify::build(simulator, &job.dir, &manifest, &build_dir, x.nrows())?;
        let mut runs = Vec::new();
        // Without gaps or back-pressure: every beat's latency is the manifest's.
        let plain = Traffic { seed: job.seed as u32, valid: 16, ready: 16 };
        let head = x.slice(ndarray::s![..steady, ..]).to_owned();
        let (beats, seconds) = verify::run(&built, &head, plain)?;
        let exp_head = expected.slice(ndarray::s![..steady, ..]).to_owned();
        let mismatch = verify::compare(&exp_head, &beats, argmax, Some(manifest.latency)).err();
        let diagnosis = mismatch.as_ref().and_then(|m| diagnose(&built, &net, &x, m));
        runs.push(VerifyRun {
            traffic: plain,
            vectors: steady,
            seconds,
            mismatch: mismatch.map(|m| m.to_string()),
            diagnosis,
        });
        // Random valid gaps and back-pressure, every vector.
        let random = Traffic { seed: job.seed as u32 ^ 0x9e37_79b9, valid: 11, ready: 9 };
        let (beats, seconds) = verify::run(&built, &x, random)?;
        let mismatch = verify::compare(&expected, &beats, argmax, None).err();
        let diagnosis = mismatch.as_ref().and_then(|m| diagnose(&built, &net, &x, m));
        runs.push(VerifyRun {
            traffic: random,
            vectors: x.nrows(),
            seconds,
            mismatch: mismatch.map(|m| m.to_string()),
            diagnosis,
        });
        reports.push(SimulatorReport { simulator, build_seconds: built.seconds, runs });
    }
    let passed = reports.iter().all(|r| r.runs.iter().all(|run| run.mismatch.is_none()));
    Ok(VerifyOutcome {
        top: manifest.top,
        latency: manifest.latency,
        vectors: x.nrows(),
        reports,
        passed,
    })
}

/// Runs the mismatching vector alone with per-layer traces and names the first
/// layer whose output differs from the simulator's.
fn diagnose(
    built: &verify::Built,
    net: &IntNetwork,
    x: &ndarray::Array2<i64>,
    mismatch: &verify::Mismatch,
) -> Option<String> {
    let vector = match mismatch {
        verify::Mismatch::Lane { vector, .. } | verify::Mismatch::Argmax { vector, .. } => *vector,
        verify::Mismatch::Count { .. } | verify::Mismatch::Latency { .. } => return None,
    };
    let row = x.row(vector).to_vec();
    let traces = match verify::trace_layers(built, &row) {
        Ok(t) => t,
        Err(e) => return Some(format!("no per-layer trace: {e}")),
    };
    let one = ndarray::Array2::from_shape_vec((1, row.len()), row).expect("one row");
    let expected = sim::run_traced(net, one.view()).ok()?;
    for (name, hex) in traces {
        let k = net.layers().iter().position(|l| l.name == name)?;
        let layer = &net.layers()[k];
        let got = verify::unpack_hex(&hex, layer.output.numel(), layer.format)?;
        let want = expected[k].row(0).to_vec();
        if let Some(lane) = (0..want.len()).find(|&i| got[i] != want[i]) {
            return Some(format!(
                "first differing layer: `{name}`, lane {lane}: expected {}, got {}",
                want[lane], got[lane]
            ));
        }
    }
    Some(
        "every layer agrees when the vector runs alone: the mismatch depends on the stream timing"
            .into(),
    )
}

impl VerifyOutcome {
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for r in &self.reports {
            for run in &r.runs {
                let traffic = if run.traffic.valid == 16 && run.traffic.ready == 16 {
                    "no gaps, no back-pressure".to_string()
                } else {
                    format!(
                        "valid {}/16, ready {}/16, seed {}",
                        run.traffic.valid, run.traffic.ready, run.traffic.seed
                    )
                };
                let verdict = match (&run.mismatch, &run.diagnosis) {
                    (None, _) => "all outputs equal the simulator's".to_string(),
                    (Some(m), None) => format!("MISMATCH: {m}"),
                    (Some(m), Some(d)) => format!("MISMATCH: {m}; {d}"),
                };
                let _ = writeln!(
                    s,
                    "{:<10} {:>6} vectors, {traffic}: {verdict} ({:.1}s; build {:.1}s)",
                    r.simulator.as_str(),
                    run.vectors,
                    run.seconds,
                    r.build_seconds
                );
            }
        }
        let _ = writeln!(
            s,
            "{}: {} (latency {} cycles)",
            self.top,
            if self.passed { "verified" } else { "FAILED" },
            self.latency
        );
        s
    }
}

/// `shiftkit flow`: train, compress, generate, verify, report.
#[derive(Clone, Debug)]
pub struct FlowJob {
    pub dataset: DatasetName,
    pub data_dir: Option<PathBuf>,
    pub arch: String,
    pub method: Method,
    pub bits: u32,
    pub dir: PathBuf,
    pub seed: u64,
    /// Random vectors for verification (the test split is added).
    pub vectors: usize,
}

impl FlowJob {
    /// The defaults for a dataset: the digits MLP, or a small Fashion-MNIST MLP.
    pub fn default_arch(dataset: DatasetName) -> &'static str {
        match dataset {
            DatasetName::Digits => "mlp:64-32-10",
            DatasetName::FashionMnist => "mlp:784-64-10",
        }
    }
}

/// What `shiftkit flow` reports.
#[derive(Clone, Debug, Serialize)]
pub struct FlowOutcome {
    pub dir: PathBuf,
    pub train: TrainOutcome,
    pub compress: CompressOutcome,
    pub hdl: HdlOutcome,
    /// Simulators that were not installed.
    pub skipped: Vec<String>,
    pub verify: Option<VerifyOutcome>,
}

pub fn run_flow(
    job: &FlowJob,
    observer: &mut dyn compress::InqObserver,
) -> Result<FlowOutcome, AppError> {
    std::fs::create_dir_all(&job.dir)
        .map_err(|source| AppError::Io { path: job.dir.clone(), source })?;
    let (epochs, batch) = match job.dataset {
        DatasetName::Digits => (60, 32),
        DatasetName::FashionMnist => (10, 64),
    };
    let train_cfg = TrainConfig {
        epochs,
        batch_size: batch,
        optimizer: train::OptimizerConfig::sgd(0.05),
        schedule: train::LrSchedule::Cosine,
        seed: job.seed,
    };
    let float_path = job.dir.join("float.skm");
    let train = run_train(
        &TrainJob {
            arch: job.arch.clone(),
            dataset: job.dataset,
            data_dir: job.data_dir.clone(),
            config: train_cfg.clone(),
            init_seed: job.seed,
            output: float_path.clone(),
        },
        observer,
    )?;
    let compressed_path = job.dir.join("compressed.skm");
    let compress = run_compress(
        &CompressJob {
            model: float_path,
            dataset: Some(job.dataset),
            data_dir: job.data_dir.clone(),
            method: job.method,
            bits: job.bits,
            layer_bits: BTreeMap::new(),
            schedule: vec![0.5, 0.75, 0.875, 1.0],
            epochs_per_step: 2,
            epochs: 10,
            keep_first_last: None,
            scale: true,
            train: TrainConfig {
                optimizer: train::OptimizerConfig::sgd(0.01).with_weight_decay(5e-4),
                ..train_cfg
            },
            act_bits: 8,
            input_bits: 8,
            calibration: 5000,
            output: compressed_path.clone(),
        },
        observer,
    )?;
    let hdl_dir = job.dir.join("hdl");
    let hdl = run_hdl(
        &compressed_path,
        &hdl_dir,
        &HdlConfig {
            top: "shiftkit_top".into(),
            levels_per_stage: codegen::DEFAULT_LEVELS_PER_STAGE,
            argmax: true,
        },
    )?;
    let (simulators, skipped): (Vec<Simulator>, Vec<Simulator>) =
        [Simulator::Verilator, Simulator::Icarus].into_iter().partition(|s| s.available());
    let verify = if simulators.is_empty() {
        None
    } else {
        Some(run_verify(&VerifyJob {
            model: compressed_path,
            dir: hdl_dir,
            simulators,
            vectors: job.vectors,
            dataset: Some(job.dataset),
            data_dir: job.data_dir.clone(),
            seed: job.seed,
        })?)
    };
    Ok(FlowOutcome {
        dir: job.dir.clone(),
        train,
        compress,
        hdl,
        skipped: skipped.iter().map(|s| s.as_str().to_string()).collect(),
        verify,
    })
}

impl FlowOutcome {
    pub fn to_text(&self) -> String {
        let c = &self.compress;
        let m = &self.hdl.manifest;
        let mut s = String::new();
        let row = |s: &mut String, k: &str, v: String| {
            let _ = writeln!(s, "  {k:<26} {v}");
        };
        let _ = writeln!(
            s,
            "shiftkit flow: {} on {}, {} -> Verilog in {}",
            self.train.arch,
            c.dataset,
            c.method.as_str(),
            self.hdl.dir.display()
        );
        row(&mut s, "float accuracy", format!("{:.2}%", c.float_accuracy * 100.0));
        row(
            &mut s,
            "integer accuracy",
            format!("{:.2}% (bit-exact simulator)", c.integer_accuracy * 100.0),
        );
        row(&mut s, "parameter bytes", format!("{} (float32: {})", c.bytes, c.float_bytes));
        row(&mut s, "compression", format!("{:.1}x", c.float_bytes as f64 / c.bytes as f64));
        row(&mut s, "adders", format!("{} ({} adder bits)", m.cost.adders, m.cost.adder_bits));
        row(&mut s, "LUT estimate / FFs", format!("{} / {}", m.cost.luts, m.cost.ffs));
        row(&mut s, "latency", format!("{} cycles", m.latency));
        match &self.verify {
            Some(v) => {
                for r in &v.reports {
                    let ok = r.runs.iter().all(|run| run.mismatch.is_none());
                    let vectors: usize = r.runs.iter().map(|run| run.vectors).sum();
                    row(
                        &mut s,
                        &format!("verified on {}", r.simulator.as_str()),
                        format!(
                            "{} ({vectors} vectors, with back-pressure)",
                            if ok { "pass" } else { "FAIL" }
                        ),
                    );
                }
            }
            None => row(&mut s, "verification", "skipped: no simulator installed".into()),
        }
        for sim in &self.skipped {
            row(&mut s, sim, "not installed, skipped".into());
        }
        row(&mut s, "outputs", format!("{}", self.dir.display()));
        s
    }

    pub fn passed(&self) -> bool {
        self.verify.as_ref().is_none_or(|v| v.passed)
    }
}
