//! A design checked against the simulator: vectors in, every output of every
//! run compared bit for bit, the first disagreement traced to a layer; the
//! outcome and its text.

use std::fmt::Write as _;
use std::path::Path;

use ndarray::{s, Array2};
use serde::Serialize;

use super::stream;
use super::*;
use crate::codegen::manifest::StreamManifest;
use crate::codegen::timing::Timeline;
use crate::codegen::{CodegenError, Form};
use crate::data::Split;
use crate::quant::{FixedFormat, IntNetwork};
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

/// Runs the design in `dir` (generated from `net`, described by `manifest`)
/// on each simulator with the vectors `x` (raw input codes, one per row), and
/// compares every output with the simulator's; a streaming design's timeline
/// is held against its timing model too. `seed` seeds the traffic.
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
    if manifest.stream.is_some() {
        let design = Checked { net, dir, manifest, simulators, seed };
        return verify_stream(&design, x, &expected, progress);
    }
    let argmax = manifest.argmax_bits > 0;
    let steady = x.nrows().min(64);
    let mut reports = Vec::new();
    for &simulator in simulators {
        let name = simulator.as_str();
        let built = compile(simulator, dir, manifest, x.nrows(), progress)?;
        let mut runs = Vec::new();
        // Without gaps or back-pressure: every beat's latency is the manifest's.
        let (plain, random) = traffics(seed);
        let head = x.slice(s![..steady, ..]).to_owned();
        let mut tell = counter(progress, name, "vectors without gaps", head.nrows());
        let (beats, seconds) = run_reporting(&built, &head, plain, &mut tell)?;
        drop(tell);
        let exp_head = expected.slice(s![..steady, ..]).to_owned();
        let mismatch = compare(&exp_head, &beats, argmax, Some(manifest.latency)).err();
        let diagnosis = mismatch.as_ref().and_then(|m| diagnose(&built, net, x, m));
        runs.push(VerifyRun::new(plain, steady, seconds, mismatch, diagnosis));
        // Random valid gaps and back-pressure, every vector.
        let what = "vectors, random gaps and back-pressure";
        let mut tell = counter(progress, name, what, x.nrows());
        let (beats, seconds) = run_reporting(&built, x, random, &mut tell)?;
        drop(tell);
        let mismatch = compare(&expected, &beats, argmax, None).err();
        let diagnosis = mismatch.as_ref().and_then(|m| diagnose(&built, net, x, m));
        runs.push(VerifyRun::new(random, x.nrows(), seconds, mismatch, diagnosis));
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
        mismatch: Option<impl std::fmt::Display>,
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
    (
        Traffic { seed: seed as u32, valid: 16, ready: 16 },
        Traffic { seed: seed as u32 ^ 0x9e37_79b9, valid: 11, ready: 9 },
    )
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

fn diagnose_timing(built: &Built, x: &Array2<i64>, images: usize, traffic: Traffic) -> String {
    let stream = built.manifest.stream.as_ref().expect("a streaming design");
    let head = x.slice(s![..images.min(x.nrows()), ..]).to_owned();
    let traces = match stream::trace_timing(built, &head, traffic) {
        Ok(t) => t,
        Err(e) => return format!("no per-layer trace: {e}"),
    };
    let fires = match stream.handshakes(head.nrows(), traffic) {
        Ok(f) => f,
        Err(e) => return format!("no timing model run: {e}"),
    };
    let t0 = fires[0].first().copied().unwrap_or(0);
    let mut before = "the input".to_string();
    for l in &stream.layers {
        let Some((_, got)) = traces.iter().find(|(n, _)| *n == l.name) else { continue };
        let want: Vec<u64> = fires[l.point].iter().map(|c| c - t0).collect();
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
    "every layer's handshakes follow the timing model: the difference is in the output stage".into()
}

/// Images in a run without gaps or back-pressure, whose timeline is held
/// against the timing model.
const STEADY_IMAGES: usize = 16;

/// A streaming design: whole images beat by beat. A run without gaps checks
/// every output and the timeline of images in and out against the timing
/// model; a run with random gaps and back-pressure checks every output.
fn verify_stream(
    design: &Checked,
    x: &Array2<i64>,
    expected: &Array2<i64>,
    progress: &mut dyn FnMut(&str),
) -> Result<VerifyOutcome, CheckError> {
    let Checked { net, dir, manifest, simulators, seed } = *design;
    let stream = manifest.stream.as_ref().expect("a streaming design");
    let steady = x.nrows().min(STEADY_IMAGES);
    let mut reports = Vec::new();
    for &simulator in simulators {
        let name = simulator.as_str();
        let built = compile(simulator, dir, manifest, x.nrows(), progress)?;
        let mut runs = Vec::new();
        let (plain, random) = traffics(seed);
        let head = x.slice(s![..steady, ..]).to_owned();
        let exp_head = expected.slice(s![..steady, ..]).to_owned();
        let model = model_timeline(stream, steady, plain)?;
        let mut tell = counter(progress, name, "images without gaps", head.nrows());
        let (log, seconds) = stream::run_reporting(&built, &head, plain, &mut tell)?;
        drop(tell);
        let mismatch = stream::compare(manifest, &exp_head, &log, Some(&model)).err();
        let measured = (mismatch.is_none()).then(|| log.timeline(stream.output.beats));
        let diagnosis =
            mismatch.as_ref().and_then(|m| diagnose_stream(&built, net, &head, m, plain));
        runs.push(VerifyRun {
            cycles_per_image: measured.as_ref().filter(|t| t.ends.len() > 1).map(|t| t.interval()),
            latency: measured.as_ref().map(|t| t.latency()),
            ..VerifyRun::new(plain, steady, seconds, mismatch, diagnosis)
        });
        let model = model_timeline(stream, x.nrows(), random)?;
        let what = "images, random gaps and back-pressure";
        let mut tell = counter(progress, name, what, x.nrows());
        let (log, seconds) = stream::run_reporting(&built, x, random, &mut tell)?;
        drop(tell);
        let mismatch = stream::compare(manifest, expected, &log, Some(&model)).err();
        let diagnosis = mismatch.as_ref().and_then(|m| diagnose_stream(&built, net, x, m, random));
        runs.push(VerifyRun::new(random, x.nrows(), seconds, mismatch, diagnosis));
        reports.push(SimulatorReport { simulator, build_seconds: built.seconds, runs });
    }
    Ok(VerifyOutcome::new(manifest, x.nrows(), reports))
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

/// What a check runs: the network, its design and how.
#[derive(Clone, Copy)]
struct Checked<'a> {
    net: &'a IntNetwork,
    dir: &'a Path,
    manifest: &'a Manifest,
    simulators: &'a [Simulator],
    seed: u64,
}

/// The timing model's timeline under the testbench's traffic.
fn model_timeline(
    stream: &StreamManifest,
    images: usize,
    traffic: Traffic,
) -> Result<Timeline, CheckError> {
    Ok(stream.timeline_with(images, traffic).map_err(CodegenError::from)?)
}

/// For a wrong value: runs the image alone with per-layer traces and names
/// the first layer whose output differs from the simulator's. For a timing
/// disagreement: runs the images up to it with traces and names the first
/// layer whose handshakes leave the timing model's schedule.
fn diagnose_stream(
    built: &Built,
    net: &IntNetwork,
    x: &Array2<i64>,
    mismatch: &stream::StreamMismatch,
    traffic: Traffic,
) -> Option<String> {
    if let stream::StreamMismatch::Timing { image, .. } = mismatch {
        return Some(diagnose_timing(built, x, *image + 1, traffic));
    }
    let image = mismatch.image()?;
    let row = x.row(image).to_vec();
    let formats: Vec<(String, FixedFormat)> =
        net.layers().iter().map(|l| (l.name.clone(), l.format)).collect();
    let traces = match stream::trace_layers(built, &row, &formats) {
        Ok(t) => t,
        Err(e) => return Some(format!("no per-layer trace: {e}")),
    };
    first_difference(net, &row, traces, "value", "image")
}

/// The first of the layers' outputs (`traces`, network order) for the
/// network input `row` that differs from the simulator's, named with its
/// first differing `index` (lane or value); `alone` is what ran alone.
fn first_difference(
    net: &IntNetwork,
    row: &[i64],
    traces: Vec<(String, Vec<i64>)>,
    index: &str,
    alone: &str,
) -> Option<String> {
    let one = ndarray::Array2::from_shape_vec((1, row.len()), row.to_vec()).expect("one row");
    let expected = sim::run_traced(net, one.view()).ok()?;
    for (name, got) in traces {
        let k = net.layers().iter().position(|l| l.name == name)?;
        let want = expected[k].row(0).to_vec();
        if let Some(i) = (0..want.len()).find(|&i| got.get(i) != Some(&want[i])) {
            return Some(format!(
                "first differing layer: `{name}`, {index} {i}: expected {}, got {}",
                want[i],
                got.get(i).map_or("nothing".into(), |g| g.to_string())
            ));
        }
    }
    Some(format!(
        "every layer agrees when the {alone} runs alone: the mismatch depends on the stream timing"
    ))
}

/// Runs the mismatching vector alone with per-layer traces and names the first
/// layer whose output differs from the simulator's.
fn diagnose(
    built: &Built,
    net: &IntNetwork,
    x: &Array2<i64>,
    mismatch: &Mismatch,
) -> Option<String> {
    let vector = match mismatch {
        Mismatch::Lane { vector, .. } | Mismatch::Argmax { vector, .. } => *vector,
        Mismatch::Count { .. } | Mismatch::Latency { .. } => return None,
    };
    let row = x.row(vector).to_vec();
    let traces = match trace_layers(built, &row) {
        Ok(t) => t,
        Err(e) => return Some(format!("no per-layer trace: {e}")),
    };
    let values = traces.into_iter().map(|(name, hex)| {
        let layer = net.layers().iter().find(|l| l.name == name)?;
        let got = unpack_hex(&hex, layer.output.numel(), layer.format)?;
        Some((name, got))
    });
    first_difference(net, &row, values.collect::<Option<Vec<_>>>()?, "lane", "vector")
}

impl VerifyOutcome {
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for r in &self.reports {
            for run in &r.runs {
                let traffic = if run.traffic.valid == 16 && run.traffic.ready == 16 {
                    "no gaps, no back-pressure".to_string()
                } else {
                    format!(
                        "valid {}/16, ready {}/16, seed {}",
                        run.traffic.valid, run.traffic.ready, run.traffic.seed
                    )
                };
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
