//! Verification: the generated RTL on Verilator and Icarus against the
//! simulator, image for image, bit for bit, and against the timing model,
//! handshake for handshake. One stream contract for both forms
//! (`contract.rs`): one testbench (`bench.rs`, `templates/tb.v`), one run
//! (`run.rs`), one comparison (`compare.rs`), one check (`check.rs`).
//!
//! The testbench streams images beat by beat through the AXI4-Stream ports
//! with seeded random valid gaps and back-pressure and logs every output
//! beat with its cycle. A design is compiled once per simulator; every run
//! reuses the build.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

mod bench;
pub mod board;
mod check;
mod compare;
mod contract;
mod run;
mod watch;

pub use crate::codegen::hex::{pack_hex, unpack_hex};
pub use crate::codegen::timing::Traffic;
pub use bench::{build, testbench, Built};
pub use check::{
    check_design, verification_vectors, CheckError, SimulatorReport, VerifyOutcome, VerifyRun,
    MAX_VECTORS,
};
pub use compare::{compare, Mismatch};
pub use contract::{from_beats, to_beats, Contract, Traced};
pub use run::{run, run_reporting, trace_layers, trace_timing, Log};
pub use watch::Watch;

/// Errors of verification.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{tool} not found on PATH; install it with `apt-get install {package}`")]
    Missing { tool: &'static str, package: &'static str },
    #[error("{what} failed ({status}); its output:\n{output}")]
    Tool { what: String, status: String, output: String },
    #[error("{}: {reason}", path.display())]
    Output { path: PathBuf, reason: String },
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// An HDL simulator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Simulator {
    Verilator,
    Icarus,
}

impl Simulator {
    pub fn as_str(self) -> &'static str {
        match self {
            Simulator::Verilator => "verilator",
            Simulator::Icarus => "icarus",
        }
    }

    fn tool(self) -> (&'static str, &'static str) {
        match self {
            Simulator::Verilator => ("verilator", "verilator"),
            Simulator::Icarus => ("iverilog", "iverilog"),
        }
    }

    /// Whether the simulator is installed.
    pub fn available(self) -> bool {
        which(self.tool().0)
    }
}

impl fmt::Display for Simulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn which(tool: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|p| p.join(tool).is_file()))
        .unwrap_or(false)
}
