//! The application layer: one function per CLI subcommand, each taking a
//! checked job description and returning a serializable outcome. The binary
//! only parses flags into these jobs and prints the outcomes.
//!
//! One file per group of commands (`train_cmd`: train, eval, info;
//! `quantize_cmd`: quantize, sim, dump; `compress_cmd`; `hdl_cmd`;
//! `verify_cmd`; `flow_cmd`); they share this module's imports and helpers.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

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
    #[error(transparent)]
    Device(#[from] crate::device::DeviceError),
    #[error(transparent)]
    Fpga(#[from] crate::fpga::FpgaError),
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

mod build_cmd;
mod compress_cmd;
mod flow_cmd;
mod hdl_cmd;
mod quantize_cmd;
mod recipe;
mod report_cmd;
mod train_cmd;
mod verify_cmd;

pub use build_cmd::*;
pub use compress_cmd::*;
pub use flow_cmd::*;
pub use hdl_cmd::*;
pub use quantize_cmd::*;
pub use recipe::*;
pub use report_cmd::*;
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
        Err(AppError::Usage(format!(
            "the network takes input {input}, but {} samples are {} ({} values)",
            data.name,
            data.sample,
            data.sample.numel()
        )))
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

/// Reads the `manifest.json` of a generated design.
pub fn read_manifest(dir: &Path) -> Result<Manifest, AppError> {
    let path = dir.join("manifest.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|source| AppError::Io { path: path.clone(), source })?;
    serde_json::from_str(&text).map_err(|e| {
        AppError::Usage(format!("{} is not a shiftkit manifest ({e})", path.display()))
    })
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
