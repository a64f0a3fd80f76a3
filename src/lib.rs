//! shiftkit: compress trained neural networks and turn them into verified,
//! multiplier-free FPGA datapaths.
//!
//! The crate is laid out by stage (see ARCHITECTURE.md). Each stage only
//! imports the stages before it:
//!
//! - [`model`]: the float network IR, architecture specs, the `.skm` file.
//! - [`data`]: the datasets (embedded digits, Fashion-MNIST from Debian).
//! - [`train`]: the float engine: forward, backward, losses, optimizers,
//!   the training loop with its hooks, and evaluation.

pub mod app;
pub mod codegen;
pub mod compress;
pub mod data;
pub mod device;
pub mod fpga;
pub mod model;
pub mod quant;
pub mod report;
pub mod sim;
pub mod train;
pub mod verify;
