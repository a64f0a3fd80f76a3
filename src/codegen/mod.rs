//! Verilog generation: the integer network as shift-add datapaths, in two
//! forms (unrolled adder graphs, streaming dataflow with folded units).
//!
//! Layers, each importing only those above it in this list
//! (`tests/architecture.rs` holds the code to it: no import circle):
//! - leaves: [`timing`] (the cycle model of `hdl/`'s handshakes), `library`
//!   (`hdl/` embedded), `names` (Verilog identifiers), [`hex`] (packed words);
//! - `error`: [`CodegenError`];
//! - [`graph`]: the adder-graph IR, its builder and its printer;
//! - [`cmvm`]: the constant-matrix solver (shared subexpressions);
//! - `lower`: the network's arithmetic as graph nodes (dense layers, solved
//!   products, requantization) under [`Adders`];
//! - [`manifest`]: the data contract of a design ([`Manifest`], [`Design`]);
//! - the forms: `unrolled` and [`stream`] (plan, elaborate, print);
//! - `design`: [`HdlConfig`] checked once, the form chosen, [`generate`],
//!   designs written to disk;
//! - [`fit`]: the resource model of a device and the search over plans.
//!
//! `baseline` (the multiplier yardstick) stands apart, on `error` only.

mod baseline;
pub mod cmvm;
mod design;
mod error;
pub mod fit;
pub mod graph;
pub mod hex;
mod library;
mod lower;
pub mod manifest;
mod names;
pub mod stream;
pub mod timing;
mod unrolled;

pub use baseline::multiplier_baseline;
pub use cmvm::Sharing;
pub use design::{
    check_design_dir, generate, network_hash, write_design, HdlConfig, AUTO_UNROLLED_ADDERS,
};
pub use error::CodegenError;
pub use graph::{layer_module, Cost, LayerGraph};
pub use library::library_file;
pub use lower::{product_graph, Adders, DEFAULT_LEVELS_PER_STAGE};
pub use manifest::{Design, Form, LayerCost, Manifest};
pub(crate) use names::check_identifier;
pub use unrolled::build_graphs;
