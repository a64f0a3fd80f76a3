//! `train`, `eval`, `info`.

use super::*;
use crate::model::Record;

/// `shiftkit train`.
#[derive(Clone, Debug)]
pub struct TrainJob {
    pub arch: String,
    pub dataset: DatasetName,
    pub data_dir: Option<PathBuf>,
    /// Train on this many training samples, an equal share of each class
    /// (`None`: the whole training split).
    pub train_samples: Option<usize>,
    pub config: TrainConfig,
    /// Seeds the initial weights (the shuffling seed is in `config`).
    pub init_seed: u64,
    /// Learn from a teacher (its `teacher` path is required here).
    pub distill: Option<DistillSpec>,
    pub output: PathBuf,
}

/// The settings `train` records in the model's provenance.
#[derive(Serialize)]
struct TrainRecord<'a> {
    train: &'a TrainConfig,
    init_seed: u64,
    distill: &'a Option<DistillSpec>,
    #[serde(skip_serializing_if = "Option::is_none")]
    train_samples: Option<usize>,
}

/// What `shiftkit train` reports.
#[derive(Clone, Debug, Serialize)]
pub struct TrainOutcome {
    pub output: PathBuf,
    pub dataset: String,
    pub arch: String,
    pub epochs: Vec<EpochReport>,
    /// The training samples learned from.
    pub train_samples: usize,
    /// On the validation split (what choices are made on)...
    pub val_accuracy: f64,
    /// ...and on the test split (only reported).
    pub test_accuracy: f64,
    pub seconds: f64,
}

pub fn run_train(job: &TrainJob, observer: &mut dyn Observer) -> Result<TrainOutcome, AppError> {
    let spec = ArchSpec::parse(&job.arch)?;
    let mut net = spec.build(job.init_seed)?;
    let data = load_for_training(job.dataset, job.data_dir.as_deref(), job.train_samples)?;
    check_input_fits(net.input(), &data)?;
    tracing::info!(arch = %job.arch, dataset = %job.dataset, "training");
    let teacher = match &job.distill {
        Some(DistillSpec { teacher: Some(path), .. }) => Some(model::load(path)?.float),
        Some(_) => {
            return Err(AppError::Setting {
                setting: "teacher",
                reason: "distillation needs a teacher model file".into(),
            })
        }
        None => None,
    };
    let distill =
        job.distill.as_ref().zip(teacher.as_ref()).map(|(d, teacher)| train::Distillation {
            teacher,
            temperature: d.temperature,
            lambda: d.lambda,
            lambda_end: d.lambda_end,
        });
    if let Some(d) = &distill {
        d.check(&net)?;
    }
    let hooks = match &distill {
        Some(d) => Hooks { loss: d, ..Hooks::default() },
        None => Hooks::default(),
    };
    let reports =
        train::train(&mut net, &data.train, Some(&data.val), &job.config, &hooks, observer)?;
    // The last epoch measured the validation split already.
    let val_accuracy = reports
        .last()
        .and_then(|r| r.val_accuracy)
        .unwrap_or_else(|| train::evaluate(&net, &data.val));
    let test_accuracy = train::evaluate(&net, &data.test);
    let provenance = Provenance {
        arch: Some(job.arch.clone()),
        dataset: Some(job.dataset.to_string()),
        steps: vec![Record::new(
            "train",
            None,
            &TrainRecord {
                train: &job.config,
                init_seed: job.init_seed,
                distill: &job.distill,
                train_samples: job.train_samples,
            },
            &serde_json::json!({ "val_accuracy": val_accuracy, "test_accuracy": test_accuracy }),
        )],
    };
    model::save(&job.output, &ModelFile::new(net, provenance))?;
    Ok(TrainOutcome {
        output: job.output.clone(),
        dataset: job.dataset.to_string(),
        arch: job.arch.clone(),
        seconds: reports.iter().map(|r| r.seconds).sum(),
        epochs: reports,
        train_samples: data.train.len(),
        val_accuracy,
        test_accuracy,
    })
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

/// `shiftkit eval`: top-1 accuracy on one split (the test split unless
/// asked). The dataset defaults to the one the model was trained on.
pub fn run_eval(
    model_path: &Path,
    dataset: Option<DatasetName>,
    data_dir: Option<&Path>,
    split: SplitName,
) -> Result<EvalOutcome, AppError> {
    let file = model::load(model_path)?;
    let integer = quant::read_integer(&file.rest)?;
    let name = dataset_of(&file, dataset, model_path)?;
    let data = data::load(name, data_dir)?;
    check_input_fits(file.float.input(), &data)?;
    let samples = data.split(split);
    train::check_split(&file.float, samples, split.as_str())?;
    Ok(EvalOutcome {
        model: model_path.to_path_buf(),
        dataset: name.to_string(),
        split: split.as_str(),
        samples: samples.len(),
        float_accuracy: train::evaluate(&file.float, samples),
        integer_accuracy: integer.map(|n| sim::accuracy(&n, samples)).transpose()?,
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

/// What `shiftkit import` reports.
#[derive(Clone, Debug, Serialize)]
pub struct ImportOutcome {
    pub output: PathBuf,
    pub producer: String,
    pub opset: i64,
    pub network: NetworkSummary,
}

/// `shiftkit import`: an ONNX model into a `.skm` float model.
pub fn run_import(
    onnx: &Path,
    output: &Path,
    dataset: Option<DatasetName>,
) -> Result<ImportOutcome, AppError> {
    let bytes = std::fs::read(onnx).map_err(|source| AppError::Io { path: onnx.into(), source })?;
    let (net, info) = model::onnx::import_onnx(&bytes)
        .map_err(|error| AppError::Onnx { path: onnx.into(), error })?;
    let provenance = Provenance {
        arch: Some(format!(
            "onnx:{}",
            onnx.file_name().map_or(String::new(), |f| f.to_string_lossy().into_owned())
        )),
        dataset: dataset.map(|d| d.to_string()),
        steps: vec![Record::new(
            "import",
            None,
            &serde_json::json!({ "onnx": onnx }),
            &serde_json::json!({ "producer": info.producer, "opset": info.opset }),
        )],
    };
    let network = model::summarize(&net);
    model::save(output, &ModelFile::new(net, provenance))?;
    Ok(ImportOutcome {
        output: output.to_path_buf(),
        producer: info.producer,
        opset: info.opset,
        network,
    })
}
