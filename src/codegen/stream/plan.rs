//! The streaming plan: which parts every layer becomes, how wide every stream
//! is and in which order its values travel, how each unit is folded, where
//! its memories go, and how deep the FIFOs between layers are. Plain data
//! that the cost model prices and the timing model runs; ROM contents are
//! elaborated from it afterwards (`mvu.rs`), and only for the plan printed.
//!
//! Images travel in raster order, one pixel (all channels) per beat, or the
//! channels of a pixel in chunks when a matrix-vector unit puts out fewer. A
//! flattened image keeps that (H, W, C) order; the dense layer that reads it
//! takes its weight columns permuted from the network's (C, H, W) order.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::rc::Rc;

use ndarray::Array2;

use super::fold::{allowed, check_folds, not_weighted, pick_fold, unit_shape, Fold, Folds};
use super::mvu::Folded;
use super::parts::window_cycles;
pub use super::parts::{Dwc, Mvu, Stream, Window};
use super::pipeline::PipeRule;
use crate::codegen::cmvm::Sharing;
use crate::codegen::error::CodegenError;
use crate::codegen::graph::LayerGraph;
use crate::codegen::lower::{dense_graph, dense_graph_for_clock, Adders};
use crate::codegen::manifest::Order;
use crate::codegen::timing::{self, simulate, Part, Stuck, Timeline};
use crate::device::{Device, Family, MemStyle};
use crate::model::Shape;
use crate::quant::{IntLayer, IntNetwork, IntOp, Interval, WeightCode, Weighted};

/// What one layer of the network becomes.
#[derive(Clone, Debug)]
pub enum LayerHw {
    /// Window generator, then a matrix-vector unit.
    Conv { dwc: Option<Dwc>, window: Window, mvu: Mvu, positions: usize },
    /// Width converter, vector buffer (NF > 1), matrix-vector unit.
    Dense { dwc: Option<Dwc>, vecbuf: Option<(usize, usize)>, mvu: Mvu },
    /// Streaming max pooling: over whole pixels, the windows from a window
    /// generator (`sk_maxpool`, any geometry), or with `serial: Some(p)` over
    /// the channels as they arrive, `p` codes a beat in and out
    /// (`sk_maxpool_serial`, windows that do not overlap; no converter).
    Pool { dwc: Option<Dwc>, window: Window, signed: bool, serial: Option<usize> },
    /// A ReLU on the stream (combinational; only for signed formats).
    Relu,
    /// Nothing: the stream already is the flattened image.
    Flatten,
}

/// One layer's plan.
#[derive(Clone, Debug)]
pub struct LayerPlan {
    pub index: usize,
    pub name: String,
    pub hw: LayerHw,
    pub input: Stream,
    pub output: Stream,
    /// PE x SIMD of a weighted layer.
    pub fold: Option<Fold>,
    /// Cycles per image of the layer on its own.
    pub cycles: u64,
    /// The buffer after a layer with registers: a FIFO of this depth, or a
    /// skid buffer when `None`.
    pub fifo: Option<usize>,
}

impl LayerPlan {
    /// The matrix-vector unit of a convolution or dense layer.
    pub fn mvu(&self) -> Option<&Mvu> {
        match &self.hw {
            LayerHw::Conv { mvu, .. } | LayerHw::Dense { mvu, .. } => Some(mvu),
            _ => None,
        }
    }

    /// The folded unit of a convolution or dense layer (not an unrolled one).
    pub fn folded(&self) -> Option<&Folded> {
        match self.mvu()? {
            Mvu::Folded(f) => Some(f),
            Mvu::Unrolled(_) => None,
        }
    }

    /// The parts of the layer, in stream order (not counting the skid buffer
    /// that follows every layer with registers).
    pub fn parts(&self) -> Vec<Part> {
        let mut parts = Vec::new();
        match &self.hw {
            LayerHw::Conv { dwc, window, mvu, .. } => {
                parts.extend(dwc.map(|d| d.part()));
                parts.push(window.part());
                parts.push(pipe(mvu));
            }
            LayerHw::Dense { dwc, vecbuf, mvu } => {
                parts.extend(dwc.map(|d| d.part()));
                parts.extend(vecbuf.map(|(words, repeat)| Part::Vecbuf { words, repeat }));
                parts.push(pipe(mvu));
            }
            LayerHw::Pool { dwc, window, serial, .. } => {
                parts.extend(dwc.map(|d| d.part()));
                parts.push(match serial {
                    Some(p) => window.serial_part(*p),
                    None => window.part(),
                });
            }
            LayerHw::Relu | LayerHw::Flatten => {}
        }
        parts
    }

    /// Whether the layer has registers (and so a module and a skid buffer).
    pub fn has_module(&self) -> bool {
        !matches!(self.hw, LayerHw::Relu | LayerHw::Flatten)
    }
}

fn pipe(mvu: &Mvu) -> Part {
    match mvu {
        Mvu::Folded(f) => Part::Pipe { depth: f.latency() as usize, chunks: f.sf },
        Mvu::Unrolled(g) => Part::Pipe { depth: g.latency as usize, chunks: 1 },
    }
}

/// The plan of the whole design.
#[derive(Clone, Debug)]
pub struct Plan {
    pub input: Stream,
    pub layers: Vec<LayerPlan>,
    /// The last layer's stream and the beat the top puts out per image (all of
    /// a flat output in one beat, or one pixel of an image).
    pub last: Stream,
    pub output_lanes: usize,
    /// The converter from the last layer's beats to the output beat.
    pub output_dwc: Option<Dwc>,
    /// The converter from that beat to narrower output beats (each lane the
    /// value and, with an argmax, the index of the largest: `bits` counts
    /// both).
    pub narrow: Option<Dwc>,
    pub target: u64,
    /// Bits of the argmax index the top puts beside the values (0: none).
    pub argmax_bits: u32,
    /// How the unrolled units' constant products were built.
    pub adders: Adders,
    /// Cycles per image and latency, from the timing model of the chain.
    pub cycles: u64,
    pub latency: u64,
    /// The device whose memories the plan places (`None`: the tool's choice).
    pub device: Option<Device>,
    /// Logic cells a block of RAM is worth in that placement (default: the
    /// device's cells over its blocks).
    pub block_price: Option<u64>,
}

impl Plan {
    /// The folded units whose weights are in SPRAM, in stream order (the
    /// order the weight port fills them): (layer index, unit).
    pub fn spram_units(&self) -> Vec<(usize, &Folded)> {
        self.layers
            .iter()
            .enumerate()
            .filter_map(|(i, l)| l.folded().filter(|f| f.spram).map(|f| (i, f)))
            .collect()
    }

    /// The whole chain: the input skid buffer, every layer's parts and its
    /// skid buffer, the output converter and skid buffer.
    pub fn parts(&self) -> Vec<Part> {
        let mut parts = vec![Part::Skid];
        for l in &self.layers {
            parts.extend(l.parts());
            if l.has_module() {
                parts.push(match l.fifo {
                    Some(depth) => Part::Fifo { depth },
                    None => Part::Skid,
                });
            }
        }
        parts.extend(self.output_dwc.map(|d| d.part()));
        parts.extend(self.narrow.map(|d| d.part()));
        parts.push(Part::Skid);
        parts
    }

    /// Where every layer's output is in the chain of [`Plan::parts`]: the
    /// index of the part after the layer's own (its skid buffer or FIFO), which
    /// is also the index of its output's handshakes in the timing model's
    /// `simulate_parts` (point 0 is the input).
    pub fn output_points(&self) -> Vec<usize> {
        let mut point = 1; // after the input skid buffer
        self.layers
            .iter()
            .map(|l| {
                point += l.parts().len();
                let here = point;
                point += usize::from(l.has_module());
                here
            })
            .collect()
    }

    /// Beats of the top's output per image.
    pub fn output_beats(&self) -> usize {
        self.last.len / self.top_lanes()
    }

    /// Bits of the top's count of output beats within an image (tlast).
    pub fn tlast_bits(&self) -> u32 {
        crate::quant::contract::width_for(0, self.output_beats().saturating_sub(1) as i64).1
    }

    /// The output converter that also keeps the argmax as the beats arrive
    /// (`sk_argmax_gather`): there is an argmax, a converter, and the stream
    /// is in the network's index order (a flattened image's (H, W, C) order
    /// would break ties by stream position, so its argmax is the comparator
    /// tree over the gathered word, `sk_argmax`).
    pub fn argmax_gather(&self) -> Option<Dwc> {
        let index_order = matches!(self.last.order, Order::Index);
        self.output_dwc.filter(|_| self.argmax_bits > 0 && index_order)
    }

    /// Values per beat of the top's output.
    pub fn top_lanes(&self) -> usize {
        self.narrow.map_or(self.output_lanes, |d| d.b)
    }

    /// Where a memory of `depth` words of `width` bits goes.
    pub fn memory_style(&self, width: u64, depth: u64, rom: bool) -> MemStyle {
        self.device.as_ref().map_or(MemStyle::Auto, |d| {
            d.memory_style(width, depth, rom, self.block_price.unwrap_or(d.block_price()))
        })
    }
}

/// (width, depth) of `sk_vecbuf`'s RAM: two banks of `words` words of
/// `chunk` codes of `bits`.
pub fn vecbuf_memory(bits: u64, chunk: u64, words: u64) -> (u64, u64) {
    (chunk * bits, 2 * words)
}

/// Settings of the plan.
#[derive(Clone, Debug, Default)]
pub struct PlanConfig {
    pub folds: Folds,
    /// Target cycles per image (the default: as fast as the slowest part that
    /// folding cannot speed up).
    pub cycles: Option<u64>,
    /// Codes per input beat of a network that starts flat (default 1).
    pub input_lanes: Option<usize>,
    /// Values per output beat of a network that ends flat (default: all).
    pub output_lanes: Option<usize>,
    /// Bits of the argmax index the top puts beside the values (0: none).
    pub argmax_bits: u32,
    pub levels_per_stage: u32,
    /// How unrolled units share adders.
    pub sharing: Sharing,
    /// The device whose memories the plan places.
    pub device: Option<Device>,
    pub block_price: Option<u64>,
    /// The clock (MHz) the folded units are pipelined for, by the device's
    /// timing model (`None`, or a device without one: `levels_per_stage`).
    pub clock_mhz: Option<f64>,
    /// Layers whose folded unit keeps its weights in the device's
    /// single-port RAM (SPRAM), loaded through the top's weight port.
    pub spram: BTreeSet<String>,
}

impl PlanConfig {
    /// How the units' registers are placed.
    pub fn pipe_rule(&self) -> PipeRule {
        match (self.clock_mhz, self.device.as_ref().and_then(|d| d.delays)) {
            (Some(mhz), Some(delays)) => PipeRule::Clock { mhz, delays },
            (_, delays) => PipeRule::Levels { levels: self.levels_per_stage, delays },
        }
    }

    /// The adder settings of the unrolled units.
    pub fn adders(&self) -> Adders {
        Adders { levels_per_stage: self.levels_per_stage, sharing: self.sharing }
    }
}

/// What planning works out once, however many plans of one network ask for
/// it: the graphs of unrolled units (a constant matrix is solved once), the
/// cycles a window generator takes per image at a number of beats per
/// window (both by layer index: valid for one network and one [`Adders`]
/// setting), and the FIFOs and timeline of a chain of parts (plans of
/// different targets often fold alike).
#[derive(Default)]
pub struct Memo {
    unrolled: RefCell<BTreeMap<usize, Rc<LayerGraph>>>,
    windows: RefCell<BTreeMap<(usize, usize, bool), u64>>,
    /// By the chain without FIFOs, the beats in and out, the layers' cycles.
    chains: RefCell<HashMap<ChainKey, SizedChain>>,
}

/// A chain as FIFO sizing sees it: its parts without FIFOs, the beats of an
/// image in and out, and every layer's cycles per image.
type ChainKey = (Vec<Part>, usize, usize, Vec<u64>);

/// A chain's FIFOs, sized: each layer's FIFO depth, and the timeline.
type SizedChain = (Vec<Option<usize>>, Timeline);

/// Checks the settings of the streaming form against `net`, before any
/// planning: foldings, input and output lanes, the argmax.
pub fn check(net: &IntNetwork, config: &PlanConfig) -> Result<(), CodegenError> {
    config.adders().check()?;
    check_folds(net, &config.folds)?;
    match (net.input(), config.input_lanes) {
        (_, None) => {}
        (Shape::Flat(n), Some(lanes)) => {
            if lanes == 0 || !n.is_multiple_of(lanes) {
                return Err(CodegenError::Fold(format!(
                    "{lanes} input codes per beat do not divide the network's {n} inputs; use one \
                     of {}",
                    allowed(n)
                )));
            }
        }
        (Shape::Image { .. }, Some(_)) => {
            return Err(CodegenError::Fold(
                "input lanes (input_lanes) are for networks that start with a dense layer; an \
                 image enters one pixel (all its channels) per beat"
                    .into(),
            ))
        }
    }
    match (net.output(), config.output_lanes) {
        (_, None) => {}
        (Shape::Image { .. }, Some(_)) => {
            return Err(CodegenError::Fold(
                "output lanes (output_lanes) are for networks that end flat (a dense layer or a \
                 flatten); an image leaves one pixel (all its channels) per beat"
                    .into(),
            ))
        }
        (Shape::Flat(n), Some(k)) => {
            if k == 0 || !n.is_multiple_of(k) {
                return Err(CodegenError::Fold(format!(
                    "{k} output lanes (output_lanes) must divide the {n} outputs; allowed: {}",
                    allowed(n)
                )));
            }
        }
    }
    if config.argmax_bits > 0 && matches!(net.output(), Shape::Image { .. }) {
        return Err(CodegenError::Config(
            "the argmax output needs a flat output (a dense layer or a flatten last); this \
             network ends with an image"
                .into(),
        ));
    }
    if let Some(d) = config.device.as_ref().filter(|d| d.spram == 0 && !config.spram.is_empty()) {
        return Err(CodegenError::Config(format!(
            "{} has no single-port RAM (SPRAM) for the weights of {}; leave out spram (the \
             iCE40 UltraPlus parts have it, ice40-up5k four blocks)",
            d.name,
            config.spram.iter().cloned().collect::<Vec<_>>().join(", ")
        )));
    }
    for name in &config.spram {
        let weighted = net.layers().iter().any(|l| &l.name == name && l.op.weighted().is_some());
        if !weighted {
            return Err(CodegenError::Config(not_weighted(net, name, " (spram)")));
        }
    }
    Ok(())
}

/// Checks that every layer whose weights go to SPRAM got a folded unit (an
/// unrolled one holds its weights as constants in logic).
fn check_spram(plan: &Plan, config: &PlanConfig) -> Result<(), CodegenError> {
    for l in &plan.layers {
        if !config.spram.contains(&l.name) {
            continue;
        }
        if let Some(Mvu::Unrolled(_)) = l.mvu() {
            return Err(CodegenError::Fold(format!(
                "`{}` (spram) is unrolled, one lane for every weight: its weights are constants in \
                 logic, not in a memory; fold it (--fold {}=PExSIMD with fewer lanes)",
                l.name, l.name
            )));
        }
    }
    Ok(())
}

/// Plans the streaming design of `net`: settings checked, every layer
/// planned, FIFOs sized by the timing model. `memo` keeps what one layer's
/// plans share (pass the same one to plan a network many times).
pub fn plan(net: &IntNetwork, config: &PlanConfig, memo: &Memo) -> Result<Plan, CodegenError> {
    check(net, config)?;
    let layers = net.layers();
    let input = match net.input() {
        Shape::Image { c, h, w } => Stream {
            lanes: c,
            format: net.input_format(),
            len: c * h * w,
            order: Order::Hwc { c, h, w },
            image: Some((c, h, w)),
        },
        Shape::Flat(n) => Stream {
            lanes: config.input_lanes.unwrap_or(1),
            format: net.input_format(),
            len: n,
            order: Order::Index,
            image: None,
        },
    };
    // The floor: what no folding speeds up.
    let mut floor = input.beats() as u64;
    let mut shape = net.input();
    for l in layers {
        if let (IntOp::Conv2d { padding, .. }, Shape::Image { h, w, .. }) = (&l.op, shape) {
            floor = floor.max(((h + 2 * padding[0]) * (w + 2 * padding[1])) as u64);
        }
        if let (IntOp::MaxPool2d(_), Shape::Image { h, w, .. }) = (&l.op, shape) {
            floor = floor.max((h * w) as u64);
        }
        shape = l.output;
    }
    let target = config.cycles.unwrap_or(0).max(floor);

    let mut stream = input;
    let mut bounds = vec![Interval::of_format(net.input_format()); net.input().numel()];
    let mut planned = Vec::new();
    for (index, layer) in layers.iter().enumerate() {
        let p = plan_layer(index, layer, stream, &bounds, config, target, memo)?;
        stream = p.output;
        bounds = layer.value_bounds();
        planned.push(p);
    }
    assign_dsps(&mut planned, config);
    let output_lanes = match stream.image {
        Some((c, _, _)) => c,
        None => stream.len,
    };
    let output_dwc = Dwc::between(stream.format.bits(), stream.lanes, output_lanes);
    // The top's narrowing converter takes a word an image.
    let narrow = config.output_lanes.and_then(|k| {
        Dwc::between(stream.format.bits() + config.argmax_bits, output_lanes, k)
            .map(|d| d.held_within(stream.len / output_lanes, target))
    });
    let mut plan = Plan {
        input,
        layers: planned,
        last: stream,
        output_lanes,
        output_dwc,
        narrow,
        target,
        argmax_bits: config.argmax_bits,
        adders: config.adders(),
        cycles: 0,
        latency: 0,
        device: config.device.clone(),
        block_price: config.block_price,
    };
    check_spram(&plan, config)?;
    let cycles = plan.layers.iter().map(|l| l.cycles).collect();
    let chain = (plan.parts(), plan.input.beats(), plan.output_beats(), cycles);
    let known = memo.chains.borrow().get(&chain).cloned();
    let (fifos, timeline) = match known {
        Some(sized) => sized,
        None => {
            let timeline = size_fifos(&mut plan)?;
            let sized = (plan.layers.iter().map(|l| l.fifo).collect(), timeline);
            memo.chains.borrow_mut().insert(chain, sized.clone());
            sized
        }
    };
    for (l, fifo) in plan.layers.iter_mut().zip(fifos) {
        l.fifo = fifo;
    }
    (plan.cycles, plan.latency) = (timeline.interval(), timeline.latency());
    Ok(plan)
}

/// Images the timing model runs for the plan's figures.
const MODEL_IMAGES: usize = 5;

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
fn size_fifos(plan: &mut Plan) -> Result<Timeline, CodegenError> {
    let (in_beats, out_beats) = (plan.input.beats(), plan.output_beats());
    // Images from the first cycle after reset: no window walks ahead of its
    // image (`sk_window`), so no design needs idle cycles first.
    let warmup = 0;
    let ideal = plan.layers.iter().map(|l| l.cycles).max().unwrap_or(1).max(in_beats as u64);
    let work: u64 = plan.layers.iter().map(|l| l.cycles).sum::<u64>()
        + plan.parts().len() as u64 * 8
        + in_beats as u64;
    let limit = (MODEL_IMAGES as u64 + 2) * work * 4 + warmup + 1000;
    let run =
        |plan: &Plan| simulate(&plan.parts(), in_beats, out_beats, MODEL_IMAGES, warmup, limit);
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

/// Gives the device's DSP blocks (iCE40 UltraPlus SB_MAC16) to the
/// fixed-point lanes of the folded units, layer by layer in stream order,
/// until none is left: a block multiplies a lane's 16-bit operands for the
/// LUTs and carries of a multiplier. No device, no DSP blocks. A unit with
/// DSP lanes has its registers placed again for their path.
fn assign_dsps(layers: &mut [LayerPlan], config: &PlanConfig) {
    let device = config.device.as_ref();
    let mut left = device.filter(|d| d.family == Family::Ice40).map_or(0, |d| d.dsps as usize);
    for l in layers.iter_mut() {
        let (LayerHw::Conv { mvu: Mvu::Folded(f), .. }
        | LayerHw::Dense { mvu: Mvu::Folded(f), .. }) = &mut l.hw
        else {
            continue;
        };
        let xs = f.xbits + u32::from(!f.xsigned);
        if matches!(f.code, WeightCode::Fixed { .. }) && xs <= 16 && f.code.bits() <= 16 {
            let dsp = left.min(f.fold.pe * f.fold.simd);
            f.on_dsps(dsp, config.pipe_rule(), device.and_then(|d| d.delays.as_ref()));
            left -= dsp;
        }
    }
}

/// The converter in front of a layer taking beats of `lanes` codes from
/// `input`: one that holds its beat where splitting it so does not slow the
/// stream below `target` cycles an image.
fn converter(bits: u32, input: Stream, lanes: usize, target: u64) -> Option<Dwc> {
    Dwc::between(bits, input.lanes, lanes).map(|d| d.held_within(input.beats(), target))
}

/// The unit of weighted layer `index` folded `fold`, with `weights` its
/// `[M, N]` matrix in stream order and `taps` the bounds of its inputs: an
/// adder graph when every weight gets its own lane (from `memo` when an
/// earlier plan solved it), else a folded unit with its weights in ROM.
fn unit(
    (index, layer, w): (usize, &IntLayer, &Weighted),
    weights: Array2<i32>,
    taps: &[Interval],
    fold: Fold,
    config: &PlanConfig,
    memo: &Memo,
) -> Mvu {
    let adders = config.adders();
    let (m, n) = weights.dim();
    if fold.pe == m && fold.simd == n {
        let mut solved = memo.unrolled.borrow_mut();
        let graph = solved.entry(index).or_insert_with(|| {
            let dense = Weighted { weights: weights.into_dyn(), ..w.clone() };
            Rc::new(match config.pipe_rule() {
                PipeRule::Clock { mhz, delays } => {
                    dense_graph_for_clock(layer, &dense, taps, adders.sharing, &delays, mhz)
                }
                PipeRule::Levels { .. } => dense_graph(layer, &dense, taps, adders),
            })
        });
        Mvu::Unrolled(graph.clone())
    } else {
        let weights = Rc::new(weights);
        let mut f = Folded::new(layer, w, weights, taps, fold, config.pipe_rule());
        f.spram = config.spram.contains(&layer.name);
        Mvu::Folded(Box::new(f))
    }
}

fn plan_layer(
    index: usize,
    layer: &IntLayer,
    input: Stream,
    in_bounds: &[Interval],
    config: &PlanConfig,
    target: u64,
    memo: &Memo,
) -> Result<LayerPlan, CodegenError> {
    let given = config.folds.0.get(&layer.name).copied();
    let shape = unit_shape(layer);
    let bits = input.format.bits();
    let out_image = match layer.output {
        Shape::Image { c, h, w } => Some((c, h, w)),
        Shape::Flat(_) => None,
    };
    let done = |hw, output: Stream, fold, cycles| LayerPlan {
        index,
        name: layer.name.clone(),
        hw,
        input,
        output,
        fold,
        cycles,
        fifo: None,
    };
    match &layer.op {
        IntOp::Conv2d { layer: w, stride, padding } => {
            let (c, h, wd) = input.image.expect("validated: a convolution takes an image");
            let (oc, oh, ow) = out_image.expect("validated: a convolution gives an image");
            let [kh, kw] = [w.weights.shape()[2], w.weights.shape()[3]];
            let n = kh * kw * c;
            let positions = oh * ow;
            let geometry = Window {
                bits,
                c,
                h,
                w: wd,
                k: [kh, kw],
                stride: *stride,
                pad: *padding,
                chunk: n,
                repeat: 1,
                compact: false,
            };
            let measured_as = |beats: usize, compact: bool| {
                *memo
                    .windows
                    .borrow_mut()
                    .entry((index, beats, compact))
                    .or_insert_with(|| window_cycles(&Window { compact, ..geometry }, beats))
            };
            let measured = |beats: usize| measured_as(beats, false);
            let cycles = |beats: usize| {
                // A window takes `beats` cycles to send: no need to measure
                // what that bound already puts beyond the target.
                let bound = (positions * beats) as u64;
                if bound > target {
                    return bound;
                }
                measured(beats)
            };
            let shape = shape.expect("a weighted layer");
            let fold = pick_fold(layer, given, shape, target, cycles)?;
            // Window order (ky, kx, ch) from the network's (ch, ky, kx).
            let weights = Array2::from_shape_fn((oc, n), |(o, i)| {
                let (pix, ch) = (i / c, i % c);
                w.weights[[o, ch, pix / kw, pix % kw]]
            });
            let padded = padding.iter().any(|&p| p > 0);
            let taps: Vec<Interval> = (0..n)
                .map(|i| {
                    let b = in_bounds[(i % c) * h * wd];
                    if padded {
                        b.hull(Interval::point(0))
                    } else {
                        b
                    }
                })
                .collect();
            let mvu = unit((index, layer, w), weights, &taps, fold, config, memo);
            let beats = (oc / fold.pe) * (n / fold.simd);
            // One window register (half the registers, a cycle a window
            // more) wherever the layer stays within the target with it, or
            // loses nothing.
            let (plain, one) = (measured(beats), measured_as(beats, true));
            let compact = one <= target.max(plain);
            let cycles = if compact { one } else { plain };
            let window = Window { chunk: fold.simd, repeat: oc / fold.pe, compact, ..geometry };
            let output = Stream {
                lanes: fold.pe,
                format: layer.format,
                len: oc * oh * ow,
                order: Order::Hwc { c: oc, h: oh, w: ow },
                image: out_image,
            };
            let hw =
                LayerHw::Conv { dwc: converter(bits, input, c, target), window, mvu, positions };
            Ok(done(hw, output, Some(fold), cycles))
        }
        IntOp::Dense(w) => {
            let (m, n) = (w.out_channels(), input.len);
            let shape = shape.expect("a weighted layer");
            let fold = pick_fold(layer, given, shape, target, |f| f as u64)?;
            let weights =
                Array2::from_shape_fn((m, n), |(o, p)| w.weights[[o, input.order.index(p)]]);
            let taps: Vec<Interval> = (0..n).map(|p| in_bounds[input.order.index(p)]).collect();
            let mvu = unit((index, layer, w), weights, &taps, fold, config, memo);
            let (nf, sf) = (m / fold.pe, n / fold.simd);
            let output = Stream {
                lanes: fold.pe,
                format: layer.format,
                len: m,
                order: Order::Index,
                image: None,
            };
            let hw = LayerHw::Dense {
                dwc: converter(bits, input, fold.simd, target),
                vecbuf: (nf > 1).then_some((sf, nf)),
                mvu,
            };
            Ok(done(hw, output, Some(fold), (nf * sf) as u64))
        }
        IntOp::MaxPool2d(p) => {
            let (c, h, wd) = input.image.expect("validated: pooling takes an image");
            let (_, oh, ow) = out_image.expect("validated: pooling gives an image");
            let window = Window {
                bits,
                c,
                h,
                w: wd,
                k: p.kernel,
                stride: p.stride,
                pad: [0, 0],
                chunk: p.kernel[0] * p.kernel[1] * c,
                repeat: 1,
                compact: false,
            };
            // Windows that do not overlap are pooled as the channels arrive,
            // at the stream's own width: a beat a cycle, never slower than
            // the stream, and no window held whole.
            let apart = p.kernel[0] <= p.stride[0] && p.kernel[1] <= p.stride[1];
            let serial = (apart && c.is_multiple_of(input.lanes)).then_some(input.lanes);
            let lanes = serial.unwrap_or(c);
            let output = Stream {
                lanes,
                len: c * oh * ow,
                order: Order::Hwc { c, h: oh, w: ow },
                image: out_image,
                ..input
            };
            let (dwc, cycles) = match serial {
                Some(_) => (None, input.beats() as u64),
                None => (converter(bits, input, c, target), window.steps()),
            };
            let hw = LayerHw::Pool { dwc, window, signed: input.format.signed(), serial };
            Ok(done(hw, output, None, cycles))
        }
        IntOp::Relu => Ok(done(LayerHw::Relu, input, None, input.beats() as u64)),
        IntOp::Flatten => {
            let output = Stream { image: None, ..input };
            Ok(done(LayerHw::Flatten, output, None, 0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hwc_order_maps_stream_positions_to_chw_indices() {
        let o = Order::Hwc { c: 2, h: 2, w: 3 };
        // Position 0 is (y0, x0, ch0); position 1 is (y0, x0, ch1) = index 6.
        assert_eq!(o.index(0), 0);
        assert_eq!(o.index(1), 6);
        assert_eq!(o.index(2), 1);
        let mut seen: Vec<usize> = (0..12).map(|p| o.index(p)).collect();
        seen.sort();
        assert_eq!(seen, (0..12).collect::<Vec<_>>());
    }
}
