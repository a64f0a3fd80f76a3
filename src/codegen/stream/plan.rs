//! The streaming plan: which parts every layer becomes, how wide every stream
//! is, and in which order its values travel.
//!
//! Images travel in raster order, one pixel (all channels) per beat, or the
//! channels of a pixel in chunks when a matrix-vector unit puts out fewer. A
//! flattened image keeps that (H, W, C) order; the dense layer that reads it
//! takes its weight columns permuted from the network's (C, H, W) order.

use ndarray::Array2;

use super::fold::{allowed, pick_fold, Fold, Folds};
use super::manifest::Order;
use super::timing::Part;
use crate::codegen::build::Adders;
use crate::codegen::cmvm::Sharing;
use crate::codegen::design::CodegenError;
use crate::device::{Device, MemStyle};
use crate::model::Shape;
use crate::quant::{IntLayer, IntNetwork, IntOp, Interval};

use super::parts::{mvu, window_cycles};
pub use super::parts::{Dwc, Mvu, Stream, Window};

/// What one layer of the network becomes.
#[derive(Clone, Debug)]
pub enum LayerHw {
    /// Window generator, then a matrix-vector unit.
    Conv { dwc: Option<Dwc>, window: Window, mvu: Mvu, positions: usize },
    /// Width converter, vector buffer (NF > 1), matrix-vector unit.
    Dense { dwc: Option<Dwc>, vecbuf: Option<(usize, usize)>, mvu: Mvu },
    /// Streaming max pooling.
    Pool { dwc: Option<Dwc>, window: Window, signed: bool },
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
            LayerHw::Pool { dwc, window, .. } => {
                parts.extend(dwc.map(|d| d.part()));
                parts.push(window.part());
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
    /// The device whose memories the plan places (`None`: the tool's choice).
    pub device: Option<Device>,
    /// Logic cells a block of RAM is worth in that placement (default: the
    /// device's cells over its blocks).
    pub block_price: Option<u64>,
}

impl Plan {
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

    /// Idle cycles enough for every sliding window to walk its top and left
    /// padding up to its first pixel (a bound: the walks may overlap).
    pub fn warmup(&self) -> u64 {
        let walk = |w: &Window| (w.pad[0] * (w.w + 2 * w.pad[1]) + w.pad[1]) as u64;
        16 + self
            .layers
            .iter()
            .map(|l| match &l.hw {
                LayerHw::Conv { window, .. } | LayerHw::Pool { window, .. } => walk(window) + 4,
                _ => 0,
            })
            .sum::<u64>()
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
}

impl PlanConfig {
    /// The adder settings of the unrolled units.
    pub fn adders(&self) -> Adders {
        Adders { levels_per_stage: self.levels_per_stage, sharing: self.sharing }
    }
}

/// Plans the streaming design of `net`.
pub fn plan(net: &IntNetwork, config: &PlanConfig) -> Result<Plan, CodegenError> {
    let layers = net.layers();
    for name in config.folds.0.keys() {
        let weighted = layers.iter().any(|l| &l.name == name && l.op.weighted().is_some());
        if !weighted {
            let names: Vec<&str> = layers
                .iter()
                .filter(|l| l.op.weighted().is_some())
                .map(|l| l.name.as_str())
                .collect();
            return Err(CodegenError::Fold(format!(
                "`{name}` is not a dense or convolution layer of the network; its weighted layers \
                 are {}",
                names.join(", ")
            )));
        }
    }
    let input = match net.input() {
        Shape::Image { c, h, w } => Stream {
            lanes: c,
            format: net.input_format(),
            len: c * h * w,
            order: Order::Hwc { c, h, w },
            image: Some((c, h, w)),
        },
        Shape::Flat(n) => {
            let lanes = config.input_lanes.unwrap_or(1);
            if lanes == 0 || !n.is_multiple_of(lanes) {
                return Err(CodegenError::Fold(format!(
                    "{lanes} input codes per beat do not divide the network's {n} inputs; use one \
                     of {}",
                    allowed(n)
                )));
            }
            Stream { lanes, format: net.input_format(), len: n, order: Order::Index, image: None }
        }
    };
    if config.input_lanes.is_some() && matches!(net.input(), Shape::Image { .. }) {
        return Err(CodegenError::Fold(
            "input lanes (input_lanes) are for networks that start with a dense layer; an image enters one \
             pixel (all its channels) per beat"
                .into(),
        ));
    }
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
        let p = plan_layer(index, layer, stream, &bounds, config, target)?;
        stream = p.output;
        bounds = layer.value_bounds();
        planned.push(p);
    }
    let output_lanes = match stream.image {
        Some((c, _, _)) => c,
        None => stream.len,
    };
    let output_dwc = Dwc::between(stream.format.bits(), stream.lanes, output_lanes);
    let narrow = match (config.output_lanes, stream.image) {
        (None, _) => None,
        (Some(_), Some(_)) => {
            return Err(CodegenError::Fold(
                "output lanes (output_lanes) are for networks that end flat (a dense layer or a flatten); \
                 an image leaves one pixel (all its channels) per beat"
                    .into(),
            ))
        }
        (Some(k), None) if k == 0 || !output_lanes.is_multiple_of(k) => {
            return Err(CodegenError::Fold(format!(
                "{k} output lanes (output_lanes) must divide the {output_lanes} outputs; allowed: {}",
                allowed(output_lanes)
            )))
        }
        (Some(k), None) => Dwc::between(stream.format.bits() + config.argmax_bits, output_lanes, k),
    };
    Ok(Plan {
        input,
        layers: planned,
        last: stream,
        output_lanes,
        output_dwc,
        narrow,
        target,
        device: config.device.clone(),
        block_price: config.block_price,
    })
}

fn plan_layer(
    index: usize,
    layer: &IntLayer,
    input: Stream,
    in_bounds: &[Interval],
    config: &PlanConfig,
    target: u64,
) -> Result<LayerPlan, CodegenError> {
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
            };
            let mut measured = std::collections::BTreeMap::new();
            let mut cycles = |beats: usize| {
                // A window takes `beats` cycles to send: no need to measure
                // what that bound already puts beyond the target.
                let bound = (positions * beats) as u64;
                if bound > target {
                    return bound;
                }
                *measured.entry(beats).or_insert_with(|| window_cycles(&geometry, beats))
            };
            let fold = pick_fold(layer, config, oc, n, positions, target, &mut cycles)?;
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
            let mvu = mvu(layer, w, weights, &taps, fold, config.adders());
            let window = Window { chunk: fold.simd, repeat: oc / fold.pe, ..geometry };
            let output = Stream {
                lanes: fold.pe,
                format: layer.format,
                len: oc * oh * ow,
                order: Order::Hwc { c: oc, h: oh, w: ow },
                image: out_image,
            };
            let beats = (oc / fold.pe) * (n / fold.simd);
            let cycles = *measured.entry(beats).or_insert_with(|| window_cycles(&geometry, beats));
            let hw =
                LayerHw::Conv { dwc: Dwc::between(bits, input.lanes, c), window, mvu, positions };
            Ok(done(hw, output, Some(fold), cycles))
        }
        IntOp::Dense(w) => {
            let (m, n) = (w.out_channels(), input.len);
            let fold = pick_fold(layer, config, m, n, 1, target, |f| f as u64)?;
            let weights =
                Array2::from_shape_fn((m, n), |(o, p)| w.weights[[o, input.order.index(p)]]);
            let taps: Vec<Interval> = (0..n).map(|p| in_bounds[input.order.index(p)]).collect();
            let mvu = mvu(layer, w, weights, &taps, fold, config.adders());
            let (nf, sf) = (m / fold.pe, n / fold.simd);
            let output = Stream {
                lanes: fold.pe,
                format: layer.format,
                len: m,
                order: Order::Index,
                image: None,
            };
            let hw = LayerHw::Dense {
                dwc: Dwc::between(bits, input.lanes, fold.simd),
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
            };
            let output = Stream {
                lanes: c,
                len: c * oh * ow,
                order: Order::Hwc { c, h: oh, w: ow },
                image: out_image,
                ..input
            };
            let hw = LayerHw::Pool {
                dwc: Dwc::between(bits, input.lanes, c),
                window,
                signed: input.format.signed(),
            };
            Ok(done(hw, output, None, window.steps()))
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
