//! The `shiftkit` command line: flags in, one library call per subcommand,
//! outcomes printed. Error printing and exit codes live here only.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use shiftkit::app;
use shiftkit::compress::{InqObserver, InqStep};
use shiftkit::data::DatasetName;
use shiftkit::quant::QuantizeConfig;
use shiftkit::train::{EpochReport, LrSchedule, Observer, OptimizerConfig, TrainConfig};

#[derive(Parser, Debug)]
#[command(
    name = "shiftkit",
    version,
    about = "Compress neural networks into verified, multiplier-free FPGA datapaths"
)]
struct Cli {
    /// More log output (repeat for more); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// The whole flow on the embedded digits data: train, INQ 5-bit, Verilog, verify.
    Flow(FlowArgs),
    /// Train a float network from an architecture spec.
    Train(TrainArgs),
    /// Import an ONNX model (Gemm/MatMul, Conv, Relu, MaxPool, Flatten, BatchNorm).
    Import(ImportArgs),
    /// Export a model as ONNX (a quantized model: its dequantized weights).
    Export(ExportArgs),
    /// Top-1 accuracy of a model on a dataset's test split.
    Eval(EvalArgs),
    /// Per-layer shapes, parameters, bytes and MACs of a model.
    Info(InfoArgs),
    /// Quantize a float model into an integer network (fixed-point weights).
    Quantize(QuantizeArgs),
    /// Compress with retraining: one method (INQ, binary, ternary) or a recipe of steps
    /// (pruning, merging, SVD, k-means, INQ, binary, ternary, distillation).
    Compress(CompressArgs),
    /// The survey table of compressed models: accuracy, bytes, compression, MULTs vs adds.
    Report(ReportArgs),
    /// Generate shift-add Verilog for a quantized dense network.
    Hdl(HdlArgs),
    /// Run the generated RTL on Verilator and/or Icarus against the simulator.
    Verify(VerifyArgs),
    /// The fastest design that fits a device: Verilog, Yosys synthesis, nextpnr place
    /// and route, icepack bitstream, and DIR/build.json.
    Build(BuildArgs),
    /// Run raw integer vectors through the bit-exact simulator.
    Sim(SimArgs),
    /// Print the whole integer network.
    Dump(DumpArgs),
}

/// Optimizer flags shared by `train` and `compress`.
#[derive(clap::Args, Debug)]
struct OptimArgs {
    /// Mini-batch size.
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Learning rate (default: sgd 0.05 to train, 0.01 to retrain; adam 0.001); reset at
    /// each INQ step.
    #[arg(long)]
    lr: Option<f32>,
    #[arg(long, value_enum, default_value = "sgd")]
    optimizer: OptimizerArg,
    /// SGD momentum.
    #[arg(long, default_value_t = 0.9)]
    momentum: f32,
    /// L2 weight decay (default: 0 to train, 5e-4 to retrain).
    #[arg(long)]
    weight_decay: Option<f32>,
    /// Learning-rate schedule over the epochs (of each INQ step).
    #[arg(long, value_enum, default_value = "cosine")]
    lr_schedule: ScheduleArg,
    /// Seed for the initial weights and the shuffling.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

impl OptimArgs {
    /// The training configuration, with the command's defaults for an SGD
    /// learning rate and the weight decay.
    fn to_config(&self, epochs: usize, sgd_lr: f32, weight_decay: f32) -> TrainConfig {
        let wd = self.weight_decay.unwrap_or(weight_decay);
        let optimizer = match self.optimizer {
            OptimizerArg::Sgd => OptimizerConfig::Sgd {
                lr: self.lr.unwrap_or(sgd_lr),
                momentum: self.momentum,
                weight_decay: wd,
            },
            OptimizerArg::Adam => {
                OptimizerConfig::adam(self.lr.unwrap_or(0.001)).with_weight_decay(wd)
            }
        };
        let schedule = match self.lr_schedule {
            ScheduleArg::Constant => LrSchedule::Constant,
            ScheduleArg::Cosine => LrSchedule::Cosine,
        };
        TrainConfig { epochs, batch_size: self.batch, optimizer, schedule, seed: self.seed }
    }
}

/// Quantization flags shared by `quantize` and `compress`.
#[derive(clap::Args, Debug)]
struct QuantArgs {
    /// Bits of every activation.
    #[arg(long, default_value_t = 8)]
    act_bits: u32,
    /// Bits of the input.
    #[arg(long, default_value_t = 8)]
    input_bits: u32,
    /// Training samples used to calibrate activation formats.
    #[arg(long, default_value_t = 5000)]
    calibration: usize,
}

#[derive(clap::Args, Debug)]
struct QuantizeArgs {
    model: PathBuf,
    /// Dataset for calibration and accuracy (default: the one the model was trained on).
    #[arg(long)]
    data: Option<String>,
    #[command(flatten)]
    data_args: DataArgs,
    /// Weight quantization: fixedN (signed N-bit integers, one exponent per layer), inqN
    /// (powers of two by the INQ rule, at once), binary, ternary (with per-channel scales;
    /// add -noscale to drop them).
    #[arg(long, default_value = "fixed8")]
    weights: String,
    #[command(flatten)]
    quant: QuantArgs,
    #[arg(short, long)]
    output: PathBuf,
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum MethodArg {
    Inq,
    Binary,
    Ternary,
}

impl From<MethodArg> for app::Method {
    fn from(m: MethodArg) -> app::Method {
        match m {
            MethodArg::Inq => app::Method::Inq,
            MethodArg::Binary => app::Method::Binary,
            MethodArg::Ternary => app::Method::Ternary,
        }
    }
}

#[derive(clap::Args, Debug)]
struct CompressArgs {
    model: PathBuf,
    /// One method with the flags below.
    #[arg(long, value_enum, required_unless_present = "recipe", conflicts_with = "recipe")]
    method: Option<MethodArg>,
    /// A TOML recipe of steps run in order (its [train] table replaces the optimizer
    /// flags); see README.
    #[arg(long, value_name = "FILE")]
    recipe: Option<PathBuf>,
    /// Also write the survey report (Markdown) here.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Dataset for retraining and accuracy (default: the one the model was trained on).
    #[arg(long)]
    data: Option<String>,
    #[command(flatten)]
    data_args: DataArgs,
    /// INQ bits per weight, zero included (2..=8).
    #[arg(long, default_value_t = 5)]
    bits: u32,
    /// INQ bits of single layers: `fc1=4,conv2=6`.
    #[arg(long, value_name = "LAYER=BITS,...")]
    layer_bits: Option<String>,
    /// INQ accumulated portions: increasing, ending at 1.
    #[arg(long, default_value = "0.5,0.75,0.875,1")]
    schedule: String,
    /// INQ retraining epochs after each portion (0: quantize without retraining).
    #[arg(long, default_value_t = 2)]
    epochs_per_step: usize,
    /// Binary/ternary training epochs.
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    /// Keep the first and last weighted layers at this precision (e.g. fixed8).
    #[arg(long, value_name = "SPEC")]
    keep_first_last: Option<String>,
    /// Binary/ternary without the per-channel scale.
    #[arg(long)]
    no_scale: bool,
    #[command(flatten)]
    optim: OptimArgs,
    #[command(flatten)]
    quant: QuantArgs,
    #[arg(short, long)]
    output: PathBuf,
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
struct ReportArgs {
    /// Models with an integer network (from `compress` or `quantize`).
    #[arg(required = true)]
    models: Vec<PathBuf>,
    /// The float original the compression rate and MULTs refer to (default: each
    /// model's own float network).
    #[arg(long, value_name = "FILE")]
    reference: Option<PathBuf>,
    /// Dataset for accuracy (default: the one each model records).
    #[arg(long)]
    data: Option<String>,
    #[command(flatten)]
    data_args: DataArgs,
    /// Also write the Markdown table here.
    #[arg(short, long)]
    output: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
struct HdlArgs {
    model: PathBuf,
    /// Output directory.
    #[arg(short, long)]
    output: PathBuf,
    /// Name of the top module.
    #[arg(long, default_value = "shiftkit_top")]
    top: String,
    /// Adder levels between pipeline registers.
    #[arg(long, default_value_t = shiftkit::codegen::DEFAULT_LEVELS_PER_STAGE)]
    levels_per_stage: u32,
    /// Add an m_axis_tuser port carrying the index of the largest output.
    #[arg(long)]
    argmax: bool,
    /// Hardware form: `unrolled` (every weight a constant of an adder graph, a whole
    /// vector per beat), `streaming` (one stream module per layer, folded
    /// matrix-vector units with weight ROMs), or `auto` (unrolled for dense networks
    /// of at most 20,000 adders, streaming otherwise).
    #[arg(long, value_enum, default_value = "auto")]
    form: FormArg,
    /// Streaming: per-layer folding as PExSIMD, like `conv2=8x30,fc1=12x4` (PE divides
    /// the layer's outputs, SIMD its inputs per output); other layers are chosen.
    #[arg(long, value_name = "LAYER=PExSIMD,...", value_parser = parse_folds, default_value = "")]
    fold: shiftkit::codegen::stream::Folds,
    /// Streaming: aim the chosen foldings at this many cycles per image (fewer lanes);
    /// the default is as fast as the input stream and sliding windows allow.
    #[arg(long, value_name = "N")]
    cycles: Option<u64>,
    /// Streaming: codes per input beat for a network that starts with a dense layer
    /// (default 1; it must divide the number of inputs).
    #[arg(long, value_name = "K")]
    input_lanes: Option<usize>,
    /// Streaming: values per output beat for a network that ends flat (default: all in
    /// one beat; with --argmax every beat carries the index).
    #[arg(long, value_name = "K")]
    output_lanes: Option<usize>,
    /// Streaming: place every memory in the block RAM or the logic of this device
    /// (a name like ice40-up5k or a device file); default: the synthesis tool decides.
    #[arg(long, value_name = "DEVICE")]
    device: Option<String>,
    /// Also write a baseline with true multipliers on loadable 8-bit weights to this
    /// file (module `<top>_mult`; for resource comparisons only, not verified).
    #[arg(long, value_name = "FILE")]
    multiplier_baseline: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

/// Device flags shared by `build` and `flow`.
#[derive(clap::Args, Debug)]
struct TargetArgs {
    /// The clock to ask of place and route, in MHz (default: the device's).
    #[arg(long, value_name = "MHZ")]
    clock: Option<f64>,
    /// The share of the device's logic the resource model may fill.
    #[arg(long, default_value_t = app::DEFAULT_MAX_UTIL, value_name = "SHARE")]
    max_util: f64,
    /// Per-layer folding as PExSIMD (the rest are chosen to fit).
    #[arg(long, value_name = "LAYER=PExSIMD,...", value_parser = parse_folds, default_value = "")]
    fold: shiftkit::codegen::stream::Folds,
    /// Seed of nextpnr's placer.
    #[arg(long, default_value_t = 1)]
    pnr_seed: u64,
}

#[derive(clap::Args, Debug)]
struct BuildArgs {
    /// A quantized model (.skm).
    model: PathBuf,
    /// Output directory (replaced when it holds an earlier build).
    #[arg(short, long)]
    output: PathBuf,
    /// The device: ice40-up5k, ice40-hx8k, xc7a35t, or a device file (.toml).
    #[arg(long, value_name = "DEVICE")]
    target: String,
    #[command(flatten)]
    target_args: TargetArgs,
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum FormArg {
    Unrolled,
    Streaming,
    Auto,
}

fn parse_folds(s: &str) -> Result<shiftkit::codegen::stream::Folds, String> {
    s.parse()
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum SimulatorArg {
    Verilator,
    Icarus,
    Both,
}

#[derive(clap::Args, Debug)]
struct VerifyArgs {
    model: PathBuf,
    /// The design directory written by `shiftkit hdl`.
    dir: PathBuf,
    #[arg(long, value_enum, default_value = "both")]
    sim: SimulatorArg,
    /// Random in-range vectors (the range's extremes are always added).
    #[arg(long, default_value_t = 1000)]
    vectors: usize,
    /// Also run the test samples of this dataset (up to --vectors of them).
    #[arg(long)]
    data: Option<String>,
    #[command(flatten)]
    data_args: DataArgs,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
struct FlowArgs {
    #[arg(long, default_value = "digits")]
    data: String,
    #[command(flatten)]
    data_args: DataArgs,
    /// Architecture (default: mlp:64-32-10 on digits, mlp:784-64-10 on fashion-mnist).
    #[arg(long)]
    arch: Option<String>,
    #[arg(long, value_enum, default_value = "inq")]
    method: MethodArg,
    /// INQ bits per weight.
    #[arg(long, default_value_t = 5)]
    bits: u32,
    /// Output directory.
    #[arg(short, long, default_value = "shiftkit-out")]
    output: PathBuf,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Random vectors for verification (the test split is added).
    #[arg(long, default_value_t = 2000)]
    vectors: usize,
    /// Build for this device: the fastest design that fits, verified, placed, routed
    /// and packed into a bitstream (ice40-up5k, ice40-hx8k, xc7a35t or a .toml file).
    #[arg(long, value_name = "DEVICE")]
    target: Option<String>,
    #[command(flatten)]
    target_args: TargetArgs,
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
struct SimArgs {
    model: PathBuf,
    /// Input vectors, one per line: raw integer codes for a quantized model, real
    /// numbers (in C, H, W order) for a float model.
    #[arg(long)]
    input: PathBuf,
    /// Where to write the raw output codes, one vector per line.
    #[arg(long)]
    output: PathBuf,
    /// Also write every layer's raw outputs into this directory.
    #[arg(long, value_name = "DIR")]
    trace: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
struct DumpArgs {
    model: PathBuf,
    /// JSON output (the only form for now).
    #[arg(long, default_value_t = true)]
    json: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum OptimizerArg {
    Sgd,
    Adam,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ScheduleArg {
    Constant,
    Cosine,
}

#[derive(clap::Args, Debug)]
struct DataArgs {
    /// Directory holding the Fashion-MNIST IDX files (default: $SHIFTKIT_DATA_DIR, then
    /// /usr/share/datasets/fashion-mnist).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
struct TrainArgs {
    /// `mlp:N0-N1-...`, `lenet5`, or a JSON architecture file.
    #[arg(long)]
    arch: String,
    /// Dataset: digits (embedded) or fashion-mnist.
    #[arg(long, default_value = "digits")]
    data: String,
    #[command(flatten)]
    data_args: DataArgs,
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    #[command(flatten)]
    optim: OptimArgs,
    /// Distill from this float model (knowledge distillation, Hinton et al. 2015).
    #[arg(long, value_name = "FILE")]
    teacher: Option<PathBuf>,
    /// Distillation temperature T.
    #[arg(long, default_value_t = 4.0, requires = "teacher")]
    temperature: f32,
    /// Distillation weight λ of the soft targets (0: labels only, 1: teacher only).
    #[arg(long, default_value_t = 0.5, requires = "teacher")]
    lambda: f32,
    /// Where to write the model (.skm).
    #[arg(short, long)]
    output: PathBuf,
    /// Print the outcome as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
struct ImportArgs {
    onnx: PathBuf,
    #[arg(short, long)]
    output: PathBuf,
    /// Record the dataset the model was trained on (digits, fashion-mnist).
    #[arg(long)]
    data: Option<String>,
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
struct ExportArgs {
    model: PathBuf,
    #[arg(short, long)]
    output: PathBuf,
}

#[derive(clap::Args, Debug)]
struct EvalArgs {
    model: PathBuf,
    /// Dataset (default: the one the model was trained on).
    #[arg(long)]
    data: Option<String>,
    #[command(flatten)]
    data_args: DataArgs,
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
struct InfoArgs {
    model: PathBuf,
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Flow(args) => flow(args),
        Command::Train(args) => train(args),
        Command::Import(args) => import(args),
        Command::Export(args) => export(args),
        Command::Eval(args) => eval(args),
        Command::Info(args) => info(args),
        Command::Quantize(args) => quantize(args),
        Command::Compress(args) => compress(args),
        Command::Report(args) => report(args),
        Command::Hdl(args) => hdl(args),
        Command::Verify(args) => verify(args),
        Command::Build(args) => build(args),
        Command::Sim(args) => sim(args),
        Command::Dump(args) => dump(args),
    }
}

fn parse_dataset(s: &str) -> Result<DatasetName> {
    Ok(s.parse::<DatasetName>()?)
}

fn train(args: TrainArgs) -> Result<()> {
    if args.epochs == 0 {
        bail!("--epochs must be at least 1");
    }
    let config = args.optim.to_config(args.epochs, 0.05, 0.0);
    let job = app::TrainJob {
        arch: args.arch,
        dataset: parse_dataset(&args.data)?,
        data_dir: args.data_args.data_dir,
        init_seed: config.seed,
        config,
        distill: args.teacher.map(|teacher| app::DistillSpec {
            teacher: Some(teacher),
            temperature: args.temperature,
            lambda: args.lambda,
        }),
        output: args.output,
    };
    let mut bars = EpochBars::new(job.config.epochs, args.json);
    let outcome = app::run_train(&job, &mut bars)
        .with_context(|| format!("training {} on {}", job.arch, job.dataset))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outcome)?);
    } else {
        println!(
            "test accuracy {:.2}% ({} epochs, {:.1}s); model written to {}",
            outcome.test_accuracy * 100.0,
            outcome.epochs.len(),
            outcome.seconds,
            outcome.output.display()
        );
    }
    Ok(())
}

fn import(args: ImportArgs) -> Result<()> {
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

fn export(args: ExportArgs) -> Result<()> {
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

fn eval(args: EvalArgs) -> Result<()> {
    let dataset = args.data.as_deref().map(parse_dataset).transpose()?;
    let outcome = app::run_eval(&args.model, dataset, args.data_args.data_dir.as_deref())
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

fn info(args: InfoArgs) -> Result<()> {
    let outcome = app::run_info(&args.model)?;
    print_outcome(args.json, &outcome, || outcome.to_text())?;
    Ok(())
}

fn quantize(args: QuantizeArgs) -> Result<()> {
    let job = app::QuantizeJob {
        dataset: args.data.as_deref().map(parse_dataset).transpose()?,
        data_dir: args.data_args.data_dir,
        config: QuantizeConfig {
            weights: args.weights.parse()?,
            layer_weights: BTreeMap::new(),
            act_bits: args.quant.act_bits,
            input_bits: args.quant.input_bits,
        },
        calibration: args.quant.calibration,
        output: args.output,
        model: args.model,
    };
    let outcome =
        app::run_quantize(&job).with_context(|| format!("quantizing {}", job.model.display()))?;
    print_outcome(args.json, &outcome, || outcome.to_text())?;
    Ok(())
}

fn compress(args: CompressArgs) -> Result<()> {
    let recipe = match (&args.recipe, args.method) {
        (Some(path), _) => app::Recipe::load(path)?,
        (None, Some(method)) => method_job(&args, method)?.to_recipe(),
        (None, None) => bail!("give --method or --recipe"),
    };
    let epochs = recipe.steps.iter().map(|s| s.epochs).max().unwrap_or(0);
    let job = app::CompressJob {
        dataset: args.data.as_deref().map(parse_dataset).transpose()?,
        data_dir: args.data_args.data_dir,
        recipe,
        output: args.output,
        model: args.model,
    };
    let mut bars = EpochBars::new(epochs, args.json);
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
    let schedule = args
        .schedule
        .split(',')
        .map(|p| p.trim().parse::<f32>())
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| {
            format!("--schedule `{}`: expected numbers like 0.5,0.75,1", args.schedule)
        })?;
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
    shiftkit::compress::check_bits(args.bits)?;
    shiftkit::compress::check_schedule(&schedule)?;
    if args.quant.calibration == 0 {
        bail!("--calibration must be at least 1 sample");
    }
    Ok(app::MethodJob {
        method: method.into(),
        bits: args.bits,
        layer_bits,
        schedule,
        epochs_per_step: args.epochs_per_step,
        epochs: args.epochs,
        keep_first_last: args.keep_first_last.as_deref().map(str::parse).transpose()?,
        scale: !args.no_scale,
        train: args.optim.to_config(0, 0.01, 5e-4),
        act_bits: args.quant.act_bits,
        input_bits: args.quant.input_bits,
        calibration: args.quant.calibration,
    })
}

fn report(args: ReportArgs) -> Result<()> {
    let job = app::ReportJob {
        models: args.models,
        reference: args.reference,
        dataset: args.data.as_deref().map(parse_dataset).transpose()?,
        data_dir: args.data_args.data_dir,
        output: args.output,
    };
    let outcome = app::run_report(&job).context("reporting")?;
    print_outcome(args.json, &outcome, || outcome.to_text())?;
    Ok(())
}

fn hdl(args: HdlArgs) -> Result<()> {
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
        argmax: args.argmax,
        folds: args.fold,
        cycles: args.cycles,
        input_lanes: args.input_lanes,
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

fn verify(args: VerifyArgs) -> Result<()> {
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
    let outcome =
        app::run_verify(&job).with_context(|| format!("verifying {}", job.dir.display()))?;
    print_outcome(args.json, &outcome, || outcome.to_text())?;
    if !outcome.passed {
        bail!("the RTL disagrees with the simulator");
    }
    Ok(())
}

fn flow(args: FlowArgs) -> Result<()> {
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
        target: args.target.as_deref().map(|t| target_of(t, &args.target_args)).transpose()?,
    };
    let mut bars = EpochBars::new(0, args.json);
    let (bar, mut step) = step_spinner(args.json);
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

fn build_job(model: PathBuf, dir: PathBuf, target: &str, t: &TargetArgs) -> Result<app::BuildJob> {
    Ok(app::BuildJob { model, dir, target: target_of(target, t)? })
}

fn target_of(target: &str, t: &TargetArgs) -> Result<app::Target> {
    Ok(app::Target {
        device: shiftkit::device::Device::resolve(target)?,
        clock_mhz: t.clock,
        max_util: t.max_util,
        folds: t.fold.clone(),
        cycles: None,
        seed: t.pnr_seed,
    })
}

/// A spinner naming the step a long-running tool is on.
fn step_spinner(quiet: bool) -> (ProgressBar, impl FnMut(&str)) {
    let bar = if quiet { ProgressBar::hidden() } else { ProgressBar::new_spinner() };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}").expect("a template"),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let b = bar.clone();
    (bar, move |msg: &str| b.set_message(msg.to_string()))
}

fn build(args: BuildArgs) -> Result<()> {
    let job = build_job(args.model, args.output, &args.target, &args.target_args)?;
    let (bar, mut step) = step_spinner(args.json);
    let outcome = app::run_build(&job, &mut step);
    bar.finish_and_clear();
    let outcome = outcome.with_context(|| {
        format!("building {} for {}", job.model.display(), job.target.device.name)
    })?;
    print_outcome(args.json, &outcome, || outcome.to_text())?;
    if outcome.timing_met == Some(false) {
        bail!("timing not met on {} (the design is built; see above)", job.target.device.name);
    }
    Ok(())
}

fn sim(args: SimArgs) -> Result<()> {
    let outcome = app::run_sim(&args.model, &args.input, &args.output, args.trace.as_deref())
        .with_context(|| format!("simulating {}", args.model.display()))?;
    eprintln!("{} vectors simulated; outputs in {}", outcome.vectors, outcome.output.display());
    Ok(())
}

fn dump(args: DumpArgs) -> Result<()> {
    let _ = args.json;
    let value = app::run_dump(&args.model)?;
    println!("{}", serde_json::to_string_pretty(&value)?);
    Ok(())
}

/// Prints an outcome as JSON, or as the text `text` makes.
fn print_outcome<T: serde::Serialize>(
    json: bool,
    outcome: &T,
    text: impl FnOnce() -> String,
) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(outcome)?);
    } else {
        print!("{}", text());
    }
    Ok(())
}

/// One progress bar per epoch, with the running loss and accuracy; a summary
/// line per finished epoch.
struct EpochBars {
    epochs: usize,
    quiet: bool,
    bar: Option<ProgressBar>,
    loss: f64,
    acc: f64,
    seen: usize,
}

impl EpochBars {
    fn new(epochs: usize, quiet: bool) -> EpochBars {
        EpochBars { epochs, quiet, bar: None, loss: 0.0, acc: 0.0, seen: 0 }
    }
}

impl EpochBars {
    fn epoch_label(&self, epoch: usize) -> String {
        if self.epochs == 0 {
            format!("epoch {epoch:>3}")
        } else {
            format!("epoch {epoch:>3}/{}", self.epochs)
        }
    }
}

impl Observer for EpochBars {
    fn epoch_start(&mut self, epoch: usize, batches: usize) {
        if self.quiet {
            return;
        }
        let bar = ProgressBar::new(batches as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix} [{bar:30}] {pos}/{len} batches {msg} ({elapsed})",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_prefix(self.epoch_label(epoch));
        self.bar = Some(bar);
        (self.loss, self.acc, self.seen) = (0.0, 0.0, 0);
    }

    fn batch_end(&mut self, loss: f64, accuracy: f64) {
        let Some(bar) = &self.bar else { return };
        self.seen += 1;
        self.loss += loss;
        self.acc += accuracy;
        bar.inc(1);
        if self.seen.is_multiple_of(10) || self.seen as u64 == bar.length().unwrap_or(0) {
            let n = self.seen as f64;
            bar.set_message(format!("loss {:.4} acc {:.2}%", self.loss / n, self.acc / n * 100.0));
        }
    }

    fn epoch_end(&mut self, r: &EpochReport) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if self.quiet {
            return;
        }
        let test = r.val_accuracy.map_or(String::new(), |a| format!("  test {:.2}%", a * 100.0));
        eprintln!(
            "{}  loss {:.4}  train {:.2}%{test}  {:.1}s",
            self.epoch_label(r.epoch),
            r.loss,
            r.train_accuracy * 100.0,
            r.seconds
        );
    }
}

impl InqObserver for EpochBars {
    fn inq_step(&mut self, step: &InqStep, _net: &shiftkit::model::Network) {
        if self.quiet {
            return;
        }
        let acc = step
            .train_accuracy
            .map_or(String::new(), |a| format!("; retrained, train accuracy {:.2}%", a * 100.0));
        eprintln!(
            "INQ: {:.1}% of the weights quantized ({} this step){acc}",
            step.portion * 100.0,
            step.quantized
        );
    }
}
