//! The cost model of the streaming form, part by part, in the units of
//! [`Cost`]: adders and their bits where both operands can be set (about one
//! LUT each), multiplexer bits, register bits, and ROM and RAM bits, with
//! every memory where the plan places it. Counted from the plan, whose
//! parameters the Verilog is instantiated with; the device's resources follow
//! from it by the calibrated coefficients of `codegen::fit`.

use super::mvu::Folded;
use super::pipeline::clog2;
use super::plan::{vecbuf_memory, Dwc, LayerHw, LayerPlan, Mvu, Plan, Window};
use crate::codegen::graph::Cost;
use crate::device::{Family, MemStyle};
use crate::quant::WeightCode;

/// A memory of `depth` words of `width` bits where the plan puts it: its
/// bits, and on a device its block-RAM units or its LUTs and flip-flops.
pub fn memory(plan: &Plan, width: u64, depth: u64, rom: bool) -> Cost {
    let bits = width * depth;
    let mut c = if rom {
        Cost { rom_bits: bits, ..Cost::default() }
    } else {
        Cost { ram_bits: bits, ..Cost::default() }
    };
    let Some(device) = &plan.device else { return c };
    match plan.memory_style(width, depth, rom) {
        MemStyle::Block => c.ram_blocks = device.family.ram_blocks(width, depth),
        MemStyle::Logic => {
            let l = device.logic_memory(width, depth, rom);
            c.lut_tables = l.luts;
            c.luts = l.luts;
            c.ffs = l.ffs;
        }
        MemStyle::Auto => {}
    }
    c
}

// Every helper keeps `luts = adder_bits + mux_bits + lut_tables` (as `Cost::of`
// does), so sums of costs keep it too.
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

/// Pipeline registers right behind the logic that makes their bits.
fn packed_regs(bits: u64) -> Cost {
    Cost { ffs: bits, packed_ffs: bits, ..Cost::default() }
}

/// Register bits of an adder tree over `n` lanes of `bits` (as `sk_addtree`
/// builds it: `h` levels, a register after every level whose height is a
/// multiple of `pipe`, both halves of a node kept aligned).
fn tree_regs(n: u64, bits: u64, h: u32, pipe: u32) -> u64 {
    (1..=h)
        .filter(|level| level % pipe == 0)
        .map(|level| n.div_ceil(1 << level) * (bits + level as u64))
        .sum()
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

/// A ROM that is always logic (read without a clock).
fn logic_rom(plan: &Plan, width: u64, depth: u64) -> Cost {
    let mut c = Cost { rom_bits: width * depth, ..Cost::default() };
    if let Some(device) = &plan.device {
        let l = device.logic_memory(width, depth, true);
        c.lut_tables = l.luts;
        c.luts = l.luts;
    }
    c
}

pub fn dwc(d: &Dwc) -> Cost {
    let out = (d.b * d.bits as usize) as u64;
    if d.hold {
        // The part counter and, per output bit, the multiplexer of the
        // waiting beat's parts (2:1 steps, priced as every multiplexer bit).
        let parts = (d.l / d.b) as u64;
        return regs(clog2(parts as usize) as u64 + 1) + muxes(out * (parts - 1));
    }
    let word = (d.l * d.bits as usize) as u64;
    let gather = if d.l == d.a { 0 } else { ((d.l - d.a) * d.bits as usize) as u64 };
    regs(word + gather + 8) + muxes(word)
}

pub fn skid(width: u64) -> Cost {
    regs(2 * width + 2) + muxes(width)
}

pub fn fifo(plan: &Plan, width: u64, depth: u64) -> Cost {
    regs(3 * width + 24) + muxes(2 * width) + memory(plan, width, depth, false)
}

pub fn window(plan: &Plan, w: &Window) -> Cost {
    let pix = (w.c * w.bits as usize) as u64;
    let n = w.size() as u64 * w.bits as u64;
    let kept = ((w.k[1] - 1) * w.k[0]) as u64 * pix;
    let line = (w.k[0] as u64 - 1) * pix;
    let counters = 2 * 16;
    let mut c = if w.compact {
        // One register, shifted and rotated in place: where it rotates, a
        // select in front of every bit, which shares the bit's cell; else a
        // shift register of flip-flops alone.
        let window = if w.size() > w.chunk { packed_regs(n) + muxes(n) } else { regs(n) };
        window + regs(line + counters) + muxes(pix)
    } else {
        regs(n + kept + line + counters) + muxes(n + pix)
    };
    c.units = 1;
    match w.line_buffer() {
        Some((width, depth)) => c + memory(plan, width, depth, false),
        None => c,
    }
}

/// `sk_maxpool_serial` at `p` codes a beat: the columns' shift register
/// (one pixel), the output register, the counters, two comparators and two
/// selects a lane, and the row buffer (a register when it is one word).
pub fn pool_serial(plan: &Plan, w: &Window, p: u64) -> Cost {
    let bits = w.bits as u64;
    let beat = p * bits;
    let cols = if w.k[1] > 1 { w.c as u64 * bits } else { 0 };
    let counters = 5 * 6;
    let mut c =
        regs(cols + beat + counters + 1) + (Cost::argmax(2, bits, 0) * 2 + muxes(2 * bits)) * p;
    c.units = 1;
    match w.serial_row_buffer(p as usize) {
        Some((width, depth)) => c + memory(plan, width, depth, false) + regs(width),
        None if w.k[0] > 1 => c + regs(beat),
        None => c,
    }
}

pub fn vecbuf(plan: &Plan, bits: u64, chunk: u64, words: u64) -> Cost {
    let (word, depth) = vecbuf_memory(bits, chunk, words);
    regs(3 * word + 24) + muxes(2 * word) + memory(plan, word, depth, false)
}

pub fn folded(plan: &Plan, f: &Folded) -> Cost {
    let (pe, simd) = (f.fold.pe as u64, f.fold.simd as u64);
    let xs = (f.xbits + u32::from(!f.xsigned)) as u64;
    let lane = f.lane_w as u64;
    let code = f.code.bits() as u64;
    let mut c = match &f.code {
        // A shifter (log2 of the shift range levels) and the zero gate and
        // inversion of negative weights (one more level), the tree, and a
        // count of the negative lanes added to its sum.
        WeightCode::Pow2 { .. } => {
            let levels = code - 1;
            muxes(pe * simd * lane * levels)
                + tree(simd, lane) * pe
                + (tree(simd, 1) + adders(1, f.sum_w as u64)) * pe
        }
        // Gated inputs: one tree per PE row, one shared, one subtraction per row.
        WeightCode::Binary => tree(simd, xs) * (pe + 1) + adders(pe, f.sum_w as u64),
        WeightCode::Ternary => tree(simd, xs) * (2 * pe) + adders(pe, f.sum_w as u64),
        // A multiplier per lane: code-bits partial products, or a DSP block.
        WeightCode::Fixed { .. } => {
            let dsp = f.dsp as u64;
            let multipliers = adders((pe * simd - dsp) * (code - 1), lane);
            Cost { dsps: dsp, ..multipliers } + tree(simd, lane) * pe
        }
        // Shared products and a codebook multiplexer per lane: synthesis
        // makes each lane bit one LUT function of the input and the code,
        // measured (scripts/calibrate.sh) at about 0.7 LUT4 (0.5 LUT6) per
        // codebook value and lane bit.
        WeightCode::Shared { codebook, .. } => {
            let book = codebook.len() as u64;
            let tenths = match plan.device.as_ref().map(|d| d.family) {
                Some(Family::Xc7) => 5,
                _ => 7,
            };
            let table = (pe * simd * lane * book * tenths).div_ceil(10);
            Cost { lut_tables: table, luts: table, ..Cost::default() } + tree(simd, lane) * pe
        }
    };
    c.units += 1;
    // Accumulators with their bias multiplexers, the channel multipliers.
    c = c + adders(pe, f.acc_w as u64) + regs(pe * f.acc_w as u64);
    if f.nf > 1 {
        c = c + muxes(pe * f.acc_w as u64);
    }
    if f.scaled {
        c = c + adders(pe * f.m_bits as u64, f.out_w as u64) + regs(pe * f.out_w as u64);
        if f.pipelining.split_scale {
            // The two halves' products and the adder of their sum.
            c = c + regs(2 * pe * f.out_w as u64) + adders(pe, f.out_w as u64);
        }
    }
    // Input, weight and control registers; the lanes' and the trees'
    // registers, behind the logic that makes them.
    c = c + regs(simd * f.xbits as u64 + pe * simd * code + 16);
    let p = f.pipelining;
    let (trees, tree_bits, lane_bits) = match &f.code {
        WeightCode::Binary => (pe + 1, xs, (pe + 1) * simd * xs),
        WeightCode::Ternary => (2 * pe, xs, 2 * pe * simd * xs),
        WeightCode::Pow2 { .. } => (pe, lane, pe * simd * (lane + 1)),
        _ => (pe, lane, pe * simd * lane),
    };
    let lanes = if p.lane_reg { lane_bits } else { 0 };
    c = c + packed_regs(lanes + trees * tree_regs(simd, tree_bits, f.h, p.pipe));
    // Biases and channel scales: ROMs read without a clock, so logic.
    let nf = f.nf as u64;
    let mut small = logic_rom(plan, pe * f.acc_w as u64, nf);
    if f.scaled {
        small = small + logic_rom(plan, pe * f.m_bits as u64, nf);
    }
    let (width, depth) = f.rom_shape();
    let weights = if f.spram { spram_rom(f) } else { memory(plan, width, depth, true) };
    c + small + weights + Cost::of(&f.rq)
}

/// A weight ROM in SPRAM (`sk_spram_rom`): its blocks, the load counters
/// (the slice and the word), the address multiplexer, and the output
/// multiplexer between banks.
fn spram_rom(f: &Folded) -> Cost {
    let (width, depth) = f.rom_shape();
    let aw = clog2(depth as usize).max(1) as u64;
    let kw = clog2(width.div_ceil(16) as usize).max(1) as u64;
    let banks = depth.div_ceil(16384);
    let counters = adders(2, aw + kw) + regs(aw + kw + 1);
    let bank_bits = clog2(banks as usize) as u64;
    Cost { rom_bits: width * depth, spram: f.spram_blocks(), ..Cost::default() }
        + counters
        + muxes(aw + width * (banks - 1))
        + regs(bank_bits)
}

/// The cost of one layer's parts and the skid buffer after it.
pub fn layer(plan: &Plan, l: &LayerPlan) -> Cost {
    let out_width = (l.output.lanes * l.output.format.bits() as usize) as u64;
    let bits = l.input.format.bits() as u64;
    let mvu = |m: &Mvu| match m {
        Mvu::Folded(f) => folded(plan, f),
        Mvu::Unrolled(g) => Cost::of(g),
    };
    let mut c = match &l.hw {
        LayerHw::Conv { dwc: d, window: w, mvu: m, .. } => {
            d.as_ref().map(dwc).unwrap_or_default() + window(plan, w) + mvu(m)
        }
        LayerHw::Dense { dwc: d, vecbuf: v, mvu: m } => {
            let buffer = v
                .map(|(words, _)| vecbuf(plan, bits, (l.input.len / words) as u64, words as u64))
                .unwrap_or_default();
            d.as_ref().map(dwc).unwrap_or_default() + buffer + mvu(m)
        }
        LayerHw::Pool { window: w, serial: Some(p), .. } => pool_serial(plan, w, *p as u64),
        LayerHw::Pool { dwc: d, window: w, .. } => {
            let k = (w.k[0] * w.k[1]) as u64 - 1;
            let c = w.c as u64;
            d.as_ref().map(dwc).unwrap_or_default()
                + window(plan, w)
                + Cost::argmax(k + 1, bits, 0) * c
        }
        LayerHw::Relu => muxes(out_width),
        LayerHw::Flatten => Cost::default(),
    };
    if l.has_module() {
        c = c + match l.fifo {
            Some(depth) => fifo(plan, out_width, depth as u64),
            None => skid(out_width),
        };
    }
    c
}

/// The cost of the whole design: every layer's (in order) and the total,
/// which adds the top's skid buffers, output converters and argmax.
pub fn design(plan: &Plan) -> (Vec<Cost>, Cost) {
    let layers: Vec<Cost> = plan.layers.iter().map(|l| layer(plan, l)).collect();
    let in_w = (plan.input.lanes * plan.input.format.bits() as usize) as u64;
    let out_w = (plan.top_lanes() * plan.last.format.bits() as usize) as u64;
    let mut total = layers.iter().fold(Cost::default(), |a, &c| a + c)
        + skid(in_w)
        + skid(out_w + plan.argmax_bits as u64)
        + plan.output_dwc.as_ref().map(dwc).unwrap_or_default()
        + plan.narrow.as_ref().map(dwc).unwrap_or_default();
    if plan.output_beats() > 1 {
        // The tlast counter.
        let w = plan.tlast_bits() as u64;
        total = total + regs(w) + adders(1, w);
    }
    let bits = plan.last.format.bits() as u64;
    let iw = plan.argmax_bits as u64;
    if let Some(d) = plan.argmax_gather() {
        // One beat's comparator tree, and the comparator against the largest
        // so far with its registers, the beat's position and whether it starts a word.
        total = total
            + Cost::argmax(d.a as u64 + 1, bits, iw)
            + regs(bits + 2 * iw + 2)
            + adders(2, iw);
    } else if plan.argmax_bits > 0 {
        total = total + Cost::argmax(plan.output_lanes as u64, bits, iw);
    }
    (layers, total)
}
