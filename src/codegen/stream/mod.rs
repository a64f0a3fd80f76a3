//! The streaming form: a dataflow of one stream module per layer, joined by
//! skid buffers, with folded matrix-vector units whose weight codes sit in
//! ROMs (DESIGN.md section 5, "Streaming, folded").
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
mod plan;
pub mod timing;

pub use fold::{Fold, Folds};
pub use manifest::{Order, StreamLayer, StreamManifest, StreamPort};
pub use timing::{
    simulate, simulate_parts, simulate_traffic, Beats, Driver, Part, Stuck, Timeline, Traffic,
};

use crate::codegen::design::{
    sanitize, CodegenError, Design, Form, HdlConfig, LayerCost, Manifest,
};
use crate::codegen::graph::Cost;
use crate::quant::IntNetwork;
use plan::{LayerHw, Mvu, PlanConfig};

/// The hand-written stream library, in the order the files are listed.
const LIBRARY: [(&str, &str); 11] = [
    ("sk_skid.v", include_str!("../../../hdl/sk_skid.v")),
    ("sk_readq.v", include_str!("../../../hdl/sk_readq.v")),
    ("sk_fifo.v", include_str!("../../../hdl/sk_fifo.v")),
    ("sk_dwc.v", include_str!("../../../hdl/sk_dwc.v")),
    ("sk_window.v", include_str!("../../../hdl/sk_window.v")),
    ("sk_argmax.v", include_str!("../../../hdl/sk_argmax.v")),
    ("sk_maxpool.v", include_str!("../../../hdl/sk_maxpool.v")),
    ("sk_relu.v", include_str!("../../../hdl/sk_relu.v")),
    ("sk_vecbuf.v", include_str!("../../../hdl/sk_vecbuf.v")),
    ("sk_addtree.v", include_str!("../../../hdl/sk_addtree.v")),
    ("sk_mvu.v", include_str!("../../../hdl/sk_mvu.v")),
];

/// The source of one module of the stream library, by file name.
pub fn library_file(name: &str) -> Option<&'static str> {
    LIBRARY.iter().find(|(n, _)| *n == name).map(|(_, text)| *text)
}

/// The names of the stream library's files.
pub fn library_files() -> impl Iterator<Item = &'static str> {
    LIBRARY.iter().map(|(n, _)| *n)
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
    let plan = plan::plan(
        net,
        &PlanConfig {
            folds: config.folds.clone(),
            cycles: config.cycles,
            input_lanes: config.input_lanes,
            levels_per_stage: config.levels_per_stage,
        },
    )?;
    let mut plan = plan;
    let timeline = size_fifos(&mut plan)?;
    let parts = plan.parts();
    let out_beats = plan.output_beats();
    let warmup = plan.warmup();
    let (cycles, latency) = (timeline.interval(), timeline.latency());
    let argmax_bits = if config.argmax && plan.last.image.is_none() {
        usize::BITS - (plan.output_lanes.max(2) - 1).leading_zeros()
    } else {
        0
    };
    if config.argmax && plan.last.image.is_some() {
        return Err(CodegenError::Config(
            "--argmax needs a flat output (a dense layer or a flatten last); this network ends \
             with an image"
                .into(),
        ));
    }

    let mut generated = Vec::new();
    let mut data = Vec::new();
    // The input skid buffer is part 0.
    let mut point = 1;
    let mut layers = Vec::new();
    let mut costs = Vec::new();
    let mut total = Cost::default();
    for l in &plan.layers {
        let layer = &net.layers()[l.index];
        let name = sanitize(&l.name);
        let module = format!("{}_{name}", config.top);
        let mut cost = cost::layer(l);
        point += l.parts().len();
        if l.has_module() {
            let op = layer.op.as_str();
            generated.push((format!("{module}.v"), emit::layer_module(l, op, &module, header)));
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
        cost.luts = cost.adder_bits + cost.mux_bits;
        total = total + cost;
        costs.push(LayerCost {
            name: l.name.clone(),
            module: if l.has_module() { module.clone() } else { String::new() },
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
        if l.has_module() {
            point += 1;
        }
    }
    let in_w = (plan.input.lanes * plan.input.format.bits() as usize) as u64;
    let out_w = (plan.output_lanes * plan.last.format.bits() as usize) as u64;
    total = total + cost::skid(in_w) + cost::skid(out_w + argmax_bits as u64);
    total.luts = total.adder_bits + total.mux_bits;
    let top = emit::top_module(
        &plan,
        &emit::TopInfo { module: &config.top, header, argmax_bits, cycles, latency },
    );
    let used = |file: &str| match file {
        "sk_skid.v" => true,
        "sk_fifo.v" => plan.layers.iter().any(|l| l.fifo.is_some()),
        "sk_readq.v" => plan
            .layers
            .iter()
            .any(|l| l.fifo.is_some() || matches!(l.hw, LayerHw::Dense { vecbuf: Some(_), .. })),
        "sk_dwc.v" => {
            plan.last.lanes != plan.output_lanes
                || plan.layers.iter().any(|l| match &l.hw {
                    LayerHw::Conv { dwc, .. }
                    | LayerHw::Dense { dwc, .. }
                    | LayerHw::Pool { dwc, .. } => dwc.is_some(),
                    _ => false,
                })
        }
        "sk_window.v" => {
            plan.layers.iter().any(|l| matches!(l.hw, LayerHw::Conv { .. } | LayerHw::Pool { .. }))
        }
        "sk_argmax.v" => {
            argmax_bits > 0 || plan.layers.iter().any(|l| matches!(l.hw, LayerHw::Pool { .. }))
        }
        "sk_maxpool.v" => plan.layers.iter().any(|l| matches!(l.hw, LayerHw::Pool { .. })),
        "sk_relu.v" => {
            plan.layers.iter().any(|l| matches!(l.hw, LayerHw::Relu) && l.input.format.signed())
        }
        "sk_vecbuf.v" => {
            plan.layers.iter().any(|l| matches!(l.hw, LayerHw::Dense { vecbuf: Some(_), .. }))
        }
        _ => plan.layers.iter().any(|l| match &l.hw {
            LayerHw::Conv { mvu, .. } | LayerHw::Dense { mvu, .. } => {
                matches!(mvu, Mvu::Folded(_))
            }
            _ => false,
        }),
    };
    let mut files: Vec<(String, String)> = LIBRARY
        .iter()
        .filter(|(n, _)| used(n))
        .map(|(n, text)| (n.to_string(), text.to_string()))
        .collect();
    files.extend(generated);
    files.push((format!("{}.v", config.top), top));
    let stream = StreamManifest {
        input: StreamPort {
            lanes: plan.input.lanes,
            beats: plan.input.beats(),
            order: plan.input.order,
        },
        output: StreamPort {
            lanes: plan.output_lanes,
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
    let peaks = timing::fifo_peaks(&parts, in_beats, out_beats, MODEL_IMAGES, ideal, warmup, limit)
        .ok_or(Stuck { images: MODEL_IMAGES, limit })?;
    // The part index of every layer's buffer: after its parts, in chain order.
    let mut at = 1;
    for l in plan.layers.iter_mut() {
        at += l.parts().len();
        if l.has_module() {
            let peak = peaks[at];
            l.fifo = (peak > SKID_BEATS).then_some(peak);
            at += 1;
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
