//! The float network IR, its architecture specs and its file format.
//!
//! A [`Network`] is a validated sequence of [`Layer`]s over an input
//! [`Shape`]; every layer's output shape is inferred when the network is
//! built, so a network that exists is a network whose shapes chain.

mod error;
mod file;
mod info;
mod network;
pub mod onnx;
mod output;
mod provenance;
mod shape;
mod spec;

pub use error::{ModelError, Result};
pub use file::{load, save, Container, ModelFile, TensorData, FORMAT_VERSION};
pub use info::{summarize, LayerSummary, NetworkSummary};
pub use network::{
    window_count, BatchNorm, Conv2d, Dense, Layer, MaxPool2d, Network, Op, ParamId, ParamKind,
};
pub use output::{check_output_dir, check_output_file, write_atomically};
pub use provenance::{Provenance, Record};
pub use shape::Shape;
pub use spec::{ArchSpec, LayerSpec, MAX_PARAMS, MAX_VALUES};
