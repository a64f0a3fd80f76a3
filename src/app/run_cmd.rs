//! `run`: images through a design on a board (a real one on a serial port,
//! or the simulated board of a board build), every answer held to the
//! simulator's outputs.

use std::time::{Duration, Instant};

use super::*;
use crate::codegen::manifest::Order;
use crate::link::host::{self, Outcome};
use crate::link::{answer_len, line_bits, request_len, Info};
use crate::verify::board::{BoardSim, SimCycles};

/// Where the board is.
#[derive(Clone, Debug)]
pub enum Board {
    /// A serial port (the board's USB UART) at a baud rate.
    Port { path: PathBuf, baud: u32 },
    /// The simulated board of a board build (`build --board`), in its
    /// directory; the host's side at the build's baud rate, or at another to
    /// see what a wrong rate does.
    Sim { build: PathBuf, baud: Option<u32> },
}

/// `shiftkit run`.
#[derive(Clone, Debug)]
pub struct RunJob {
    pub model: PathBuf,
    pub board: Board,
    pub dataset: Option<DatasetName>,
    pub data_dir: Option<PathBuf>,
    pub split: SplitName,
    /// The first this many images of the split (all when None).
    pub limit: Option<usize>,
    /// The longest wait for one answer.
    pub timeout: Duration,
}

/// The first image whose answer differs from the simulator's.
#[derive(Clone, Debug, Serialize)]
pub struct RunMismatch {
    pub image: usize,
    pub expected_class: usize,
    pub expected: Vec<i64>,
    pub got: String,
}

/// What `shiftkit run` reports.
#[derive(Clone, Debug, Serialize)]
pub struct RunOutcome {
    pub model: PathBuf,
    pub port: String,
    pub simulated: bool,
    pub board: Info,
    pub dataset: String,
    pub split: &'static str,
    pub images: usize,
    /// Images whose answer (class and every output code) equals the simulator's.
    pub exact: usize,
    pub first_mismatch: Option<RunMismatch>,
    /// Requests the board refused (an error answer).
    pub refused: usize,
    /// Top-1 accuracy of the board's classes, and of the simulator's.
    pub accuracy: f64,
    pub integer_accuracy: f64,
    pub seconds: f64,
    pub images_per_second: f64,
    /// The simulated board: board clock cycles from the first byte in to the
    /// last byte out, per image.
    pub cycles_per_image: Option<f64>,
    pub sim_cycles: Option<SimCycles>,
    /// Bits on the line per image, each way (8N1: 10 a byte).
    pub request_bits: u64,
    pub answer_bits: u64,
}

/// The input order of the design a board runs: an image's pixels in raster
/// order, channels within a pixel; flat inputs in index order.
fn input_order(net: &IntNetwork) -> Order {
    match net.input() {
        Shape::Image { c, h, w } => Order::Hwc { c, h, w },
        Shape::Flat(_) => Order::Index,
    }
}

/// Opens a serial port (or a terminal) at `baud`, raw, 8N1.
fn open_port(path: &Path, baud: u32) -> Result<Box<dyn serialport::SerialPort>, AppError> {
    if !path.exists() {
        return Err(AppError::Setting {
            setting: "port",
            reason: format!(
                "{} does not exist; give the board's serial port (like /dev/ttyUSB1: the \
                 iCEBreaker's UART is the FT2232H's second port)",
                path.display()
            ),
        });
    }
    use std::os::unix::fs::FileTypeExt;
    if !std::fs::metadata(path).is_ok_and(|m| m.file_type().is_char_device()) {
        return Err(AppError::Setting {
            setting: "port",
            reason: format!(
                "{} is not a serial port (a terminal device like /dev/ttyUSB1)",
                path.display()
            ),
        });
    }
    serialport::new(path.to_string_lossy(), baud).timeout(Duration::from_millis(50)).open().map_err(
        |e| AppError::Setting { setting: "port", reason: format!("{}: {e}", path.display()) },
    )
}

pub fn run_board(job: &RunJob, progress: &mut dyn FnMut(&str)) -> Result<RunOutcome, AppError> {
    let (file, net) = load_integer(&job.model)?;
    let name = dataset_of(&file, job.dataset, &job.model)?;
    let data = data::load(name, job.data_dir.as_deref())?;
    check_input_fits(net.input(), &data)?;
    let split = data.split(job.split);
    let split = match job.limit {
        Some(n) => split.head(n.min(split.len())),
        None => split.clone(),
    };
    let codes = sim::quantize_input(&net, split.x.view());
    let expected = sim::run(&net, codes.view())?;
    let order = input_order(&net);
    let images: Vec<Vec<i64>> = codes
        .rows()
        .into_iter()
        .map(|row| (0..row.len()).map(|p| row[order.index(p)]).collect())
        .collect();
    // The simulated board starts from its build; a real one is opened.
    let (port_path, baud, running) = match &job.board {
        Board::Sim { build, baud } => {
            let outcome: crate::fpga::BoardBuildRecord = read_build_record(build)?;
            // With weights in the board's flash, the simulated board is the
            // board top with a model of the flash.
            let mut sources = outcome.sources;
            sources.extend(outcome.sim_sources);
            let sim = BoardSim {
                dir: build.clone(),
                module: outcome.sim_top.unwrap_or(outcome.module),
                sources,
                clocks_per_bit: outcome.clocks_per_bit,
                baud: outcome.baud as u32,
            };
            progress("building the simulated board with verilator");
            let binary = sim.build()?;
            progress("starting the simulated board");
            let running = sim.start(&binary)?;
            (running.port.clone(), baud.unwrap_or(sim.baud), Some(running))
        }
        Board::Port { path, baud } => (path.clone(), *baud, None),
    };
    let mut port = open_port(&port_path, baud)?;
    progress("identifying the board");
    let info = host::identify(&mut port, job.timeout)?;
    let hash = codegen::network_hash(&net);
    if info.network_hash != hash {
        return Err(AppError::StaleBoard {
            port: port_path.display().to_string(),
            board: info.network_hash,
            model: hash,
        });
    }
    let start = Instant::now();
    let total = images.len();
    let mut tell = |done: usize| progress(&format!("{done}/{total} images answered"));
    let window = info.window as usize;
    let outcomes = host::classify(&mut port, &info, &images, window, job.timeout, &mut tell)?;
    let seconds = start.elapsed().as_secs_f64();
    drop(port);
    let sim_cycles = running.map(|r| r.stop()).transpose()?;
    let (mut exact, mut refused, mut correct, mut first_mismatch) = (0, 0, 0, None);
    for (k, outcome) in outcomes.iter().enumerate() {
        let want = expected.row(k).to_vec();
        let want_class = sim::argmax(want.iter().copied());
        let ok = match outcome {
            Outcome::Classified { class, codes } => {
                correct += usize::from(*class as usize == split.y[k] as usize);
                *class as usize == want_class && *codes == want
            }
            Outcome::Refused(_) => {
                refused += 1;
                false
            }
        };
        if ok {
            exact += 1;
        } else if first_mismatch.is_none() {
            first_mismatch = Some(RunMismatch {
                image: k,
                expected_class: want_class,
                expected: want,
                got: format!("{outcome:?}"),
            });
        }
    }
    let integer_accuracy = sim::accuracy(&net, &split)?;
    let request_bits = line_bits(request_len(net.input().numel(), info.input_format.bits()));
    let answer_bits = line_bits(answer_len(net.output().numel(), info.output_format.bits()));
    Ok(RunOutcome {
        model: job.model.clone(),
        port: port_path.display().to_string(),
        simulated: sim_cycles.is_some(),
        board: info,
        dataset: name.to_string(),
        split: job.split.as_str(),
        images: total,
        exact,
        first_mismatch,
        refused,
        accuracy: correct as f64 / total.max(1) as f64,
        integer_accuracy,
        seconds,
        images_per_second: total as f64 / seconds.max(1e-9),
        cycles_per_image: sim_cycles
            .map(|c| c.last_out.saturating_sub(c.first_in) as f64 / total.max(1) as f64),
        sim_cycles,
        request_bits,
        answer_bits,
    })
}

/// The board part of a board build's `build.json`.
fn read_build_record(dir: &Path) -> Result<crate::fpga::BoardBuildRecord, AppError> {
    let path = dir.join("build.json");
    let not_one = || AppError::Setting {
        setting: "sim",
        reason: format!(
            "{} is not a board build (make one with `shiftkit build MODEL -o DIR --board BOARD`)",
            dir.display()
        ),
    };
    if !path.is_file() {
        return Err(not_one());
    }
    let text = std::fs::read_to_string(&path)
        .map_err(|source| AppError::Io { path: path.clone(), source })?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| AppError::NotAManifest { path: path.clone(), reason: e.to_string() })?;
    serde_json::from_value(v["board"].clone()).map_err(|_| not_one())
}

impl RunOutcome {
    pub fn passed(&self) -> bool {
        self.exact == self.images
    }

    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let b = &self.board;
        let _ = writeln!(
            s,
            "{} ({}): network {}, {} inputs ({}) -> {} outputs ({}), {} cycles per image, {} \
             requests in flight",
            self.port,
            if self.simulated { "the simulated board" } else { "a board" },
            b.network_hash,
            b.inputs,
            b.input_format,
            b.outputs,
            b.output_format,
            b.cycles_per_image,
            b.window
        );
        let verdict = match &self.first_mismatch {
            None => "every answer bit-exact with the simulator".to_string(),
            Some(m) => format!(
                "{} of {} answers differ from the simulator; the first: image {}, expected class \
                 {} and {:?}, got {}",
                self.images - self.exact,
                self.images,
                m.image,
                m.expected_class,
                m.expected,
                m.got
            ),
        };
        let _ = writeln!(s, "{} {} images ({}): {verdict}", self.dataset, self.images, self.split);
        let _ = writeln!(
            s,
            "accuracy {:.2}% on the board, {:.2}% in the simulator; {:.0} images/s end to end \
             ({:.1}s){}",
            self.accuracy * 100.0,
            self.integer_accuracy * 100.0,
            self.images_per_second,
            self.seconds,
            if self.refused > 0 {
                format!("; {} requests refused", self.refused)
            } else {
                String::new()
            }
        );
        if let Some(c) = self.cycles_per_image {
            let _ = writeln!(
                s,
                "simulated: {c:.0} board clock cycles per image from the first byte in to the last \
                 byte out; {} bits a request, {} an answer on the line",
                self.request_bits, self.answer_bits
            );
        }
        s
    }
}
