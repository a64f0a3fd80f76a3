//! The application layer: one function per CLI subcommand, each taking a
//! checked job description and returning a serializable outcome. The binary
//! only parses flags into these jobs and prints the outcomes.
//!
//! One file per group of commands (`train_cmd`: train, eval, info;
//! `quantize_cmd`: quantize, sim, dump; `compress_cmd`; `hdl_cmd`;
//! `verify_cmd`; `flow_cmd`; `sensitivity_cmd`); they share this module's imports and helpers.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::codegen::{self, CodegenError, HdlConfig, Manifest};
use crate::compress::{self, CompressError, DistillSpec};
use crate::data::{self, DataError, Dataset, DatasetName, SplitName};
use crate::fpga::{BuildOutcome, Target};
use crate::model::{self, ArchSpec, ModelError, ModelFile, NetworkSummary, Provenance, Shape};
use crate::quant::{self, FixedFormat, IntNetwork, QuantError, QuantSettings, WeightSpec};
use crate::sim::{self, SimError, VectorError};
use crate::train::{self, EpochReport, Hooks, Observer, TrainConfig, TrainError};
use crate::verify::{self, CheckError, Simulator, VerifyError, VerifyOutcome};

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
    Check(#[from] CheckError),
    #[error(transparent)]
    Sim(#[from] SimError),
    #[error(transparent)]
    Device(#[from] crate::device::DeviceError),
    #[error(transparent)]
    Fpga(#[from] crate::fpga::FpgaError),
    #[error(transparent)]
    Build(#[from] crate::fpga::BuildError),
    /// The file's name, then what is wrong with it (in the message, so not
    /// also a source: a chain printer would say it twice).
    #[error("{}: {error}", path.display())]
    Vectors { path: PathBuf, error: VectorError },
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An ONNX file that cannot be imported (the command names the file).
    #[error("{error}")]
    Onnx { path: PathBuf, error: crate::model::onnx::OnnxError },
    /// The network's input and the dataset's samples differ.
    #[error("the network takes input {input}, but {dataset} samples are {sample} ({} values)", sample.numel())]
    InputMismatch { input: Shape, dataset: String, sample: Shape },
    /// A model that records no dataset, and none was named.
    #[error("{} does not record its dataset; name one (digits or fashion-mnist)", path.display())]
    NoDataset { path: PathBuf },
    /// A model file without the integer network a command needs.
    #[error("{} holds no integer network; make one with `shiftkit quantize`", path.display())]
    NoIntegerNetwork { path: PathBuf },
    #[error("{} is not a shiftkit manifest ({reason})", path.display())]
    NotAManifest { path: PathBuf, reason: String },
    /// A design generated from another network than the model given.
    #[error(
        "{} holds a design of another network ({design}, the model is {model}); generate it again",
        dir.display()
    )]
    StaleDesign { dir: PathBuf, design: String, model: String },
    /// A constant matrix file that cannot be read as one.
    #[error("{}: {reason}", path.display())]
    Matrix { path: PathBuf, reason: String },
    /// A setting of a job, by name, that cannot work.
    #[error("{setting}: {reason}")]
    Setting { setting: &'static str, reason: String },
    /// A board that holds another network than the model given.
    #[error(
        "the board on {port} holds network {board}, the model is {model}: build and flash the \
         model's design, or give the model the board was built from"
    )]
    StaleBoard { port: String, board: String, model: String },
    #[error(transparent)]
    Link(#[from] crate::link::LinkError),
}

mod build_cmd;
mod cmvm_cmd;
mod compress_cmd;
mod flow_cmd;
mod hdl_cmd;
mod quantize_cmd;
mod report_cmd;
mod run_cmd;
mod sensitivity_cmd;
mod train_cmd;
mod verify_cmd;

pub use build_cmd::*;
pub use cmvm_cmd::*;
pub use compress_cmd::*;
pub use flow_cmd::*;
pub use hdl_cmd::*;
pub use quantize_cmd::*;
pub use report_cmd::*;
pub use run_cmd::*;
pub use sensitivity_cmd::*;
pub use train_cmd::*;
pub use verify_cmd::*;

/// Checks that a dataset's samples are what the network takes.
pub fn check_input_fits(input: Shape, data: &Dataset) -> Result<(), AppError> {
    let fits = match input {
        Shape::Flat(n) => n == data.sample.numel(),
        Shape::Image { .. } => input == data.sample,
    };
    if fits {
        Ok(())
    } else {
        Err(AppError::InputMismatch { input, dataset: data.name.to_string(), sample: data.sample })
    }
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
            let recorded = file
                .provenance
                .dataset
                .as_deref()
                .ok_or_else(|| AppError::NoDataset { path: path.to_path_buf() })?;
            Ok(recorded.parse()?)
        }
    }
}

/// Loads the dataset a command trains on, keeping `train_samples` of its
/// training split when given (`--train-samples`).
fn load_for_training(
    name: DatasetName,
    data_dir: Option<&Path>,
    train_samples: Option<usize>,
) -> Result<Dataset, AppError> {
    let mut data = data::load(name, data_dir)?;
    if let Some(n) = train_samples {
        data.keep_train_samples(n)?;
    }
    Ok(data)
}

/// Reads the `manifest.json` of a generated design.
pub fn read_manifest(dir: &Path) -> Result<Manifest, AppError> {
    let path = dir.join("manifest.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|source| AppError::Io { path: path.clone(), source })?;
    serde_json::from_str(&text)
        .map_err(|e| AppError::NotAManifest { path: path.clone(), reason: e.to_string() })
}

/// Loads the integer network of a model file, or says how to make one.
pub fn load_integer(path: &Path) -> Result<(ModelFile, IntNetwork), AppError> {
    let file = model::load(path)?;
    match quant::read_integer(&file.rest)? {
        Some(net) => Ok((file, net)),
        None => Err(AppError::NoIntegerNetwork { path: path.to_path_buf() }),
    }
}
