//! The board top: a design on a board, with its clock (the PLL from the
//! board's oscillator), a power-on reset, the UART to the host and the link
//! protocol (`crate::link`) around it, its LEDs, and the constraint file with
//! exactly the board's pins. Both are handlebars templates rendered at run
//! time from the board file and the design's manifest: the built-in ones
//! (`templates/board/`), or a user's, named in their board file.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use handlebars::Handlebars;
use serde_json::json;

use crate::codegen::{library_file, Manifest};
use crate::device::pll::{self, Pll};
use crate::device::{Board, Family, Resources};
use crate::link::{answer_len, line_bits, request_len, Info, VERSION};

/// The built-in board top (iCE40 and ECP5) and constraint templates (an
/// iCE40 PCF, an ECP5 LPF).
const TOP_TEMPLATE: &str = include_str!("../../templates/board/board_top.v.hbs");
const PCF_TEMPLATE: &str = include_str!("../../templates/board/ice40.pcf.hbs");
const LPF_TEMPLATE: &str = include_str!("../../templates/board/ecp5.lpf.hbs");
/// The SPI flash's simulation model, for the simulated board.
const FLASH_MODEL: &str = include_str!("../../sim/spi_flash.v");

/// The library modules every board top instantiates (besides the design's).
const BOARD_LIBRARY: [&str; 7] =
    ["sk_readq", "sk_fifo", "sk_dwc", "sk_uart_rx", "sk_uart_tx", "sk_link_rx", "sk_link_tx"];

/// Baud rates tried, fastest first, when none is asked for: ones every USB
/// UART bridge makes exactly (FTDI's 12 MHz and 3 MHz divisors).
const BAUDS: [u64; 10] = [
    12_000_000, 6_000_000, 4_000_000, 3_000_000, 2_000_000, 1_000_000, 921_600, 460_800, 230_400,
    115_200,
];

/// A UART's clocks per bit at least, by default (a safe oversampling).
pub const SAFE_CLKS: u32 = 8;

/// The fewest clocks per bit the receiver takes.
const MIN_CLKS: u32 = 4;

/// The largest error of the UART's rate against the asked one.
const BAUD_ERROR: f64 = 0.02;

/// What a board build asks of the board top.
#[derive(Clone, Debug)]
pub struct BoardSettings {
    pub board: Board,
    /// The baud rate (default: the fastest the clock and the host's bridge
    /// allow with [`SAFE_CLKS`] clocks a bit).
    pub baud: Option<u64>,
    /// Classify requests the host may keep in flight.
    pub window: u8,
    /// Silence inside a frame that cuts it (milliseconds).
    pub timeout_ms: f64,
}

/// Default requests in flight: one being computed, one arriving.
pub const DEFAULT_WINDOW: u8 = 2;

/// Default silence that cuts a frame: far longer than a USB bridge's gaps.
pub const DEFAULT_TIMEOUT_MS: f64 = 20.0;

/// A board top, rendered (and, read back from `build.json`, its record).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct BoardTop {
    pub module: String,
    /// The clock the design runs at (MHz): the PLL's, or the oscillator's.
    pub clock_mhz: f64,
    pub pll: Option<Pll>,
    pub baud: u64,
    pub clocks_per_bit: u32,
    pub window: u8,
    /// The board's name and how to write the bitstream to its flash
    /// (`{bitstream}` stands for its path).
    #[serde(default)]
    pub board: String,
    #[serde(default)]
    pub flash: Vec<String>,
    /// Where the host usually finds the board's port.
    #[serde(default)]
    pub port: Option<String>,
    /// Bits on the line for one image: its request to the board and the
    /// answer back (8N1, 10 bits a byte; the two directions run at once).
    #[serde(default)]
    pub request_bits: u64,
    #[serde(default)]
    pub answer_bits: u64,
    /// Images a second: the design at the board's clock (clock / cycles per
    /// image), and the link (baud / the longer direction's bits an image).
    #[serde(default)]
    pub compute_images_per_second: f64,
    #[serde(default)]
    pub link_images_per_second: f64,
    /// Every Verilog file of the build, in the build's directory (the
    /// design's, the board library's, the board top).
    pub sources: Vec<String>,
    /// Weights kept in SPRAM, read from the board's flash at power-up:
    /// where they go in the flash and how many bytes.
    #[serde(default)]
    pub weights: Option<FlashWeights>,
    /// The simulated board's top (the board top with a model of its flash
    /// holding the weights) and its files beyond `sources`; none without
    /// weights in the flash.
    #[serde(default)]
    pub sim_top: Option<String>,
    #[serde(default)]
    pub sim_sources: Vec<String>,
    /// The files to write: the board top and its constraints.
    #[serde(skip)]
    pub files: Vec<(String, String)>,
    /// The library files the board top needs beyond the design's.
    #[serde(skip)]
    pub library: Vec<(String, String)>,
    pub pcf: String,
}

/// The weights' image for the board's flash, in a board build's directory.
pub const WEIGHTS_BIN: &str = "weights.bin";

/// Weights in the board's flash.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
pub struct FlashWeights {
    pub offset: u64,
    pub bytes: u64,
}

/// Why a board top cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum BoardTopError {
    #[error("board `{board}`: {reason}")]
    Setting { board: String, reason: String },
    #[error("{}: line {line}: {message}", template.display())]
    Template { template: PathBuf, line: usize, message: String },
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What a board top takes beside its design, as the resource model counts
/// it: logic measured on the iCEBreaker around the digits MLP (Yosys and
/// nextpnr: 595 LUTs, 799 logic cells, 420 flip-flops more than the design
/// alone), a block of RAM for the byte FIFO when it holds whole frames, and
/// the board's pins; on a board with an SPI flash, its reader too (Yosys
/// `synth_ice40` of `sk_flash_reader` for LeNet-5's 41,880 bytes at 30 MHz:
/// 111 LUTs, 81 flip-flops; the cells an estimate between the two sums).
/// On ECP5, measured the same way on the ULX3S 25F (nextpnr-ecp5: 1,130
/// LUT4s and 356 flip-flops more than the design alone), the byte FIFO in
/// distributed RAM (Yosys's choice for it there), no block.
pub fn overhead(settings: &BoardSettings, family: Family) -> Resources {
    let flash = u64::from(settings.board.spi_flash.is_some());
    match family {
        Family::Ecp5 => Resources {
            luts: 1130,
            cells: 1130,
            ffs: 356,
            ram_blocks: 0,
            spram: 0,
            dsps: 0,
            io: settings.board.pins(),
        },
        _ => Resources {
            luts: 600 + 111 * flash,
            cells: 800 + 150 * flash,
            ffs: 420 + 81 * flash,
            ram_blocks: u64::from(settings.window > 1),
            spram: 0,
            dsps: 0,
            io: settings.board.pins(),
        },
    }
}

/// The UART's clocks per bit and rate for a design clock of `mhz`.
pub fn uart_rate(board: &Board, mhz: f64, baud: Option<u64>) -> Result<(u32, u64), BoardTopError> {
    let hz = mhz * 1e6;
    let fits = |b: u64, min: u32| {
        let clks = (hz / b as f64).round();
        let error = (hz / clks - b as f64).abs() / b as f64;
        (clks >= min as f64 && error <= BAUD_ERROR).then_some(clks as u32)
    };
    let err = |reason: String| BoardTopError::Setting { board: board.name.clone(), reason };
    match baud {
        Some(b) if b > board.uart.max_baud => Err(err(format!(
            "baud {b} is above the {} baud the board's UART bridge takes",
            board.uart.max_baud
        ))),
        Some(b) => fits(b, MIN_CLKS).map(|c| (c, b)).ok_or_else(|| {
            err(format!(
                "baud {b} cannot be made from {mhz} MHz within {}% with at least {MIN_CLKS} \
                 clocks a bit; take one of {}",
                BAUD_ERROR * 100.0,
                BAUDS
                    .iter()
                    .filter(|&&b| fits(b, MIN_CLKS).is_some())
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        }),
        None => BAUDS
            .iter()
            .filter(|&&b| b <= board.uart.max_baud)
            .find_map(|&b| fits(b, SAFE_CLKS).map(|c| (c, b)))
            .ok_or_else(|| err(format!("no baud rate of {BAUDS:?} fits a {mhz} MHz clock"))),
    }
}

/// The design clock a board gives for `mhz` asked: the oscillator itself
/// when that is what is asked (or the PLL cannot go that low), else the
/// PLL's nearest.
pub fn board_clock(
    board: &Board,
    family: Family,
    mhz: Option<f64>,
) -> Result<(f64, Option<Pll>), BoardTopError> {
    let osc = board.clock.mhz;
    match mhz {
        None => Ok((osc, None)),
        Some(f) if (f - osc).abs() < 1e-9 => Ok((osc, None)),
        Some(f) => {
            let p = pll::nearest(family, osc, f).map_err(|e| BoardTopError::Setting {
                board: board.name.clone(),
                reason: format!("clock {f} MHz from the {osc} MHz oscillator: {e}"),
            })?;
            Ok((p.out_mhz(), Some(p)))
        }
    }
}

/// Bits on the line for one image of `m`'s design: its request and its answer.
fn link_bits(m: &Manifest) -> (u64, u64) {
    let request = line_bits(request_len(m.inputs, m.input_format.bits()));
    (request, line_bits(answer_len(m.outputs, m.output_format.bits())))
}

/// Images a second of `m`'s design on a board at `clock_mhz` with the UART
/// at `baud`: the design's (clock over cycles an image) and the link's
/// (baud over the longer direction's bits an image).
fn images_per_second(m: &Manifest, clock_mhz: f64, baud: u64) -> (f64, f64) {
    let cycles = m.stream.as_ref().map_or(1, |s| s.cycles_per_image.max(1));
    let (request, answer) = link_bits(m);
    (clock_mhz * 1e6 / cycles as f64, baud as f64 / request.max(answer) as f64)
}

/// The clock a board runs `m`'s design at when the build chooses it, at or
/// under `mhz` (the timing model's, or a slower one after nextpnr missed
/// it): of the oscillator, the PLL's nearest at or under `mhz`, and the
/// PLL's outputs that make a UART rate exactly (a rate times at least
/// [`SAFE_CLKS`]), the one with the most images a second on the board (the
/// slower of the design and the link at the fastest rate that clock
/// makes), the faster clock on ties. The link is most often the slower: on
/// the iCEBreaker 36 MHz makes 4 Mbaud where 36.75 makes 1 (the digits
/// design's board build, before and after this choice).
pub fn board_clock_at_most(m: &Manifest, board: &Board, family: Family, mhz: f64) -> f64 {
    let osc = board.clock.mhz;
    let mut clocks = vec![osc];
    clocks.extend(pll::at_most(family, osc, mhz).map(|p| p.out_mhz()));
    for baud in BAUDS.into_iter().filter(|&b| b <= board.uart.max_baud) {
        for clks in SAFE_CLKS..=64 {
            let f = baud as f64 * clks as f64 / 1e6;
            let exact = f <= mhz
                && pll::nearest(family, osc, f).is_ok_and(|p| (p.out_mhz() - f).abs() < 1e-6);
            if exact {
                clocks.push(f);
            }
        }
    }
    let score = |f: f64| match uart_rate(board, f, None) {
        Ok((_, baud)) => {
            let (compute, link) = images_per_second(m, f, baud);
            compute.min(link)
        }
        Err(_) => 0.0,
    };
    clocks
        .into_iter()
        .filter(|&f| f <= mhz || f == osc)
        .map(|f| (score(f), f))
        .max_by(|a, b| a.partial_cmp(b).expect("finite clocks"))
        .map_or(osc, |(_, f)| f)
}

/// The role of an LED by its name: a heartbeat (`green`, `heartbeat`), the
/// error lamp (`red`, `error`), or off.
fn led_signal(name: &str) -> (&'static str, &'static str) {
    match name {
        "green" | "heartbeat" => ("heartbeat", "heartbeat"),
        "red" | "error" => ("error_lamp", "lit on an error answer"),
        _ => ("1'b0", "off"),
    }
}

/// Renders a template, its errors naming the file and line.
fn render(
    name: &str,
    template: &str,
    path: &Path,
    data: &serde_json::Value,
) -> Result<String, BoardTopError> {
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    hb.register_escape_fn(handlebars::no_escape);
    let at = |e: &dyn std::fmt::Display, line: Option<usize>| BoardTopError::Template {
        template: path.to_path_buf(),
        line: line.unwrap_or(0),
        message: e.to_string(),
    };
    hb.register_template_string(name, template).map_err(|e| at(&e, e.pos().map(|p| p.0)))?;
    hb.render(name, data).map_err(|e| at(&e, e.line_no))
}

/// The board top of the design `m` (written beside it) on `settings.board`,
/// at `mhz` (None: the oscillator's clock).
pub fn board_top(
    m: &Manifest,
    settings: &BoardSettings,
    mhz: Option<f64>,
) -> Result<BoardTop, BoardTopError> {
    let board = &settings.board;
    let err = |reason: String| BoardTopError::Setting { board: board.name.clone(), reason };
    let stream =
        m.stream.as_ref().ok_or_else(|| err("a board top takes a streaming design".into()))?;
    if m.argmax_bits == 0 || stream.output.lanes != 1 {
        return Err(err(
            "a board classifies: give it a design with an argmax and one output value a beat \
             (a network that ends flat)"
                .into(),
        ));
    }
    let in_lanes = stream.input.lanes;
    if settings.window == 0 {
        return Err(err("the window (requests in flight) must be at least 1".into()));
    }
    let device = board.device().map_err(|e| err(e.to_string()))?;
    let (clock_mhz, pll) = board_clock(board, device.family, mhz)?;
    let (clks, baud) = uart_rate(board, clock_mhz, settings.baud)?;
    let frame = request_len(m.inputs, m.input_format.bits());
    let fifo_depth = (settings.window as usize - 1) * frame + 16;
    let timeout = (settings.timeout_ms * clock_mhz * 1000.0).round().max(16.0) as u64;
    let info = Info {
        version: VERSION,
        network_hash: m.network_hash.clone(),
        inputs: m.inputs as u32,
        input_format: m.input_format,
        outputs: m.outputs as u32,
        output_format: m.output_format,
        cycles_per_image: stream.cycles_per_image.min(u32::MAX as u64) as u32,
        window: settings.window,
    };
    let info_bytes = info.body();
    let info_hex: String = info_bytes.iter().rev().map(|b| format!("{b:02x}")).collect();
    // A heartbeat of about a second: the counter's top bit.
    let heartbeat_bit = ((clock_mhz * 1e6).log2().floor() as u32).saturating_sub(1).max(1);
    let module = format!("{}_board", m.top);
    let leds: Vec<serde_json::Value> = board
        .led
        .iter()
        .map(|l| {
            let (signal, role) = led_signal(&l.name);
            json!({"name": l.name, "pin": l.pin, "active_low": l.active_low, "signal": signal, "role": role})
        })
        .collect();
    let mut ports = vec![
        "input  wire clk_osc".to_string(),
        "input  wire uart_rx".into(),
        "output wire uart_tx".into(),
    ];
    ports.extend(board.led.iter().map(|l| format!("output wire led_{}", l.name)));
    ports.extend(board.hold.iter().map(|h| format!("output wire hold_{}", h.name)));
    if board.button.is_some() {
        ports.push("input  wire button".into());
    }
    let weights = match (stream.weight_bytes, &board.spi_flash) {
        (0, _) => None,
        (bytes, None) => {
            return Err(err(format!(
                "the design keeps {bytes} bytes of weights in SPRAM, loaded at power-up, and the \
                 board file has no [spi_flash] to read them from; describe the board's flash, or \
                 build without SPRAM"
            )))
        }
        (bytes, Some(f)) if f.weights_offset + bytes > 1 << 24 => {
            return Err(err(format!(
                "{bytes} bytes of weights from spi_flash `weights_offset` {} pass the 16 MiB a \
                 24-bit read address reaches; give a lower offset",
                f.weights_offset
            )))
        }
        (bytes, Some(f)) => Some(FlashWeights { offset: f.weights_offset, bytes }),
    };
    let sim_ports = ports.clone();
    if weights.is_some() {
        ports.extend([
            "output wire flash_sck".to_string(),
            "output wire flash_ss_n".into(),
            "output wire flash_mosi".into(),
            "input  wire flash_miso".into(),
        ]);
    }
    // The flash's clock at most 25 MHz (every part reads at 33 MHz), and
    // 10 us deselected after its wake-up (tRES1: 3 us on the common parts).
    let half = (clock_mhz / 50.0).ceil().max(1.0) as u64;
    let wake = (clock_mhz * 10.0).ceil().max(1.0) as u64;
    let flash = weights.map(|w| {
        let f = board.spi_flash.as_ref().expect("weights in the flash need one");
        json!({
            "offset": w.offset,
            "bytes": w.bytes,
            "half": half,
            "wake": wake,
            "sck": f.sck, "ss": f.ss, "mosi": f.mosi, "miso": f.miso,
        })
    });
    let data = json!({
        "header": format!("Generated by shiftkit {} for network {}. Do not edit.", env!("CARGO_PKG_VERSION"), m.network_hash),
        "module": module,
        "ports": ports.iter().map(|d| json!({"decl": d})).collect::<Vec<_>>(),
        "board": {
            "name": board.name,
            "description": if board.description.is_empty() { &board.name } else { &board.description },
            "source": board.source,
            "clock_pin": board.clock.pin,
            "clock_mhz": board.clock.mhz,
            "uart_rx": board.uart.rx,
            "uart_tx": board.uart.tx,
            "leds": leds,
            "holds": board.hold.iter().map(|h| json!({"name": h.name, "pin": h.pin, "level": h.level})).collect::<Vec<_>>(),
            "button": board.button.as_ref().map(|b| json!({"pin": b.pin, "active_low": b.active_low})),
        },
        "pll": pll,
        "ice40_pll": matches!(pll, Some(Pll::Ice40(_))),
        "ecp5_pll": matches!(pll, Some(Pll::Ecp5(_))),
        "flash": flash,
        "clock_mhz": format!("{clock_mhz:.3}"),
        "reset_bits": 11,
        "reset_width": 12,
        "reset_cycles": 1 << 11,
        "heartbeat_bit": heartbeat_bit,
        "heartbeat_width": heartbeat_bit + 1,
        "uart": {"clks": clks, "baud": baud},
        "link": {
            "timeout": timeout,
            "fifo_depth": fifo_depth,
            "status_depth": settings.window as usize + 2,
            "window": settings.window,
            "info_len": info_bytes.len(),
            "info_bits": info_bytes.len() * 8,
            "info_hex": info_hex,
        },
        "design": {
            "top": m.top,
            "inputs": m.inputs,
            "in_bits": m.input_format.bits(),
            "in_bits_msb": m.input_format.bits() - 1,
            "in_lanes": in_lanes,
            "in_width_msb": in_lanes as u32 * m.input_format.bits() - 1,
            "gather": in_lanes > 1,
            "outputs": m.outputs,
            "out_bits": m.output_format.bits(),
            "out_bits_msb": m.output_format.bits() - 1,
            "argmax_bits": m.argmax_bits,
            "argmax_msb": m.argmax_bits - 1,
        },
    });
    let (top_text, top_path) = template_of(board, "top_template", TOP_TEMPLATE)?;
    let (constraints, extension) = match device.family {
        Family::Ecp5 => (LPF_TEMPLATE, "lpf"),
        _ => (PCF_TEMPLATE, "pcf"),
    };
    let (pcf_text, pcf_path) = template_of(board, "pcf_template", constraints)?;
    let top = render("top", &top_text, &top_path, &data)?;
    let pcf = render("pcf", &pcf_text, &pcf_path, &data)?;
    let pcf_name = format!("{module}.{extension}");
    let reader = weights.map(|_| "sk_flash_reader");
    let library = BOARD_LIBRARY
        .iter()
        .copied()
        .chain(reader)
        .filter(|n| !m.files.iter().any(|f| f == &format!("{n}.v")))
        .map(|n| {
            let name = format!("{n}.v");
            let text = library_file(&name).expect("a library module");
            (name, text.to_string())
        })
        .collect();
    let (request_bits, answer_bits) = link_bits(m);
    let (compute, link) = images_per_second(m, clock_mhz, baud);
    let mut files = vec![(format!("{module}.v"), top), (pcf_name.clone(), pcf)];
    let (mut sim_top, mut sim_sources) = (None, Vec::new());
    if let Some(w) = weights {
        let name = format!("{module}_sim");
        let wrapper = sim_wrapper(&name, &module, &sim_ports, w, wake);
        sim_sources.extend(stream.sim_models.iter().cloned());
        sim_sources.extend(["spi_flash.v".to_string(), format!("{name}.v")]);
        files.extend([
            ("spi_flash.v".to_string(), FLASH_MODEL.to_string()),
            (format!("{name}.v"), wrapper),
        ]);
        sim_top = Some(name);
    }
    Ok(BoardTop {
        files,
        module,
        clock_mhz,
        pll,
        baud,
        clocks_per_bit: clks,
        window: settings.window,
        board: board.name.clone(),
        flash: board.flash.clone(),
        port: board.uart.port.clone(),
        request_bits,
        answer_bits,
        compute_images_per_second: compute,
        link_images_per_second: link,
        sources: Vec::new(),
        weights,
        sim_top,
        sim_sources,
        library,
        pcf: pcf_name,
    })
}

/// The simulated board's top: the board top `module` with the ports
/// `ports` (all but the flash's) and a model of its flash holding
/// `weights.hex` at the weights' offset, clocked by the oscillator (the
/// simulated PLL passes it through: the design's clock).
fn sim_wrapper(name: &str, module: &str, ports: &[String], w: FlashWeights, wake: u64) -> String {
    let names: Vec<&str> =
        ports.iter().map(|d| d.split_whitespace().last().expect("a port declaration")).collect();
    let mut s = String::new();
    let _ = writeln!(s, "// Simulation only (never synthesized): `{module}` with a model of its");
    let _ =
        writeln!(s, "// SPI flash holding the {} bytes of weights.hex at {}.", w.bytes, w.offset);
    let _ = writeln!(s, "module {name} (");
    for (i, d) in ports.iter().enumerate() {
        let _ = writeln!(s, "    {d}{}", if i + 1 < ports.len() { "," } else { "" });
    }
    let _ = writeln!(s, ");");
    let _ = writeln!(s, "    wire flash_sck;\n    wire flash_ss_n;\n    wire flash_mosi;");
    let _ = writeln!(s, "    wire flash_miso;");
    let _ = writeln!(s, "    {module} u_board (");
    for n in &names {
        let _ = writeln!(s, "        .{n}({n}),");
    }
    let _ = writeln!(s, "        .flash_sck(flash_sck), .flash_ss_n(flash_ss_n),");
    let _ = writeln!(s, "        .flash_mosi(flash_mosi), .flash_miso(flash_miso)");
    let _ = writeln!(s, "    );");
    let _ = writeln!(
        s,
        "    spi_flash #(.IMAGE(\"weights.hex\"), .OFFSET({}), .SIZE({}), .T_RES({wake})) u_flash (",
        w.offset, w.bytes
    );
    let _ = writeln!(s, "        .clk(clk_osc), .sck(flash_sck), .ss_n(flash_ss_n),");
    let _ = writeln!(s, "        .mosi(flash_mosi), .miso(flash_miso)");
    let _ = writeln!(s, "    );");
    let _ = writeln!(s, "endmodule");
    s
}

/// A template: the board file's own (a path beside it), or the built-in one.
fn template_of(
    board: &Board,
    key: &str,
    builtin: &str,
) -> Result<(String, PathBuf), BoardTopError> {
    let own = match key {
        "top_template" => board.top_template.as_ref(),
        _ => board.pcf_template.as_ref(),
    };
    match own {
        Some(p) => {
            let path = board.dir.as_deref().unwrap_or(Path::new(".")).join(p);
            let text = std::fs::read_to_string(&path)
                .map_err(|source| BoardTopError::Io { path: path.clone(), source })?;
            Ok((text, path))
        }
        None => Ok((builtin.to_string(), PathBuf::from(format!("(built-in {key})")))),
    }
}

impl BoardTop {
    /// The board's lines of a build's text: its clock and link, the two
    /// throughputs, and how to flash and run it.
    pub fn to_text(&self, bitstream: Option<&Path>, dir: &Path) -> String {
        let mut s = String::new();
        let clock = match &self.pll {
            Some(p) => format!("{:.3} MHz from the PLL ({} MHz in)", p.out_mhz(), p.in_mhz()),
            None => format!("{:.3} MHz, the oscillator's", self.clock_mhz),
        };
        let _ = writeln!(
            s,
            "on the {}: the design at {clock}; its UART at {} baud ({} clocks a bit), {} \
             requests in flight",
            self.board, self.baud, self.clocks_per_bit, self.window
        );
        let (compute, link) = (self.compute_images_per_second, self.link_images_per_second);
        let _ = writeln!(
            s,
            "images/s on the board: compute {compute:.0} (clock / cycles an image), link \
             {link:.0} (baud / {} bits a request, {} an answer): the {} is the bottleneck",
            self.request_bits,
            self.answer_bits,
            if link < compute { "link" } else { "design" }
        );
        if let (Some(bit), false) = (bitstream, self.flash.is_empty()) {
            let flash: Vec<String> = self
                .flash
                .iter()
                .map(|a| a.replace("{bitstream}", &bit.display().to_string()))
                .collect();
            let _ = writeln!(s, "flash it: {}", flash.join(" "));
        }
        if let Some(w) = &self.weights {
            let _ = writeln!(
                s,
                "and its weights (kept in SPRAM, read from the flash at power-up): iceprog -o {} {}",
                w.offset,
                dir.join(WEIGHTS_BIN).display()
            );
        }
        let _ = writeln!(
            s,
            "then: shiftkit run MODEL --port {} --baud {} (the board), or shiftkit run MODEL \
             --sim {} (the simulated board)",
            self.port.as_deref().unwrap_or("PORT"),
            self.baud,
            dir.display()
        );
        s
    }
}
