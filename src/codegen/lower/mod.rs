//! Lowering: the integer network's arithmetic as adder-graph nodes. Dense
//! layers (per-output CSD trees, or one shared constant product solved by
//! [`cmvm`](crate::codegen::cmvm) and lowered by `solution.rs`), channel
//! scales and requantization (`requant.rs`), with exact bounds on every node.

mod dense;
mod requant;
mod solution;

pub(crate) use dense::dense_graph;
pub use dense::product_graph;
pub(crate) use requant::requant_graph;

use super::cmvm::{self, Sharing};
use super::error::CodegenError;

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
