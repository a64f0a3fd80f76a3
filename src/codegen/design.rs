//! What a generated design is, whatever its form: the settings of `hdl`,
//! the manifest (the API boundary of the generated ports), the design in
//! memory and on disk, errors, and the naming and hashing rules both forms
//! share.

pub(crate) use super::names::{check_identifier, sanitize};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::build::Adders;
use super::cmvm::Sharing;
use super::graph::{Cost, LayerGraph};
use super::stream::fold::Folds;
use super::stream::manifest::StreamManifest;
use super::stream::timing::Stuck;
use crate::quant::{FixedFormat, IntNetwork};

/// Default adder levels between pipeline registers: about three carry chains
/// of 16-24 bits fit a 200-250 MHz clock on small FPGAs.
pub const DEFAULT_LEVELS_PER_STAGE: u32 = 3;

/// Errors of code generation.
#[derive(Debug, thiserror::Error)]
pub enum CodegenError {
    #[error(
        "layer `{layer}` ({op}): the unrolled form takes dense networks only (dense, relu, \
         flatten); generate the streaming form (or auto) for this network"
    )]
    Unsupported { layer: String, op: &'static str },
    #[error("{0}")]
    Config(String),
    /// A folding that cannot be built, or an input width that does not divide.
    #[error("{0}")]
    Fold(String),
    /// Even the slowest folding does not fit the device.
    #[error(
        "the network does not fit {device} even with every layer folded as far as it goes: it \
         needs {needs}; try fewer bits (binary or ternary weights, fewer act_bits), pruning whole \
         units (structured pruning), or a bigger device"
    )]
    NoFit { device: String, needs: String },
    #[error("the timing model of the streaming design did not finish ({0}); this is a bug")]
    Timing(#[from] Stuck),
    /// An output directory that holds something other than a design.
    #[error(
        "{} holds files that are not a shiftkit design (no manifest.json); give a new or empty \
         directory, or one `shiftkit hdl` wrote",
        dir.display()
    )]
    NotADesign { dir: std::path::PathBuf },
    #[error("{}", path.display())]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The two hardware forms (README, "Verilog").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Form {
    /// Every weight a constant of an adder graph; a whole vector per beat.
    #[default]
    Unrolled,
    /// One stream module per layer, folded matrix-vector units, weight ROMs.
    Streaming,
    /// Chosen by [`auto_form`] (never written to a manifest).
    Auto,
}

impl Form {
    pub fn as_str(self) -> &'static str {
        match self {
            Form::Unrolled => "unrolled",
            Form::Streaming => "streaming",
            Form::Auto => "auto",
        }
    }
}

/// Settings of `shiftkit hdl`.
#[derive(Clone, Debug, PartialEq)]
pub struct HdlConfig {
    /// Name of the top module (a Verilog identifier).
    pub top: String,
    pub form: Form,
    pub levels_per_stage: u32,
    /// How the unrolled constant products share adders.
    pub sharing: Sharing,
    /// Add an `m_axis_tuser` port with the index of the largest output.
    pub argmax: bool,
    /// Streaming: per-layer foldings (the rest are chosen).
    pub folds: Folds,
    /// Streaming: target cycles per image for the chosen foldings.
    pub cycles: Option<u64>,
    /// Streaming: codes per input beat of a network that starts flat.
    pub input_lanes: Option<usize>,
    /// Streaming: values per output beat of a network that ends flat.
    pub output_lanes: Option<usize>,
    /// Streaming: the device whose block RAM and logic the memories go to
    /// (`None`: the synthesis tool decides).
    pub device: Option<crate::device::Device>,
    /// Streaming on a device: logic cells a block of RAM is worth when the
    /// memories are placed (default: the device's cells over its blocks;
    /// lower puts more memories in block RAM).
    pub block_price: Option<u64>,
}

impl HdlConfig {
    /// Defaults for everything but the top's name and the form.
    pub fn new(top: &str, form: Form) -> HdlConfig {
        HdlConfig {
            top: top.to_string(),
            form,
            levels_per_stage: DEFAULT_LEVELS_PER_STAGE,
            sharing: Sharing::default(),
            argmax: false,
            folds: Folds::default(),
            cycles: None,
            input_lanes: None,
            output_lanes: None,
            device: None,
            block_price: None,
        }
    }

    /// The adder settings of the constant products.
    pub fn adders(&self) -> Adders {
        Adders { levels_per_stage: self.levels_per_stage, sharing: self.sharing }
    }
}

/// Cost of one layer, as `manifest.json` and the table report it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerCost {
    pub name: String,
    pub module: String,
    /// Its instance in the top (unrolled form; a streaming layer's wires are
    /// named by its `trace` in the stream manifest).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub instance: String,
    pub latency: u32,
    #[serde(flatten)]
    pub cost: Cost,
}

/// `manifest.json`: what a user or a testbench generator needs to know.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub generator: String,
    /// FNV-1a hash of the integer network the design implements.
    pub network_hash: String,
    pub top: String,
    #[serde(default)]
    pub form: Form,
    pub inputs: usize,
    pub input_format: FixedFormat,
    pub outputs: usize,
    pub output_format: FixedFormat,
    /// Bits of the argmax index on `m_axis_tuser` (0: no argmax port).
    pub argmax_bits: u32,
    /// Cycles from an accepted input beat to its output beat, without back-pressure.
    pub latency: u32,
    pub levels_per_stage: u32,
    /// How the constant products share adders (absent in older manifests).
    #[serde(default)]
    pub sharing: Sharing,
    pub files: Vec<String>,
    pub cost: Cost,
    pub layers: Vec<LayerCost>,
    /// Streaming designs: streams, timing, folding (see [`StreamManifest`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<StreamManifest>,
}

/// A generated design, in memory.
#[derive(Clone, Debug)]
pub struct Design {
    /// Verilog file names and contents, in compilation order (the top last).
    pub files: Vec<(String, String)>,
    /// Data files the Verilog reads (`$readmemh` ROM contents).
    pub data: Vec<(String, String)>,
    pub manifest: Manifest,
    pub graphs: Vec<LayerGraph>,
}

/// Bits of the index of the largest of `n` outputs on `m_axis_tuser`
/// (`0..n-1` as an unsigned number, at least one bit).
pub(crate) fn argmax_bits(n: usize) -> u32 {
    crate::quant::contract::width_for(0, n.saturating_sub(1) as i64).1
}

/// A stable hash of the integer network: FNV-1a of its sections and tensors
/// as the model file's format 1 lays them out, whatever format this build
/// writes, so a design's manifest keeps matching its model across versions.
pub fn network_hash(net: &IntNetwork) -> String {
    let mut c = crate::model::Container::new();
    crate::quant::write_integer(net, &mut c);
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in c.to_bytes_as(1) {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Checks that `dir` can take a design: new, empty, or holding an earlier
/// design (recognized by its manifest).
pub fn check_design_dir(dir: &Path) -> Result<Option<Manifest>, CodegenError> {
    let Ok(mut entries) = std::fs::read_dir(dir) else { return Ok(None) };
    if entries.next().is_none() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(dir.join("manifest.json"))
        .map_err(|_| CodegenError::NotADesign { dir: dir.to_path_buf() })?;
    let manifest = serde_json::from_str(&text)
        .map_err(|_| CodegenError::NotADesign { dir: dir.to_path_buf() })?;
    Ok(Some(manifest))
}

/// Removes what an earlier design in `dir` wrote (its files, the lists, the
/// simulator builds under `build/`) and nothing else; a directory holding
/// something else is refused.
fn clear_previous(dir: &Path) -> Result<(), CodegenError> {
    let Some(old) = check_design_dir(dir)? else { return Ok(()) };
    let data = old.stream.iter().flat_map(|s| s.data_files.iter());
    let lists = ["files.f", "manifest.json", "graph.json"].map(String::from);
    for name in old.files.iter().chain(data).chain(lists.iter()) {
        // Names from a manifest stay inside the directory.
        let safe =
            Path::new(name).components().all(|c| matches!(c, std::path::Component::Normal(_)));
        if safe {
            let _ = std::fs::remove_file(dir.join(name));
        }
    }
    let _ = std::fs::remove_dir_all(dir.join("build"));
    Ok(())
}

/// Writes the design into `dir`: the Verilog files, `files.f`, `manifest.json`
/// and `graph.json`. Each file is written atomically.
pub fn write_design(design: &Design, dir: &Path) -> Result<(), CodegenError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| CodegenError::Io { path, source }
    };
    clear_previous(dir)?;
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let write = |name: &str, text: &str| -> Result<(), CodegenError> {
        let path = dir.join(name);
        crate::model::write_atomically(&path, text.as_bytes())
            .map_err(|e| CodegenError::Config(e.to_string()))
    };
    for (name, text) in design.files.iter().chain(&design.data) {
        write(name, text)?;
    }
    let list: String = design.files.iter().map(|(n, _)| format!("{n}\n")).collect();
    write("files.f", &list)?;
    write(
        "manifest.json",
        &(serde_json::to_string_pretty(&design.manifest).expect("serializes") + "\n"),
    )?;
    write("graph.json", &(serde_json::to_string(&design.graphs).expect("serializes") + "\n"))?;
    Ok(())
}
