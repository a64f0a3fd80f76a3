//! Fitting a device: the resource model of a streaming design on a device's
//! cells, and the search for the fastest folding the model says fits. The
//! search prices plans (`stream::plan`); only the one chosen is elaborated
//! and printed.
//!
//! The structural cost ([`Cost`]: adder bits, multiplexer bits, register
//! bits, memories placed in block RAM or logic) becomes the device's
//! resources through per-family coefficients measured against Yosys and
//! nextpnr (`scripts/calibrate.sh` prints the table they came from; README,
//! "Fitting a device"). Block-RAM units are counted exactly on iCE40: the
//! generated Verilog tells the tool where every memory goes, and
//! [`crate::device::Family::ram_blocks`] is the tool's own mapping (on xc7
//! an estimate).

use super::design::{with_spec, HdlConfig};
use super::error::CodegenError;
use super::graph::Cost;
use super::manifest::{Design, Form};
use super::stream::{self, Memo, Plan};
use crate::device::{Device, Family, Resources, RAM_BLOCKS};
use crate::quant::IntNetwork;

/// The largest error of the LUT estimate against Yosys the model claims
/// (and `tests/fit.rs` checks on small designs; `scripts/calibrate.sh`
/// prints it for larger ones).
pub const LUT_ERROR: f64 = 0.15;

/// The model's coefficients of one family: LUTs per adder bit, per
/// multiplexer bit, per register bit but the pipeline registers' (the logic that loads, enables or
/// resets a register) and per control block, and for iCE40 the share of
/// flip-flops that cannot share a logic cell with a LUT. Least squares of
/// Yosys's LUTs (and nextpnr's logic cells) over the designs of
/// `scripts/calibrate.sh`, which prints the fit beside the table.
#[derive(Clone, Copy, Debug)]
struct Coefficients {
    per_adder_bit: f64,
    per_mux_bit: f64,
    per_ff: f64,
    per_unit: f64,
    lone_ffs: f64,
    /// LUTs per LUT the cost model counts as a table (ROMs and codebook
    /// products in logic): 1 where the cost model's LUT is the family's.
    per_table: f64,
}

fn coefficients(family: Family) -> Coefficients {
    match family {
        Family::Ice40 => Coefficients {
            per_adder_bit: 1.49,
            per_mux_bit: 0.44,
            per_ff: 0.15,
            per_unit: 48.3,
            lone_ffs: 0.71,
            per_table: 1.0,
        },
        // nextpnr-ecp5's LUT4s (TRELLIS_COMB: with the carries' and the
        // feed-through LUTs it inserts) on the twelve designs of
        // scripts/calibrate-ecp5.sh, non-negative least squares: the
        // multiplexers and loose flip-flops come out at none, their LUTs
        // carried by the other terms (within 15% on all twelve, and 1% and
        // 4% on two LeNet-5 builds on the 85F the fit did not see).
        Family::Ecp5 => Coefficients {
            per_adder_bit: 2.42,
            per_mux_bit: 0.0,
            per_ff: 0.0,
            per_unit: 209.3,
            lone_ffs: 0.0,
            per_table: 2.36,
        },
        Family::Xc7 => Coefficients {
            per_adder_bit: 0.20,
            per_mux_bit: 0.67,
            per_ff: 0.0,
            per_unit: 68.6,
            lone_ffs: 0.0,
            per_table: 1.0,
        },
    }
}

/// The device resources a design's cost comes to: LUTs (iCE40: logic
/// cells, the LUT4s and the flip-flops that need a cell of their own), FFs,
/// block-RAM units, DSPs, and the pins of its ports (clock, reset, the two
/// streams with their handshakes).
pub fn estimate(cost: &Cost, io: u64, device: &Device) -> Resources {
    let k = coefficients(device.family);
    // Pipeline registers need no logic of their own (a flip-flop with an
    // enable) and share the cell of the logic before them.
    let loose = (cost.ffs - cost.packed_ffs) as f64;
    let logic = (cost.adder_bits as f64 * k.per_adder_bit
        + cost.mux_bits as f64 * k.per_mux_bit
        + loose * k.per_ff
        + cost.units as f64 * k.per_unit)
        + cost.lut_tables as f64 * k.per_table;
    let cells = logic + loose * k.lone_ffs;
    Resources {
        luts: logic.round() as u64,
        cells: cells.round() as u64,
        ffs: cost.ffs,
        ram_blocks: cost.ram_blocks,
        spram: cost.spram,
        dsps: cost.dsps,
        io,
    }
}

/// Pins of ports of `lanes_in` and `lanes_out` codes with an argmax index:
/// the data, clk, rst, and the tvalid, tready and tlast of both streams.
fn pins(lanes_in: usize, in_bits: u32, lanes_out: usize, out_bits: u32, argmax: u32) -> u64 {
    let data = lanes_in as u64 * in_bits as u64 + lanes_out as u64 * out_bits as u64;
    data + argmax as u64 + 8
}

/// Pins of a weight port: a byte of data, tvalid and tready.
const WEIGHT_PORT_PINS: u64 = 10;

/// Pins of a design's ports.
pub fn io_pins(design: &Design) -> u64 {
    let m = &design.manifest;
    let (lanes_in, lanes_out) = match &m.stream {
        Some(s) => (s.input.lanes, s.output.lanes),
        None => (m.inputs, m.outputs),
    };
    let weights = m.stream.as_ref().is_some_and(|s| s.weight_bytes > 0);
    pins(lanes_in, m.input_format.bits(), lanes_out, m.output_format.bits(), m.argmax_bits)
        + if weights { WEIGHT_PORT_PINS } else { 0 }
}

/// Pins of a plan's ports.
fn plan_pins(plan: &Plan) -> u64 {
    let bits = (plan.input.format.bits(), plan.last.format.bits());
    let weights = !plan.spram_units().is_empty();
    pins(plan.input.lanes, bits.0, plan.top_lanes(), bits.1, plan.argmax_bits)
        + if weights { WEIGHT_PORT_PINS } else { 0 }
}

/// What a design may take of a device: at most `max_util` of its logic, no
/// faster than `min_cycles` per image (a floor a caller raises when the tools
/// disagree with the model), beside `reserve`, what surrounds the design on
/// the device (a board top), whose `io`, when not 0, replaces the design's
/// pins (the board top's are the pins).
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    pub max_util: f64,
    pub min_cycles: u64,
    pub reserve: Resources,
    /// Weight ROMs may go to the device's single-port RAM (SPRAM) when the
    /// design does not fit otherwise; the design then has a weight port.
    pub spram: bool,
}

impl Budget {
    /// The whole device for the design, at most `max_util` of its logic,
    /// every weight in the bitstream.
    pub fn new(max_util: f64) -> Budget {
        Budget { max_util, min_cycles: 0, reserve: Resources::default(), spram: false }
    }

    /// What the device holds with `estimate` (the design's) and the reserve.
    fn with_reserve(&self, estimate: Resources) -> Resources {
        let r = self.reserve;
        Resources {
            luts: estimate.luts + r.luts,
            cells: estimate.cells + r.cells,
            ffs: estimate.ffs + r.ffs,
            ram_blocks: estimate.ram_blocks + r.ram_blocks,
            spram: estimate.spram + r.spram,
            dsps: estimate.dsps + r.dsps,
            io: if r.io > 0 { r.io } else { estimate.io },
        }
    }
}

/// The share of the device's logic cells above which a design that fits
/// moves memories into spare block RAM: nextpnr-ice40 0.4's placer slows
/// and fails as the cells fill (it ran ten minutes and failed on a digits
/// design at 87% of the UP5K's cells with 23 of its 30 blocks free, which
/// the same network with memories in blocks, 3,249 cells, placed in 11 s),
/// and a memory in a block leaves the clock a shorter path than one in logic.
pub const CROWDED: f64 = 0.75;

/// A design and what the model says it takes.
#[derive(Clone, Debug)]
pub struct Fitted {
    pub design: Design,
    pub estimate: Resources,
}

/// The fastest streaming design of `net` the model says fits `device` within
/// `budget`; its estimate counts the budget's reserve.
///
/// Candidates run from the fastest folding to the slowest, the target of
/// cycles per image doubling each step, then bisecting between the last
/// target that did not fit and the first that did (to within 1/16); per-layer
/// foldings in `config` stay as given. When even the slowest does not fit,
/// the error names the device, what that design needs beside what the device
/// has, and what to try. Settings are checked first.
pub fn fit(
    net: &IntNetwork,
    config: &HdlConfig,
    device: &Device,
    budget: &Budget,
) -> Result<Fitted, CodegenError> {
    let (max_util, min_cycles) = (budget.max_util, budget.min_cycles);
    let config =
        HdlConfig { form: Form::Streaming, device: Some(device.clone()), ..config.clone() };
    config.check(net)?;
    let memo = Memo::default();
    let base = config.plan_config(net);
    // A candidate at a target of cycles per image: its plan, what the model
    // says it takes, and whether that fits. A plan short of logic with block
    // RAM to spare moves memories into blocks, pricing a block lower and
    // lower; one short of block RAM with logic to spare moves them out,
    // pricing it higher. Steps of a quarter move the memories one or a few
    // at a time, in the order of the cells a block of each saves. The price
    // changes where memories go, not the folding: one plan, priced again.
    let settle = |mut plan: Plan| -> (Plan, Resources, bool) {
        let base_price = device.block_price();
        let mut price = base_price;
        // The direction the price moves in (0 until it first moves).
        let mut step = 0i8;
        // The last price at which the plan fit.
        let mut fitting = None;
        let crowded_cells = (CROWDED * device.capacity().cells as f64) as u64;
        loop {
            plan.block_price = Some(price);
            let priced = |plan: &Plan| {
                budget.with_reserve(estimate(&stream::cost(plan).1, plan_pins(plan), device))
            };
            let estimate = priced(&plan);
            let over = estimate.over(device, max_util);
            let fits = over.is_empty() && plan.cycles >= min_cycles;
            let logic = over.iter().any(|o| o.logic);
            let ram = over.iter().any(|o| o.name == RAM_BLOCKS);
            let crowded = fits && estimate.cells > crowded_cells;
            if fits {
                fitting = Some(price);
            }
            if (logic || crowded)
                && !ram
                && step <= 0
                && price >= 8
                && estimate.ram_blocks < device.ram_blocks
            {
                (price, step) = (price * 4 / 5, -1);
            } else if ram && !logic && step >= 0 && price <= 64 * base_price {
                (price, step) = (price * 5 / 4 + 1, 1);
            } else if let (false, Some(fit_price)) = (fits, fitting) {
                // Memories moved into blocks for room overflowed them: back
                // to the last plan that fit.
                plan.block_price = Some(fit_price);
                let estimate = priced(&plan);
                return (plan, estimate, true);
            } else {
                return (plan, estimate, fits);
            }
        }
    };
    // A plan that does not fit with every weight in the bitstream, or fits
    // crowded with no block RAM to spare, may keep the largest weight ROMs
    // in SPRAM (loaded after power-up), when the budget allows it: the ROMs
    // that take the most cells where they are (a block at its price, or
    // logic) first, while SPRAM blocks last; the blocks they leave take
    // other memories. The plan with SPRAM is taken when it fits and the
    // other did not, or takes fewer cells.
    let crowded_cells = (CROWDED * device.capacity().cells as f64) as u64;
    let candidate = |cycles: u64| -> Result<(Plan, Resources, bool), CodegenError> {
        let target = stream::PlanConfig { cycles: (cycles > 0).then_some(cycles), ..base.clone() };
        let (plan, estimate, fits) = settle(stream::plan::plan(net, &target, &memo)?);
        let stuck = estimate.cells > crowded_cells && estimate.ram_blocks >= device.ram_blocks;
        if (fits && !stuck) || !budget.spram || device.spram == 0 || !target.spram.is_empty() {
            return Ok((plan, estimate, fits));
        }
        let chosen = spram_choice(&plan, device);
        if chosen.is_empty() {
            return Ok((plan, estimate, fits));
        }
        let with = stream::PlanConfig { spram: chosen, ..target };
        let moved = settle(stream::plan::plan(net, &with, &memo)?);
        let better = moved.2 && (!fits || moved.1.cells < estimate.cells);
        Ok(if better { moved } else { (plan, estimate, fits) })
    };
    let mut cycles = config.cycles.unwrap_or(0).max(min_cycles);
    // The last target that did not fit.
    let mut below: Option<u64> = None;
    // Cycles per image of the last candidate, and how many targets in a row
    // gave it (a slower folding may sit beyond a gap between divisors).
    let (mut last, mut same) = (0, 0);
    let (plan, estimate) = loop {
        let (plan, estimate, fits) = candidate(cycles)?;
        let got = plan.cycles;
        if fits {
            let Some(mut lo) = below else { break (plan, estimate) };
            let (mut hi, mut best) = (cycles, (plan, estimate));
            while hi - lo > (lo / 16).max(1) {
                let mid = lo + (hi - lo) / 2;
                match candidate(mid)? {
                    (p, e, true) => {
                        if p.cycles < best.0.cycles {
                            best = (p, e);
                        }
                        hi = mid;
                    }
                    (_, _, false) => lo = mid,
                }
            }
            break best;
        }
        below = Some(cycles);
        same = if got == last { same + 1 } else { 0 };
        // No slower folding exists once a few doublings change nothing.
        if same >= 3 {
            let over = estimate.over(device, max_util);
            return Err(CodegenError::NoFit {
                device: device.name.clone(),
                needs: if over.is_empty() {
                    format!("{got} cycles per image at the slowest")
                } else {
                    crate::device::list(&over)
                },
            });
        }
        last = got;
        cycles = cycles.max(got).max(1) * 2;
    };
    let design = with_spec(net, &config, |spec| stream::design(net, &plan, spec));
    Ok(Fitted { design, estimate })
}

/// The layers whose weight ROMs go to SPRAM: by the cells each takes where
/// `plan` put it (block RAM at the plan's price, or logic), most first,
/// while the device's SPRAM blocks last.
fn spram_choice(plan: &Plan, device: &Device) -> std::collections::BTreeSet<String> {
    let price = plan.block_price.unwrap_or(device.block_price());
    let mut units: Vec<(u64, u64, String)> = plan
        .layers
        .iter()
        .filter_map(|l| {
            let f = l.folded()?;
            let (width, depth) = f.rom_shape();
            let cost = stream::memory_cost(plan, width, depth, true);
            let cells = cost.ram_blocks * price + cost.luts.max(cost.ffs);
            Some((cells, f.spram_blocks(), l.name.clone()))
        })
        .collect();
    units.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.2.cmp(&b.2)));
    let mut left = device.spram;
    let mut chosen = std::collections::BTreeSet::new();
    for (cells, blocks, name) in units {
        if cells > 0 && blocks <= left {
            left -= blocks;
            chosen.insert(name);
        }
    }
    chosen
}
