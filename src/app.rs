//! The application layer: one function per CLI subcommand, each taking a
//! checked job description and returning a serializable outcome. The binary
//! only parses flags into these jobs and prints the outcomes.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::data::{self, DataError, Dataset, DatasetName};
use crate::model::{self, ArchSpec, ModelError, ModelFile, NetworkSummary, Provenance, Shape};
use crate::train::{self, EpochReport, Hooks, Observer, TrainConfig, TrainError};

/// Errors of the application layer: any stage's error.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Train(#[from] TrainError),
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
}

/// `shiftkit eval`: top-1 accuracy on the test split. The dataset defaults to
/// the one the model was trained on.
pub fn run_eval(
    model_path: &Path,
    dataset: Option<DatasetName>,
    data_dir: Option<&Path>,
) -> Result<EvalOutcome, AppError> {
    let file = model::load(model_path)?;
    let name = match dataset {
        Some(d) => d,
        None => {
            let recorded = file.provenance.dataset.as_deref().ok_or_else(|| {
                AppError::Usage(format!(
                    "{} does not record its dataset; pass --data digits|fashion-mnist",
                    model_path.display()
                ))
            })?;
            recorded.parse()?
        }
    };
    let data = data::load(name, data_dir)?;
    check_input_fits(file.float.input(), &data)?;
    train::check_split(&file.float, &data.test, "test")?;
    Ok(EvalOutcome {
        model: model_path.to_path_buf(),
        dataset: name.to_string(),
        split: "test",
        samples: data.test.len(),
        float_accuracy: train::evaluate(&file.float, &data.test),
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
