//! The streaming form: a dataflow of one stream module per layer, joined by
//! skid buffers or FIFOs, with folded matrix-vector units whose weight codes
//! sit in ROMs (README, "Verilog").
//!
//! [`plan`] decides every layer's parts and stream widths, [`fold`] the
//! folding, [`mvu`] a folded unit's parameters and ROM words, [`timing`] the
//! cycle-level model of the chain (cycles per image and latency), [`emit`]
//! the Verilog, which instantiates the hand-written modules of `hdl/`
//! (embedded here and written beside the generated files).

mod cost;
mod emit;
pub mod fold;
pub mod manifest;
mod mvu;
mod parts;
mod plan;
pub mod timing;
mod top;

pub use fold::{Fold, Folds};
pub use manifest::{Order, StreamLayer, StreamManifest, StreamPort};
pub use timing::{
    simulate, simulate_parts, simulate_traffic, Beats, Driver, Part, Stuck, Timeline, Traffic,
};

use crate::codegen::design::{
    argmax_bits, sanitize, CodegenError, Design, Form, HdlConfig, LayerCost, Manifest,
};
use crate::codegen::graph::Cost;
use crate::quant::IntNetwork;
use plan::{LayerHw, Mvu, PlanConfig};

/// The hand-written stream library, in the order the files are listed: a
/// module's name, its source, and the library modules it instantiates.
const LIBRARY: [(&str, &str, &[&str]); 11] = [
    ("sk_skid", include_str!("../../../hdl/sk_skid.v"), &[]),
    ("sk_readq", include_str!("../../../hdl/sk_readq.v"), &[]),
    ("sk_fifo", include_str!("../../../hdl/sk_fifo.v"), &["sk_readq"]),
    ("sk_dwc", include_str!("../../../hdl/sk_dwc.v"), &[]),
    ("sk_window", include_str!("../../../hdl/sk_window.v"), &[]),
    ("sk_argmax", include_str!("../../../hdl/sk_argmax.v"), &[]),
    ("sk_maxpool", include_str!("../../../hdl/sk_maxpool.v"), &["sk_window", "sk_argmax"]),
    ("sk_relu", include_str!("../../../hdl/sk_relu.v"), &[]),
    ("sk_vecbuf", include_str!("../../../hdl/sk_vecbuf.v"), &["sk_readq"]),
    ("sk_addtree", include_str!("../../../hdl/sk_addtree.v"), &[]),
    ("sk_mvu", include_str!("../../../hdl/sk_mvu.v"), &["sk_addtree"]),
];

/// The source of one module of the stream library, by file name.
pub fn library_file(name: &str) -> Option<&'static str> {
    LIBRARY.iter().find(|(n, _, _)| format!("{n}.v") == name).map(|(_, text, _)| *text)
}

/// The library files the generated `files` instantiate, directly or through
/// other library modules (every instance of a library module has
/// parameters, so it reads `<module> #(`).
fn library_for(files: &[(String, String)]) -> Vec<(String, String)> {
    let mut used: Vec<bool> = LIBRARY
        .iter()
        .map(|(n, _, _)| files.iter().any(|(_, text)| text.contains(&format!("{n} #("))))
        .collect();
    // Dependencies come before their users in the table: one pass from the end.
    for i in (0..LIBRARY.len()).rev() {
        if used[i] {
            for dep in LIBRARY[i].2 {
                let j = LIBRARY.iter().position(|(n, _, _)| n == dep).expect("a library module");
                used[j] = true;
            }
        }
    }
    LIBRARY
        .iter()
        .zip(used)
        .filter(|(_, u)| *u)
        .map(|((n, text, _), _)| (format!("{n}.v"), text.to_string()))
        .collect()
}

/// Images the timing model runs for the manifest's figures.
const MODEL_IMAGES: usize = 5;

/// Generates the streaming design of `net`.
pub(crate) fn generate(
    net: &IntNetwork,
    config: &HdlConfig,
    header: &str,
    hash: String,
) -> Result<Design, CodegenError> {
    let mut plan = plan::plan(
        net,
        &PlanConfig {
            folds: config.folds.clone(),
            cycles: config.cycles,
            input_lanes: config.input_lanes,
            output_lanes: config.output_lanes,
            argmax_bits: if config.argmax { argmax_bits(net.output().numel()) } else { 0 },
            levels_per_stage: config.levels_per_stage,
            sharing: config.sharing,
            device: config.device.clone(),
            block_price: config.block_price,
        },
    )?;
    let timeline = size_fifos(&mut plan)?;
    let parts = plan.parts();
    let out_beats = plan.output_beats();
    let warmup = plan.warmup();
    let (cycles, latency) = (timeline.interval(), timeline.latency());
    let argmax_bits =
        if config.argmax && plan.last.image.is_none() { argmax_bits(plan.output_lanes) } else { 0 };
    if config.argmax && plan.last.image.is_some() {
        return Err(CodegenError::Config(
            "the argmax output needs a flat output (a dense layer or a flatten last); this network ends \
             with an image"
                .into(),
        ));
    }

    let mut generated = Vec::new();
    let mut data = Vec::new();
    let points = plan.output_points();
    let mut layers = Vec::new();
    let mut costs = Vec::new();
    let mut total = Cost::default();
    for (l, &point) in plan.layers.iter().zip(&points) {
        let layer = &net.layers()[l.index];
        let name = sanitize(&l.name);
        let module = format!("{}_{name}", config.top);
        let cost = cost::layer(&plan, l);
        if l.has_module() {
            let op = layer.op.as_str();
            generated
                .push((format!("{module}.v"), emit::layer_module(&plan, l, op, &module, header)));
        }
        let (hardware, latency) = match &l.hw {
            LayerHw::Conv { mvu, .. } | LayerHw::Dense { mvu, .. } => match mvu {
                Mvu::Folded(f) => {
                    generated.push((
                        format!("{module}_rq.v"),
                        crate::codegen::emit::layer_module(&f.rq, &format!("{module}_rq"), header),
                    ));
                    data.push((format!("{module}_w.hex"), lines(&f.weights)));
                    data.push((format!("{module}_b.hex"), lines(&f.biases)));
                    if f.scaled {
                        data.push((format!("{module}_m.hex"), lines(&f.scales)));
                    }
                    ("folded", Some(f.latency()))
                }
                Mvu::Unrolled(g) => {
                    generated.push((
                        format!("{module}_core.v"),
                        crate::codegen::emit::layer_module(g, &format!("{module}_core"), header),
                    ));
                    ("unrolled", Some(g.latency))
                }
            },
            LayerHw::Pool { .. } => ("pool", None),
            LayerHw::Relu => ("relu", None),
            LayerHw::Flatten => ("none", None),
        };
        total = total + cost;
        costs.push(LayerCost {
            name: l.name.clone(),
            module: if l.has_module() { module.clone() } else { String::new() },
            instance: String::new(),
            latency: latency.unwrap_or(0),
            cost,
        });
        layers.push(StreamLayer {
            name: l.name.clone(),
            op: layer.op.as_str().to_string(),
            hardware: hardware.to_string(),
            pe: l.fold.map(|f| f.pe),
            simd: l.fold.map(|f| f.simd),
            cycles: l.cycles,
            latency,
            trace: (!matches!(l.hw, LayerHw::Flatten)).then(|| name.clone()),
            point,
            out_lanes: l.output.lanes,
            out_beats: l.output.beats(),
            order: l.output.order,
            cost,
        });
    }
    let in_w = (plan.input.lanes * plan.input.format.bits() as usize) as u64;
    let out_w = (plan.top_lanes() * plan.last.format.bits() as usize) as u64;
    total = total
        + cost::skid(in_w)
        + cost::skid(out_w + argmax_bits as u64)
        + plan.output_dwc.as_ref().map(cost::dwc).unwrap_or_default()
        + plan.narrow.as_ref().map(cost::dwc).unwrap_or_default();
    if argmax_bits > 0 {
        let bits = plan.last.format.bits() as u64;
        total = total + cost::argmax(plan.output_lanes as u64, bits, argmax_bits as u64);
    }
    let top = top::top_module(
        &plan,
        &top::TopInfo { module: &config.top, header, argmax_bits, cycles, latency },
    );
    generated.push((format!("{}.v", config.top), top));
    let mut files = library_for(&generated);
    files.extend(generated);
    let stream = StreamManifest {
        input: StreamPort {
            lanes: plan.input.lanes,
            beats: plan.input.beats(),
            order: plan.input.order,
        },
        output: StreamPort {
            lanes: plan.top_lanes(),
            beats: out_beats,
            order: if plan.last.image.is_some() { plan.last.order } else { Order::Index },
        },
        cycles_per_image: cycles,
        latency,
        target_cycles: plan.target,
        warmup,
        data_files: data.iter().map(|(n, _)| n.clone()).collect(),
        layers,
        parts,
    };
    let manifest = Manifest {
        generator: format!("shiftkit {}", env!("CARGO_PKG_VERSION")),
        network_hash: hash,
        top: config.top.clone(),
        form: Form::Streaming,
        inputs: net.input().numel(),
        input_format: net.input_format(),
        outputs: net.output().numel(),
        output_format: net.output_format(),
        argmax_bits,
        latency: latency.min(u32::MAX as u64) as u32,
        levels_per_stage: config.levels_per_stage,
        sharing: config.sharing,
        files: files.iter().map(|(n, _)| n.clone()).collect(),
        cost: total,
        layers: costs,
        stream: Some(stream),
    };
    Ok(Design { files, data, manifest, graphs: Vec::new() })
}

/// Beats a FIFO holds at most before it is worth more than a skid buffer.
const SKID_BEATS: usize = 2;

/// Gives the layers whose bursts would stall their neighbours a FIFO after
/// them, sized by the timing model, and returns the chain's timeline.
///
/// Skid buffers first: if the chain already runs at its slowest layer's
/// cycles per image, that is the design. Otherwise every layer boundary gets
/// an unbounded FIFO, images enter no faster than that slowest layer, and
/// each FIFO keeps the depth it needed (a skid buffer where two beats
/// sufficed). Should that still fall short, the depths double, twice at most.
fn size_fifos(plan: &mut plan::Plan) -> Result<Timeline, CodegenError> {
    let (in_beats, out_beats) = (plan.input.beats(), plan.output_beats());
    let warmup = plan.warmup();
    let ideal = plan.layers.iter().map(|l| l.cycles).max().unwrap_or(1).max(in_beats as u64);
    let work: u64 = plan.layers.iter().map(|l| l.cycles).sum::<u64>()
        + plan.parts().len() as u64 * 8
        + in_beats as u64;
    let limit = (MODEL_IMAGES as u64 + 2) * work * 4 + warmup + 1000;
    let run = |plan: &plan::Plan| {
        simulate(&plan.parts(), in_beats, out_beats, MODEL_IMAGES, warmup, limit)
    };
    let skids = run(plan)?;
    if skids.interval() <= ideal {
        return Ok(skids);
    }
    for l in plan.layers.iter_mut().filter(|l| l.has_module()) {
        l.fifo = Some(1 << 24);
    }
    let parts = plan.parts();
    let plan_points = plan.output_points();
    let peaks = timing::fifo_peaks(&parts, in_beats, out_beats, MODEL_IMAGES, ideal, warmup, limit)
        .ok_or(Stuck { images: MODEL_IMAGES, limit })?;
    for (l, at) in plan.layers.iter_mut().zip(plan_points) {
        if l.has_module() {
            let peak = peaks[at];
            l.fifo = (peak > SKID_BEATS).then_some(peak);
        }
    }
    let mut best = run(plan)?;
    for _ in 0..2 {
        if best.interval() <= ideal {
            break;
        }
        let mut wider = plan.clone();
        for l in wider.layers.iter_mut() {
            l.fifo = l.fifo.map(|d| d * 2);
        }
        let t = run(&wider)?;
        if t.interval() < best.interval() {
            *plan = wider;
            best = t;
        }
    }
    if best.interval() >= skids.interval() {
        for l in plan.layers.iter_mut() {
            l.fifo = None;
        }
        return Ok(skids);
    }
    Ok(best)
}

fn lines(words: &[String]) -> String {
    let mut text = words.join("\n");
    text.push('\n');
    text
}
