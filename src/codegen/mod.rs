//! Verilog generation: the integer network as shift-add datapaths.
//!
//! [`build_graphs`] turns each layer into an adder graph ([`graph`]): every
//! weight's CSD terms become shifted operands of balanced adder trees,
//! registered every `levels_per_stage` levels, followed by requantization.
//! [`emit`] prints graphs as Verilog through askama templates. Widths, names,
//! order and stages are all decided in the graph.

mod baseline;
mod build;
mod emit;
pub mod graph;
pub mod hex;
pub mod stream;

use std::path::Path;

use askama::Template;
use serde::{Deserialize, Serialize};

pub use baseline::multiplier_baseline;
pub use build::build_graphs;
pub use graph::{Cost, LayerGraph};

use crate::quant::{FixedFormat, IntNetwork};

/// Default adder levels between pipeline registers: about three carry chains
/// of 16-24 bits fit a 200-250 MHz clock on small FPGAs.
pub const DEFAULT_LEVELS_PER_STAGE: u32 = 3;

/// Errors of code generation.
#[derive(Debug, thiserror::Error)]
pub enum CodegenError {
    #[error(
        "layer `{layer}` ({op}): the unrolled form takes dense networks only (dense, relu, \
         flatten); use --form streaming (or auto) for this network"
    )]
    Unsupported { layer: String, op: &'static str },
    #[error("{0}")]
    Config(String),
    /// A folding that cannot be built, or an input width that does not divide.
    #[error("{0}")]
    Fold(String),
    #[error("the timing model of the streaming design did not finish ({0}); this is a bug")]
    Timing(#[from] stream::Stuck),
    #[error("{}", path.display())]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The two hardware forms of DESIGN.md section 5.
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

/// Networks whose unrolled form needs more adders than this get the
/// streaming form when the form is left to shiftkit.
pub const AUTO_UNROLLED_ADDERS: u64 = 20_000;

/// The form shiftkit picks: unrolled for dense networks of at most
/// [`AUTO_UNROLLED_ADDERS`] adders, streaming for everything else.
pub fn auto_form(net: &IntNetwork) -> Form {
    let dense = net.layers().iter().all(|l| {
        matches!(
            l.op,
            crate::quant::IntOp::Dense(_)
                | crate::quant::IntOp::Relu
                | crate::quant::IntOp::Flatten
        )
    });
    if !dense {
        return Form::Streaming;
    }
    match build_graphs(net, DEFAULT_LEVELS_PER_STAGE) {
        Ok(graphs)
            if graphs.iter().map(|g| Cost::of(g).adders).sum::<u64>() <= AUTO_UNROLLED_ADDERS =>
        {
            Form::Unrolled
        }
        _ => Form::Streaming,
    }
}

/// Settings of `shiftkit hdl`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HdlConfig {
    /// Name of the top module (a Verilog identifier).
    pub top: String,
    pub form: Form,
    pub levels_per_stage: u32,
    /// Add an `m_axis_tuser` port with the index of the largest output.
    pub argmax: bool,
    /// Streaming: per-layer foldings (the rest are chosen).
    pub folds: stream::Folds,
    /// Streaming: target cycles per image for the chosen foldings.
    pub cycles: Option<u64>,
    /// Streaming: codes per input beat of a network that starts flat.
    pub input_lanes: Option<usize>,
}

impl HdlConfig {
    /// Defaults for everything but the top's name and the form.
    pub fn new(top: &str, form: Form) -> HdlConfig {
        HdlConfig {
            top: top.to_string(),
            form,
            levels_per_stage: DEFAULT_LEVELS_PER_STAGE,
            argmax: false,
            folds: stream::Folds::default(),
            cycles: None,
            input_lanes: None,
        }
    }
}

/// Cost of one layer, as `manifest.json` and the table report it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerCost {
    pub name: String,
    pub module: String,
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
    pub files: Vec<String>,
    pub cost: Cost,
    pub layers: Vec<LayerCost>,
    /// Streaming designs: streams, timing, folding (see [`stream::StreamManifest`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<stream::StreamManifest>,
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

struct Instance {
    name: String,
    module: String,
    input: String,
    output: String,
    out_msb: u32,
}

#[derive(Template)]
#[template(path = "top.v", escape = "none")]
struct TopTemplate<'a> {
    header: &'a str,
    module: &'a str,
    inputs: usize,
    outputs: usize,
    in_msb: usize,
    out_msb: usize,
    input_format: String,
    output_format: String,
    latency: u32,
    layer_lines: Vec<String>,
    instances: Vec<Instance>,
    argmax: Vec<String>,
    argmax_bits: u32,
    argmax_msb: u32,
    result: String,
}

/// Checks a Verilog identifier.
fn check_identifier(name: &str) -> Result<(), CodegenError> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(CodegenError::Config(format!(
            "`{name}` is not a Verilog identifier: use letters, digits and _, not starting with a \
             digit"
        )))
    }
}

/// A layer name as part of a Verilog identifier.
pub(crate) fn sanitize(name: &str) -> String {
    let s: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        format!("l{s}")
    } else {
        s
    }
}

/// A stable hash of the integer network (its serialized form).
pub fn network_hash(net: &IntNetwork) -> String {
    let mut c = crate::model::Container::new();
    crate::quant::write_integer(net, &mut c);
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in c.to_bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Generates the design of `net`.
pub fn generate(net: &IntNetwork, config: &HdlConfig) -> Result<Design, CodegenError> {
    check_identifier(&config.top)?;
    if config.levels_per_stage == 0 {
        return Err(CodegenError::Config("--levels-per-stage must be at least 1".into()));
    }
    let form = match config.form {
        Form::Auto => auto_form(net),
        form => form,
    };
    if form == Form::Streaming {
        let hash = network_hash(net);
        let header = format!(
            "Generated by shiftkit {} from integer network {hash}. Do not edit.",
            env!("CARGO_PKG_VERSION")
        );
        return stream::generate(net, config, &header, hash);
    }
    let graphs = build_graphs(net, config.levels_per_stage)?;
    if graphs.is_empty() {
        return Err(CodegenError::Config("the network has no layer to generate".into()));
    }
    let hash = network_hash(net);
    let header = format!(
        "Generated by shiftkit {} from integer network {hash}. Do not edit.",
        env!("CARGO_PKG_VERSION")
    );
    let mut files = Vec::new();
    let mut instances = Vec::new();
    let mut layers = Vec::new();
    let mut total = Cost::default();
    let mut input = "in_q".to_string();
    for g in &graphs {
        let module = format!("{}_{}", config.top, sanitize(&g.name));
        files.push((format!("{module}.v"), emit::layer_module(g, &module, &header)));
        let output = format!("{}_y", sanitize(&g.name));
        instances.push(Instance {
            name: sanitize(&g.name),
            module: module.clone(),
            input: input.clone(),
            output: output.clone(),
            out_msb: g.outputs.len() as u32 * g.output_format.bits() - 1,
        });
        input = output;
        let cost = Cost::of(g);
        total = total + cost;
        layers.push(LayerCost { name: g.name.clone(), module, latency: g.latency, cost });
    }
    let last = graphs.last().expect("checked non-empty");
    let outputs = last.outputs.len();
    let out_format = last.output_format;
    // Input register + layers (+ the argmax register).
    let mut latency = 1 + graphs.iter().map(|g| g.latency).sum::<u32>();
    let (argmax, argmax_bits, result) = if config.argmax {
        latency += 1;
        let (lines, bits) = argmax_lines(&input, outputs, out_format);
        total.ffs += (outputs as u64 * out_format.bits() as u64) + bits as u64;
        (lines, bits, "logits_q".to_string())
    } else {
        (Vec::new(), 0, input.clone())
    };
    total.ffs += latency as u64 + (net.input().numel() as u64 * net.input_format().bits() as u64);
    let layer_lines = layers
        .iter()
        .map(|l| {
            format!(
                "{}: {} adders, {} adder bits, {} register bits, {} cycles",
                l.name, l.cost.adders, l.cost.adder_bits, l.cost.ffs, l.latency
            )
        })
        .collect();
    let top = TopTemplate {
        header: &header,
        module: &config.top,
        inputs: net.input().numel(),
        outputs,
        in_msb: net.input().numel() * net.input_format().bits() as usize - 1,
        out_msb: outputs * out_format.bits() as usize - 1,
        input_format: net.input_format().to_string(),
        output_format: out_format.to_string(),
        latency,
        layer_lines,
        instances,
        argmax,
        argmax_bits,
        argmax_msb: argmax_bits.saturating_sub(1),
        result,
    }
    .render()
    .expect("templates render plain strings")
        + "\n";
    files.push((format!("{}.v", config.top), top));
    let manifest = Manifest {
        generator: format!("shiftkit {}", env!("CARGO_PKG_VERSION")),
        network_hash: hash,
        top: config.top.clone(),
        form: Form::Unrolled,
        inputs: net.input().numel(),
        input_format: net.input_format(),
        outputs,
        output_format: out_format,
        argmax_bits,
        latency,
        levels_per_stage: config.levels_per_stage,
        files: files.iter().map(|(n, _)| n.clone()).collect(),
        cost: total,
        layers,
        stream: None,
    };
    Ok(Design { files, data: Vec::new(), manifest, graphs })
}

/// A comparator tree over the output lanes (lower index wins ties) and the
/// registers that hold the logits and the index for one more cycle.
fn argmax_lines(logits: &str, n: usize, f: FixedFormat) -> (Vec<String>, u32) {
    let bits = (usize::BITS - (n.max(2) - 1).leading_zeros()).max(1);
    let w = f.bits();
    let mut lines = vec![format!("// argmax of {n} lanes ({f}), ties to the lower index")];
    let mut level: Vec<(String, String)> = (0..n)
        .map(|j| {
            let v = format!("am0_{j}_v");
            lines.push(format!(
                "wire [{}:0] {v} = {logits}[{}:{}];",
                w - 1,
                (j as u32 + 1) * w - 1,
                j as u32 * w
            ));
            (v, format!("{bits}'d{j}"))
        })
        .collect();
    let mut depth = 0;
    while level.len() > 1 {
        depth += 1;
        let mut next = Vec::new();
        for (k, pair) in level.chunks(2).enumerate() {
            match pair {
                [(av, ai), (bv, bi)] => {
                    let p = format!("am{depth}_{k}");
                    let ge = if f.signed() {
                        format!("$signed({av}) >= $signed({bv})")
                    } else {
                        format!("{av} >= {bv}")
                    };
                    lines.push(format!("wire {p}_ge = {ge};"));
                    lines.push(format!("wire [{}:0] {p}_v = {p}_ge ? {av} : {bv};", w - 1));
                    lines.push(format!("wire [{}:0] {p}_i = {p}_ge ? {ai} : {bi};", bits - 1));
                    next.push((format!("{p}_v"), format!("{p}_i")));
                }
                [one] => next.push(one.clone()),
                _ => unreachable!("chunks of two"),
            }
        }
        level = next;
    }
    let (best_v, best_i) = level.pop().expect("at least one lane");
    lines.push(format!("wire unused_argmax = ^{{{best_v}}};"));
    lines.push(format!("reg [{}:0] logits_q;", n as u32 * w - 1));
    lines.push(format!("reg [{}:0] argmax_q;", bits - 1));
    lines.push("always @(posedge clk) begin".into());
    lines.push("    if (ce) begin".into());
    lines.push(format!("        logits_q <= {logits};"));
    lines.push(format!("        argmax_q <= {best_i};"));
    lines.push("    end".into());
    lines.push("end".into());
    lines.push("assign m_axis_tuser = argmax_q;".into());
    (lines, bits)
}

/// Writes the design into `dir`: the Verilog files, `files.f`, `manifest.json`
/// and `graph.json`. Each file is written atomically.
pub fn write_design(design: &Design, dir: &Path) -> Result<(), CodegenError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| CodegenError::Io { path, source }
    };
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
