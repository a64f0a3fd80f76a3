//! The streaming form: a dataflow of one stream module per layer, joined by
//! skid buffers or FIFOs, with folded matrix-vector units whose weight codes
//! sit in ROMs (README, "Verilog").
//!
//! Three steps, each reading only what the one before made:
//! 1. **Plan** ([`plan::plan`], plain data): every layer's parts and stream
//!    widths ([`parts`]), its folding ([`fold`]), where its memories go,
//!    the FIFO depths and the cycles per image from the timing model. The
//!    cost model ([`cost`]) prices a plan; the fitter searches plans.
//! 2. **Elaborate** ([`mvu`]): the ROM contents of the folded units.
//! 3. **Print** ([`emit`], [`top`]): the Verilog, which instantiates the
//!    hand-written modules of `hdl/` ([`library`]: embedded here and written
//!    beside the generated files), and the manifest.

mod cost;
mod emit;
pub mod fold;
mod library;
mod mvu;
mod parts;
pub mod pipeline;
pub mod plan;
mod top;

pub use cost::memory as memory_cost;
pub use fold::{Fold, Folds};
pub use plan::{Memo, Plan, PlanConfig};

use crate::codegen::error::CodegenError;
use crate::codegen::graph::{layer_module, Cost};
use crate::codegen::hex::hex_slices16;
use crate::codegen::manifest::{
    Design, Form, LayerCost, Manifest, Order, StreamLayer, StreamManifest, StreamPort, TopSpec,
};
use crate::codegen::names::sanitize;
use crate::quant::IntNetwork;
use plan::{LayerHw, Mvu};

/// The design's cost as the model counts it: every layer's and the total.
pub fn cost(plan: &Plan) -> (Vec<Cost>, Cost) {
    cost::design(plan)
}

/// Generates the streaming design of `net`: plans it, then elaborates and
/// prints the plan.
pub(crate) fn generate(
    net: &IntNetwork,
    config: &PlanConfig,
    spec: &TopSpec,
) -> Result<Design, CodegenError> {
    let plan = plan::plan(net, config, &Memo::default())?;
    Ok(design(net, &plan, spec))
}

/// The design of a plan of `net`: its ROMs elaborated, its Verilog and
/// manifest printed.
pub fn design(net: &IntNetwork, plan: &Plan, spec: &TopSpec) -> Design {
    let header = spec.header;
    let mut generated = Vec::new();
    let mut data = Vec::new();
    let points = plan.output_points();
    let mut layers = Vec::new();
    let mut costs = Vec::new();
    // The SPRAM units' bytes, in the order the weight port takes them.
    let mut weights = Vec::new();
    let (layer_costs, total) = cost::design(plan);
    for ((l, &point), &cost) in plan.layers.iter().zip(&points).zip(&layer_costs) {
        let layer = &net.layers()[l.index];
        let name = sanitize(&l.name);
        let module = format!("{}_{name}", spec.module);
        if l.has_module() {
            let op = layer.op.as_str();
            generated
                .push((format!("{module}.v"), emit::layer_module(plan, l, op, &module, header)));
        }
        let mut stage_ns = None;
        let (hardware, latency) = match &l.hw {
            LayerHw::Conv { mvu, .. } | LayerHw::Dense { mvu, .. } => match mvu {
                Mvu::Folded(f) => {
                    let rq = format!("{module}_rq");
                    generated.push((format!("{rq}.v"), layer_module(&f.rq, &rq, header)));
                    let w = layer.op.weighted().expect("a weighted layer");
                    let roms = f.roms(w);
                    if f.spram {
                        // 16-bit slices of every word, each low byte first.
                        for slice in roms.weights.iter().flat_map(|h| hex_slices16(h)) {
                            weights.extend([slice[2..].to_string(), slice[..2].to_string()]);
                        }
                    }
                    data.push((format!("{module}_w.hex"), lines(&roms.weights)));
                    data.push((format!("{module}_b.hex"), lines(&roms.biases)));
                    if f.scaled {
                        data.push((format!("{module}_m.hex"), lines(&roms.scales)));
                    }
                    stage_ns = f.pipelining.stage_ns;
                    ("folded", Some(f.latency()))
                }
                Mvu::Unrolled(g) => {
                    let core = format!("{module}_core");
                    generated.push((format!("{core}.v"), layer_module(g, &core, header)));
                    let delays = plan.device.as_ref().and_then(|d| d.delays);
                    stage_ns = delays.map(|d| g.slowest_stage_ns(&d));
                    ("unrolled", Some(g.latency))
                }
            },
            LayerHw::Pool { window, serial, .. } => {
                let delays = plan.device.as_ref().and_then(|d| d.delays);
                // The serial form compares twice in a row: along the row, then
                // with the rows above (two levels, as a tree of four).
                let k = if serial.is_some() { 4 } else { window.k[0] * window.k[1] };
                stage_ns = delays.map(|d| pipeline::compare_tree_ns(&d, k));
                ("pool", None)
            }
            LayerHw::Relu => ("relu", None),
            LayerHw::Flatten => ("none", None),
        };
        costs.push(LayerCost {
            name: l.name.clone(),
            module: if l.has_module() { module.clone() } else { String::new() },
            instance: String::new(),
            latency: latency.unwrap_or(0),
            cost,
            stage_ns: None,
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
            stage_ns,
        });
    }
    generated.push((format!("{}.v", spec.module), top::top_module(plan, spec.module, header)));
    let mut files = library::library_for(plan);
    files.extend(generated);
    let weight_bytes = weights.len() as u64;
    let mut sim_models = Vec::new();
    if weight_bytes > 0 {
        data.push(("weights.hex".into(), lines(&weights)));
        data.push((SPRAM_MODEL.0.into(), SPRAM_MODEL.1.into()));
        sim_models.push(SPRAM_MODEL.0.to_string());
    }
    if plan.layers.iter().any(|l| l.folded().is_some_and(|f| f.dsp > 0)) {
        data.push((MAC16_MODEL.0.into(), MAC16_MODEL.1.into()));
        sim_models.push(MAC16_MODEL.0.to_string());
    }
    let stream = StreamManifest {
        input: StreamPort {
            lanes: plan.input.lanes,
            beats: plan.input.beats(),
            order: plan.input.order,
        },
        output: StreamPort {
            lanes: plan.top_lanes(),
            beats: plan.output_beats(),
            order: if plan.last.image.is_some() { plan.last.order } else { Order::Index },
        },
        cycles_per_image: plan.cycles,
        latency: plan.latency,
        target_cycles: plan.target,
        data_files: data.iter().map(|(n, _)| n.clone()).collect(),
        weight_bytes,
        sim_models,
        layers,
        parts: plan.parts(),
        argmax_stage_ns: plan.device.as_ref().and_then(|d| d.delays).and_then(|d| {
            // The gather's beat against the largest so far, or a tree over
            // the whole word.
            match plan.argmax_gather() {
                Some(g) => Some(pipeline::argmax_gather_ns(&d, g.a)),
                None if plan.argmax_bits > 0 => {
                    Some(pipeline::compare_tree_ns(&d, plan.output_lanes))
                }
                None => None,
            }
        }),
    };
    let manifest = Manifest {
        argmax_bits: plan.argmax_bits,
        latency: plan.latency.min(u32::MAX as u64) as u32,
        files: files.iter().map(|(n, _)| n.clone()).collect(),
        cost: total,
        layers: costs,
        model_mhz: stream.model_mhz(),
        stream: Some(stream),
        ..Manifest::base(spec, net, Form::Streaming, plan.adders)
    };
    Design { files, data, manifest, graphs: Vec::new() }
}

/// The simulation model of the SPRAM primitive (file name, source).
const SPRAM_MODEL: (&str, &str) = ("sb_spram256ka.v", include_str!("../../../sim/sb_spram256ka.v"));

/// The simulation model of the DSP block in `sk_mul16`'s configuration.
const MAC16_MODEL: (&str, &str) = ("sb_mac16.v", include_str!("../../../sim/sb_mac16.v"));

fn lines(words: &[String]) -> String {
    let mut text = words.join("\n");
    text.push('\n');
    text
}
