//! `flow`: the whole chain in one command.

use super::*;
use crate::compress::Recipe;

/// `shiftkit flow`: train, compress, generate, verify, report.
#[derive(Clone, Debug)]
pub struct FlowJob {
    pub dataset: DatasetName,
    pub data_dir: Option<PathBuf>,
    pub arch: String,
    pub method: Method,
    pub bits: u32,
    pub dir: PathBuf,
    pub seed: u64,
    /// Random vectors for verification (the test split is added).
    pub vectors: usize,
    /// Build for a device (the design in `hdl/` is the fitted one).
    pub target: Option<Target>,
}

impl FlowJob {
    /// The defaults for a dataset: the digits MLP, or a small Fashion-MNIST MLP.
    pub fn default_arch(dataset: DatasetName) -> &'static str {
        match dataset {
            DatasetName::Digits => "mlp:64-32-10",
            DatasetName::FashionMnist => "mlp:784-64-10",
        }
    }
}

/// Random images (and as many test images, besides the three extremes)
/// Icarus gets for a streaming design...
const ICARUS_STREAM_IMAGES: usize = 1;
/// ...and random vectors (and as many test samples) for an unrolled one:
/// Icarus runs tens of vectors a second on a large design, Verilator gets
/// them all.
const ICARUS_VECTORS: usize = 100;
/// Test images the simulated board classifies at the end of a flow on a
/// board (each crosses the simulated UART bit by bit).
const BOARD_IMAGES: usize = 1000;

/// Fails before any training if the network, compressed as `recipe` says,
/// cannot become hardware: the untrained network is quantized and its design
/// generated (or, for a device, fitted by the resource model).
fn check_hardware(job: &FlowJob, recipe: &Recipe, config: &HdlConfig) -> Result<(), AppError> {
    let net = ArchSpec::parse(&job.arch)?.build(job.seed)?;
    let data = data::load(job.dataset, job.data_dir.as_deref())?;
    check_input_fits(net.input(), &data)?;
    let spec = recipe.steps.iter().find_map(|s| s.kind.coding());
    let coded = compress::weighted_layers(&net)
        .into_iter()
        .filter_map(|i| Some((net.layers()[i].name.clone(), spec?)))
        .collect();
    let calibration = data.val.head(256);
    let q = quant::quantize(&net, calibration.x.view(), &recipe.quantize.config(coded))?;
    match &job.target {
        Some(t) => {
            t.check(&q)?;
            codegen::fit::fit(&q, &crate::fpga::hdl_config(&q, t), &t.device, &t.budget(0))?;
        }
        None => {
            codegen::generate(&q, config)?;
        }
    }
    Ok(())
}

/// What `shiftkit flow` reports.
#[derive(Clone, Debug, Serialize)]
pub struct FlowOutcome {
    pub dir: PathBuf,
    pub train: TrainOutcome,
    pub compress: CompressOutcome,
    pub hdl: HdlOutcome,
    /// Simulators that were not installed.
    pub skipped: Vec<String>,
    pub verify: Option<VerifyOutcome>,
    pub build: Option<BuildOutcome>,
    /// On a board: the simulated board's run (skipped without Verilator).
    pub board_run: Option<RunOutcome>,
    /// The survey row of the compressed model, as Markdown...
    pub report: PathBuf,
    /// ...and the whole run as one HTML page.
    pub html: PathBuf,
}

pub fn run_flow(
    job: &FlowJob,
    observer: &mut dyn compress::InqObserver,
    progress: &mut dyn FnMut(&str),
) -> Result<FlowOutcome, AppError> {
    let (epochs, batch) = train::defaults::schedule(job.dataset);
    // Training and retraining take the dataset's batch size.
    let settings =
        train::TrainSettings { batch: Some(batch), seed: Some(job.seed), ..Default::default() };
    let conv = ArchSpec::parse(&job.arch)?.convolutional();
    let train_cfg = settings.resolve_train(job.dataset, conv, epochs)?;
    // Everything that can be checked is checked before the training starts.
    check_vectors(job.vectors)?;
    let recipe =
        MethodJob { bits: job.bits, train: settings.clone(), ..MethodJob::new(job.method) }
            .to_recipe()?;
    let hdl_config =
        HdlConfig { argmax: true, ..HdlConfig::new("shiftkit_top", codegen::Form::Auto) };
    progress("checking that the network can become hardware");
    check_hardware(job, &recipe, &hdl_config)?;
    std::fs::create_dir_all(&job.dir)
        .map_err(|source| AppError::Io { path: job.dir.clone(), source })?;
    let float_path = job.dir.join("float.skm");
    let train = run_train(
        &TrainJob {
            arch: job.arch.clone(),
            dataset: job.dataset,
            data_dir: job.data_dir.clone(),
            train_samples: None,
            config: train_cfg.clone(),
            init_seed: job.seed,
            distill: None,
            output: float_path.clone(),
        },
        observer,
    )?;
    let compressed_path = job.dir.join("compressed.skm");
    let compress = run_compress(
        &CompressJob {
            model: float_path,
            dataset: Some(job.dataset),
            data_dir: job.data_dir.clone(),
            train_samples: None,
            recipe,
            output: compressed_path.clone(),
        },
        observer,
    )?;
    let report = job.dir.join("report.md");
    let table = crate::report::markdown(std::slice::from_ref(&compress.report));
    model::write_atomically(&report, table.as_bytes())?;
    // On a device, the design is the build's: fitted, synthesized, placed
    // and routed; it is verified like any other.
    let (hdl_dir, hdl, build) = match &job.target {
        Some(target) => {
            let dir = job.dir.join("build");
            let start = std::time::Instant::now();
            let build = run_build(
                &BuildJob {
                    model: compressed_path.clone(),
                    dir: dir.clone(),
                    target: target.clone(),
                },
                progress,
            )?;
            let manifest = read_manifest(&dir)?;
            let hdl = HdlOutcome {
                dir: dir.clone(),
                manifest,
                estimate: None,
                seconds: start.elapsed().as_secs_f64(),
            };
            (dir, hdl, Some(build))
        }
        None => {
            let dir = job.dir.join("hdl");
            let hdl = run_hdl(&compressed_path, &dir, &hdl_config)?;
            (dir, hdl, None)
        }
    };
    progress("verifying the RTL against the simulator");
    let (simulators, skipped): (Vec<Simulator>, Vec<Simulator>) =
        [Simulator::Verilator, Simulator::Icarus].into_iter().partition(|s| s.available());
    // Icarus runs a streaming design slowly (tens of cycles a second for a
    // LeNet-5 whose layers are all busy): it gets the extremes and one random
    // and one test image, Verilator all of them.
    let streaming = hdl.manifest.stream.is_some();
    let mut verify: Option<VerifyOutcome> = None;
    for simulator in simulators {
        let vectors = match (streaming, simulator) {
            (true, Simulator::Icarus) => job.vectors.min(ICARUS_STREAM_IMAGES),
            (false, Simulator::Icarus) => job.vectors.min(ICARUS_VECTORS),
            _ => job.vectors,
        };
        let outcome = run_verify(
            &VerifyJob {
                model: compressed_path.clone(),
                dir: hdl_dir.clone(),
                simulators: vec![simulator],
                vectors,
                dataset: Some(job.dataset),
                data_dir: job.data_dir.clone(),
                seed: job.seed,
            },
            progress,
        )?;
        verify = Some(match verify {
            None => outcome,
            Some(mut all) => {
                all.passed &= outcome.passed;
                all.vectors = all.vectors.max(outcome.vectors);
                all.reports.extend(outcome.reports);
                all
            }
        });
    }
    // On a board, the whole system last: the host program talks to the
    // simulated board through its terminal.
    let board_run = match &job.target {
        Some(t) if t.board.is_some() && Simulator::Verilator.available() => Some(run_board(
            &RunJob {
                model: compressed_path.clone(),
                board: Board::Sim { build: hdl_dir.clone(), baud: None },
                dataset: Some(job.dataset),
                data_dir: job.data_dir.clone(),
                split: SplitName::Test,
                limit: Some(BOARD_IMAGES),
                timeout: std::time::Duration::from_secs(10),
            },
            progress,
        )?),
        _ => None,
    };
    progress("writing the HTML report");
    let html = job.dir.join(REPORT_HTML);
    let (file, net) = load_integer(&compressed_path)?;
    let float = model::load(&job.dir.join("float.skm"))?.float;
    let hardware = hardware_view(&hdl.manifest, verify.as_ref(), build.as_ref());
    let page = model_page(compress.report.clone(), &file, &net, &float, Some(hardware));
    let text = crate::report::html::page(
        &format!("shiftkit flow: {} on {}", job.arch, job.dataset),
        Some(job.dataset.as_str()),
        &[page],
        &[],
    );
    model::write_atomically(&html, text.as_bytes())?;
    Ok(FlowOutcome {
        dir: job.dir.clone(),
        train,
        compress,
        hdl,
        skipped: skipped.iter().map(|s| s.as_str().to_string()).collect(),
        verify,
        build,
        board_run,
        report,
        html,
    })
}

impl FlowOutcome {
    pub fn to_text(&self) -> String {
        let c = &self.compress;
        let m = &self.hdl.manifest;
        let mut s = String::new();
        let row = |s: &mut String, k: &str, v: String| {
            let _ = writeln!(s, "  {k:<26} {v}");
        };
        let _ = writeln!(
            s,
            "shiftkit flow: {} on {}, {} -> Verilog in {}",
            self.train.arch,
            c.dataset,
            c.method,
            self.hdl.dir.display()
        );
        row(
            &mut s,
            "float accuracy",
            format!(
                "{:.2}% trained, {:.2}% compressed",
                c.original_accuracy * 100.0,
                c.float_accuracy * 100.0
            ),
        );
        row(
            &mut s,
            "integer accuracy",
            format!("{:.2}% (bit-exact simulator)", c.integer_accuracy * 100.0),
        );
        row(&mut s, "parameter bytes", format!("{} (float32: {})", c.bytes, c.float_bytes));
        row(&mut s, "compression", format!("{:.1}x", c.float_bytes as f64 / c.bytes as f64));
        row(&mut s, "adders", format!("{} ({} adder bits)", m.cost.adders, m.cost.adder_bits));
        row(&mut s, "LUT estimate / FFs", format!("{} / {}", m.cost.luts, m.cost.ffs));
        match &m.stream {
            Some(st) => row(
                &mut s,
                "streaming design",
                format!(
                    "{} cycles per image, latency {} cycles, {} input beats per image",
                    st.cycles_per_image, st.latency, st.input.beats
                ),
            ),
            None => row(&mut s, "latency", format!("{} cycles", m.latency)),
        }
        match &self.verify {
            Some(v) => {
                for r in &v.reports {
                    let ok = r.runs.iter().all(|run| run.mismatch.is_none());
                    let vectors: usize = r.runs.iter().map(|run| run.vectors).sum();
                    row(
                        &mut s,
                        &format!("verified on {}", r.simulator.as_str()),
                        format!(
                            "{} ({vectors} {}, with back-pressure)",
                            if ok { "pass" } else { "FAIL" },
                            if m.stream.is_some() { "images" } else { "vectors" }
                        ),
                    );
                }
            }
            None => row(&mut s, "verification", "skipped: no simulator installed".into()),
        }
        for sim in &self.skipped {
            row(&mut s, sim, "not installed, skipped".into());
        }
        if let Some(b) = &self.build {
            s.push_str(&b.to_text());
        }
        if let Some(r) = &self.board_run {
            s.push_str(&r.to_text());
        }
        let d = self.dir.display();
        let design = self.hdl.dir.display();
        let _ = writeln!(
            s,
            "\nwritten in {d}: float.skm (the trained network), compressed.skm (compressed and \
             quantized), {design} (Verilog, manifest.json, testbenches under build/), report.md\n\
             report, with plots: {}\n\
             next: shiftkit info {d}/compressed.skm; shiftkit report {d}/compressed.skm \
             --reference {d}/float.skm; shiftkit verify {d}/compressed.skm {design}{}",
            self.html.display(),
            if self.build.is_none() {
                format!("; shiftkit build {d}/compressed.skm -o {d}/build --target ice40-up5k")
            } else {
                String::new()
            }
        );
        s
    }

    pub fn passed(&self) -> bool {
        self.verify.as_ref().is_none_or(|v| v.passed)
            && self.board_run.as_ref().is_none_or(|r| r.passed())
    }

    /// Whether a build (if any) met its clock.
    pub fn timing_met(&self) -> bool {
        self.build.as_ref().and_then(|b| b.timing_met).unwrap_or(true)
    }
}
