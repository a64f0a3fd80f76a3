//! Lowering: the integer network's arithmetic as adder-graph nodes. Dense
//! layers (per-output CSD trees, or one shared constant product solved by
//! [`cmvm`](crate::codegen::cmvm) and lowered by `solution.rs`), channel
//! scales and requantization (`requant.rs`), with exact bounds on every node.

mod dense;
mod requant;
mod solution;

pub use dense::product_graph;
pub(crate) use dense::{dense_graph, dense_graph_for_clock};
pub(crate) use requant::requant_graph;

use super::cmvm::{self, Sharing};
use super::error::CodegenError;
use super::graph::LayerGraph;
use crate::device::Delays;

/// Default adder levels between pipeline registers: about three carry chains
/// of 16-24 bits fit a 200-250 MHz clock on small FPGAs.
pub const DEFAULT_LEVELS_PER_STAGE: u32 = 3;

/// How constant products become adders: pipeline registers every
/// `levels_per_stage` adder levels, subexpressions shared or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Adders {
    pub levels_per_stage: u32,
    pub sharing: Sharing,
}

impl Adders {
    /// Registers every `levels_per_stage` levels, default sharing.
    pub fn new(levels_per_stage: u32) -> Adders {
        Adders { levels_per_stage, sharing: Sharing::default() }
    }

    /// Refuses settings no design can have.
    pub fn check(&self) -> Result<(), CodegenError> {
        // Pipeline registers need at least one adder level between them.
        if self.levels_per_stage == 0 {
            return Err(CodegenError::Config(
                "levels per stage (levels_per_stage) must be at least 1".into(),
            ));
        }
        if self.sharing.extra_depth > cmvm::MAX_EXTRA_DEPTH {
            return Err(CodegenError::Config(format!(
                "extra adder levels for sharing (share_depth) must be at most {}, not {}",
                cmvm::MAX_EXTRA_DEPTH,
                self.sharing.extra_depth
            )));
        }
        if self.sharing.tries > cmvm::MAX_TRIES {
            return Err(CodegenError::Config(format!(
                "tie orders for sharing (share_tries) must be at most {}, not {}",
                cmvm::MAX_TRIES,
                self.sharing.tries
            )));
        }
        Ok(())
    }
}

/// The graph `build(levels, tail_reg)` makes with the most adder levels
/// between registers (the fewest registers) whose every stage fits `mhz` by
/// the timing model ([`Delays::budget_ns`]), a register before each
/// requantization only where that makes it fit; when nothing fits, the
/// fastest, with the fewest registers among the equally fast.
pub(crate) fn most_levels_within(
    build: impl Fn(u32, bool) -> LayerGraph,
    delays: &Delays,
    mhz: f64,
) -> LayerGraph {
    let budget = Delays::budget_ns(mhz);
    // More levels than the graph has: no register inside it.
    let whole = build(u32::MAX, false);
    let depth = whole.adder_depth();
    let mut best = (whole.slowest_stage_ns(delays), whole);
    let spacings = std::iter::once(u32::MAX).chain((1..=depth).rev());
    for (levels, tail_reg) in spacings.flat_map(|l| [(l, false), (l, true)]).skip(1) {
        if best.0 <= budget {
            break;
        }
        let graph = build(levels, tail_reg);
        let ns = graph.slowest_stage_ns(delays);
        if ns < best.0 {
            best = (ns, graph);
        }
    }
    best.1
}
