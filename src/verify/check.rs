//! A design checked against the simulator: vectors in, every output of every
//! run compared bit for bit, the first disagreement traced to a layer; the
//! outcome and its text.

use std::fmt::Write as _;
use std::path::Path;

use ndarray::{s, Array2};
use serde::Serialize;

use super::bench::{build, Built};
use super::compare::{compare, Mismatch};
use super::contract::Contract;
use super::run::{run_reporting, trace_layers, trace_timing};
use super::{Simulator, Traffic, VerifyError};
use crate::codegen::timing::Timeline;
use crate::codegen::{CodegenError, Form, Manifest};
use crate::data::Split;
use crate::quant::IntNetwork;
use crate::report::count;
use crate::sim::{self, SimError};

/// Random vectors (or images) a check may ask for at most.
pub const MAX_VECTORS: usize = 1_000_000;

/// Why a check could not run (a disagreement is an outcome, not an error).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Verify(#[from] VerifyError),
    #[error(transparent)]
    Sim(#[from] SimError),
    #[error(transparent)]
    Codegen(#[from] CodegenError),
}

/// One testbench run.
#[derive(Clone, Debug, Serialize)]
pub struct VerifyRun {
    pub traffic: Traffic,
    pub vectors: usize,
    pub seconds: f64,
    /// The first disagreement, if any.
    pub mismatch: Option<String>,
    /// For a mismatch: the first layer whose output differs when the vector
    /// runs alone, from per-layer traces.
    pub diagnosis: Option<String>,
    /// Streaming, without gaps: measured cycles between the last two images'
    /// last output beats, and the first image's latency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cycles_per_image: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency: Option<u64>,
}

/// The runs of one simulator.
#[derive(Clone, Debug, Serialize)]
pub struct SimulatorReport {
    pub simulator: Simulator,
    pub build_seconds: f64,
    pub runs: Vec<VerifyRun>,
}

/// What `shiftkit verify` reports.
#[derive(Clone, Debug, Serialize)]
pub struct VerifyOutcome {
    pub top: String,
    pub form: Form,
    pub latency: u32,
    /// Streaming: the manifest's cycles per image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cycles_per_image: Option<u64>,
    pub vectors: usize,
    pub reports: Vec<SimulatorReport>,
    pub passed: bool,
}

/// The verification vectors: the extremes of the input range, `n` random
/// in-range vectors, and (quantized) dataset samples.
pub fn verification_vectors(
    net: &IntNetwork,
    n: usize,
    seed: u64,
    samples: Option<&Split>,
) -> ndarray::Array2<i64> {
    use rand::{Rng, SeedableRng};
    let f = net.input_format();
    let width = net.input().numel();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut rows: Vec<i64> = Vec::new();
    rows.extend(std::iter::repeat_n(f.min(), width));
    rows.extend(std::iter::repeat_n(f.max(), width));
    rows.extend((0..width).map(|i| if i % 2 == 0 { f.min() } else { f.max() }));
    for _ in 0..n * width {
        rows.push(rng.gen_range(f.min()..=f.max()));
    }
    let mut x = ndarray::Array2::from_shape_vec((3 + n, width), rows).expect("counted");
    if let Some(s) = samples {
        let q = sim::quantize_input(net, s.x.view());
        x = ndarray::concatenate(ndarray::Axis(0), &[x.view(), q.view()]).expect("same width");
    }
    x
}

/// Images in a run without gaps or back-pressure (the first of the vectors).
const STEADY_IMAGES: usize = 16;

/// Images in the run that starts silent and trickles in.
const TRICKLE_IMAGES: usize = 2;

/// Runs the design in `dir` (generated from `net`, described by `manifest`)
/// on each simulator with the vectors `x` (raw input codes, one image per
/// row), three times: the first images without gaps or back-pressure; two
/// images after a silent start (no input for the latency and 64 cycles
/// more), trickling in one beat in 16 cycles; every image with seeded random gaps and
/// back-pressure (`seed`). Every output and its tlast is compared with the
/// simulator's, no image may leave before it entered, and every image's
/// first beat in and last beat out must come when the timing model says;
/// the first disagreement is traced to a layer.
pub fn check_design(
    net: &IntNetwork,
    dir: &Path,
    manifest: &Manifest,
    x: &Array2<i64>,
    simulators: &[Simulator],
    seed: u64,
    progress: &mut dyn FnMut(&str),
) -> Result<VerifyOutcome, CheckError> {
    let expected = sim::run(net, x.view())?;
    let contract = Contract::of(manifest);
    let steady = x.nrows().min(STEADY_IMAGES);
    let (plain, random) = traffics(seed);
    let unit = if manifest.stream.is_some() { "images" } else { "vectors" };
    let mut reports = Vec::new();
    for &simulator in simulators {
        let name = simulator.as_str();
        let built = compile(simulator, dir, manifest, x.nrows(), progress)?;
        let mut runs = Vec::new();
        let silent = contract.latency + 64;
        let trickle = Traffic { warmup: silent, ..Traffic::new(seed as u32 ^ 0x5bd1_e995, 1, 16) };
        for (traffic, images, what) in [
            (plain, steady, format!("{unit} without gaps")),
            (
                trickle,
                x.nrows().min(TRICKLE_IMAGES),
                format!("{unit} after {silent} silent cycles, trickling in"),
            ),
            (random, x.nrows(), format!("{unit}, random gaps and back-pressure")),
        ] {
            let head = x.slice(s![..images, ..]).to_owned();
            let want = expected.slice(s![..images, ..]).to_owned();
            let model = contract.timeline(images, traffic).map_err(CodegenError::from)?;
            let mut tell = counter(progress, name, &what, images);
            let (log, seconds) = run_reporting(&built, &head, traffic, &mut tell)?;
            drop(tell);
            let mismatch = compare(manifest, &want, &log, Some(&model)).err();
            let diagnosis =
                mismatch.as_ref().map(|m| diagnose(&built, net, &head, m, traffic, &contract));
            let measured = (traffic == plain && mismatch.is_none())
                .then(|| log.timeline(contract.output.beats));
            runs.push(VerifyRun {
                cycles_per_image: measured
                    .as_ref()
                    .filter(|t| t.ends.len() > 1)
                    .map(Timeline::interval),
                latency: measured.as_ref().map(Timeline::latency),
                ..VerifyRun::new(traffic, images, seconds, mismatch, diagnosis)
            });
        }
        reports.push(SimulatorReport { simulator, build_seconds: built.seconds, runs });
    }
    Ok(VerifyOutcome::new(manifest, x.nrows(), reports))
}

impl VerifyRun {
    /// A run of `vectors` with its first disagreement (if any) and diagnosis.
    fn new(
        traffic: Traffic,
        vectors: usize,
        seconds: f64,
        mismatch: Option<Mismatch>,
        diagnosis: Option<String>,
    ) -> VerifyRun {
        VerifyRun {
            traffic,
            vectors,
            seconds,
            mismatch: mismatch.map(|m| m.to_string()),
            diagnosis,
            cycles_per_image: None,
            latency: None,
        }
    }
}

/// The two runs of every simulator: without gaps or back-pressure, and with
/// seeded random ones.
fn traffics(seed: u64) -> (Traffic, Traffic) {
    (Traffic::new(seed as u32, 16, 16), Traffic::new(seed as u32 ^ 0x9e37_79b9, 11, 9))
}

impl VerifyOutcome {
    fn new(manifest: &Manifest, vectors: usize, reports: Vec<SimulatorReport>) -> VerifyOutcome {
        let passed = reports.iter().all(|r| r.runs.iter().all(|run| run.mismatch.is_none()));
        VerifyOutcome {
            top: manifest.top.clone(),
            form: manifest.form,
            latency: manifest.latency,
            cycles_per_image: manifest.stream.as_ref().map(|s| s.cycles_per_image),
            vectors,
            reports,
            passed,
        }
    }
}

/// For a wrong value: runs the image alone with per-layer traces and names
/// the first layer whose output differs from the simulator's. For a timing
/// disagreement: runs the images up to it with traces and names the first
/// layer whose beats leave the timing model's schedule.
fn diagnose(
    built: &Built,
    net: &IntNetwork,
    x: &Array2<i64>,
    mismatch: &Mismatch,
    traffic: Traffic,
    contract: &Contract,
) -> String {
    if let Mismatch::Timing { image, .. } = mismatch {
        return diagnose_timing(built, x, *image + 1, traffic, contract);
    }
    let Some(image) = mismatch.image() else {
        return "the beats in and out do not count whole images".into();
    };
    let row = x.row(image).to_vec();
    match trace_layers(built, &row, net) {
        Ok(traces) => first_difference(net, &row, traces),
        Err(e) => format!("no per-layer trace: {e}"),
    }
}

fn diagnose_timing(
    built: &Built,
    x: &Array2<i64>,
    images: usize,
    traffic: Traffic,
    contract: &Contract,
) -> String {
    let head = x.slice(s![..images.min(x.nrows()), ..]).to_owned();
    let traces = match trace_timing(built, &head, traffic) {
        Ok(t) => t,
        Err(e) => return format!("no per-layer trace: {e}"),
    };
    let fires = match contract.handshakes(head.nrows(), traffic) {
        Ok(f) => f,
        Err(e) => return format!("no timing model run: {e}"),
    };
    let t0 = fires[0].first().copied().unwrap_or(0);
    let mut before = "the input".to_string();
    for l in &contract.layers {
        let (Some(point), Some((_, got))) = (l.point, traces.iter().find(|(n, _)| *n == l.name))
        else {
            continue;
        };
        let want: Vec<u64> = fires[point].iter().map(|c| c - t0).collect();
        if let Some(k) = (0..got.len().max(want.len())).find(|&k| got.get(k) != want.get(k)) {
            let show = |v: Option<&u64>| v.map_or("none".into(), |c| format!("cycle {c}"));
            return format!(
                "first layer off the timing model's schedule: `{}`, output beat {k} at {}, the \
                 model says {} (the difference lies between {before} and its output)",
                l.name,
                show(got.get(k)),
                show(want.get(k))
            );
        }
        before = format!("the output of `{}`", l.name);
    }
    "every traced layer's beats follow the timing model: the difference is in the output stage"
        .into()
}

/// The first of the layers' outputs (`traces`, network order) for the
/// network input `row` that differs from the simulator's.
fn first_difference(net: &IntNetwork, row: &[i64], traces: Vec<(String, Vec<i64>)>) -> String {
    let one = ndarray::Array2::from_shape_vec((1, row.len()), row.to_vec()).expect("one row");
    let expected = match sim::run_traced(net, one.view()) {
        Ok(e) => e,
        Err(e) => return format!("no simulator trace: {e}"),
    };
    for (name, got) in traces {
        let Some(k) = net.layers().iter().position(|l| l.name == name) else { continue };
        let want = expected[k].row(0).to_vec();
        if let Some(i) = (0..want.len()).find(|&i| got.get(i) != Some(&want[i])) {
            return format!(
                "first differing layer: `{name}`, value {i}: expected {}, got {}",
                want[i],
                got.get(i).map_or("nothing".into(), |g| g.to_string())
            );
        }
    }
    "every layer agrees when the image runs alone: the mismatch depends on the stream timing".into()
}

/// Tells `progress` how far a run is: `verilator: 1200/20003 images without
/// gaps, 950/s`.
fn counter<'a>(
    progress: &'a mut dyn FnMut(&str),
    simulator: &'a str,
    what: &'a str,
    total: usize,
) -> impl FnMut(usize) + 'a {
    let start = std::time::Instant::now();
    progress(&format!("{simulator}: 0/{total} {what}"));
    move |done| {
        let rate = done as f64 / start.elapsed().as_secs_f64().max(1e-3);
        progress(&format!("{simulator}: {done}/{total} {what}, {rate:.0}/s"));
    }
}

/// Builds the design in `dir` for `simulator` (under `build/`), for runs of
/// up to `rows` vectors.
fn compile(
    simulator: Simulator,
    dir: &Path,
    manifest: &Manifest,
    rows: usize,
    progress: &mut dyn FnMut(&str),
) -> Result<Built, CheckError> {
    progress(&format!("{}: compiling the design", simulator.as_str()));
    let build_dir = dir.join("build").join(simulator.as_str());
    Ok(build(simulator, dir, manifest, &build_dir, rows)?)
}

impl VerifyOutcome {
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for r in &self.reports {
            for run in &r.runs {
                let t = run.traffic;
                let mut traffic = if t.valid == 16 && t.ready == 16 {
                    "no gaps, no back-pressure".to_string()
                } else {
                    format!("valid {}/16, ready {}/16, seed {}", t.valid, t.ready, t.seed)
                };
                if t.warmup > 0 {
                    traffic = format!("{} silent cycles, then {traffic}", t.warmup);
                }
                let verdict = match (&run.mismatch, &run.diagnosis) {
                    (None, _) if run.latency.is_some() => format!(
                        "all outputs equal the simulator's; latency {} and {} cycles per image as \
                         the timing model says",
                        run.latency.unwrap_or(0),
                        run.cycles_per_image.map_or("-".into(), |c| c.to_string())
                    ),
                    (None, _) => "all outputs equal the simulator's".to_string(),
                    (Some(m), None) => format!("MISMATCH: {m}"),
                    (Some(m), Some(d)) => format!("MISMATCH: {m}; {d}"),
                };
                let unit = if self.cycles_per_image.is_some() { "image" } else { "vector" };
                let _ = writeln!(
                    s,
                    "{:<10} {:>13}, {traffic}: {verdict} ({:.1}s; build {:.1}s)",
                    r.simulator.as_str(),
                    count(run.vectors as u64, unit),
                    run.seconds,
                    r.build_seconds
                );
            }
        }
        let unit = if self.cycles_per_image.is_some() { "image" } else { "vector" };
        let _ = writeln!(
            s,
            "{}: {} on {} ({} form, latency {} cycles{})",
            self.top,
            if self.passed { "verified" } else { "FAILED" },
            count(self.vectors as u64, unit),
            self.form.as_str(),
            self.latency,
            self.cycles_per_image.map_or(String::new(), |c| format!(", {c} cycles per image"))
        );
        s
    }
}
