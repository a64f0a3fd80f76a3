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
//! - [`quant`]: the numeric contract, the weight codings, the integer network.
//! - [`sim`]: the bit-exact simulator of the integer network.
//! - [`report`]: storage, operation counts and the survey tables.
//! - [`compress`]: compression passes with their retraining, and recipes.
//! - [`device`]: devices and boards as data.
//! - [`link`]: the framed protocol between a host and a design on a board.
//! - [`codegen`]: Verilog, unrolled and streaming, and the resource model.
//! - [`fpga`]: Yosys, nextpnr and icepack, and the device build.
//! - [`verify`]: the RTL on Verilator and Icarus against the simulator.
//! - [`app`]: one function per command of the CLI.

pub mod app;
pub mod codegen;
pub mod compress;
pub mod data;
pub mod device;
pub mod fpga;
pub mod link;
pub mod model;
pub mod quant;
pub mod report;
pub mod sim;
pub mod train;
pub mod verify;
