//! The cost model of the streaming form, part by part, in the units of
//! [`Cost`]: adders and their bits where both operands can be set (about one
//! LUT each), multiplexer bits, register bits, and ROM and RAM bits. Counted
//! from the same parameters the Verilog is instantiated with; not yet
//! calibrated against synthesis.

use super::mvu::{clog2, Folded};
use super::plan::{Dwc, LayerHw, LayerPlan, Mvu, Window};
use crate::codegen::graph::Cost;

// Every helper keeps `luts = adder_bits + mux_bits` (as `Cost::of` does), so
// sums of costs keep it too.
fn adders(count: u64, bits: u64) -> Cost {
    let b = count * bits;
    Cost { adders: count, adder_width: b, adder_bits: b, luts: b, ..Cost::default() }
}

fn muxes(bits: u64) -> Cost {
    Cost { mux_bits: bits, luts: bits, ..Cost::default() }
}

fn regs(bits: u64) -> Cost {
    Cost { ffs: bits, ..Cost::default() }
}

/// An adder tree over `n` lanes of `bits`: n - 1 adders, one bit wider per
/// level.
fn tree(n: u64, bits: u64) -> Cost {
    let mut c = Cost::default();
    let (mut lanes, mut width) = (n, bits);
    while lanes > 1 {
        c = c + adders(lanes / 2, width + 1);
        lanes = lanes.div_ceil(2);
        width += 1;
    }
    c
}

pub fn dwc(d: &Dwc) -> Cost {
    let word = (d.l * d.bits as usize) as u64;
    let gather = if d.l == d.a { 0 } else { ((d.l - d.a) * d.bits as usize) as u64 };
    regs(word + gather + 8) + muxes(word)
}

pub fn skid(width: u64) -> Cost {
    regs(2 * width + 2) + muxes(width)
}

pub fn fifo(width: u64, depth: u64) -> Cost {
    let mut c = regs(3 * width + 24) + muxes(2 * width);
    c.ram_bits = depth * width;
    c
}

pub fn window(w: &Window) -> Cost {
    let pix = (w.c * w.bits as usize) as u64;
    let n = w.size() as u64 * w.bits as u64;
    let kept = ((w.k[1] - 1) * w.k[0]) as u64 * pix;
    let line = (w.k[0] as u64 - 1) * pix;
    let wp = (w.w + 2 * w.pad[1]) as u64;
    let counters = 2 * 16;
    let mut c = regs(n + kept + line + counters) + muxes(n + pix);
    c.ram_bits = line * wp;
    c
}

pub fn vecbuf(bits: u64, chunk: u64, words: u64) -> Cost {
    let word = chunk * bits;
    let mut c = regs(3 * word + 24) + muxes(2 * word);
    c.ram_bits = 2 * words * word;
    c
}

pub fn folded(f: &Folded) -> Cost {
    let (pe, simd) = (f.fold.pe as u64, f.fold.simd as u64);
    let xs = (f.xbits + u32::from(!f.xsigned)) as u64;
    let lane = f.lane_w as u64;
    let mut c = match f.kind {
        // A shifter (log2 of the shift range levels; the zero gate and the
        // inversion of negative weights ride in its LUTs), the tree, and a
        // count of the negative lanes added to its sum.
        0 => {
            let levels = (f.code - 2) as u64;
            muxes(pe * simd * lane * levels)
                + tree(simd, lane) * pe
                + (tree(simd, 1) + adders(1, f.sum_w as u64)) * pe
        }
        // Gated inputs: one tree per PE row, one shared, one subtraction per row.
        1 => tree(simd, xs) * (pe + 1) + adders(pe, f.sum_w as u64),
        2 => tree(simd, xs) * (2 * pe) + adders(pe, f.sum_w as u64),
        // A multiplier per lane: code-bits partial products.
        3 => adders(pe * simd * (f.code as u64 - 1), lane) + tree(simd, lane) * pe,
        // Shared products per input lane, a codebook multiplexer per lane.
        _ => {
            let book = f.codebook.len() as u64;
            adders(simd * book * (f.cb_bits as u64 / 2), lane)
                + muxes(pe * simd * lane * clog2(book as usize) as u64)
                + tree(simd, lane) * pe
        }
    };
    // Accumulators with their bias multiplexers, the channel multipliers.
    c = c + adders(pe, f.acc_w as u64) + regs(pe * f.acc_w as u64);
    if f.nf > 1 {
        c = c + muxes(pe * f.acc_w as u64);
    }
    if f.scaled {
        c = c + adders(pe * f.m_bits as u64, f.out_w as u64) + regs(pe * f.out_w as u64);
    }
    // Input, weight and control registers, tree registers.
    let tree_regs = f.tree_latency as u64 * pe * f.sum_w as u64;
    c = c + regs(simd * f.xbits as u64 + pe * simd * f.code as u64 + tree_regs + 16);
    let scale_bits = if f.scaled { f.m_bits as u64 } else { 0 };
    c.rom_bits = f.rom_bits() + (f.nf as u64) * pe * (f.acc_w as u64 + scale_bits);
    c + Cost::of(&f.rq)
}

/// The cost of one layer's parts and the skid buffer after it.
pub fn layer(l: &LayerPlan) -> Cost {
    let out_width = (l.output.lanes * l.output.format.bits() as usize) as u64;
    let bits = l.input.format.bits() as u64;
    let mvu = |m: &Mvu| match m {
        Mvu::Folded(f) => folded(f),
        Mvu::Unrolled(g) => Cost::of(g),
    };
    let mut c = match &l.hw {
        LayerHw::Conv { dwc: d, window: w, mvu: m, .. } => {
            d.as_ref().map(dwc).unwrap_or_default() + window(w) + mvu(m)
        }
        LayerHw::Dense { dwc: d, vecbuf: v, mvu: m } => {
            let buffer = v
                .map(|(words, _)| vecbuf(bits, (l.input.len / words) as u64, words as u64))
                .unwrap_or_default();
            d.as_ref().map(dwc).unwrap_or_default() + buffer + mvu(m)
        }
        LayerHw::Pool { dwc: d, window: w, .. } => {
            let k = (w.k[0] * w.k[1]) as u64 - 1;
            let c = w.c as u64;
            d.as_ref().map(dwc).unwrap_or_default()
                + window(w)
                + adders(c * k, bits)
                + muxes(c * k * bits)
        }
        LayerHw::Relu => muxes(out_width),
        LayerHw::Flatten => Cost::default(),
    };
    if l.has_module() {
        c = c + match l.fifo {
            Some(depth) => fifo(out_width, depth as u64),
            None => skid(out_width),
        };
    }
    c
}
