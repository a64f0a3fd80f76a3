//! `manifest.json`: the data contract of a generated design, whatever its
//! form. What a user needs to drive it (ports, formats, the stream's lanes,
//! beats and order, cycles per image and latency) and what `verify` checks it
//! against (the chain of parts the timing model runs). Plain data: the forms
//! fill it, everything above reads it.

use serde::{Deserialize, Serialize};

use super::cmvm::Sharing;
use super::graph::{Cost, LayerGraph};
use super::lower::Adders;
use super::timing::Part;
use crate::quant::{FixedFormat, IntNetwork};

/// The two hardware forms (README, "Verilog").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Form {
    /// Every weight a constant of an adder graph; a whole vector per beat.
    #[default]
    Unrolled,
    /// One stream module per layer, folded matrix-vector units, weight ROMs.
    Streaming,
    /// Chosen by shiftkit (never written to a manifest).
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

/// Cost of one layer, as `manifest.json` and the table report it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
    /// The timing model's slowest register stage of the layer (ns, an
    /// estimate; unrolled form on a device with a timing model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage_ns: Option<f64>,
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
    /// The clock (MHz) the timing model gives the design's slowest register
    /// stage, an estimate (on a device with a timing model; a streaming
    /// design's is [`StreamManifest::model_mhz`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_mhz: Option<f64>,
    /// Streaming designs: streams, timing, folding (see [`StreamManifest`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<StreamManifest>,
}

impl Manifest {
    /// What every form's manifest of `net` under `spec` says alike: the
    /// generator, the network, the top, the ports' formats and the adder
    /// settings; a form fills in the rest.
    pub fn base(spec: &TopSpec, net: &IntNetwork, form: Form, adders: Adders) -> Manifest {
        Manifest {
            generator: format!("shiftkit {}", env!("CARGO_PKG_VERSION")),
            network_hash: spec.hash.to_string(),
            top: spec.module.to_string(),
            form,
            inputs: net.input().numel(),
            input_format: net.input_format(),
            outputs: net.output().numel(),
            output_format: net.output_format(),
            argmax_bits: 0,
            latency: 0,
            levels_per_stage: adders.levels_per_stage,
            sharing: adders.sharing,
            files: Vec::new(),
            cost: Cost::default(),
            layers: Vec::new(),
            model_mhz: None,
            stream: None,
        }
    }
}

/// Bits of the index of the largest of `n` outputs on `m_axis_tuser`
/// (`0..n-1` as an unsigned number, at least one bit).
pub fn argmax_bits(n: usize) -> u32 {
    crate::quant::contract::width_for(0, n.saturating_sub(1) as i64).1
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

/// What every top is given beside the network: its module name, the
/// header line of its files, the network's hash, whether it puts out the
/// argmax index.
#[derive(Clone, Copy, Debug)]
pub struct TopSpec<'a> {
    pub module: &'a str,
    pub header: &'a str,
    pub hash: &'a str,
    pub argmax: bool,
}

/// How a stream's positions map onto the integer network's value indices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "order", rename_all = "snake_case")]
pub enum Order {
    /// Position i is value i.
    Index,
    /// Raster order of an image: position `(y*w + x)*c + ch` is value
    /// `ch*h*w + y*w + x` (the network's (C, H, W) flattening).
    Hwc { c: usize, h: usize, w: usize },
}

impl Order {
    /// The network index of stream position `p`.
    pub fn index(self, p: usize) -> usize {
        match self {
            Order::Index => p,
            Order::Hwc { c, h, w } => {
                let (pixel, ch) = (p / c, p % c);
                ch * h * w + pixel
            }
        }
    }
}

/// A stream port of the top: `lanes` codes per beat, `beats` beats per image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamPort {
    pub lanes: usize,
    pub beats: usize,
    #[serde(flatten)]
    pub order: Order,
}

/// One layer of a streaming design, as the manifest reports it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamLayer {
    pub name: String,
    pub op: String,
    /// `folded`, `unrolled`, `pool`, `relu` or `none` (flatten).
    pub hardware: String,
    pub pe: Option<usize>,
    pub simd: Option<usize>,
    /// Cycles per image of the layer on its own.
    pub cycles: u64,
    /// Register stages of a matrix-vector unit.
    pub latency: Option<u32>,
    /// The wires `<trace>_data/_valid/_ready` of the top carry the layer's
    /// output (none for flatten).
    pub trace: Option<String>,
    /// Where the layer's output is in the chain of `parts`: handshakes at
    /// point 0 are the input's, at point i + 1 part i's output.
    pub point: usize,
    pub out_lanes: usize,
    pub out_beats: usize,
    #[serde(flatten)]
    pub order: Order,
    pub cost: Cost,
    /// The timing model's slowest register stage of a folded unit pipelined
    /// for a clock, or of a max pool on a device with a timing model (ns; an
    /// estimate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage_ns: Option<f64>,
}

/// What a user of a streaming design needs to drive it, and what `verify`
/// checks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamManifest {
    pub input: StreamPort,
    pub output: StreamPort,
    /// The initiation interval when nothing stalls, from the timing model.
    pub cycles_per_image: u64,
    /// From an image's first input beat to its last output beat, alone.
    pub latency: u64,
    /// The cycles per image the folding aimed at.
    pub target_cycles: u64,
    /// ROM contents (`$readmemh`), beside the Verilog.
    pub data_files: Vec<String>,
    /// Weights kept in SPRAM: the top's weight port takes these bytes
    /// (`weights.hex`, one a line, in order) after power-up, before any
    /// image (0: no weight port).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub weight_bytes: u64,
    /// Simulation models of device primitives the design instantiates
    /// (beside the Verilog; for simulators and lint, never for synthesis).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sim_models: Vec<String>,
    pub layers: Vec<StreamLayer>,
    /// The chain the timing model runs.
    pub parts: Vec<Part>,
    /// The timing model's stage of the argmax's comparators (ns; an
    /// estimate), on a device with a timing model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub argmax_stage_ns: Option<f64>,
}

impl StreamManifest {
    /// The clock (MHz) the timing model gives the slowest register stage of
    /// the folded units (when they were pipelined for a clock), the max
    /// pools and the argmax (on a device with a timing model): an estimate.
    pub fn model_mhz(&self) -> Option<f64> {
        let layers = self.layers.iter().filter_map(|l| l.stage_ns);
        let ns = layers.chain(self.argmax_stage_ns).reduce(f64::max)?;
        Some(1000.0 / ns)
    }
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}
