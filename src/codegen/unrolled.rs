//! The unrolled form: every weight a constant of an adder graph, one module
//! per dense layer and a top that takes a whole vector per beat, with one
//! stall signal for the whole pipeline.

use askama::Template;

use super::error::CodegenError;
use super::graph::builder::{finish, input_nodes, Builder, Io};
use super::graph::{layer_module, Cost, LayerGraph, NodeKind};
use super::library;
use super::lower::{dense_graph, dense_graph_for_clock, Adders};
use super::manifest::{argmax_bits, Design, Form, LayerCost, Manifest, TopSpec};
use super::names::sanitize;
use super::stream::pipeline::{clog2, compare_tree_ns};
use crate::device::Delays;
use crate::quant::{FixedFormat, IntLayer, IntNetwork, IntOp, Interval};

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

/// The unrolled design of `net` from its layers' graphs ([`build_graphs`]),
/// its stages estimated by the timing model of `delays` (when given), its
/// argmax pipelined for `clock_mhz` by it (when both are given).
pub(crate) fn generate(
    net: &IntNetwork,
    graphs: Vec<LayerGraph>,
    spec: &TopSpec,
    adders: Adders,
    delays: Option<&Delays>,
    clock_mhz: Option<f64>,
) -> Result<Design, CodegenError> {
    let header = spec.header;
    let mut files = Vec::new();
    let mut instances = Vec::new();
    let mut layers = Vec::new();
    let mut total = Cost::default();
    let mut input = "in_q".to_string();
    for g in &graphs {
        let module = format!("{}_{}", spec.module, sanitize(&g.name));
        files.push((format!("{module}.v"), layer_module(g, &module, header)));
        let output = format!("{}_y", sanitize(&g.name));
        let instance = format!("u_{}", sanitize(&g.name));
        instances.push(Instance {
            name: instance.clone(),
            module: module.clone(),
            input: input.clone(),
            output: output.clone(),
            out_msb: g.outputs.len() as u32 * g.output_format.bits() - 1,
        });
        input = output;
        let cost = Cost::of(g);
        total = total + cost;
        let stage_ns = delays.map(|d| g.slowest_stage_ns(d));
        let latency = g.latency;
        layers.push(LayerCost { name: g.name.clone(), module, instance, latency, cost, stage_ns });
    }
    let last = graphs.last().expect("checked non-empty");
    let outputs = last.outputs.len();
    let out_format = last.output_format;
    // Input register + layers (+ the argmax's registers).
    let mut latency = 1 + graphs.iter().map(|g| g.latency).sum::<u32>();
    let argmax_levels = spec.argmax.then(|| argmax_levels(outputs, delays, clock_mhz)).flatten();
    let (argmax, argmax_bits, result) = if spec.argmax {
        let width = out_format.bits() as u64;
        let (lines, bits) = match argmax_levels {
            None => {
                latency += 1;
                total.ffs += outputs as u64 * width + argmax_bits(outputs) as u64;
                argmax_lines(&input, outputs, out_format)
            }
            Some(levels) => {
                let (lines, bits, stages, ffs) =
                    argmax_pipe_lines(&input, outputs, out_format, levels);
                latency += stages;
                total.ffs += ffs;
                (lines, bits)
            }
        };
        total = total + Cost::argmax(outputs as u64, width, bits as u64);
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
        header,
        module: spec.module,
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
    files.push((format!("{}.v", spec.module), top));
    // The argmax is the stream library's, listed first like all of it.
    if spec.argmax {
        let module = if argmax_levels.is_some() { "sk_argmax_pipe" } else { "sk_argmax" };
        files.splice(0..0, library::files(&[module]));
    }
    // The slowest stage: a layer's, or the argmax's comparators between
    // the last layer's registers and the index's (or between its own).
    let argmax_ns = delays.filter(|_| spec.argmax).map(|d| match argmax_levels {
        None => compare_tree_ns(d, outputs),
        Some(levels) => compare_tree_ns(d, 1 << levels),
    });
    let slowest = layers.iter().filter_map(|l| l.stage_ns).chain(argmax_ns).reduce(f64::max);
    let manifest = Manifest {
        model_mhz: slowest.map(|ns| 1000.0 / ns),
        outputs,
        output_format: out_format,
        argmax_bits,
        latency,
        files: files.iter().map(|(n, _)| n.clone()).collect(),
        cost: total,
        layers,
        ..Manifest::base(spec, net, Form::Unrolled, adders)
    };
    Ok(Design { files, data: Vec::new(), manifest, graphs })
}

/// Levels of the argmax's comparator tree over `n` outputs between its
/// registers, when the timing model of `delays` says the whole tree does
/// not fit `clock_mhz`: the most a stage that fit (at least one). `None`:
/// the whole tree in one stage.
fn argmax_levels(n: usize, delays: Option<&Delays>, clock_mhz: Option<f64>) -> Option<u32> {
    let (d, mhz) = delays.zip(clock_mhz)?;
    let budget = Delays::budget_ns(mhz);
    if n < 2 || compare_tree_ns(d, n) <= budget {
        return None;
    }
    let depth = clog2(n);
    Some((1..depth).rev().find(|&l| compare_tree_ns(d, 1 << l) <= budget).unwrap_or(1))
}

/// The argmax of [`argmax_lines`] as `sk_argmax_pipe`, registered every
/// `levels` levels of its tree, the logits delayed alike: the lines, the
/// index bits, the stages and the register bits.
fn argmax_pipe_lines(
    logits: &str,
    n: usize,
    f: FixedFormat,
    levels: u32,
) -> (Vec<String>, u32, u32, u64) {
    let bits = argmax_bits(n);
    let w = f.bits();
    let depth = clog2(n);
    let stages = depth.div_ceil(levels);
    let word = n as u32 * w;
    let mut lines = vec![
        format!(
            "// The index of the largest of {n} lanes ({f}), ties to the lower index: a tree of \
             comparators registered every {levels} of its {depth} levels ({stages} stages)."
        ),
        format!("wire [{}:0] best;", w - 1),
        format!("wire [{}:0] best_index;", bits - 1),
        format!(
            "sk_argmax_pipe #(.N({n}), .BITS({w}), .SIGNED({}), .IW({bits}), .LEVELS({levels})) \
             u_argmax (",
            u32::from(f.signed())
        ),
        format!("    .clk(clk), .en(ce), .x({logits}), .max(best), .index(best_index)"),
        ");".into(),
        "wire unused_best = ^best;".into(),
        "// The logits, delayed as long.".into(),
        format!("reg [{}:0] logits_d;", stages * word - 1),
        "always @(posedge clk) begin".into(),
    ];
    if stages == 1 {
        lines.push(format!("    if (ce) logits_d <= {logits};"));
    } else {
        lines.push(format!(
            "    if (ce) logits_d <= {{logits_d[{}:0], {logits}}};",
            (stages - 1) * word - 1
        ));
    }
    lines.extend([
        "end".into(),
        format!(
            "wire [{}:0] logits_q = logits_d[{}:{}];",
            word - 1,
            stages * word - 1,
            (stages - 1) * word
        ),
        "assign m_axis_tuser = best_index;".into(),
    ]);
    // The tree's registers (values and indices of the levels registered)
    // and the logits' delay.
    let registered = (1..=depth).filter(|k| k % levels == 0 || *k == depth);
    let tree: u64 = registered.map(|k| n.div_ceil(1 << k) as u64 * (w + bits) as u64).sum();
    (lines, bits, stages, tree + (stages * word) as u64)
}

/// The index of the largest output lane (`sk_argmax`, lower index on ties)
/// and the registers that hold the logits and the index for one more cycle.
fn argmax_lines(logits: &str, n: usize, f: FixedFormat) -> (Vec<String>, u32) {
    let bits = argmax_bits(n);
    let w = f.bits();
    let lines = vec![
        format!("// The index of the largest of {n} lanes ({f}), ties to the lower index."),
        format!("wire [{}:0] best;", w - 1),
        format!("wire [{}:0] best_index;", bits - 1),
        format!(
            "sk_argmax #(.N({n}), .BITS({w}), .SIGNED({}), .IW({bits})) u_argmax (",
            u32::from(f.signed())
        ),
        format!("    .x({logits}), .max(best), .index(best_index)"),
        ");".into(),
        "wire unused_best = ^best;".into(),
        format!("reg [{}:0] logits_q;", n as u32 * w - 1),
        format!("reg [{}:0] argmax_q;", bits - 1),
        "always @(posedge clk) begin".into(),
        "    if (ce) begin".into(),
        format!("        logits_q <= {logits};"),
        "        argmax_q <= best_index;".into(),
        "    end".into(),
        "end".into(),
        "assign m_axis_tuser = argmax_q;".into(),
    ];
    (lines, bits)
}

/// Checks that `net` can take the unrolled form: dense layers (with ReLUs
/// and flattens), one at least.
pub(crate) fn check(net: &IntNetwork) -> Result<(), CodegenError> {
    if let Some(layer) =
        net.layers().iter().find(|l| matches!(l.op, IntOp::Conv2d { .. } | IntOp::MaxPool2d(_)))
    {
        return Err(CodegenError::Unsupported { layer: layer.name.clone(), op: layer.op.as_str() });
    }
    if net.layers().iter().all(|l| matches!(l.op, IntOp::Flatten)) {
        return Err(CodegenError::Config("the network has no layer to generate".into()));
    }
    Ok(())
}

/// Builds one graph per hardware layer.
pub fn build_graphs(net: &IntNetwork, adders: Adders) -> Result<Vec<LayerGraph>, CodegenError> {
    graphs_for(net, adders, None)
}

/// One graph per hardware layer: registers every `adders.levels_per_stage`
/// adder levels, or placed for a clock (MHz) by the timing model.
pub(crate) fn graphs_for(
    net: &IntNetwork,
    adders: Adders,
    clock: Option<(&Delays, f64)>,
) -> Result<Vec<LayerGraph>, CodegenError> {
    check(net)?;
    adders.check()?;
    let mut graphs = Vec::new();
    let mut bounds = vec![Interval::of_format(net.input_format()); net.input().numel()];
    for layer in net.layers() {
        let graph = match (&layer.op, clock) {
            (IntOp::Dense(w), Some((delays, mhz))) => {
                Some(dense_graph_for_clock(layer, w, &bounds, adders.sharing, delays, mhz))
            }
            (IntOp::Dense(w), None) => Some(dense_graph(layer, w, &bounds, adders)),
            (IntOp::Relu, _) => Some(relu_graph(layer, &bounds)),
            (IntOp::Flatten, _) => None,
            (IntOp::Conv2d { .. } | IntOp::MaxPool2d(_), _) => unreachable!("checked: dense only"),
        };
        graphs.extend(graph);
        bounds = layer.value_bounds();
    }
    Ok(graphs)
}

fn relu_graph(layer: &IntLayer, in_bounds: &[Interval]) -> LayerGraph {
    let mut b = Builder::new(1);
    let f = layer.input_format;
    let inputs = input_nodes(&mut b, in_bounds, f.signed(), f.bits());
    let ys = inputs
        .iter()
        .enumerate()
        .map(|(j, &x)| {
            let bx = b.node(x).bounds;
            if bx.lo < 0 {
                b.push(format!("n{j}_relu"), NodeKind::Relu { src: x }, bx.relu(), 0)
            } else {
                x
            }
        })
        .collect();
    let notes = (0..inputs.len()).map(|j| format!("y{j} = max(0, x{j})")).collect();
    let io = Io::of(layer, inputs.len());
    finish(b, io, ys, notes)
}
