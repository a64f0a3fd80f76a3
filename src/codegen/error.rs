//! The errors of code generation (the bottom layer: every other imports it).

use std::path::PathBuf;

use super::timing::Stuck;

/// Errors of code generation.
#[derive(Debug, thiserror::Error)]
pub enum CodegenError {
    #[error(
        "layer `{layer}` ({op}): the unrolled form takes dense networks only (dense, relu, \
         flatten); generate the streaming form (or auto) for this network"
    )]
    Unsupported { layer: String, op: &'static str },
    #[error("{0}")]
    Config(String),
    /// A folding that cannot be built, or an input width that does not divide.
    #[error("{0}")]
    Fold(String),
    /// Even the slowest folding does not fit the device.
    #[error(
        "the network does not fit {device} even with every layer folded as far as it goes: it \
         needs {needs}; try fewer bits (binary or ternary weights, fewer act_bits), pruning whole \
         units (structured pruning), or a bigger device"
    )]
    NoFit { device: String, needs: String },
    #[error("the timing model of the streaming design did not finish ({0}); this is a bug")]
    Timing(#[from] Stuck),
    /// An output directory that holds something other than a design.
    #[error(
        "{} holds files that are not a shiftkit design (no manifest.json); give a new or empty \
         directory, or one `shiftkit hdl` wrote",
        dir.display()
    )]
    NotADesign { dir: PathBuf },
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
