//! The flags of every subcommand (clap), and their conversion into the
//! library's settings; defaults shown in `--help` come from the library's
//! `defaults` modules.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand, ValueEnum};

use shiftkit::quant::{self, QuantSettings, RangeRule, WeightSpec};
use shiftkit::train::{defaults, LrSchedule, OptimizerKind, TrainSettings};
use shiftkit::{app, compress};

pub use crate::hw_args::*;

#[derive(Parser, Debug)]
#[command(
    name = "shiftkit",
    version,
    about = "Compress neural networks into verified, multiplier-free FPGA datapaths"
)]
pub struct Cli {
    /// More log output (repeat for more); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// No progress bars or spinners (for scripts); outcomes and errors still print.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Replace a symbolic link, device or other special file at an output path.
    #[arg(long, global = true)]
    pub force: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
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
    /// Per-layer sensitivity: each weighted layer pruned (magnitude, OBD), INQ-coded and
    /// factored alone, no retraining, on the validation split.
    Sensitivity(SensitivityArgs),
    /// Generate shift-add Verilog for a quantized dense network.
    Hdl(HdlArgs),
    /// Adders for one constant matrix (rows are inputs, y = x @ W), shared or not, and
    /// its Verilog: for comparing constant-product solvers such as da4ml.
    Cmvm(CmvmArgs),
    /// Run the generated RTL on Verilator and/or Icarus against the simulator.
    Verify(VerifyArgs),
    /// The fastest design that fits a device: Verilog, Yosys synthesis, nextpnr place
    /// and route, icepack bitstream, and DIR/build.json.
    Build(BuildArgs),
    /// Images through a design on a board (its serial port, or the simulated board of a
    /// board build), every answer against the simulator's.
    Run(RunArgs),
    /// Run raw integer vectors through the bit-exact simulator.
    Sim(SimArgs),
    /// Print the whole integer network as JSON.
    Dump(DumpArgs),
}

/// Optimizer flags shared by `train` and `compress`.
#[derive(clap::Args, Debug)]
pub struct OptimArgs {
    /// Mini-batch size (default: 64; to train on digits, 32).
    #[arg(long)]
    pub batch: Option<usize>,
    /// Learning rate (default: sgd 0.05 to train, 0.02 to train a convolutional network on
    /// Fashion-MNIST, 0.01 to retrain; adam 0.001); reset at each INQ step.
    #[arg(long)]
    pub lr: Option<f32>,
    /// Optimizer (default: sgd; adam to retrain towards binary or ternary weights).
    #[arg(long, value_enum)]
    pub optimizer: Option<OptimizerArg>,
    /// SGD momentum.
    #[arg(long, default_value_t = defaults::MOMENTUM)]
    pub momentum: f32,
    /// L2 weight decay (default: 0 to train, 5e-4 to retrain).
    #[arg(long)]
    pub weight_decay: Option<f32>,
    /// Learning-rate schedule over the epochs (of each INQ step).
    #[arg(long, value_enum, default_value = "cosine")]
    pub lr_schedule: ScheduleArg,
    /// Seed for the initial weights and the shuffling.
    #[arg(long, default_value_t = defaults::SEED)]
    pub seed: u64,
}

impl OptimArgs {
    /// The settings these flags give (those left out take their defaults
    /// when resolved).
    pub fn to_settings(&self) -> TrainSettings {
        TrainSettings {
            optimizer: self.optimizer.map(|o| match o {
                OptimizerArg::Sgd => OptimizerKind::Sgd,
                OptimizerArg::Adam => OptimizerKind::Adam,
            }),
            lr: self.lr,
            momentum: Some(self.momentum),
            weight_decay: self.weight_decay,
            batch: self.batch,
            schedule: Some(match self.lr_schedule {
                ScheduleArg::Constant => LrSchedule::Constant,
                ScheduleArg::Cosine => LrSchedule::Cosine,
            }),
            seed: Some(self.seed),
        }
    }
}

/// Quantization flags shared by `quantize` and `compress`.
#[derive(clap::Args, Debug)]
pub struct QuantArgs {
    /// Bits of every activation.
    #[arg(long, default_value_t = quant::defaults::ACT_BITS)]
    pub act_bits: u32,
    /// Bits of the input.
    #[arg(long, default_value_t = quant::defaults::INPUT_BITS)]
    pub input_bits: u32,
    /// Validation samples used to calibrate activation formats.
    #[arg(long, default_value_t = quant::defaults::CALIBRATION)]
    pub calibration: usize,
    /// Bits of the last layer's outputs, the scores the argmax compares (default: --act-bits)
    #[arg(long)]
    pub output_bits: Option<u32>,
}

impl QuantArgs {
    /// The settings, with `weights` for layers no step codes.
    pub fn to_settings(&self, weights: WeightSpec) -> QuantSettings {
        QuantSettings {
            weights,
            act_bits: self.act_bits,
            input_bits: self.input_bits,
            calibration: self.calibration,
            output_bits: self.output_bits,
            qat: false,
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct QuantizeArgs {
    pub model: PathBuf,
    /// Dataset for calibration and accuracy (default: the one the model was trained on).
    #[arg(long)]
    pub data: Option<String>,
    #[command(flatten)]
    pub data_args: DataArgs,
    /// Weight quantization: fixedN (signed N-bit integers, one exponent per layer), inqN
    /// (powers of two by the INQ rule, at once), binary, ternary (with per-channel scales;
    /// add -noscale to drop them).
    #[arg(long, default_value_t = quant::defaults::WEIGHTS)]
    pub weights: WeightSpec,
    #[command(flatten)]
    pub quant: QuantArgs,
    #[arg(short, long)]
    pub output: PathBuf,
    #[arg(long)]
    pub json: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum MethodArg {
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

/// INQ accumulated portions, written `0.5,0.75,1`.
#[derive(Clone, Debug)]
pub struct Portions(pub Vec<f32>);

impl std::str::FromStr for Portions {
    type Err = String;
    fn from_str(s: &str) -> Result<Portions, String> {
        s.split(',')
            .map(|p| p.trim().parse::<f32>())
            .collect::<Result<Vec<_>, _>>()
            .map(Portions)
            .map_err(|_| format!("`{s}`: expected numbers like 0.5,0.75,1"))
    }
}

impl std::fmt::Display for Portions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.0.iter().map(f32::to_string).collect();
        f.write_str(&parts.join(","))
    }
}

#[derive(clap::Args, Debug)]
pub struct CompressArgs {
    pub model: PathBuf,
    /// One method with the flags below.
    #[arg(long, value_enum, required_unless_present = "recipe", conflicts_with = "recipe")]
    pub method: Option<MethodArg>,
    /// A TOML recipe of steps run in order (its [train] table replaces the optimizer
    /// flags); see README.
    #[arg(long, value_name = "FILE")]
    pub recipe: Option<PathBuf>,
    /// Also write the survey report (Markdown) here.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Dataset for retraining and accuracy (default: the one the model was trained on).
    #[arg(long)]
    pub data: Option<String>,
    #[command(flatten)]
    pub data_args: DataArgs,
    #[command(flatten)]
    pub subset: SubsetArgs,
    /// INQ bits per weight, zero included.
    #[arg(long, default_value_t = compress::defaults::INQ_BITS)]
    pub bits: u32,
    /// INQ bits of single layers: `fc1=4,conv2=6`.
    #[arg(long, value_name = "LAYER=BITS,...")]
    pub layer_bits: Option<String>,
    /// INQ accumulated portions: increasing, ending at 1.
    #[arg(long, default_value_t = Portions(compress::defaults::INQ_SCHEDULE.to_vec()))]
    pub schedule: Portions,
    /// How INQ picks each layer's exponent range: `min-error` (of the paper's
    /// and lower ones, the one coding the layer with the least squared error)
    /// or `max` (the INQ paper's, from the largest weight alone).
    #[arg(long, value_name = "RULE", default_value_t = RangeRule::default())]
    pub inq_range: RangeRule,
    /// INQ retraining epochs after each portion (0: quantize without retraining).
    #[arg(long, default_value_t = compress::defaults::INQ_EPOCHS)]
    pub epochs_per_step: usize,
    /// Binary/ternary training epochs.
    #[arg(long, default_value_t = compress::defaults::BINARY_EPOCHS)]
    pub epochs: usize,
    /// Keep the first and last weighted layers at this precision (e.g. fixed8).
    #[arg(long, value_name = "SPEC")]
    pub keep_first_last: Option<WeightSpec>,
    /// Binary/ternary without the per-channel scale.
    #[arg(long)]
    pub no_scale: bool,
    #[command(flatten)]
    pub optim: OptimArgs,
    #[command(flatten)]
    pub quant: QuantArgs,
    #[arg(short, long)]
    pub output: PathBuf,
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// Models with an integer network (from `compress` or `quantize`).
    #[arg(required = true)]
    pub models: Vec<PathBuf>,
    /// The float original the compression rate and MULTs refer to (default: each
    /// model's own float network).
    #[arg(long, value_name = "FILE")]
    pub reference: Option<PathBuf>,
    /// Dataset for accuracy (default: the one each model records).
    #[arg(long)]
    pub data: Option<String>,
    #[command(flatten)]
    pub data_args: DataArgs,
    /// Also write the Markdown table here.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Also write the report as one self-contained HTML page (tables and plots).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Show a per-layer sensitivity run (the JSON `shiftkit sensitivity -o` wrote); repeatable.
    #[arg(long, value_name = "FILE")]
    pub sensitivity: Vec<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct SensitivityArgs {
    /// A model with a float network.
    pub model: PathBuf,
    /// Dataset (default: the one the model was trained on).
    #[arg(long)]
    pub data: Option<String>,
    #[command(flatten)]
    pub data_args: DataArgs,
    /// Pruning sparsities, each by magnitude and by OBD.
    #[arg(long, value_delimiter = ',', default_value = "0.5,0.75,0.9")]
    pub sparsities: Vec<f32>,
    /// INQ bit widths.
    #[arg(long, value_delimiter = ',', default_value = "5,4,3,2")]
    pub inq_bits: Vec<u32>,
    /// Low-rank ranks as fractions of each layer's full rank (rounded up).
    #[arg(long, value_delimiter = ',', default_value = "0.5,0.25,0.125")]
    pub ranks: Vec<f32>,
    /// Leave out OBD pruning.
    #[arg(long)]
    pub no_obd: bool,
    /// Write the rows as JSON here, for `shiftkit report --sensitivity`.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct SimArgs {
    pub model: PathBuf,
    /// Input vectors, one per line: raw integer codes for a quantized model, real
    /// numbers (in C, H, W order) for a float model.
    #[arg(long)]
    pub input: PathBuf,
    /// Where to write the raw output codes, one vector per line (`-`: standard output).
    #[arg(long)]
    pub output: PathBuf,
    /// Also write every layer's raw outputs into this directory.
    #[arg(long, value_name = "DIR")]
    pub trace: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct DumpArgs {
    pub model: PathBuf,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum OptimizerArg {
    Sgd,
    Adam,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ScheduleArg {
    Constant,
    Cosine,
}

#[derive(clap::Args, Debug)]
pub struct DataArgs {
    /// Directory holding the Fashion-MNIST IDX files (default: $SHIFTKIT_DATA_DIR, then
    /// /usr/share/datasets/fashion-mnist).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

/// The training subset of `train` and `compress`.
#[derive(clap::Args, Debug)]
pub struct SubsetArgs {
    /// Learn from only N training samples, the first of each class in the
    /// split's order, an equal share each (validation and test stay whole):
    /// learning curves, quick runs, distillation from few samples.
    #[arg(long, value_name = "N")]
    pub train_samples: Option<usize>,
}

#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    /// `mlp:N0-N1-...`, `lenet5`, or a JSON architecture file.
    #[arg(long)]
    pub arch: String,
    /// Dataset: digits (embedded) or fashion-mnist.
    #[arg(long, default_value = "digits")]
    pub data: String,
    #[command(flatten)]
    pub data_args: DataArgs,
    #[command(flatten)]
    pub subset: SubsetArgs,
    /// Epochs (default: 10; on digits, 60).
    #[arg(long)]
    pub epochs: Option<usize>,
    #[command(flatten)]
    pub optim: OptimArgs,
    /// Distill from this float model (knowledge distillation, Hinton et al. 2015).
    #[arg(long, value_name = "FILE")]
    pub teacher: Option<PathBuf>,
    /// Distillation temperature T.
    #[arg(long, default_value_t = defaults::TEMPERATURE, requires = "teacher")]
    pub temperature: f32,
    /// Distillation weight λ of the soft targets (0: labels only, 1: teacher only).
    #[arg(long, default_value_t = defaults::LAMBDA, requires = "teacher")]
    pub lambda: f32,
    /// Anneal λ linearly from --lambda in the first epoch to this in the last.
    #[arg(long, value_name = "LAMBDA", requires = "teacher")]
    pub lambda_end: Option<f32>,
    /// Where to write the model (.skm).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    pub onnx: PathBuf,
    #[arg(short, long)]
    pub output: PathBuf,
    /// Record the dataset the model was trained on (digits, fashion-mnist).
    #[arg(long)]
    pub data: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    pub model: PathBuf,
    #[arg(short, long)]
    pub output: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    pub model: PathBuf,
    /// Dataset (default: the one the model was trained on).
    #[arg(long)]
    pub data: Option<String>,
    /// The split to measure: `val` is what choices are made on, `test` is
    /// only reported.
    #[arg(long, value_enum, default_value = "test")]
    pub split: SplitArg,
    #[command(flatten)]
    pub data_args: DataArgs,
    #[arg(long)]
    pub json: bool,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum SplitArg {
    Train,
    Val,
    Test,
}

impl From<SplitArg> for shiftkit::data::SplitName {
    fn from(s: SplitArg) -> Self {
        match s {
            SplitArg::Train => Self::Train,
            SplitArg::Val => Self::Val,
            SplitArg::Test => Self::Test,
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct InfoArgs {
    pub model: PathBuf,
    #[arg(long)]
    pub json: bool,
}
