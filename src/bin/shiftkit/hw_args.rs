//! The flags of the hardware subcommands: `hdl`, `build`, `verify` and
//! `flow`.

use std::path::PathBuf;

use anyhow::Result;
use clap::ValueEnum;

use crate::args::{DataArgs, MethodArg, SplitArg};
use shiftkit::{compress, train::defaults};

#[derive(clap::Args, Debug)]
pub struct HdlArgs {
    pub model: PathBuf,
    /// Output directory.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Name of the top module.
    #[arg(long, default_value = "shiftkit_top")]
    pub top: String,
    /// Adder levels between pipeline registers.
    #[arg(long, default_value_t = shiftkit::codegen::DEFAULT_LEVELS_PER_STAGE)]
    pub levels_per_stage: u32,
    /// Give every output of an unrolled constant product its own adder tree instead of
    /// sharing subexpressions across outputs (for comparison; more adders).
    #[arg(long)]
    pub no_share: bool,
    /// Adder levels a shared product may use beyond the deepest balanced tree of its
    /// layer (0 to 16): more levels, fewer adders, more pipeline registers.
    #[arg(long, value_name = "LEVELS", default_value_t = 0)]
    pub share_depth: u32,
    /// Add an m_axis_tuser port carrying the index of the largest output.
    #[arg(long)]
    pub argmax: bool,
    /// Hardware form: `unrolled` (every weight a constant of an adder graph, a whole
    /// vector per beat), `streaming` (one stream module per layer, folded
    /// matrix-vector units with weight ROMs), or `auto` (unrolled for dense networks
    /// of at most 20,000 adders, streaming otherwise).
    #[arg(long, value_enum, default_value = "auto")]
    pub form: FormArg,
    /// Streaming: per-layer folding as PExSIMD, like `conv2=8x30,fc1=12x4` (PE divides
    /// the layer's outputs, SIMD its inputs per output); other layers are chosen.
    #[arg(long, value_name = "LAYER=PExSIMD,...", value_parser = parse_folds, default_value = "")]
    pub fold: shiftkit::codegen::stream::Folds,
    /// Streaming: aim the chosen foldings at this many cycles per image (fewer lanes);
    /// the default is as fast as the input stream and sliding windows allow.
    #[arg(long, value_name = "N")]
    pub cycles: Option<u64>,
    /// Streaming: codes per input beat for a network that starts with a dense layer
    /// (default 1; it must divide the number of inputs).
    #[arg(long, value_name = "K")]
    pub input_lanes: Option<usize>,
    /// Streaming: values per output beat for a network that ends flat (default: all in
    /// one beat; with --argmax every beat carries the index).
    #[arg(long, value_name = "K")]
    pub output_lanes: Option<usize>,
    /// Streaming: place every memory in the block RAM or the logic of this device
    /// (a name like ice40-up5k or a device file); default: the synthesis tool decides.
    /// Either form: the device's timing model (if it has one) estimates the clock.
    #[arg(long, value_name = "DEVICE")]
    pub device: Option<String>,
    /// With --device: place the registers of the folded units and of the unrolled
    /// shift-add graphs for this clock by the device's timing model (its [delays]) instead
    /// of --levels-per-stage.
    #[arg(long, value_name = "MHZ", requires = "device")]
    pub clock: Option<f64>,
    /// Streaming: keep these layers' weights in the iCE40 UltraPlus's single-port RAM
    /// (SPRAM) instead of a ROM; the top gets a weight port the weights are streamed
    /// into after power-up (w_axis_*, the words of weights.hex), before any image.
    #[arg(long, value_name = "LAYER,...", value_delimiter = ',')]
    pub spram: Vec<String>,
    /// Also write a baseline with true multipliers on loadable 8-bit weights to this
    /// file (module `<top>_mult`; for resource comparisons only, not verified).
    #[arg(long, value_name = "FILE")]
    pub multiplier_baseline: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

/// Device flags shared by `build` and `flow`.
#[derive(clap::Args, Debug)]
pub struct TargetArgs {
    /// The clock to ask of place and route, in MHz; the folded units are pipelined for it.
    /// Default: on a device with a timing model (ice40-up5k, ecp5-*) the build chooses it (units
    /// pipelined for the model's ceiling, nextpnr asked for the model's clock, a slower one
    /// if nextpnr misses it; on a board, the PLL's clock with the most images a second, unless
    /// --baud is given: then the oscillator's); else the device's.
    #[arg(long, value_name = "MHZ")]
    pub clock: Option<f64>,
    /// The share of the device's logic the resource model may fill.
    #[arg(long, default_value_t = shiftkit::fpga::DEFAULT_MAX_UTIL, value_name = "SHARE")]
    pub max_util: f64,
    /// Per-layer folding as PExSIMD (the rest are chosen to fit).
    #[arg(long, value_name = "LAYER=PExSIMD,...", value_parser = parse_folds, default_value = "")]
    pub fold: shiftkit::codegen::stream::Folds,
    /// Seed of nextpnr's placer.
    #[arg(long, default_value_t = 1)]
    pub pnr_seed: u64,
    /// Keep these layers' weights in the iCE40 UltraPlus's SPRAM (default: the build
    /// decides, where a design does not fit otherwise or fits crowded). On a board they
    /// are read from its SPI flash at power-up (written there beside the bitstream).
    #[arg(long, value_name = "LAYER,...", value_delimiter = ',')]
    pub spram: Vec<String>,
    /// A board (icebreaker, upduino3, ulx3s-85f, ulx3s-45f, ulx3s-25f, orangecrab-25f, or a
    /// board file .toml): the design gets a board
    /// top (the PLL clock, a reset, a UART link to the host, LEDs) and the board's pins;
    /// implies its device.
    #[arg(long, value_name = "BOARD")]
    pub board: Option<String>,
    /// The UART's baud rate on a board (default: the fastest the clock and the board's
    /// USB bridge allow with 8 clocks a bit).
    #[arg(long, value_name = "BAUD")]
    pub baud: Option<u64>,
}

#[derive(clap::Args, Debug)]
pub struct BuildArgs {
    /// A quantized model (.skm).
    pub model: PathBuf,
    /// Output directory (replaced when it holds an earlier build).
    #[arg(short, long)]
    pub output: PathBuf,
    /// The device: ice40-up5k, ice40-hx8k, ecp5-25f, ecp5-45f, ecp5-85f, xc7a35t, or a
    /// device file (.toml); not needed with --board.
    #[arg(long, value_name = "DEVICE")]
    pub target: Option<String>,
    #[command(flatten)]
    pub target_args: TargetArgs,
    #[arg(long)]
    pub json: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum FormArg {
    Unrolled,
    Streaming,
    Auto,
}

pub fn parse_folds(s: &str) -> Result<shiftkit::codegen::stream::Folds, String> {
    s.parse()
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum SimulatorArg {
    Verilator,
    Icarus,
    Both,
}

#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    pub model: PathBuf,
    /// The design directory written by `shiftkit hdl`.
    pub dir: PathBuf,
    #[arg(long, value_enum, default_value = "both")]
    pub sim: SimulatorArg,
    /// Random in-range vectors (the range's extremes are always added).
    #[arg(long, default_value_t = 1000)]
    pub vectors: usize,
    /// Also run the test samples of this dataset (up to --vectors of them).
    #[arg(long)]
    pub data: Option<String>,
    #[command(flatten)]
    pub data_args: DataArgs,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct FlowArgs {
    #[arg(long, default_value = "digits")]
    pub data: String,
    #[command(flatten)]
    pub data_args: DataArgs,
    /// Architecture (default: mlp:64-32-10 on digits, mlp:784-64-10 on fashion-mnist).
    #[arg(long)]
    pub arch: Option<String>,
    #[arg(long, value_enum, default_value = "inq")]
    pub method: MethodArg,
    /// INQ bits per weight.
    #[arg(long, default_value_t = compress::defaults::INQ_BITS)]
    pub bits: u32,
    /// Output directory.
    #[arg(short, long, default_value = "shiftkit-out")]
    pub output: PathBuf,
    #[arg(long, default_value_t = defaults::SEED)]
    pub seed: u64,
    /// Random vectors for verification (the test split is added).
    #[arg(long, default_value_t = 2000)]
    pub vectors: usize,
    /// Build for this device: the fastest design that fits, verified, placed, routed
    /// and packed into a bitstream (ice40-up5k, ice40-hx8k, ecp5-25f, ecp5-45f, ecp5-85f,
    /// xc7a35t or a .toml file).
    #[arg(long, value_name = "DEVICE")]
    pub target: Option<String>,
    #[command(flatten)]
    pub target_args: TargetArgs,
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct CmvmArgs {
    /// A text matrix, one row per input and one column per output (y = x @ W), entries
    /// separated by spaces or commas; every entry a multiple of a power of two.
    pub matrix: PathBuf,
    /// Width of the integer inputs.
    #[arg(long, default_value_t = 8)]
    pub input_bits: u32,
    /// The inputs are unsigned (default: two's complement).
    #[arg(long)]
    pub unsigned: bool,
    /// Write the product's Verilog module (named by --top) to this file.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Name of the module.
    #[arg(long, default_value = "cmvm")]
    pub top: String,
    /// Adder levels between pipeline registers (default: none inside, the outputs
    /// registered).
    #[arg(long, default_value_t = 64)]
    pub levels_per_stage: u32,
    /// One adder tree per output, nothing shared.
    #[arg(long)]
    pub no_share: bool,
    /// Adder levels allowed beyond the deepest balanced tree (0 to 16).
    #[arg(long, value_name = "LEVELS", default_value_t = 0)]
    pub share_depth: u32,
    /// Greedy passes with different tie orders (small matrices); the fewest adders win.
    #[arg(long, value_name = "N", default_value_t = shiftkit::codegen::cmvm::DEFAULT_TRIES)]
    pub share_tries: u32,
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// A quantized model (.skm): the network the board holds.
    pub model: PathBuf,
    /// The board's serial port (its USB UART), like /dev/ttyUSB1.
    #[arg(long, value_name = "PORT", conflicts_with = "sim", required_unless_present = "sim")]
    pub port: Option<PathBuf>,
    /// Run the simulated board of a board build (`build --board`) instead: its board top
    /// on Verilator behind a pseudo-terminal.
    #[arg(long, value_name = "BUILD_DIR")]
    pub sim: Option<PathBuf>,
    /// The port's baud rate, the one the design was built with [default: 1000000, a
    /// 12 MHz board's; with --sim, the board build's]
    #[arg(long)]
    pub baud: Option<u32>,
    /// Dataset (default: the one the model was trained on).
    #[arg(long)]
    pub data: Option<String>,
    #[command(flatten)]
    pub data_args: DataArgs,
    #[arg(long, value_enum, default_value = "test")]
    pub split: SplitArg,
    /// The first N images of the split.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Seconds to wait for one answer.
    #[arg(long, default_value_t = 10.0)]
    pub timeout: f64,
    #[arg(long)]
    pub json: bool,
}
