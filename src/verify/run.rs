//! Runs of a built testbench: input images written as beats, the output log
//! read back, and per-layer traces.

use std::path::{Path, PathBuf};
use std::process::Command;

use ndarray::Array2;

use super::bench::Built;
use super::contract::{from_beats, to_beats, Contract};
use super::watch::{run_watched, Watch};
use super::{pack_hex, unpack_hex, Traffic, VerifyError};
use crate::codegen::timing::Timeline;
use crate::quant::IntNetwork;

/// Writes the input beats (`inputs`, hex lines), runs the built testbench
/// with them (`count`: its plusarg saying how many) and the traffic, checks
/// that it finished, and returns the path of its output log and the seconds
/// it took.
fn simulate(
    built: &Built,
    inputs: &str,
    count: &str,
    traffic: Traffic,
    extra: &[String],
    watch: &mut Watch,
) -> Result<(PathBuf, f64), VerifyError> {
    let in_path = built.dir.join("inputs.hex");
    let out_path = built.dir.join("outputs.txt");
    std::fs::write(&in_path, inputs)
        .map_err(|source| VerifyError::Io { path: in_path.clone(), source })?;
    let _ = std::fs::remove_file(&out_path);
    let mut cmd = Command::new(&built.program[0]);
    cmd.current_dir(&built.dir).args(&built.program[1..]).args([
        "+inputs=inputs.hex".to_string(),
        "+outputs=outputs.txt".to_string(),
        count.to_string(),
        format!("+seed={}", traffic.seed),
        format!("+valid={}", traffic.valid),
        format!("+ready={}", traffic.ready),
        format!("+warmup={}", traffic.warmup),
    ]);
    cmd.args(extra);
    let start = std::time::Instant::now();
    let log = run_watched(&mut cmd, &format!("{} run", built.simulator), &out_path, watch)?;
    let seconds = start.elapsed().as_secs_f64();
    if !log.contains("DONE") {
        let tail: Vec<&str> = log.lines().rev().take(5).collect();
        return Err(VerifyError::Output {
            path: out_path,
            reason: format!("the testbench did not finish: {}", tail.join(" | ")),
        });
    }
    Ok((out_path, seconds))
}

/// One output beat as the testbench logged it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutBeat {
    pub lanes: Vec<i64>,
    /// `m_axis_tuser`: the argmax index (0 without one).
    pub user: u32,
    pub last: bool,
    pub cycle: u64,
}

/// What the testbench logged.
#[derive(Clone, Debug, Default)]
pub struct Log {
    /// The cycle each image's first beat was taken.
    pub starts: Vec<u64>,
    pub beats: Vec<OutBeat>,
}

impl Log {
    /// Images in and out: starts and the cycles of every image's last beat.
    pub fn timeline(&self, out_beats: usize) -> Timeline {
        Timeline {
            starts: self.starts.clone(),
            ends: self.beats.chunks(out_beats).map(|c| c.last().expect("a beat").cycle).collect(),
        }
    }
}

/// Runs `images` (raw input codes in network order, one image per row).
pub fn run(
    built: &Built,
    images: &Array2<i64>,
    traffic: Traffic,
) -> Result<(Log, f64), VerifyError> {
    run_with(built, images, traffic, &[], &mut |_| {})
}

/// [`run`], telling `report` the images done as they come out.
pub fn run_reporting(
    built: &Built,
    images: &Array2<i64>,
    traffic: Traffic,
    report: &mut dyn FnMut(usize),
) -> Result<(Log, f64), VerifyError> {
    run_with(built, images, traffic, &[], report)
}

fn run_with(
    built: &Built,
    images: &Array2<i64>,
    traffic: Traffic,
    extra: &[String],
    report: &mut dyn FnMut(usize),
) -> Result<(Log, f64), VerifyError> {
    let m = &built.manifest;
    let c = Contract::of(m);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| VerifyError::Io { path, source }
    };
    let bits = m.input_format.bits();
    let mut text = String::new();
    for row in images.rows() {
        for beat in to_beats(&row.to_vec(), c.input.lanes, c.input.order) {
            text.push_str(&pack_hex(&beat, bits));
            text.push('\n');
        }
    }
    let count = format!("+images={}", images.nrows());
    // An image is done when its last output beat is out (`o` lines).
    let mut watch = Watch { prefix: "o ", per: c.output.beats, report };
    let (out_path, seconds) = simulate(built, &text, &count, traffic, extra, &mut watch)?;
    let text = std::fs::read_to_string(&out_path).map_err(io(&out_path))?;
    let mut result = Log::default();
    for (k, line) in text.lines().enumerate() {
        let bad = || VerifyError::Output {
            path: out_path.clone(),
            reason: format!("line {}: `{line}`", k + 1),
        };
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.as_slice() {
            ["i", _, cycle] => result.starts.push(cycle.parse().map_err(|_| bad())?),
            ["o", _, hex, user, last, cycle] => result.beats.push(OutBeat {
                lanes: unpack_hex(hex, c.output.lanes, m.output_format).ok_or_else(bad)?,
                user: user.parse().map_err(|_| bad())?,
                last: match *last {
                    "0" => false,
                    "1" => true,
                    _ => return Err(bad()),
                },
                cycle: cycle.parse().map_err(|_| bad())?,
            }),
            _ => return Err(bad()),
        }
    }
    Ok((result, seconds))
}

/// A traced beat: the layer, the cycle, the data in hex.
type TraceLine = (String, u64, String);

/// Runs `images` with per-layer traces; returns the log and every traced
/// beat.
fn run_traced(
    built: &Built,
    images: &Array2<i64>,
    traffic: Traffic,
) -> Result<(Log, Vec<TraceLine>), VerifyError> {
    let trace_path = built.dir.join("trace.txt");
    let _ = std::fs::remove_file(&trace_path);
    let (log, _) = run_with(built, images, traffic, &["+trace=trace.txt".into()], &mut |_| {})?;
    let text = std::fs::read_to_string(&trace_path)
        .map_err(|source| VerifyError::Io { path: trace_path.clone(), source })?;
    let mut lines = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let parsed = match f.as_slice() {
            [name, cycle, hex] => {
                cycle.parse().ok().map(|c| (name.to_string(), c, hex.to_string()))
            }
            _ => None,
        };
        lines.push(parsed.ok_or_else(|| VerifyError::Output {
            path: trace_path.clone(),
            reason: format!("bad trace line `{line}`"),
        })?);
    }
    Ok((log, lines))
}

/// Runs `images` with per-layer traces and returns, for every traced layer,
/// the cycles of its output beats counted from the first input beat.
pub fn trace_timing(
    built: &Built,
    images: &Array2<i64>,
    traffic: Traffic,
) -> Result<Vec<(String, Vec<u64>)>, VerifyError> {
    let (log, lines) = run_traced(built, images, traffic)?;
    let t0 = log.starts.first().copied().unwrap_or(0);
    let layers = Contract::of(&built.manifest).layers;
    Ok(layers
        .into_iter()
        .map(|l| {
            let cycles = lines.iter().filter(|(n, _, _)| *n == l.name);
            let cycles = cycles.map(|(_, c, _)| c.saturating_sub(t0)).collect();
            (l.name, cycles)
        })
        .collect())
}

/// Runs one image alone, without gaps, logging every layer's output beats,
/// and returns each traced layer's values for that image in network order
/// (formats and sizes from `net`, the network the design was made from).
pub fn trace_layers(
    built: &Built,
    image: &[i64],
    net: &IntNetwork,
) -> Result<Vec<(String, Vec<i64>)>, VerifyError> {
    let x = Array2::from_shape_vec((1, image.len()), image.to_vec()).expect("one row");
    let trace_path = built.dir.join("trace.txt");
    let (_, lines) = run_traced(built, &x, Traffic::FULL)?;
    let mut out = Vec::new();
    for l in Contract::of(&built.manifest).layers {
        let Some(layer) = net.layers().iter().find(|n| n.name == l.name) else { continue };
        let lanes = layer.output.numel() / l.beats.max(1);
        let mut beats = Vec::new();
        for (_, _, hex) in lines.iter().filter(|(n, _, _)| *n == l.name) {
            let lanes =
                unpack_hex(hex, lanes, layer.format).ok_or_else(|| VerifyError::Output {
                    path: trace_path.clone(),
                    reason: format!("bad trace of `{}`: `{hex}`", l.name),
                })?;
            beats.push(lanes);
        }
        if beats.len() != l.beats {
            return Err(VerifyError::Output {
                path: trace_path.clone(),
                reason: format!(
                    "layer `{}` gave {} beats for one image, {} expected",
                    l.name,
                    beats.len(),
                    l.beats
                ),
            });
        }
        out.push((l.name, from_beats(&beats, l.order)));
    }
    Ok(out)
}
