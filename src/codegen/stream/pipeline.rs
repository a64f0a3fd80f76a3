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

/// The share of the period a stage may take by the model: nextpnr's
/// placement moves the real figure by about this much from seed to seed.
pub const MARGIN: f64 = 0.9;

/// Where a folded unit's registers go.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pipelining {
    /// Adder levels between the tree's registers (`PIPE` of `sk_mvu`, at
    /// least 1; more than the tree's levels: none).
    pub pipe: u32,
    /// A register after the lane products (`LREG`).
    pub lane_reg: bool,
    /// The clock it was chosen for and the model's slowest stage (ns), when
    /// chosen by the model.
    pub model: Option<(f64, f64)>,
}

impl Pipelining {
    /// A register every `levels` adder levels, whatever the clock.
    pub fn fixed(levels: u32) -> Pipelining {
        Pipelining { pipe: levels.max(1), lane_reg: false, model: None }
    }
}

/// How a plan places a unit's registers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PipeRule {
    /// A register every so many adder levels (`--levels-per-stage`).
    Levels(u32),
    /// As the timing model says for this clock (MHz).
    Clock { mhz: f64, delays: Delays },
}

impl PipeRule {
    pub fn choose(&self, shape: &UnitShape) -> Pipelining {
        match *self {
            PipeRule::Levels(levels) => Pipelining::fixed(levels),
            PipeRule::Clock { mhz, delays } => for_clock(&delays, mhz, shape),
        }
    }
}

/// LUT levels of one lane's product of an input and a weight `code`: a
/// power of two gates the input, shifts it (a multiplexer of the shift
/// code's bits, two to a LUT level) and inverts a negative one; binary and
/// ternary weights gate it; fixed-point and shared weights multiply (rough
/// figures: these lanes were not calibrated).
pub fn lane_luts(code: &WeightCode) -> u32 {
    match code {
        // The code is {nonzero, negative, shift}.
        WeightCode::Pow2 { .. } => 2 + (code.bits() - 2).div_ceil(2),
        WeightCode::Binary | WeightCode::Ternary => 1,
        WeightCode::Fixed { bits } => 2 * bits,
        WeightCode::Shared { .. } => 2 + code.bits().div_ceil(2),
    }
}

/// What a folded unit's datapath is made of, as far as timing goes.
#[derive(Clone, Copy, Debug)]
pub struct UnitShape {
    /// LUT levels of one lane's product (from the weight code and the input).
    pub lane_luts: u32,
    /// Bits of a lane's product.
    pub lane_w: u32,
    /// Levels of the adder tree.
    pub h: u32,
    /// Adders after the tree (the count of negative lanes' ones, the
    /// accumulator) and the accumulator's bits.
    pub tail_adders: u32,
    pub acc_w: u32,
}

/// The stages of `shape` with `p` (ns each), the first from the ROM.
fn stages(d: &Delays, shape: &UnitShape, p: Pipelining) -> Vec<f64> {
    let mut out = Vec::new();
    // The running stage: where it started, its hops, its widest adder.
    let (mut at, mut width) = (d.ram + shape.lane_luts as f64 * d.lut, 0u32);
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
    // The tail: a multiplexer of the bias and the accumulator, its adders.
    at += d.lut + shape.tail_adders as f64 * d.adder;
    width = width.max(shape.acc_w);
    close(&mut at, &mut width);
    out
}

/// The slowest stage of `shape` pipelined `p` (ns).
pub fn slowest(d: &Delays, shape: &UnitShape, p: Pipelining) -> f64 {
    stages(d, shape, p).into_iter().fold(0.0, f64::max)
}

/// The fewest registers whose every stage fits `MARGIN` of the period of
/// `mhz`; the fastest pipelining when none does.
pub fn for_clock(d: &Delays, mhz: f64, shape: &UnitShape) -> Pipelining {
    let budget = MARGIN * 1000.0 / mhz;
    let mut candidates = Vec::new();
    for lane_reg in [false, true] {
        for pipe in (1..=shape.h + 1).rev() {
            candidates.push(Pipelining { pipe, lane_reg, model: None });
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
    Pipelining { model: Some((mhz, slowest(d, shape, p))), ..p }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UP5K: Delays =
        Delays { reg: 2.6, ram: 5.0, lut: 2.9, adder: 4.8, carry: 0.2, control: 20.0 };
    // The digits design's fc1: power-of-two lanes of 17 bits, 16 lanes.
    const FC1: UnitShape = UnitShape { lane_luts: 4, lane_w: 17, h: 4, tail_adders: 2, acc_w: 20 };

    #[test]
    fn a_faster_clock_gets_more_registers() {
        let slow = for_clock(&UP5K, 12.0, &FC1);
        assert!(slow.pipe > FC1.h && !slow.lane_reg, "{slow:?}");
        let fast = for_clock(&UP5K, 40.0, &FC1);
        assert!(fast.lane_reg, "{fast:?}");
        let (mhz, ns) = fast.model.unwrap();
        assert_eq!(mhz, 40.0);
        assert!(ns <= MARGIN * 25.0, "{ns}");
        // Registers only where needed: one fewer and a stage misses.
        let fewer = Pipelining { pipe: fast.pipe + 1, ..fast };
        assert!(fast.pipe <= FC1.h && slowest(&UP5K, &FC1, fewer) > MARGIN * 25.0);
        // Every stage counts: the slowest of a faster pipelining is no slower.
        for mhz in [10.0, 20.0, 30.0, 40.0, 50.0] {
            let a = for_clock(&UP5K, mhz, &FC1);
            let b = for_clock(&UP5K, mhz + 10.0, &FC1);
            assert!(b.model.unwrap().1 <= a.model.unwrap().1 + 1e-9, "{mhz}: {a:?} {b:?}");
        }
    }

    #[test]
    fn a_clock_beyond_the_model_gets_the_fastest_with_the_fewest_registers() {
        let p = for_clock(&UP5K, 500.0, &FC1);
        let every = Pipelining { pipe: 1, lane_reg: true, model: None };
        let ns = p.model.unwrap().1;
        assert!((ns - slowest(&UP5K, &FC1, every)).abs() < 1e-9, "{p:?}");
        // The accumulator's stage sets the pace: a tree register every
        // level buys nothing over one every two.
        assert!(p.lane_reg && p.pipe > 1, "{p:?}");
    }

    #[test]
    fn the_model_matches_the_calibrated_paths() {
        // nextpnr-ice40 0.4's critical paths of digits fc1 (ns): every adder
        // level registered; a register after the lanes and one after four
        // levels; a register after three levels. The device file's model
        // within 15% of each.
        let up5k = crate::device::Device::resolve("ice40-up5k").unwrap().delays.unwrap();
        let stage = |pipe, lane_reg, k: usize| {
            stages(&up5k, &FC1, Pipelining { pipe, lane_reg, model: None })[k]
        };
        for (ns, measured) in
            [(stage(1, false, 0), 24.67), (stage(4, true, 1), 27.98), (stage(3, false, 0), 33.51)]
        {
            assert!((ns - measured).abs() / measured < 0.15, "{ns} against {measured}");
        }
    }
}
