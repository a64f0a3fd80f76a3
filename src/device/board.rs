//! Boards as data: a device on a board, with the pins of its oscillator, its
//! UART to the host, its LEDs and button, the pins it must hold at a level,
//! and the command that writes a bitstream to it.
//!
//! The boards shiftkit knows are TOML files in `boards/`, embedded in the
//! binary; a user describes another board in a file of the same form and
//! passes its path. A board names its device as a built-in device or a
//! device file (a path relative to the board file).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::pll;
use super::{Device, DeviceError, Family};

/// The built-in boards: name and TOML text.
const BUILTIN: [(&str, &str); 6] = [
    ("icebreaker", include_str!("../../boards/icebreaker.toml")),
    ("upduino3", include_str!("../../boards/upduino3.toml")),
    ("ulx3s-85f", include_str!("../../boards/ulx3s-85f.toml")),
    ("ulx3s-45f", include_str!("../../boards/ulx3s-45f.toml")),
    ("ulx3s-25f", include_str!("../../boards/ulx3s-25f.toml")),
    ("orangecrab-25f", include_str!("../../boards/orangecrab-25f.toml")),
];

/// A board's oscillator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Clock {
    pub pin: String,
    pub mhz: f64,
}

/// A board's UART to the host, as the FPGA sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Uart {
    /// The FPGA receives on this pin (the host's TX).
    pub rx: String,
    /// The FPGA sends on this pin (the host's RX).
    pub tx: String,
    /// The fastest baud rate the host's side of the link takes.
    pub max_baud: u64,
    /// Where the host usually finds the port (for the messages that say
    /// how to run the board).
    #[serde(default)]
    pub port: Option<String>,
}

/// A button.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Button {
    pub pin: String,
    #[serde(default)]
    pub active_low: bool,
}

/// An LED.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Led {
    pub name: String,
    pub pin: String,
    #[serde(default)]
    pub active_low: bool,
}

/// A pin the top drives to a fixed level (a chip select held off).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hold {
    pub name: String,
    pub pin: String,
    pub level: u8,
}

/// The board's SPI flash (the one the FPGA configures from), as the design
/// reaches it once configured: where the weights kept in SPRAM are read from
/// at power-up, written beside the bitstream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpiFlash {
    pub sck: String,
    /// Chip select (active low).
    pub ss: String,
    /// The FPGA's output, the flash's data in (IO0).
    pub mosi: String,
    /// The flash's data out (IO1).
    pub miso: String,
    /// The byte address of the weights, past the bitstream (default 1 MiB).
    #[serde(default = "default_weights_offset")]
    pub weights_offset: u64,
}

fn default_weights_offset() -> u64 {
    1 << 20
}

/// One board, as its file describes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Board {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// A built-in device's name, or a device file (relative to the board file).
    pub device: String,
    /// Where the pins come from (the board's published constraint file).
    #[serde(default)]
    pub source: String,
    /// The command that writes a bitstream to the board; `{bitstream}` is
    /// replaced by its path.
    #[serde(default)]
    pub flash: Vec<String>,
    pub clock: Clock,
    pub uart: Uart,
    #[serde(default)]
    pub button: Option<Button>,
    #[serde(default)]
    pub led: Vec<Led>,
    #[serde(default)]
    pub hold: Vec<Hold>,
    #[serde(default)]
    pub spi_flash: Option<SpiFlash>,
    /// nextpnr's device flags of the board's part when they differ from its
    /// device file's (the same die in another package or speed grade, like
    /// the OrangeCrab's `--25k --package CSFBGA285 --speed 8`).
    #[serde(default)]
    pub nextpnr: Option<Vec<String>>,
    /// A handlebars template of the board top of the user's own (a path
    /// relative to the board file; default: shiftkit's).
    #[serde(default)]
    pub top_template: Option<String>,
    /// A handlebars template of the pin constraints (likewise).
    #[serde(default)]
    pub pcf_template: Option<String>,
    /// The directory of the board's file (None for a built-in board).
    #[serde(skip)]
    pub dir: Option<PathBuf>,
}

/// Errors of reading a board.
#[derive(Debug, thiserror::Error)]
pub enum BoardError {
    #[error("unknown board `{name}`; shiftkit knows {known}, or give the path of a board file (.toml, like boards/icebreaker.toml)")]
    Unknown { name: String, known: String },
    #[error("board file {}: {message}", path.display())]
    File { path: PathBuf, message: String },
    #[error("board `{board}`: {source}")]
    Device {
        board: String,
        #[source]
        source: DeviceError,
    },
}

fn known() -> String {
    BUILTIN.iter().map(|(n, _)| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

impl Board {
    /// A built-in board by name, or a board file by path (anything ending in
    /// `.toml` or holding a path separator).
    pub fn resolve(name: &str) -> Result<Board, BoardError> {
        if name.ends_with(".toml") || name.contains(std::path::MAIN_SEPARATOR) {
            return Board::load(Path::new(name));
        }
        match BUILTIN.iter().find(|(n, _)| *n == name) {
            Some((_, text)) => {
                Ok(Board::parse(text).expect("the built-in board files are checked by tests"))
            }
            None => Err(BoardError::Unknown { name: name.to_string(), known: known() }),
        }
    }

    /// Every built-in board.
    pub fn builtin() -> Vec<Board> {
        BUILTIN.iter().map(|(_, t)| Board::parse(t).expect("checked by tests")).collect()
    }

    /// Reads a board file.
    pub fn load(path: &Path) -> Result<Board, BoardError> {
        let file = |message: String| BoardError::File { path: path.to_path_buf(), message };
        let text = std::fs::read_to_string(path).map_err(|e| file(e.to_string()))?;
        let mut board = Board::parse(&text).map_err(file)?;
        board.dir = path.parent().map(Path::to_path_buf);
        Ok(board)
    }

    /// Parses and checks the text of a board file.
    pub fn parse(text: &str) -> Result<Board, String> {
        let b: Board = toml::from_str(text).map_err(|e| e.to_string())?;
        b.check()?;
        Ok(b)
    }

    /// Pins the board top uses: the clock, the UART, the LEDs, the held
    /// pins, the button, and the SPI flash's four (counted whether or not a
    /// design reads it).
    pub fn pins(&self) -> u64 {
        let flash = if self.spi_flash.is_some() { 4 } else { 0 };
        (3 + self.led.len() + self.hold.len() + usize::from(self.button.is_some()) + flash) as u64
    }

    /// The board's device.
    pub fn device(&self) -> Result<Device, BoardError> {
        let err = |source| BoardError::Device { board: self.name.clone(), source };
        let path = Path::new(&self.device);
        let relative = self.device.ends_with(".toml") && path.is_relative();
        let mut device = match &self.dir {
            Some(dir) if relative => Device::load(&dir.join(path)).map_err(err)?,
            _ => Device::resolve(&self.device).map_err(err)?,
        };
        if let Some(flags) = &self.nextpnr {
            device.nextpnr = flags.clone();
            device.check().map_err(|message| BoardError::File {
                path: PathBuf::from(format!("(board `{}`'s nextpnr flags)", self.name)),
                message,
            })?;
        }
        Ok(device)
    }

    fn check(&self) -> Result<(), String> {
        if self.name.trim().is_empty() {
            return Err("`name` is empty".into());
        }
        let hi = pll::MAX_IN_MHZ;
        if !(self.clock.mhz > 0.0 && self.clock.mhz <= hi) {
            return Err(format!(
                "clock `mhz` {} is outside (0, {hi}] MHz (no PLL takes more)",
                self.clock.mhz
            ));
        }
        if self.uart.max_baud == 0 {
            return Err("uart `max_baud` must be at least 1".into());
        }
        let mut pins = vec![
            ("clock", &self.clock.pin),
            ("uart rx", &self.uart.rx),
            ("uart tx", &self.uart.tx),
        ];
        pins.extend(self.button.iter().map(|b| ("button", &b.pin)));
        pins.extend(self.led.iter().map(|l| ("led", &l.pin)));
        pins.extend(self.hold.iter().map(|h| ("hold", &h.pin)));
        if let Some(f) = &self.spi_flash {
            pins.extend([
                ("spi_flash sck", &f.sck),
                ("spi_flash ss", &f.ss),
                ("spi_flash mosi", &f.mosi),
                ("spi_flash miso", &f.miso),
            ]);
            if f.weights_offset >= 1 << 24 {
                return Err(format!(
                    "spi_flash `weights_offset` {} is past the 16 MiB a 24-bit read address reaches",
                    f.weights_offset
                ));
            }
        }
        let mut seen = BTreeSet::new();
        for (what, pin) in pins {
            let ok = !pin.is_empty() && pin.chars().all(|c| c.is_ascii_alphanumeric());
            if !ok {
                return Err(format!(
                    "{what} pin `{pin}` is not a package pin name (like 35 or A3)"
                ));
            }
            if !seen.insert(pin.as_str()) {
                return Err(format!("pin `{pin}` is given twice (the second time for the {what})"));
            }
        }
        let mut names = BTreeSet::new();
        // Ports of the board top are named `led_<name>`, `hold_<name>`.
        for name in self.led.iter().map(|l| &l.name).chain(self.hold.iter().map(|h| &h.name)) {
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!("led or hold name `{name}`: use letters, digits and _"));
            }
            if !names.insert(name) {
                return Err(format!("the name `{name}` is given twice"));
            }
        }
        if let Some(h) = self.hold.iter().find(|h| h.level > 1) {
            return Err(format!("hold `{}`: level {} is not 0 or 1", h.name, h.level));
        }
        Ok(())
    }

    /// Checks that the board's device is one whose board top shiftkit
    /// makes (iCE40 and ECP5: their PLLs and pin constraints).
    pub fn check_device(&self, device: &Device) -> Result<(), String> {
        if !matches!(device.family, Family::Ice40 | Family::Ecp5) {
            return Err(format!(
                "board `{}`: its device {} is of the {} family; board tops are made for iCE40 \
                 and ECP5",
                self.name, device.name, device.family
            ));
        }
        if self.spi_flash.is_some() && device.family != Family::Ice40 {
            return Err(format!(
                "board `{}`: [spi_flash] feeds weights kept in SPRAM, which only iCE40 \
                 UltraPlus parts have; leave it out for a {} device",
                self.name, device.family
            ));
        }
        Ok(())
    }
}
