//! Pipelining for a clock: where a folded unit's registers go, from the
//! timing model of the device (`[delays]` of its file, [`Delays`]).
//!
//! A register stage takes the time it starts with (a flip-flop's or a block
//! RAM's), a hop for every LUT level and every adder on its path, and a
//! carry step for every bit of its widest adder (the adders of one stage
//! ripple together, so only the widest chain counts whole). A unit's stages are: the weight ROM
//! through the lane products, the adder tree's levels, and the last levels
//! with the accumulator. The model places the fewest registers whose every
//! stage fits the clock's period with a margin, and states its slowest
//! stage: an estimate, which the build's place and route confirms or not.

use crate::device::Delays;
use crate::quant::WeightCode;

/// Where a folded unit's registers go.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pipelining {
    /// Adder levels between the tree's registers (`PIPE` of `sk_mvu`, at
    /// least 1; more than the tree's levels: none).
    pub pipe: u32,
    /// A register after the lane products (`LREG`).
    pub lane_reg: bool,
    /// The per-channel scale's multiplier cut in two register stages
    /// (`SCALED` 2 of `sk_mvu`: the accumulator times the multiplier's low
    /// and high halves, then their sum).
    pub split_scale: bool,
    /// The clock (MHz) the timing model placed the registers for (`None`:
    /// every `pipe` levels, as asked).
    pub for_mhz: Option<f64>,
    /// The timing model's slowest stage (ns, an estimate), on a device with
    /// a timing model.
    pub stage_ns: Option<f64>,
}

impl Pipelining {
    /// A register every `levels` adder levels, whatever the clock.
    pub fn fixed(levels: u32) -> Pipelining {
        Pipelining {
            pipe: levels.max(1),
            lane_reg: false,
            split_scale: false,
            for_mhz: None,
            stage_ns: None,
        }
    }
}

/// How a plan places a unit's registers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PipeRule {
    /// A register every so many adder levels (`--levels-per-stage`), the
    /// slowest stage estimated on a device with a timing model.
    Levels { levels: u32, delays: Option<Delays> },
    /// As the timing model says for this clock (MHz).
    Clock { mhz: f64, delays: Delays },
}

impl PipeRule {
    pub fn choose(&self, shape: &UnitShape) -> Pipelining {
        match *self {
            PipeRule::Levels { levels, delays } => {
                let p = Pipelining::fixed(levels);
                Pipelining { stage_ns: delays.map(|d| slowest(&d, shape, p)), ..p }
            }
            PipeRule::Clock { mhz, delays } => for_clock(&delays, mhz, shape),
        }
    }
}

/// The path of one lane's product of an input and a weight `code`, `lane_w`
/// bits wide: LUT levels, chained adders, and the bits of its carry chain.
/// A power of two gates the input, shifts it (a multiplexer of the shift
/// code's bits, two to a LUT level) and inverts a negative one; binary and
/// ternary weights gate it; a fixed-point weight multiplies (a LUT
/// multiplier: half a level a weight bit and two, and a carry across the
/// lane); a shared weight multiplies by the codebook value its index
/// selects, which synthesis makes one multiplier behind the codebook's
/// multiplexer (measured: a level a value bit, one adder, 50.4 ns from the
/// ROM for 8-bit values behind 5-bit indices in a k-means digits design).
pub fn lane_path(code: &WeightCode, lane_w: u32) -> LanePath {
    let (luts, adders, carry, mul) = match code {
        // The code is {nonzero, negative, shift}.
        WeightCode::Pow2 { .. } => (2 + (code.bits() - 2).div_ceil(2), 0, 0, false),
        WeightCode::Binary | WeightCode::Ternary => (1, 0, 0, false),
        WeightCode::Fixed { bits } => (bits.div_ceil(2) + 2, 0, lane_w, true),
        WeightCode::Shared { value_bits, .. } => {
            (code.bits().div_ceil(2) + value_bits, 1, lane_w, true)
        }
    };
    LanePath { luts, adders, carry, dsp: false, mul }
}

/// The path of a lane whose product a DSP block makes (`sk_mul16`): the
/// block's multiplier and the routing into and out of it (`Delays::dsp`).
pub const DSP_LANE: LanePath = LanePath { luts: 0, adders: 0, carry: 0, dsp: true, mul: false };

/// One lane's product, as far as timing goes (see [`lane_path`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LanePath {
    pub luts: u32,
    pub adders: u32,
    pub carry: u32,
    /// Through a DSP block.
    pub dsp: bool,
    /// A LUT multiplier, whose levels take `Delays::mul_lut`.
    pub mul: bool,
}

impl LanePath {
    /// The time (ns) from the ROM's read register to the product, and the
    /// bits of its carry chain.
    fn after_rom(&self, d: &Delays) -> (f64, u32) {
        let dsp = if self.dsp { d.dsp } else { 0.0 };
        let lut = if self.mul && d.mul_lut > 0.0 { d.mul_lut } else { d.lut };
        (d.ram + self.luts as f64 * lut + self.adders as f64 * d.adder + dsp, self.carry)
    }

    /// The slower of two lanes side by side (a unit with some lanes on DSP
    /// blocks and the rest in LUTs).
    pub fn slower(self, other: LanePath, d: &Delays) -> LanePath {
        let ns = |l: &LanePath| {
            let (at, carry) = l.after_rom(d);
            at + carry as f64 * d.carry
        };
        if ns(&other) > ns(&self) {
            other
        } else {
            self
        }
    }
}

/// The stages of the per-channel scale (a LUT multiplier of the accumulator
/// by a multiplier of `m_bits`, registered after it, which the tree's
/// registers do not shorten). Whole: a register, then seven and a half LUT
/// levels and a third of a level a multiplier bit, the scales' multiplexer
/// and the multiplier's carries among them (fitted to four of
/// nextpnr-ice40's paths: 35.9 to 37.5 ns for 13-bit multipliers of 12- to
/// 15-bit accumulators in three binary and ternary designs, 32.0 ns for a
/// 7-bit half). `split`: the products by the multiplier's two halves (the
/// wider half's figure), then their sum (a register, an adder, its carry).
fn scale_stages(d: &Delays, acc_w: u32, m_bits: u32, split: bool) -> Vec<f64> {
    let product = |m: u32| d.reg + (7.5 + m as f64 / 3.0) * d.lut;
    if split {
        let sum = d.reg + d.adder + (acc_w + m_bits) as f64 * d.carry;
        vec![product(m_bits - m_bits / 2), sum]
    } else {
        vec![product(m_bits)]
    }
}

/// `ceil(log2(n))`, 0 for n <= 1.
pub fn clog2(n: usize) -> u32 {
    usize::BITS - n.saturating_sub(1).leading_zeros()
}

/// The stage of a comparator tree over `n` values (`sk_argmax`'s: a max
/// pool's over its window, the argmax's over an output beat and the largest
/// so far): a register, for every level of the tree a comparator and a
/// multiplexer whose select fans out over the value's and the index's bits
/// (two and a half LUT levels), and a LUT behind it. Fitted to two
/// placements of a digits CNN's 2x2 max pool of 8-bit codes, 31.5 and 25.6
/// ns by nextpnr (the model's 29.6).
pub fn compare_tree_ns(d: &Delays, n: usize) -> f64 {
    let levels = clog2(n);
    d.reg + levels as f64 * (d.adder + 2.5 * d.lut) + d.lut
}

/// The stage of `sk_argmax_gather` taking `lanes` values a beat: a tree over
/// the beat, then its largest against the largest so far, one level more (a
/// tree of twice the beat's levels; measured: 53.6 ns for five 8-bit scores
/// a beat, the model's 53.7).
pub fn argmax_gather_ns(d: &Delays, lanes: usize) -> f64 {
    compare_tree_ns(d, 2 * lanes)
}

/// What a folded unit's datapath is made of, as far as timing goes.
#[derive(Clone, Copy, Debug)]
pub struct UnitShape {
    /// One lane's product (from the weight code and the input).
    pub lane: LanePath,
    /// Bits of a lane's product.
    pub lane_w: u32,
    /// Levels of the adder tree.
    pub h: u32,
    /// Adders after the tree (the count of negative lanes' ones, the
    /// accumulator) and the accumulator's bits.
    pub tail_adders: u32,
    pub acc_w: u32,
    /// Bits of the per-channel scale's multipliers, when the unit scales.
    pub scale_bits: Option<u32>,
    /// Whether the scale may be cut in two (`sk_mvu` takes 2 bits of
    /// multiplier or more and an output wider than half of them and one).
    pub scale_splits: bool,
}

/// The stages of `shape` with `p` (ns each), the first from the ROM.
fn stages(d: &Delays, shape: &UnitShape, p: Pipelining) -> Vec<f64> {
    let mut out = Vec::new();
    // The running stage: where it started, its hops, its widest adder.
    let (mut at, mut width) = shape.lane.after_rom(d);
    let mut close = |at: &mut f64, width: &mut u32| {
        out.push(*at + *width as f64 * d.carry);
        (*at, *width) = (d.reg, 0);
    };
    if p.lane_reg {
        close(&mut at, &mut width);
    }
    for level in 1..=shape.h {
        at += d.adder;
        width = width.max(shape.lane_w + level);
        if level % p.pipe == 0 {
            close(&mut at, &mut width);
        }
    }
    // The tail: the accumulator's adder (its operand the bias or the sum so
    // far, a multiplexer synthesis puts in the adder's LUTs), and a LUT
    // level for every adder chained before it, whose carry chain ripples
    // beside the accumulator's (fitted to nextpnr's and icetime's paths of
    // three digits designs: 10.5 ns from the lanes through the count of
    // negative lanes and a 20-bit accumulator, 9.1 ns from the tree
    // through a 19-bit one).
    at += d.adder + shape.tail_adders.saturating_sub(1) as f64 * d.lut;
    width = width.max(shape.acc_w);
    close(&mut at, &mut width);
    if let Some(m) = shape.scale_bits {
        out.extend(scale_stages(d, shape.acc_w, m, p.split_scale));
    }
    out
}

/// The slowest stage of `shape` pipelined `p` (ns).
pub fn slowest(d: &Delays, shape: &UnitShape, p: Pipelining) -> f64 {
    stages(d, shape, p).into_iter().fold(0.0, f64::max)
}

/// The fewest registers whose every stage fits `MARGIN` of the period of
/// `mhz`; the fastest pipelining when none does.
pub fn for_clock(d: &Delays, mhz: f64, shape: &UnitShape) -> Pipelining {
    let budget = Delays::budget_ns(mhz);
    // The scale is cut in two when whole it would not fit.
    let split_scale = shape.scale_splits
        && shape.scale_bits.is_some_and(|m| scale_stages(d, shape.acc_w, m, false)[0] > budget);
    let mut candidates = Vec::new();
    for lane_reg in [false, true] {
        for pipe in (1..=shape.h + 1).rev() {
            candidates.push(Pipelining { pipe, lane_reg, split_scale, ..Pipelining::fixed(1) });
        }
    }
    // Fewest registers first: no lane register before one, then the widest
    // spacing of the tree's. When none fits, the fastest, with the fewest
    // registers among the equally fast (registers that do not shorten the
    // slowest stage only cost flip-flops and placement).
    let fits = candidates.iter().find(|&&p| slowest(d, shape, p) <= budget);
    let p = match fits {
        Some(&p) => p,
        None => {
            let best = candidates.iter().map(|&p| slowest(d, shape, p)).fold(f64::MAX, f64::min);
            *candidates.iter().find(|&&p| slowest(d, shape, p) <= best + 1e-9).expect("a candidate")
        }
    };
    Pipelining { for_mhz: Some(mhz), stage_ns: Some(slowest(d, shape, p)), ..p }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::MARGIN;

    const UP5K: Delays = Delays {
        reg: 2.6,
        ram: 5.0,
        lut: 2.9,
        adder: 4.8,
        carry: 0.2,
        graph_adder: 6.8,
        dsp: 10.2,
        mul_lut: 0.0,
        control: 20.0,
    };
    // The digits design's fc1: power-of-two lanes of 17 bits, 16 lanes.
    const FC1: UnitShape = UnitShape {
        lane: LanePath { luts: 4, adders: 0, carry: 0, dsp: false, mul: false },
        lane_w: 17,
        h: 4,
        tail_adders: 2,
        acc_w: 20,
        scale_bits: None,
        scale_splits: true,
    };

    #[test]
    fn a_faster_clock_gets_more_registers() {
        let slow = for_clock(&UP5K, 12.0, &FC1);
        assert!(slow.pipe > FC1.h && !slow.lane_reg, "{slow:?}");
        let fast = for_clock(&UP5K, 40.0, &FC1);
        assert!(fast.lane_reg, "{fast:?}");
        let (mhz, ns) = (fast.for_mhz.unwrap(), fast.stage_ns.unwrap());
        assert_eq!(mhz, 40.0);
        assert!(ns <= MARGIN * 25.0, "{ns}");
        // Registers only where needed: one fewer and a stage misses.
        let fewer = Pipelining { pipe: fast.pipe + 1, ..fast };
        assert!(fast.pipe <= FC1.h && slowest(&UP5K, &FC1, fewer) > MARGIN * 25.0);
        // Every stage counts: the slowest of a faster pipelining is no slower.
        for mhz in [10.0, 20.0, 30.0, 40.0, 50.0] {
            let a = for_clock(&UP5K, mhz, &FC1);
            let b = for_clock(&UP5K, mhz + 10.0, &FC1);
            assert!(b.stage_ns.unwrap() <= a.stage_ns.unwrap() + 1e-9, "{mhz}: {a:?} {b:?}");
        }
    }

    #[test]
    fn a_clock_beyond_the_model_gets_the_fastest_with_the_fewest_registers() {
        let p = for_clock(&UP5K, 500.0, &FC1);
        let every = Pipelining { lane_reg: true, ..Pipelining::fixed(1) };
        let ns = p.stage_ns.unwrap();
        assert!((ns - slowest(&UP5K, &FC1, every)).abs() < 1e-9, "{p:?}");
        // The accumulator's stage sets the pace: a tree register every
        // level buys nothing over one every two.
        assert!(p.lane_reg && p.pipe > 1, "{p:?}");
    }

    /// Whether the clock of a stage of `ns` is within 15% of the clock of a
    /// measured path of `measured` ns (the measure: fmax).
    fn clock_within_15(ns: f64, measured: f64) -> bool {
        (measured / ns - 1.0).abs() < 0.15
    }

    #[test]
    fn the_model_matches_the_calibrated_paths() {
        // nextpnr-ice40 0.4's critical paths of digits fc1 (ns): every adder
        // level registered; a register after the lanes and one after four
        // levels; a register after three levels. The device file's model
        // within 15% of each.
        let up5k = crate::device::Device::resolve("ice40-up5k").unwrap().delays.unwrap();
        let stage = |pipe, lane_reg, k: usize| {
            stages(&up5k, &FC1, Pipelining { pipe, lane_reg, ..Pipelining::fixed(1) })[k]
        };
        for (ns, measured) in
            [(stage(1, false, 0), 24.67), (stage(4, true, 1), 27.98), (stage(3, false, 0), 33.51)]
        {
            assert!(clock_within_15(ns, measured), "{ns} against {measured}");
        }
        // The stages pipelining does not split, from the critical paths of
        // digits designs (nextpnr-ice40 0.4, scripts/bench-clock.sh): a
        // binary fc1's scale (15-bit accumulator, 13-bit multipliers), whole
        // and its wider half when cut in two, a
        // CNN's 2x2 max pool, and a k-means fc2's lanes (5-bit indices into
        // 8-bit values, 17-bit lanes) from the ROM.
        let shared = WeightCode::Shared { codebook: (0..22).collect(), value_bits: 8 };
        assert_eq!(shared.bits(), 5);
        let kmeans = UnitShape { lane: lane_path(&shared, 17), ..FC1 };
        let scaled = UnitShape { scale_bits: Some(13), acc_w: 15, ..FC1 };
        for (ns, measured) in [
            (*stages(&up5k, &scaled, Pipelining::fixed(1)).last().unwrap(), 37.48),
            (scale_stages(&up5k, 15, 13, true)[0], 31.96),
            (compare_tree_ns(&up5k, 4), 31.47),
            (compare_tree_ns(&up5k, 4), 25.6),
            (
                stages(&up5k, &kmeans, Pipelining { lane_reg: true, ..Pipelining::fixed(2) })[0],
                50.38,
            ),
        ] {
            assert!(clock_within_15(ns, measured), "{ns} against {measured}");
        }
        // The accumulator's tail and a DSP lane (scripts/calibrate.sh's
        // fixed spacing, a register every three levels): a power-of-two
        // lane straight into the count of negative lanes and a 20-bit
        // accumulator (digits INQ-5 at 2,048 cycles: 26.8 ns by nextpnr,
        // 27.3 by icetime), and four lanes on DSP blocks, two levels and a
        // 19-bit accumulator (digits fixed8 at 512 cycles: 30.7 ns by
        // icetime; nextpnr, which does not time the blocks, 20.0).
        let one_lane = UnitShape { h: 0, ..FC1 };
        let dsp = UnitShape { lane: DSP_LANE, h: 2, tail_adders: 1, acc_w: 19, ..FC1 };
        for (ns, measured) in [
            (slowest(&up5k, &one_lane, Pipelining::fixed(3)), 26.8),
            (slowest(&up5k, &dsp, Pipelining::fixed(3)), 30.7),
        ] {
            assert!(clock_within_15(ns, measured), "{ns} against {measured}");
        }
        // The argmax kept as five scores a beat arrive (d_inq3 of
        // scripts/bench-clock.sh, not used to fit anything): 18.65 and 20.4
        // MHz by nextpnr in two runs; the model's clock within 15% of both
        // (counting the beat's tree alone, it would say 24.0 MHz).
        let mhz = 1000.0 / argmax_gather_ns(&up5k, 5);
        for measured in [18.65, 20.4] {
            assert!((mhz - measured).abs() / measured < 0.15, "{mhz} MHz");
        }
    }

    #[test]
    fn a_scale_too_slow_for_the_clock_is_cut_in_two() {
        let scaled = UnitShape { scale_bits: Some(13), ..FC1 };
        let whole = scale_stages(&UP5K, FC1.acc_w, 13, false)[0];
        // A clock the whole scale makes keeps it whole.
        let slow = for_clock(&UP5K, MARGIN * 1000.0 / whole - 1.0, &scaled);
        assert!(!slow.split_scale, "{slow:?}");
        // A faster one cuts it, and the model's slowest stage is shorter.
        let fast = for_clock(&UP5K, 40.0, &scaled);
        assert!(fast.split_scale, "{fast:?}");
        let halves = scale_stages(&UP5K, FC1.acc_w, 13, true);
        assert!(halves.iter().all(|&ns| ns < whole), "{halves:?} {whole}");
        assert!(fast.stage_ns.unwrap() < whole, "{fast:?}");
        // An unscaled unit has no scale to cut.
        assert!(!for_clock(&UP5K, 40.0, &FC1).split_scale);
    }
}
