//! One function per subcommand: flags into a job of `shiftkit::app`, the
//! outcome printed, failures given their context.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};

use crate::args::*;
use crate::progress::{print_outcome, step_spinner, EpochBars};

/// What every command is told besides its flags.
pub struct Ctx {
    /// Replace symbolic links and special files at output paths.
    pub force: bool,
    /// No progress bars or spinners.
    pub quiet: bool,
}

impl Ctx {
    /// Checks an output file before any work.
    fn output_file(&self, path: &std::path::Path) -> Result<()> {
        Ok(shiftkit::model::check_output_file(path, self.force)?)
    }
}
use shiftkit::data::DatasetName;
use shiftkit::{app, compress, quant};

pub fn parse_dataset(s: &str) -> Result<DatasetName> {
    Ok(s.parse::<DatasetName>()?)
}

pub fn train(args: TrainArgs, ctx: &Ctx) -> Result<()> {
    ctx.output_file(&args.output)?;
    let dataset = parse_dataset(&args.data)?;
    let (epochs, batch) = shiftkit::train::defaults::schedule(dataset);
    let epochs = args.epochs.unwrap_or(epochs);
    if epochs == 0 {
        bail!("--epochs must be at least 1");
    }
    let settings = args.optim.to_settings();
    let settings =
        shiftkit::train::TrainSettings { batch: settings.batch.or(Some(batch)), ..settings };
    // The architecture is read again by the job; here it says which rate.
    let conv = shiftkit::model::ArchSpec::parse(&args.arch).is_ok_and(|s| s.convolutional());
    let config = settings.resolve_train(dataset, conv, epochs)?;
    let job = app::TrainJob {
        arch: args.arch,
        dataset,
        data_dir: args.data_args.data_dir,
        train_samples: args.subset.train_samples,
        init_seed: config.seed,
        config,
        distill: args.teacher.map(|teacher| compress::DistillSpec {
            teacher: Some(teacher),
            temperature: args.temperature,
            lambda: args.lambda,
            lambda_end: args.lambda_end,
        }),
        output: args.output,
    };
    let mut bars = EpochBars::new(job.config.epochs, args.json || ctx.quiet);
    let outcome = app::run_train(&job, &mut bars)
        .with_context(|| format!("training {} on {}", job.arch, job.dataset))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outcome)?);
    } else {
        println!(
            "test accuracy {:.2}% (validation {:.2}%; {} of {}, {:.1}s); model written to {}",
            outcome.test_accuracy * 100.0,
            outcome.val_accuracy * 100.0,
            shiftkit::report::count(outcome.epochs.len() as u64, "epoch"),
            shiftkit::report::count(outcome.train_samples as u64, "training sample"),
            outcome.seconds,
            outcome.output.display()
        );
    }
    Ok(())
}

pub fn import(args: ImportArgs, ctx: &Ctx) -> Result<()> {
    ctx.output_file(&args.output)?;
    let dataset = args.data.as_deref().map(parse_dataset).transpose()?;
    let outcome = app::run_import(&args.onnx, &args.output, dataset)
        .with_context(|| format!("importing {}", args.onnx.display()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outcome)?);
    } else {
        println!(
            "{} layers, {} parameters (producer `{}`, opset {}); written to {}",
            outcome.network.layers.len(),
            outcome.network.params,
            outcome.producer,
            outcome.opset,
            outcome.output.display()
        );
    }
    Ok(())
}

pub fn export(args: ExportArgs, ctx: &Ctx) -> Result<()> {
    ctx.output_file(&args.output)?;
    let outcome = app::run_export(&args.model, &args.output)
        .with_context(|| format!("exporting {}", args.model.display()))?;
    println!(
        "{} layers{} written to {}",
        outcome.layers,
        if outcome.dequantized { " (dequantized integer weights)" } else { "" },
        outcome.output.display()
    );
    Ok(())
}

pub fn eval(args: EvalArgs, _ctx: &Ctx) -> Result<()> {
    let dataset = args.data.as_deref().map(parse_dataset).transpose()?;
    let outcome =
        app::run_eval(&args.model, dataset, args.data_args.data_dir.as_deref(), args.split.into())
            .with_context(|| format!("evaluating {}", args.model.display()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outcome)?);
    } else {
        let integer = outcome
            .integer_accuracy
            .map_or(String::new(), |a| format!(", integer {:.2}%", a * 100.0));
        println!(
            "{}: top-1 accuracy float {:.2}%{integer} on the {} {} split ({} samples)",
            outcome.model.display(),
            outcome.float_accuracy * 100.0,
            outcome.dataset,
            outcome.split,
            outcome.samples
        );
    }
    Ok(())
}

pub fn info(args: InfoArgs, _ctx: &Ctx) -> Result<()> {
    let outcome = app::run_info(&args.model)?;
    print_outcome(args.json, &outcome, || outcome.to_text())?;
    Ok(())
}

pub fn quantize(args: QuantizeArgs, ctx: &Ctx) -> Result<()> {
    ctx.output_file(&args.output)?;
    let job = app::QuantizeJob {
        dataset: args.data.as_deref().map(parse_dataset).transpose()?,
        data_dir: args.data_args.data_dir,
        settings: args.quant.to_settings(args.weights),
        output: args.output,
        model: args.model,
    };
    let outcome =
        app::run_quantize(&job).with_context(|| format!("quantizing {}", job.model.display()))?;
    print_outcome(args.json, &outcome, || outcome.to_text())?;
    Ok(())
}

pub fn compress(args: CompressArgs, ctx: &Ctx) -> Result<()> {
    ctx.output_file(&args.output)?;
    if let Some(report) = &args.report {
        ctx.output_file(report)?;
    }
    let recipe = match (&args.recipe, args.method) {
        (Some(path), _) => {
            compress::Recipe::load(path).with_context(|| format!("recipe {}", path.display()))?
        }
        (None, Some(method)) => method_job(&args, method)?.to_recipe()?,
        (None, None) => bail!("give --method or --recipe"),
    };
    // The bars say "epoch N/total" only when every training step runs the same
    // number of epochs; a hint of 2 then 8 of distillation reads "epoch N".
    let mut trained = recipe.steps.iter().map(|s| s.epochs).filter(|&e| e > 0);
    let epochs = match trained.next() {
        Some(first) if trained.all(|e| e == first) => first,
        _ => 0,
    };
    let job = app::CompressJob {
        dataset: args.data.as_deref().map(parse_dataset).transpose()?,
        data_dir: args.data_args.data_dir,
        train_samples: args.subset.train_samples,
        recipe,
        output: args.output,
        model: args.model,
    };
    let mut bars = EpochBars::new(epochs, args.json || ctx.quiet);
    let outcome = app::run_compress(&job, &mut bars)
        .with_context(|| format!("compressing {}", job.model.display()))?;
    if let Some(path) = &args.report {
        let md = shiftkit::report::markdown(std::slice::from_ref(&outcome.report));
        shiftkit::model::write_atomically(path, md.as_bytes())
            .with_context(|| format!("writing the report {}", path.display()))?;
    }
    print_outcome(args.json, &outcome, || outcome.to_text())?;
    Ok(())
}

/// The single-method flags of `compress` as a job.
fn method_job(args: &CompressArgs, method: MethodArg) -> Result<app::MethodJob> {
    let mut layer_bits = BTreeMap::new();
    for item in args.layer_bits.iter().flat_map(|s| s.split(',')).filter(|s| !s.is_empty()) {
        let (name, bits) = item
            .split_once('=')
            .with_context(|| format!("--layer-bits `{item}`: expected LAYER=BITS"))?;
        let bits = bits
            .parse()
            .with_context(|| format!("--layer-bits `{item}`: `{bits}` is not a bit width"))?;
        layer_bits.insert(name.to_string(), bits);
    }
    Ok(app::MethodJob {
        method: method.into(),
        bits: args.bits,
        layer_bits,
        schedule: args.schedule.0.clone(),
        range: args.inq_range,
        epochs_per_step: args.epochs_per_step,
        epochs: args.epochs,
        keep_first_last: args.keep_first_last,
        scale: !args.no_scale,
        train: args.optim.to_settings(),
        quantize: args.quant.to_settings(quant::defaults::WEIGHTS),
    })
}

pub fn report(args: ReportArgs, ctx: &Ctx) -> Result<()> {
    for out in args.output.iter().chain(&args.html) {
        ctx.output_file(out)?;
    }
    let job = app::ReportJob {
        models: args.models,
        reference: args.reference,
        dataset: args.data.as_deref().map(parse_dataset).transpose()?,
        data_dir: args.data_args.data_dir,
        output: args.output,
        html: args.html,
        sensitivity: args.sensitivity,
    };
    let outcome = app::run_report(&job).context("reporting")?;
    print_outcome(args.json, &outcome, || outcome.to_text())?;
    if let (Some(path), false) = (&outcome.html, args.json) {
        eprintln!("HTML report written to {}", path.display());
    }
    Ok(())
}

pub fn sensitivity(args: SensitivityArgs, ctx: &Ctx) -> Result<()> {
    if let Some(out) = &args.output {
        ctx.output_file(out)?;
    }
    let job = app::SensitivityJob {
        dataset: args.data.as_deref().map(parse_dataset).transpose()?,
        data_dir: args.data_args.data_dir,
        probes: compress::Probes {
            sparsities: args.sparsities,
            obd: !args.no_obd,
            inq_bits: args.inq_bits,
            rank_fractions: args.ranks,
        },
        output: args.output,
        model: args.model,
    };
    let bar = crate::progress::count_bar(args.json || ctx.quiet, "evaluations");
    let outcome = app::run_sensitivity(&job, &mut |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })
    .with_context(|| format!("measuring the sensitivity of {}", job.model.display()))?;
    bar.finish_and_clear();
    print_outcome(args.json, &outcome, || outcome.to_text())?;
    if let (Some(path), false) = (&outcome.output, args.json) {
        eprintln!("rows written to {}", path.display());
    }
    Ok(())
}

pub fn hdl(args: HdlArgs, ctx: &Ctx) -> Result<()> {
    shiftkit::model::check_output_dir(&args.output)?;
    if let Some(path) = &args.multiplier_baseline {
        ctx.output_file(path)?;
    }
    use shiftkit::codegen::Form;
    let form = match args.form {
        FormArg::Unrolled => Form::Unrolled,
        FormArg::Streaming => Form::Streaming,
        FormArg::Auto => Form::Auto,
    };
    let device = args.device.as_deref().map(shiftkit::device::Device::resolve).transpose()?;
    let config = shiftkit::codegen::HdlConfig {
        output_lanes: args.output_lanes,
        device,
        block_price: None,
        top: args.top,
        form,
        levels_per_stage: args.levels_per_stage,
        sharing: shiftkit::codegen::Sharing {
            enabled: !args.no_share,
            extra_depth: args.share_depth,
            ..Default::default()
        },
        argmax: args.argmax,
        folds: args.fold,
        cycles: args.cycles,
        input_lanes: args.input_lanes,
        clock_mhz: args.clock,
        spram: args.spram.into_iter().collect(),
    };
    let outcome = app::run_hdl(&args.model, &args.output, &config)
        .with_context(|| format!("generating Verilog for {}", args.model.display()))?;
    if let Some(path) = &args.multiplier_baseline {
        app::run_baseline(&args.model, path, &format!("{}_mult", config.top))
            .with_context(|| format!("writing the multiplier baseline {}", path.display()))?;
    }
    print_outcome(args.json, &outcome, || outcome.to_text())?;
    Ok(())
}

pub fn verify(args: VerifyArgs, ctx: &Ctx) -> Result<()> {
    use shiftkit::verify::Simulator;
    let simulators = match args.sim {
        SimulatorArg::Verilator => vec![Simulator::Verilator],
        SimulatorArg::Icarus => vec![Simulator::Icarus],
        SimulatorArg::Both => vec![Simulator::Verilator, Simulator::Icarus],
    };
    let job = app::VerifyJob {
        model: args.model,
        dir: args.dir,
        simulators,
        vectors: args.vectors,
        dataset: args.data.as_deref().map(parse_dataset).transpose()?,
        data_dir: args.data_args.data_dir,
        seed: args.seed,
    };
    let (bar, mut step) = step_spinner(args.json || ctx.quiet);
    let outcome = app::run_verify(&job, &mut step);
    bar.finish_and_clear();
    let outcome = outcome.with_context(|| format!("verifying {}", job.dir.display()))?;
    print_outcome(args.json, &outcome, || outcome.to_text())?;
    if !outcome.passed {
        bail!("the RTL disagrees with the simulator");
    }
    Ok(())
}

pub fn flow(args: FlowArgs, ctx: &Ctx) -> Result<()> {
    shiftkit::model::check_output_dir(&args.output)?;
    let dataset = parse_dataset(&args.data)?;
    let job = app::FlowJob {
        dataset,
        data_dir: args.data_args.data_dir,
        arch: args.arch.unwrap_or_else(|| app::FlowJob::default_arch(dataset).to_string()),
        method: args.method.into(),
        bits: args.bits,
        dir: args.output,
        seed: args.seed,
        vectors: args.vectors,
        target: target_of(args.target.as_deref(), &args.target_args)?,
    };
    let mut bars = EpochBars::new(0, args.json || ctx.quiet);
    let (bar, mut step) = step_spinner(args.json || ctx.quiet);
    let outcome = app::run_flow(&job, &mut bars, &mut step);
    bar.finish_and_clear();
    let outcome = outcome.context("running the flow")?;
    print_outcome(args.json, &outcome, || outcome.to_text())?;
    if !outcome.passed() {
        bail!("the RTL disagrees with the simulator");
    }
    if !outcome.timing_met() {
        bail!("timing not met (the design is built; see above)");
    }
    Ok(())
}

pub fn build_job(
    model: PathBuf,
    dir: PathBuf,
    target: Option<&str>,
    t: &TargetArgs,
) -> Result<app::BuildJob> {
    let target = target_of(target, t)?
        .context("give the device (--target DEVICE) or a board (--board BOARD)")?;
    Ok(app::BuildJob { model, dir, target })
}

/// The device build `--target` and `--board` ask for (none when neither).
pub fn target_of(target: Option<&str>, t: &TargetArgs) -> Result<Option<shiftkit::fpga::Target>> {
    use shiftkit::device::{Board, Device};
    use shiftkit::fpga::board::{BoardSettings, DEFAULT_TIMEOUT_MS, DEFAULT_WINDOW};
    let (device, board) = match (target, &t.board) {
        (None, None) => {
            if t.baud.is_some() {
                bail!("--baud sets a board's UART: give the board (--board BOARD)");
            }
            return Ok(None);
        }
        (target, Some(name)) => {
            let board = Board::resolve(name)?;
            let device = board.device()?;
            if let Some(t) = target {
                let asked = Device::resolve(t)?;
                if asked.name != device.name {
                    bail!(
                        "board `{}` carries the {}, and --target asks for the {}: give one of them",
                        board.name,
                        device.name,
                        asked.name
                    );
                }
            }
            let settings = BoardSettings {
                board,
                baud: t.baud,
                window: DEFAULT_WINDOW,
                timeout_ms: DEFAULT_TIMEOUT_MS,
            };
            (device, Some(settings))
        }
        (Some(target), None) => {
            if t.baud.is_some() {
                bail!("--baud sets a board's UART: give the board (--board BOARD)");
            }
            (Device::resolve(target)?, None)
        }
    };
    Ok(Some(shiftkit::fpga::Target {
        device,
        clock_mhz: t.clock,
        max_util: t.max_util,
        folds: t.fold.clone(),
        cycles: None,
        seed: t.pnr_seed,
        board,
        spram: t.spram.iter().cloned().collect(),
    }))
}

pub fn build(args: BuildArgs, ctx: &Ctx) -> Result<()> {
    shiftkit::model::check_output_dir(&args.output)?;
    let job = build_job(args.model, args.output, args.target.as_deref(), &args.target_args)?;
    let (bar, mut step) = step_spinner(args.json || ctx.quiet);
    let outcome = app::run_build(&job, &mut step);
    bar.finish_and_clear();
    let outcome = outcome.with_context(|| {
        format!("building {} for {}", job.model.display(), job.target.device.name)
    })?;
    print_outcome(args.json, &outcome, || outcome.to_text())?;
    if !args.json {
        println!("report, with plots: {}", job.dir.join(app::REPORT_HTML).display());
    }
    if outcome.timing_met == Some(false) {
        bail!("timing not met on {} (the design is built; see above)", job.target.device.name);
    }
    Ok(())
}

pub fn sim(args: SimArgs, ctx: &Ctx) -> Result<()> {
    if args.output.as_os_str() != "-" {
        ctx.output_file(&args.output)?;
    }
    if let Some(dir) = &args.trace {
        shiftkit::model::check_output_dir(dir)?;
    }
    let to_file = (args.output.as_os_str() != "-").then_some(args.output.as_path());
    let outcome = app::run_sim(&args.model, &args.input, to_file, args.trace.as_deref())
        .with_context(|| format!("simulating {}", args.model.display()))?;
    match (&outcome.output, &outcome.text) {
        (Some(path), _) => {
            let n = shiftkit::report::count(outcome.vectors as u64, "vector");
            eprintln!("{n} simulated; outputs in {}", path.display())
        }
        (None, text) => print!("{}", text.as_deref().unwrap_or_default()),
    }
    Ok(())
}

pub fn dump(args: DumpArgs, _ctx: &Ctx) -> Result<()> {
    let value = app::run_dump(&args.model)?;
    println!("{}", serde_json::to_string_pretty(&value)?);
    Ok(())
}

pub fn cmvm(args: CmvmArgs, ctx: &Ctx) -> Result<()> {
    let job = app::CmvmJob {
        matrix: args.matrix,
        input_bits: args.input_bits,
        signed: !args.unsigned,
        adders: shiftkit::codegen::Adders {
            levels_per_stage: args.levels_per_stage,
            sharing: shiftkit::codegen::Sharing {
                enabled: !args.no_share,
                extra_depth: args.share_depth,
                tries: args.share_tries,
            },
        },
        output: args.output,
        top: args.top,
        force: ctx.force,
    };
    let outcome = app::run_cmvm(&job)
        .with_context(|| format!("solving the constant matrix {}", job.matrix.display()))?;
    print_outcome(args.json, &outcome, || outcome.to_text())
}

pub fn run_board(args: RunArgs, ctx: &Ctx) -> Result<()> {
    let dataset = args.data.as_deref().map(parse_dataset).transpose()?;
    if !(args.timeout > 0.0 && args.timeout.is_finite()) {
        bail!("timeout: {} s: give a number of seconds above 0", args.timeout);
    }
    let board = match (&args.port, &args.sim) {
        (_, Some(build)) => app::Board::Sim { build: build.clone(), baud: args.baud },
        (Some(path), None) => {
            app::Board::Port { path: path.clone(), baud: args.baud.unwrap_or(1_000_000) }
        }
        (None, None) => {
            bail!("give the board's port (--port) or a board build to simulate (--sim)")
        }
    };
    let job = app::RunJob {
        model: args.model,
        board,
        dataset,
        data_dir: args.data_args.data_dir,
        split: args.split.into(),
        limit: args.limit,
        timeout: std::time::Duration::from_secs_f64(args.timeout),
    };
    let (bar, mut step) = step_spinner(args.json || ctx.quiet);
    let outcome = app::run_board(&job, &mut step);
    bar.finish_and_clear();
    let outcome = outcome.with_context(|| format!("running {}", job.model.display()))?;
    print_outcome(args.json, &outcome, || outcome.to_text())?;
    if !outcome.passed() {
        bail!("the board's answers differ from the simulator's");
    }
    Ok(())
}
