//! A simulation run to its end, watched: its console output kept in
//! `run.log`, its output log counted as it grows.

use std::path::Path;
use std::process::Command;

use super::VerifyError;

/// How a run's progress is read while it runs: the testbench's output log
/// is counted every few tenths of a second, lines starting with `prefix`,
/// `per` of them a unit, and `report` told the units done.
pub struct Watch<'a> {
    pub prefix: &'static str,
    pub per: usize,
    pub report: &'a mut dyn FnMut(usize),
}

impl Watch<'_> {
    /// A run nobody watches.
    pub fn none(report: &mut dyn FnMut(usize)) -> Watch<'_> {
        Watch { prefix: "", per: 1, report }
    }
}

/// Runs a simulation to its end, its console output in `run.log` beside
/// it, counting the output log `out` as it grows.
pub(super) fn run_watched(
    cmd: &mut Command,
    what: &str,
    out: &Path,
    watch: &mut Watch,
) -> Result<String, VerifyError> {
    let dir = out.parent().unwrap_or(Path::new("."));
    let log_path = dir.join("run.log");
    let io = |source| VerifyError::Io { path: log_path.clone(), source };
    let log = std::fs::File::create(&log_path).map_err(io)?;
    cmd.stdout(log.try_clone().map_err(io)?).stderr(log);
    let failed = |status: String, output: String| VerifyError::Tool {
        what: what.to_string(),
        status,
        output,
    };
    let mut child = cmd.spawn().map_err(|e| failed(e.to_string(), String::new()))?;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| failed(e.to_string(), String::new()))? {
            break status;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
        if let Ok(text) = std::fs::read(out) {
            // Whole lines only: the last may be half written.
            let end = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            let prefix = watch.prefix.as_bytes();
            let lines = text[..end].split(|&b| b == b'\n');
            let done = lines.filter(|l| !l.is_empty() && l.starts_with(prefix)).count();
            (watch.report)(done / watch.per.max(1));
        }
    };
    let text = std::fs::read_to_string(&log_path).map_err(io)?;
    if !status.success() {
        let tail: Vec<&str> = text.lines().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(failed(status.to_string(), tail.join("\n")));
    }
    Ok(text)
}
