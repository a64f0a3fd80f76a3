//! `verify`: the RTL on Verilator and Icarus against the simulator.

use super::*;

/// `shiftkit verify`.
#[derive(Clone, Debug)]
pub struct VerifyJob {
    pub model: PathBuf,
    /// The design directory `shiftkit hdl` wrote.
    pub dir: PathBuf,
    pub simulators: Vec<Simulator>,
    /// Random in-range vectors (the extremes of the range are always added).
    pub vectors: usize,
    /// Dataset whose test samples are added (quantized), up to `vectors` of them.
    pub dataset: Option<DatasetName>,
    pub data_dir: Option<PathBuf>,
    pub seed: u64,
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
    pub latency: u32,
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
    samples: Option<&data::Split>,
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

pub fn run_verify(job: &VerifyJob) -> Result<VerifyOutcome, AppError> {
    let (_, net) = load_integer(&job.model)?;
    let manifest_path = job.dir.join("manifest.json");
    let text = std::fs::read_to_string(&manifest_path)
        .map_err(|source| AppError::Io { path: manifest_path.clone(), source })?;
    let manifest: Manifest = serde_json::from_str(&text).map_err(|e| {
        AppError::Usage(format!("{} is not a shiftkit manifest ({e})", manifest_path.display()))
    })?;
    let hash = codegen::network_hash(&net);
    if manifest.network_hash != hash {
        return Err(AppError::Usage(format!(
            "{} holds a design of another network ({}, the model is {hash}); run `shiftkit hdl` again",
            job.dir.display(),
            manifest.network_hash
        )));
    }
    let samples = match job.dataset {
        Some(name) => {
            let d = data::load(name, job.data_dir.as_deref())?;
            check_input_fits(net.input(), &d)?;
            Some(d.test.head(job.vectors.max(1)))
        }
        None => None,
    };
    let x = verification_vectors(&net, job.vectors, job.seed, samples.as_ref());
    let expected = sim::run(&net, x.view())?;
    let argmax = manifest.argmax_bits > 0;
    let steady = x.nrows().min(64);
    let mut reports = Vec::new();
    for &simulator in &job.simulators {
        let build_dir = job.dir.join("build").join(simulator.as_str());
        let built = verify::build(simulator, &job.dir, &manifest, &build_dir, x.nrows())?;
        let mut runs = Vec::new();
        // Without gaps or back-pressure: every beat's latency is the manifest's.
        let plain = Traffic { seed: job.seed as u32, valid: 16, ready: 16 };
        let head = x.slice(ndarray::s![..steady, ..]).to_owned();
        let (beats, seconds) = verify::run(&built, &head, plain)?;
        let exp_head = expected.slice(ndarray::s![..steady, ..]).to_owned();
        let mismatch = verify::compare(&exp_head, &beats, argmax, Some(manifest.latency)).err();
        let diagnosis = mismatch.as_ref().and_then(|m| diagnose(&built, &net, &x, m));
        runs.push(VerifyRun {
            traffic: plain,
            vectors: steady,
            seconds,
            mismatch: mismatch.map(|m| m.to_string()),
            diagnosis,
        });
        // Random valid gaps and back-pressure, every vector.
        let random = Traffic { seed: job.seed as u32 ^ 0x9e37_79b9, valid: 11, ready: 9 };
        let (beats, seconds) = verify::run(&built, &x, random)?;
        let mismatch = verify::compare(&expected, &beats, argmax, None).err();
        let diagnosis = mismatch.as_ref().and_then(|m| diagnose(&built, &net, &x, m));
        runs.push(VerifyRun {
            traffic: random,
            vectors: x.nrows(),
            seconds,
            mismatch: mismatch.map(|m| m.to_string()),
            diagnosis,
        });
        reports.push(SimulatorReport { simulator, build_seconds: built.seconds, runs });
    }
    let passed = reports.iter().all(|r| r.runs.iter().all(|run| run.mismatch.is_none()));
    Ok(VerifyOutcome {
        top: manifest.top,
        latency: manifest.latency,
        vectors: x.nrows(),
        reports,
        passed,
    })
}

/// Runs the mismatching vector alone with per-layer traces and names the first
/// layer whose output differs from the simulator's.
fn diagnose(
    built: &verify::Built,
    net: &IntNetwork,
    x: &ndarray::Array2<i64>,
    mismatch: &verify::Mismatch,
) -> Option<String> {
    let vector = match mismatch {
        verify::Mismatch::Lane { vector, .. } | verify::Mismatch::Argmax { vector, .. } => *vector,
        verify::Mismatch::Count { .. } | verify::Mismatch::Latency { .. } => return None,
    };
    let row = x.row(vector).to_vec();
    let traces = match verify::trace_layers(built, &row) {
        Ok(t) => t,
        Err(e) => return Some(format!("no per-layer trace: {e}")),
    };
    let one = ndarray::Array2::from_shape_vec((1, row.len()), row).expect("one row");
    let expected = sim::run_traced(net, one.view()).ok()?;
    for (name, hex) in traces {
        let k = net.layers().iter().position(|l| l.name == name)?;
        let layer = &net.layers()[k];
        let got = verify::unpack_hex(&hex, layer.output.numel(), layer.format)?;
        let want = expected[k].row(0).to_vec();
        if let Some(lane) = (0..want.len()).find(|&i| got[i] != want[i]) {
            return Some(format!(
                "first differing layer: `{name}`, lane {lane}: expected {}, got {}",
                want[lane], got[lane]
            ));
        }
    }
    Some(
        "every layer agrees when the vector runs alone: the mismatch depends on the stream timing"
            .into(),
    )
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
                    (None, _) => "all outputs equal the simulator's".to_string(),
                    (Some(m), None) => format!("MISMATCH: {m}"),
                    (Some(m), Some(d)) => format!("MISMATCH: {m}; {d}"),
                };
                let _ = writeln!(
                    s,
                    "{:<10} {:>6} vectors, {traffic}: {verdict} ({:.1}s; build {:.1}s)",
                    r.simulator.as_str(),
                    run.vectors,
                    run.seconds,
                    r.build_seconds
                );
            }
        }
        let _ = writeln!(
            s,
            "{}: {} (latency {} cycles)",
            self.top,
            if self.passed { "verified" } else { "FAILED" },
            self.latency
        );
        s
    }
}
