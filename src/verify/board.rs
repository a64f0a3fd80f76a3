//! The simulated board: a board top from a board build compiled by Verilator
//! with the harness of `sim/board_harness.cpp`, which opens a pseudo-terminal
//! and turns its bytes into UART waveforms and back, so that the host
//! program talks to it as to the board's USB UART.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::bench::run_tool;
use super::{Simulator, VerifyError};

/// The harness's C++ main.
const HARNESS: &str = include_str!("../../sim/board_harness.cpp");
/// Simulation models of the PLLs a board top instantiates (iCE40, ECP5);
/// both are compiled, the board top uses its family's.
const PLL_MODELS: [(&str, &str); 2] = [
    ("sb_pll40_pad.v", include_str!("../../sim/sb_pll40_pad.v")),
    ("ehxplll.v", include_str!("../../sim/ehxplll.v")),
];

/// A board top to simulate: the board build's directory, the top module,
/// its Verilog files (in that directory), and the UART's baud rate and
/// clocks a bit. The simulated line runs at the rate the host sets on the
/// terminal: a host at another rate than the board's is heard as garbage.
#[derive(Clone, Debug)]
pub struct BoardSim {
    pub dir: PathBuf,
    pub module: String,
    pub sources: Vec<String>,
    pub clocks_per_bit: u32,
    pub baud: u32,
}

/// A simulated board, running.
pub struct Running {
    child: Child,
    /// The pseudo-terminal to open as the board's port.
    pub port: PathBuf,
    cycles_file: PathBuf,
}

/// Board clock cycles the simulation ran: in all, and from the first byte
/// into the board to the last byte out of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SimCycles {
    pub total: u64,
    pub first_in: u64,
    pub last_out: u64,
}

impl BoardSim {
    /// Compiles the board top with the harness (once: the build is kept under
    /// the board build's `sim-board/` and reused while it is newer than the
    /// sources).
    pub fn build(&self) -> Result<PathBuf, VerifyError> {
        if !Simulator::Verilator.available() {
            return Err(VerifyError::Missing { tool: "verilator", package: "verilator" });
        }
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| VerifyError::Io { path, source }
        };
        // Verilator runs in `sim-board/`: every path it is given is absolute.
        let base = std::fs::canonicalize(&self.dir).map_err(io(&self.dir))?;
        let dir = base.join("sim-board");
        let binary = dir.join("obj_dir").join("Vboard");
        let sources: Vec<PathBuf> = self.sources.iter().map(|f| base.join(f)).collect();
        let newest = sources
            .iter()
            .filter_map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
            .max();
        let built = std::fs::metadata(&binary).and_then(|m| m.modified()).ok();
        let harness = dir.join("board_harness.cpp");
        let plls: Vec<(PathBuf, &str)> =
            PLL_MODELS.iter().map(|(name, text)| (dir.join(name), *text)).collect();
        let same = |path: &Path, text: &str| std::fs::read_to_string(path).is_ok_and(|t| t == text);
        if matches!((built, newest), (Some(b), Some(n)) if b > n)
            && same(&harness, HARNESS)
            && plls.iter().all(|(path, text)| same(path, text))
        {
            return Ok(binary);
        }
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        std::fs::write(&harness, HARNESS).map_err(io(&harness))?;
        for (path, text) in &plls {
            std::fs::write(path, text).map_err(io(path))?;
        }
        let mut cmd = Command::new("verilator");
        cmd.current_dir(&dir).args([
            "--cc",
            "--exe",
            "--build",
            "-j",
            "2",
            "--output-split-cfuncs",
            "500",
            "--x-assign",
            "fast",
            "--x-initial",
            "fast",
            "-Wno-fatal",
            "-Wno-INITIALDLY",
            "--prefix",
            "Vboard",
            "-o",
            "Vboard",
            "--top-module",
            &self.module,
        ]);
        cmd.args(&sources).args(plls.iter().map(|(path, _)| path)).arg(&harness);
        run_tool(&mut cmd, "verilator build of the simulated board")?;
        Ok(binary)
    }

    /// Starts the simulated board (built by [`BoardSim::build`]) in the
    /// board build's directory (its ROM files are read from there) and waits
    /// for its terminal.
    pub fn start(&self, binary: &Path) -> Result<Running, VerifyError> {
        // The harness runs in the build's directory: every path it is given
        // is absolute.
        let base = std::fs::canonicalize(&self.dir)
            .map_err(|source| VerifyError::Io { path: self.dir.clone(), source })?;
        let dir = base.join("sim-board");
        let pty_file = dir.join("pty.txt");
        let cycles_file = dir.join("cycles.txt");
        let _ = std::fs::remove_file(&pty_file);
        let _ = std::fs::remove_file(&cycles_file);
        // What the harness says goes to a file: a pipe nobody reads would
        // stop it once full.
        let log_path = dir.join("board.log");
        let log = std::fs::File::create(&log_path)
            .map_err(|source| VerifyError::Io { path: log_path.clone(), source })?;
        let binary = std::fs::canonicalize(binary)
            .map_err(|source| VerifyError::Io { path: binary.to_path_buf(), source })?;
        let child = Command::new(&binary)
            .current_dir(&base)
            .arg(self.clocks_per_bit.to_string())
            .arg(self.baud.to_string())
            .arg(&pty_file)
            .arg(&cycles_file)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| VerifyError::Tool {
                what: "the simulated board".into(),
                status: e.to_string(),
                output: String::new(),
            })?;
        let mut running = Running { child, port: PathBuf::new(), cycles_file };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(text) = std::fs::read_to_string(&pty_file) {
                if text.ends_with('\n') {
                    running.port = PathBuf::from(text.trim());
                    return Ok(running);
                }
            }
            if let Ok(Some(status)) = running.child.try_wait() {
                return Err(VerifyError::Tool {
                    what: "the simulated board".into(),
                    status: status.to_string(),
                    output: std::fs::read_to_string(&log_path).unwrap_or_default(),
                });
            }
            if Instant::now() > deadline {
                let _ = running.child.kill();
                return Err(VerifyError::Output {
                    path: pty_file,
                    reason: "the simulated board opened no terminal within 10 s".into(),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Running {
    /// Stops the simulated board and reads the cycles it ran.
    pub fn stop(mut self) -> Result<SimCycles, VerifyError> {
        // SIGTERM: the harness writes its cycles and leaves.
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let status = self.child.wait().map_err(|e| VerifyError::Tool {
            what: "the simulated board".into(),
            status: e.to_string(),
            output: String::new(),
        })?;
        let bad = |reason: String| VerifyError::Output { path: self.cycles_file.clone(), reason };
        let text = std::fs::read_to_string(&self.cycles_file)
            .map_err(|_| bad(format!("the simulated board left no cycle count ({status})")))?;
        let f: Vec<&str> = text.split_whitespace().collect();
        let num = |i: usize| -> Result<u64, VerifyError> {
            f.get(i).and_then(|v| v.parse().ok()).ok_or_else(|| bad(format!("`{}`", text.trim())))
        };
        Ok(SimCycles { total: num(1)?, first_in: num(3)?, last_out: num(5)? })
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
