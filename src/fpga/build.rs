//! A build for a device: the fastest design the resource model says fits,
//! synthesized, placed and routed, packed, checked against what the tools
//! counted; the next slower design when the tools refuse one.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::board::{
    board_clock, board_clock_at_most, board_top, uart_rate, BoardSettings, BoardTop, BoardTopError,
};
use super::*;
use crate::codegen::fit::{fit, Budget, Fitted};
use crate::codegen::manifest::StreamManifest;
use crate::codegen::stream::Folds;
use crate::codegen::{write_design, CodegenError, Form, HdlConfig, Manifest};
use crate::device::{list, Device, Resources, MAX_CLOCK_MHZ};
use crate::model::Shape;
use crate::quant::IntNetwork;

/// Why a build stopped.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Tool(#[from] FpgaError),
    #[error(transparent)]
    Codegen(#[from] CodegenError),
    #[error(transparent)]
    BoardTop(#[from] BoardTopError),
    /// Designs the resource model said fit, which the tools then refused.
    #[error(
        "the tools refused {} designs the model said fit {device}: {}",
        attempts.len(),
        attempts.join("; ")
    )]
    ToolsRefused { device: String, attempts: Vec<String> },
    /// A directory a build would replace that holds something else.
    #[error(
        "{} exists and is not a shiftkit build (no build.json); give a new or empty directory",
        dir.display()
    )]
    NotABuild { dir: PathBuf },
    /// A setting of the target, by name, that cannot work.
    #[error("{setting}: {reason}")]
    Setting { setting: &'static str, reason: String },
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The device of a build and what is asked of it.
#[derive(Clone, Debug)]
pub struct Target {
    pub device: Device,
    /// Requested clock (MHz); when `None`, the build chooses it (a device
    /// with a timing model) or takes the device's (a board's: its oscillator's).
    pub clock_mhz: Option<f64>,
    /// The share of the device's logic the model may fill.
    pub max_util: f64,
    pub folds: Folds,
    pub cycles: Option<u64>,
    pub seed: u64,
    /// A board: the design gets its board top (clock, reset, UART link, LEDs)
    /// and its pins.
    pub board: Option<BoardSettings>,
    /// Layers whose weights go to SPRAM whatever the fit would choose.
    pub spram: std::collections::BTreeSet<String>,
}

/// Default share of the logic a build may fill.
pub const DEFAULT_MAX_UTIL: f64 = 0.85;

impl Target {
    /// Whether the build chooses the clock: none given, on a board no baud
    /// rate given either (the PLL then makes the chosen clock, and the UART
    /// the fastest rate it allows), and a device with a timing model. Its
    /// folded units are then pipelined for the model's ceiling (the other
    /// parts' control paths, which registers in the units do not shorten)
    /// and place and route asks for the model's clock.
    pub fn chooses_clock(&self) -> bool {
        let baud_given = self.board.as_ref().is_some_and(|b| b.baud.is_some());
        self.clock_mhz.is_none() && !baud_given && self.device.delays.is_some()
    }

    /// The clock the folded units are pipelined for (MHz): the one given,
    /// the device's, or the model's ceiling when the build chooses.
    pub fn pipeline_clock(&self) -> f64 {
        match self.device.delays.filter(|_| self.chooses_clock()) {
            Some(d) => 1000.0 / d.control,
            None => self.clock(),
        }
    }

    /// The timing model's clock for a design (MHz): its units' slowest
    /// stage or the other parts' control, whichever is slower (an estimate).
    pub fn model_mhz(&self, st: &StreamManifest) -> Option<f64> {
        let control = self.device.delays.map(|d| 1000.0 / d.control);
        match (st.model_mhz(), control) {
            (Some(units), Some(control)) => Some(units.min(control)),
            _ => None,
        }
    }

    /// The clock asked of place and route (MHz): the one given, else the
    /// device's (when the build chooses, the timing model's replaces it).
    pub fn clock(&self) -> f64 {
        match &self.board {
            Some(b) => board_clock(&b.board, self.device.family, self.clock_mhz)
                .map_or(b.board.clock.mhz, |c| c.0),
            None => self.clock_mhz.unwrap_or(self.device.clock_mhz),
        }
    }

    /// What the design may take of the device: `max_util` of the logic
    /// beside the board top (if any), no faster than `min_cycles` per image.
    pub fn budget(&self, min_cycles: u64) -> Budget {
        let family = self.device.family;
        let reserve = self.board.as_ref().map(|b| board::overhead(b, family)).unwrap_or_default();
        // A board top feeds the weight port from the board's flash; on a
        // board without one, every weight is in the bitstream.
        let spram = self.board.as_ref().is_none_or(|b| b.board.spi_flash.is_some());
        Budget { max_util: self.max_util, min_cycles, reserve, spram }
    }

    /// Checks every setting of the target against `net` in one step, before
    /// any work: the clock, the share of logic, and the design settings a
    /// build gives the code generator (foldings, lanes). `build` and `flow`
    /// both call it first.
    pub fn check(&self, net: &IntNetwork) -> Result<(), BuildError> {
        let mhz = self.clock();
        if !(mhz > 0.0 && mhz <= MAX_CLOCK_MHZ) {
            return Err(BuildError::Setting {
                setting: "clock",
                reason: format!(
                    "{mhz} MHz: give a clock above 0 and at most {MAX_CLOCK_MHZ} MHz (the \
                     device's default is {} MHz)",
                    self.device.clock_mhz
                ),
            });
        }
        if !(self.max_util > 0.0 && self.max_util <= 1.0) {
            return Err(BuildError::Setting {
                setting: "max_util",
                reason: format!(
                    "{}: give a share of the device's logic above 0 and at most 1, like 0.85",
                    self.max_util
                ),
            });
        }
        hdl_config(net, self).check(net)?;
        if let Some(b) = &self.board {
            let setting = |reason: String| BuildError::Setting { setting: "board", reason };
            b.board.check_device(&self.device).map_err(setting)?;
            if !matches!(net.output(), Shape::Flat(_)) {
                return Err(setting(format!(
                    "`{}`: a board classifies, and this network ends with an image, not classes",
                    b.board.name
                )));
            }
            let (mhz, _) = board_clock(&b.board, self.device.family, self.clock_mhz)?;
            uart_rate(&b.board, mhz, b.baud)?;
        }
        Ok(())
    }
}

/// One resource of `build.json`: the model's estimate, what the tools
/// counted, and what the device holds.
#[derive(Clone, Debug, Serialize)]
pub struct Usage {
    pub resource: String,
    pub estimate: u64,
    pub used: Option<u64>,
    pub available: u64,
}

/// `build.json`.
#[derive(Clone, Debug, Serialize)]
pub struct BuildOutcome {
    pub dir: PathBuf,
    pub device: String,
    pub top: String,
    /// On a board: its board top (the clock, the PLL, the UART's rate).
    pub board: Option<BoardTop>,
    pub folds: Vec<(String, String)>,
    pub cycles_per_image: u64,
    pub latency: u64,
    pub requested_mhz: f64,
    /// Whether the build chose the clock (none given): the timing model's
    /// estimate for the design, `model_mhz`, then a slower one if nextpnr
    /// missed it.
    pub clock_chosen: bool,
    /// The timing model's clock for the folded units' slowest register
    /// stage (an estimate; designs pipelined for a clock).
    pub model_mhz: Option<f64>,
    /// nextpnr's achieved clock (families that place and route).
    pub achieved_mhz: Option<f64>,
    pub timing_met: Option<bool>,
    /// Images per second at the achieved clock.
    pub images_per_second: Option<f64>,
    pub worst_path: Vec<String>,
    pub utilization: Vec<Usage>,
    /// What the tools refused before this design: slower designs (cycles per
    /// image and why) and, when the build chooses the clock, clocks missed.
    pub attempts: Vec<String>,
    pub synthesis: Synthesis,
    pub place_route: Option<PlaceRoute>,
    pub bitstream: Option<PathBuf>,
    /// Weights kept in SPRAM: the bytes of `weights.hex` the top's weight
    /// port (w_axis) takes after power-up, before any image (0: none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub weight_bytes: u64,
    pub tools: BTreeMap<String, String>,
    pub seed: u64,
    pub seconds: f64,
}

/// The design a build makes of `net`: streaming, narrow ports (one code in
/// and one out per beat, the argmax index on every output beat).
pub fn hdl_config(net: &IntNetwork, target: &Target) -> HdlConfig {
    let flat_out = matches!(net.output(), Shape::Flat(_));
    HdlConfig {
        argmax: flat_out,
        folds: target.folds.clone(),
        cycles: target.cycles,
        input_lanes: matches!(net.input(), Shape::Flat(_)).then_some(1),
        output_lanes: flat_out.then_some(1),
        clock_mhz: Some(target.pipeline_clock()),
        spram: target.spram.clone(),
        ..HdlConfig::new("shiftkit_top", Form::Streaming)
    }
}

/// When the build chooses its clock and its units have every register:
/// gives them the fewest (those of the device's clock) and says so.
fn fewest_registers(target: &Target, config: &mut HdlConfig) -> bool {
    let fewest = Some(target.device.clock_mhz);
    if !target.chooses_clock() || config.clock_mhz == fewest {
        return false;
    }
    config.clock_mhz = fewest;
    true
}

/// The clock to pipeline for when the build chooses its clock: of the
/// model's ceiling and clocks a sixth, a third, a half and two thirds under it
/// (down to the device's), the one whose fitting design the models say
/// classifies the most images a second (the timing model's clock over the
/// cycle model's cycles an image), the faster on ties. More registers make
/// a faster clock but may leave a design that fits only a slower folding.
fn fastest_pipelining(net: &IntNetwork, target: &Target, config: &HdlConfig) -> f64 {
    let ceiling = target.pipeline_clock();
    let floor = target.device.clock_mhz;
    let mut best: Option<(f64, f64)> = None;
    for share in [1.0, 5.0 / 6.0, 2.0 / 3.0, 1.0 / 2.0, 1.0 / 3.0] {
        let mhz = (ceiling * share).max(floor);
        let config = HdlConfig { clock_mhz: Some(mhz), ..config.clone() };
        let Ok(Fitted { design, .. }) = fit(net, &config, &target.device, &target.budget(0)) else {
            continue;
        };
        let st = design.manifest.stream.as_ref().expect("a streaming design");
        let Some(model) = target.model_mhz(st) else { continue };
        let images = model / st.cycles_per_image.max(1) as f64;
        if best.is_none_or(|(b, _)| images > b * 1.001) {
            best = Some((images, mhz));
        }
    }
    best.map_or(ceiling, |(_, mhz)| mhz)
}

/// Whether nextpnr's log ends saying the design does not fit the device
/// (its placers word it in three ways).
fn no_room(tail: &str) -> bool {
    ["Unable to place", "Unable to find legal placement", "Failed to expand region"]
        .iter()
        .any(|s| tail.contains(s))
}

/// Designs the tools may refuse before a build gives up.
const ATTEMPTS: usize = 4;

/// Slower clocks a build that chooses its clock tries after nextpnr missed
/// the first.
const CLOCK_TRIES: usize = 3;

/// Builds the fastest design of `net` that fits `target` into `dir`, through
/// synthesis, place and route and packing, and writes `DIR/build.json`. The
/// work happens in a staging directory beside `dir`, which replaces `dir`
/// only when everything succeeded; a `dir` holding something other than a
/// build is refused. `progress` hears of each step.
pub fn build(
    net: &IntNetwork,
    target: &Target,
    dir: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<BuildOutcome, BuildError> {
    target.check(net)?;
    let mhz = target.clock();
    let tools = tools_for(&target.device)?;
    let staging = staging_dir(dir)?;
    // Nothing half-built stays behind: the staging directory goes on failure.
    let mut outcome = build_in(net, target, dir, &staging, mhz, &tools, progress);
    if let Err(e) = &mut outcome {
        let _ = std::fs::remove_dir_all(&staging);
        // A tool's log went with the staging directory; its end stays in the error.
        if let BuildError::Tool(FpgaError::Failed { log, .. } | FpgaError::TimedOut { log, .. }) = e
        {
            *log = None;
        }
    }
    let outcome = outcome?;
    // The finished build replaces the directory in one step.
    if dir.exists() {
        std::fs::remove_dir_all(dir)
            .map_err(|source| BuildError::Io { path: dir.to_path_buf(), source })?;
    }
    std::fs::rename(&staging, dir)
        .map_err(|source| BuildError::Io { path: dir.to_path_buf(), source })?;
    Ok(outcome)
}

fn build_in(
    net: &IntNetwork,
    target: &Target,
    dir: &Path,
    staging: &Path,
    mhz: f64,
    tools: &[Tool],
    progress: &mut dyn FnMut(&str),
) -> Result<BuildOutcome, BuildError> {
    let start = std::time::Instant::now();
    let mut config = hdl_config(net, target);
    if target.chooses_clock() {
        progress("choosing the pipelining");
        config.clock_mhz = Some(fastest_pipelining(net, target, &config));
    }
    let mut attempts = Vec::new();
    let mut min_cycles = 0;
    let mut clock_tries = 0;
    // Designs the tools refused (attempts also records clocks missed).
    let mut refusals = 0;
    let result = loop {
        progress("choosing the folding");
        let Fitted { design, estimate } =
            match fit(net, &config, &target.device, &target.budget(min_cycles)) {
                // A build choosing its clock whose units do not fit with every
                // register: the fewest registers, those of the device's clock.
                Err(CodegenError::NoFit { needs, .. }) if fewest_registers(target, &mut config) => {
                    attempts.push(format!("every pipeline register: needs {needs}"));
                    continue;
                }
                fitted => fitted?,
            };
        let st = design.manifest.stream.clone().expect("a streaming design");
        let _ = std::fs::remove_dir_all(staging);
        write_design(&design, staging)?;
        // The clock asked of nextpnr: the timing model's for the design when
        // the build chooses it.
        let mut ask = match target.model_mhz(&st).filter(|_| target.chooses_clock()) {
            Some(model) => (model * 10.0).floor() / 10.0,
            None => mhz,
        };
        let mut placer = Placer::Heap;
        let limit = PnrAsk::limit_for(estimate.cells);
        let mut pnr = None;
        // The synthesized design: its board top (on a board) and top module.
        // A board whose clock the build chooses has its PLL in the top, so
        // a slower clock writes and synthesizes the top again.
        let mut synthesized = None;
        let (synthesis, board, top, refused) = loop {
            let (synthesis, board, top) = match synthesized.take() {
                Some(s) => s,
                None => {
                    // On a board, the board top around the design is what is built.
                    let board = match &target.board {
                        Some(b) => {
                            let mhz = match target.chooses_clock() {
                                true => Some(board_clock_at_most(
                                    &design.manifest,
                                    &b.board,
                                    target.device.family,
                                    ask,
                                )),
                                false => target.clock_mhz,
                            };
                            let written = write_board_top(&design.manifest, b, mhz, staging)?;
                            ask = written.0.clock_mhz;
                            Some(written)
                        }
                        None => None,
                    };
                    let (top, files) = match &board {
                        Some((b, files)) => (b.module.clone(), files.clone()),
                        None => (design.manifest.top.clone(), design.manifest.files.clone()),
                    };
                    progress(&format!(
                        "synthesizing ({} cycles per image) with yosys",
                        st.cycles_per_image
                    ));
                    let synthesis = synthesize(staging, &files, &top, &target.device)?;
                    (synthesis, board, top)
                }
            };
            let refused = list(&synthesis.resources.over(&target.device, 1.0));
            if !refused.is_empty() || !target.device.family.place_and_route() {
                break (synthesis, board, top, refused);
            }
            progress(&format!("placing and routing with nextpnr at {ask} MHz"));
            let pcf = board.as_ref().map(|(b, _)| b.pcf.as_str());
            let pnr_ask = PnrAsk { mhz: ask, pcf, seed: target.seed, placer, limit };
            let refused = match place_route(staging, &top, &target.device, &pnr_ask) {
                Ok(p) => {
                    let refused =
                        list(&p.resources(target.device.family).over(&target.device, 1.0));
                    // A clock the build chose and nextpnr missed: the next
                    // slower one, a little under what nextpnr achieved.
                    let retry = target.chooses_clock()
                        && refused.is_empty()
                        && !p.timing_met()
                        && clock_tries < CLOCK_TRIES;
                    if retry {
                        clock_tries += 1;
                        attempts.push(format!(
                            "{ask} MHz asked: {:.1} MHz achieved, the next try a little under",
                            p.achieved_mhz
                        ));
                        // 3% under, then 6%, then 9%: nextpnr's figure moves
                        // with the clock asked and the seed.
                        let under = 1.0 - 0.03 * clock_tries as f64;
                        ask = ((p.achieved_mhz * under) * 10.0).floor() / 10.0;
                        if board.is_none() {
                            synthesized = Some((synthesis, board, top));
                        }
                        continue;
                    }
                    pnr = Some(p);
                    refused
                }
                Err(FpgaError::Failed { tail, .. }) if no_room(&tail) => {
                    "nextpnr could not place every cell".to_string()
                }
                // nextpnr 0.4's analytic placer can spin on a netlist it
                // then fails to legalize; simulated annealing is the other try.
                Err(FpgaError::TimedOut { seconds, .. }) if placer == Placer::Heap => {
                    attempts.push(format!(
                        "the HeAP placer stopped at its time limit ({seconds} s); \
                         simulated annealing next"
                    ));
                    placer = Placer::Sa;
                    synthesized = Some((synthesis, board, top));
                    continue;
                }
                Err(FpgaError::TimedOut { seconds, .. }) => {
                    format!("nextpnr did not finish within {seconds} s")
                }
                Err(e) => return Err(e.into()),
            };
            break (synthesis, board, top, refused);
        };
        if refused.is_empty() {
            break (design, estimate, synthesis, pnr, st, board.map(|(b, _)| b), top, ask);
        }
        attempts.push(format!("{} cycles per image: {refused}", st.cycles_per_image));
        refusals += 1;
        if refusals >= ATTEMPTS {
            return Err(BuildError::ToolsRefused { device: target.device.name.clone(), attempts });
        }
        // A build choosing its clock first gives up registers, then speed.
        if fewest_registers(target, &mut config) {
            continue;
        }
        min_cycles = st.cycles_per_image * 2;
    };
    let (_, estimate, synthesis, pnr, st, board, top, mhz) = result;
    let bitstream = match &pnr {
        Some(_) => {
            let family = target.device.family;
            progress(&format!("packing the bitstream with {}", packer(family).name));
            Some(pack(staging, &top, family)?)
        }
        None => None,
    };
    // What the tools counted: by nextpnr where it placed the design (pins
    // only then), but iCE40's LUTs and FFs, which only Yosys counts apart.
    let used: Resources = match &pnr {
        Some(p) if target.device.family == Family::Ecp5 => p.resources(Family::Ecp5),
        Some(p) => Resources {
            luts: synthesis.resources.luts,
            ffs: synthesis.resources.ffs,
            ..p.resources(target.device.family)
        },
        None => synthesis.resources,
    };
    let capacity = target.device.capacity();
    let utilization = estimate
        .rows(&capacity)
        .into_iter()
        .zip(used.rows(&capacity))
        .map(|((name, est, avail), (_, u, _))| Usage {
            resource: name.to_string(),
            estimate: est,
            used: (name != "IO" || pnr.is_some()).then_some(u),
            available: avail,
        })
        .collect();
    let achieved = pnr.as_ref().map(|p| p.achieved_mhz);
    let outcome = BuildOutcome {
        dir: dir.to_path_buf(),
        device: target.device.name.clone(),
        top,
        board,
        folds: st
            .layers
            .iter()
            .filter_map(|l| Some((l.name.clone(), format!("{}x{}", l.pe?, l.simd?))))
            .collect(),
        cycles_per_image: st.cycles_per_image,
        latency: st.latency,
        requested_mhz: mhz,
        clock_chosen: target.chooses_clock(),
        model_mhz: target.model_mhz(&st),
        achieved_mhz: achieved,
        timing_met: pnr.as_ref().map(|p| p.timing_met()),
        images_per_second: achieved.map(|f| f * 1e6 / st.cycles_per_image as f64),
        worst_path: pnr.as_ref().map(|p| p.worst_path.clone()).unwrap_or_default(),
        utilization,
        attempts,
        synthesis,
        place_route: pnr,
        bitstream: bitstream.map(|b| dir.join(b.file_name().expect("a file"))),
        weight_bytes: st.weight_bytes,
        tools: tools.iter().map(|t| (t.name.to_string(), t.version())).collect(),
        seed: target.seed,
        seconds: start.elapsed().as_secs_f64(),
    };
    let json = serde_json::to_string_pretty(&outcome).expect("serializable") + "\n";
    let path = staging.join("build.json");
    std::fs::write(&path, json).map_err(|source| BuildError::Io { path, source })?;
    Ok(outcome)
}

/// A clock for the text: to the kHz, without trailing zeros (a PLL's
/// 57.142857 MHz as 57.143, 40 as 40).
fn mhz_text(mhz: f64) -> String {
    let s = format!("{mhz:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The directory a build writes into before it replaces `dir`: beside it,
/// so the last step is a rename. A `dir` that holds something other than a
/// build is refused, so a build never deletes a user's files.
fn staging_dir(dir: &Path) -> Result<PathBuf, BuildError> {
    if dir.exists() {
        let empty = std::fs::read_dir(dir).map(|mut d| d.next().is_none()).unwrap_or(false);
        if !empty && !dir.join("build.json").is_file() {
            return Err(BuildError::NotABuild { dir: dir.to_path_buf() });
        }
    }
    let name = dir.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or("build".into());
    let parent = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)
        .map_err(|source| BuildError::Io { path: parent.to_path_buf(), source })?;
    Ok(parent.join(format!(".{name}.partial")))
}

impl BuildOutcome {
    /// How the requested clock came about, when the build chose it.
    fn clock_note(&self) -> String {
        match (self.clock_chosen, self.model_mhz) {
            (true, Some(m)) => {
                format!(" (chosen by the timing model, whose estimate is {m:.1} MHz)")
            }
            _ => String::new(),
        }
    }

    /// Which tool's figure the achieved clock is: icetime's where it timed
    /// the design's DSP blocks lower than nextpnr did.
    fn timed_by(&self) -> String {
        match &self.place_route {
            Some(p) if p.icetime_mhz.is_some_and(|t| t < p.nextpnr_mhz) => format!(
                " (by icetime, which times the DSP blocks; nextpnr: {:.1} MHz)",
                p.nextpnr_mhz
            ),
            _ => String::new(),
        }
    }

    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let folds: Vec<String> = self.folds.iter().map(|(l, f)| format!("{l}={f}")).collect();
        let _ = writeln!(
            s,
            "{} on {}: {} cycles per image, latency {} cycles; folding {}",
            self.top,
            self.device,
            self.cycles_per_image,
            self.latency,
            folds.join(",")
        );
        let _ = writeln!(
            s,
            "{:<12} {:>10} {:>10} {:>10} {:>6}",
            "resource", "estimate", "used", "available", "used%"
        );
        for u in &self.utilization {
            let used = u.used.map_or("-".into(), |v| v.to_string());
            let pct = match (u.used, u.available) {
                (Some(v), a) if a > 0 => format!("{:.0}%", 100.0 * v as f64 / a as f64),
                _ => "-".into(),
            };
            let _ = writeln!(
                s,
                "{:<12} {:>10} {:>10} {:>10} {:>6}",
                u.resource, u.estimate, used, u.available, pct
            );
        }
        match (self.achieved_mhz, self.timing_met) {
            (Some(f), Some(true)) => {
                let _ = writeln!(
                    s,
                    "timing met: {f:.1} MHz achieved{} for {} MHz requested{}; {:.0} images/s \
                     at {f:.1} MHz",
                    self.timed_by(),
                    mhz_text(self.requested_mhz),
                    self.clock_note(),
                    self.images_per_second.unwrap_or(0.0)
                );
            }
            (Some(f), _) => {
                let _ = writeln!(
                    s,
                    "TIMING FAILED: {f:.1} MHz achieved{}, {} MHz requested{} (ask for a clock \
                     of {:.0} MHz or less); worst path:",
                    self.timed_by(),
                    mhz_text(self.requested_mhz),
                    self.clock_note(),
                    f.floor()
                );
                for step in self.worst_path.iter().take(12) {
                    let _ = writeln!(s, "  {step}");
                }
            }
            _ => {
                let _ =
                    writeln!(s, "synthesis counts only (no open place and route for this device)");
            }
        }
        for a in &self.attempts {
            let _ = writeln!(s, "tried first: {a}");
        }
        if let Some(b) = &self.bitstream {
            let _ = writeln!(s, "bitstream {}", b.display());
        }
        if self.weight_bytes > 0 && self.board.is_none() {
            let _ = writeln!(
                s,
                "weights in SPRAM: after power-up, stream the {} bytes of {} into \
                 w_axis_tdata/tvalid/tready, then images",
                self.weight_bytes,
                self.dir.join("weights.hex").display()
            );
        }
        if let Some(board) = &self.board {
            s.push_str(&board.to_text(self.bitstream.as_deref(), &self.dir));
        }
        let _ = writeln!(
            s,
            "build.json, the Verilog and the tools' logs in {} ({:.1}s)",
            self.dir.display(),
            self.seconds
        );
        s
    }
}

/// Writes the board top of `manifest`'s design (written in `dir`) with its
/// constraints and the library files it needs beyond the design's; returns
/// it and every Verilog file of the build, in compilation order.
fn write_board_top(
    manifest: &Manifest,
    board: &BoardSettings,
    mhz: Option<f64>,
    dir: &Path,
) -> Result<(BoardTop, Vec<String>), BuildError> {
    let mut top = board_top(manifest, board, mhz)?;
    let mut files = manifest.files.clone();
    for (name, text) in top.library.iter().chain(&top.files) {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|source| BuildError::Io { path, source })?;
        // The simulated board's files are never synthesized.
        if name.ends_with(".v") && !top.sim_sources.contains(name) {
            files.push(name.clone());
        }
    }
    top.sources = files.clone();
    if top.weights.is_some() {
        // The flash's image of the weights: weights.hex's bytes (one a line).
        let hex = dir.join("weights.hex");
        let text = std::fs::read_to_string(&hex)
            .map_err(|source| BuildError::Io { path: hex.clone(), source })?;
        let bytes: Vec<u8> =
            text.lines().filter_map(|l| u8::from_str_radix(l.trim(), 16).ok()).collect();
        let bin = dir.join(super::board::WEIGHTS_BIN);
        std::fs::write(&bin, bytes).map_err(|source| BuildError::Io { path: bin, source })?;
    }
    Ok((top, files))
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}
