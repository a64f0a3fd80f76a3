//! FPGA devices as data: what a device holds, how its block RAM is cut into
//! blocks, and what a design needs of it.
//!
//! The devices shiftkit knows are TOML files in `devices/`, embedded in the
//! binary; a user describes another device in a file of the same form and
//! passes its path as the target. A device's family fixes the synthesis
//! script, the cell names of the tools' reports and the shape of its block
//! RAM; the file gives the capacities.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub mod board;
pub mod pll;

pub use board::{Board, BoardError};

/// The built-in devices: name and TOML text.
const BUILTIN: [(&str, &str); 6] = [
    ("ice40-up5k", include_str!("../../devices/ice40-up5k.toml")),
    ("ice40-hx8k", include_str!("../../devices/ice40-hx8k.toml")),
    ("ecp5-25f", include_str!("../../devices/ecp5-25f.toml")),
    ("ecp5-45f", include_str!("../../devices/ecp5-45f.toml")),
    ("ecp5-85f", include_str!("../../devices/ecp5-85f.toml")),
    ("xc7a35t", include_str!("../../devices/xc7a35t.toml")),
];

/// Errors of reading a device.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("unknown device `{name}`; shiftkit knows {known}, or give the path of a device file (.toml, like devices/ice40-up5k.toml)")]
    Unknown { name: String, known: String },
    #[error("device file {}: {message}", path.display())]
    File { path: std::path::PathBuf, message: String },
}

/// A family of devices: one synthesis script, one set of cells.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// Lattice iCE40: Yosys `synth_ice40`, nextpnr-ice40, icepack.
    Ice40,
    /// Lattice ECP5: Yosys `synth_ecp5`, nextpnr-ecp5, ecppack (Project
    /// Trellis), natively or as YoWASP's WebAssembly builds.
    Ecp5,
    /// AMD Xilinx 7 series: Yosys `synth_xilinx` counts only.
    Xc7,
}

impl Family {
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Ice40 => "ice40",
            Family::Ecp5 => "ecp5",
            Family::Xc7 => "xc7",
        }
    }

    /// Whether the open tools here place, route and pack this family.
    pub fn place_and_route(self) -> bool {
        matches!(self, Family::Ice40 | Family::Ecp5)
    }

    /// Block-RAM units a memory of `depth` words of `width` bits takes when
    /// it is mapped to block RAM (synchronous read, one read and one write
    /// port): the fewest blocks over every way of cutting the word into
    /// slices, each slice in one of the block's aspect ratios (a slice
    /// narrower than the ratio's width stacks several of its depth pieces
    /// side by side in one block, selected by the high address bits), and of
    /// cutting the depth at multiples of the deepest ratio. This is the
    /// mapping Yosys 0.23 makes on iCE40 (469 RAM and ROM shapes checked by
    /// hand; a few in `tests/fit.rs`). On Xilinx, where Yosys chooses
    /// between RAMB18 and RAMB36 by costs of its own, it agrees on the 12
    /// calibration designs but on only 251 of 280 probe shapes: an xc7
    /// count is an estimate. On ECP5 Yosys 0.23 cuts a memory in one of
    /// the DP16KD's ratios, whole ([`Family::one_ratio_blocks`]).
    pub fn ram_blocks(self, width: u64, depth: u64) -> u64 {
        if width == 0 || depth == 0 {
            return 0;
        }
        if self == Family::Ecp5 {
            return self.one_ratio_blocks(width, depth);
        }
        let ratios = self.aspect_ratios();
        let deepest = ratios.iter().map(|&(d, _)| d).max().unwrap_or(1);
        let widest = ratios.iter().map(|&(_, w)| w).max().unwrap_or(1);
        // Width slices at one depth: the fewest blocks for widths 0..=width,
        // from the blocks of one slice of each width up to the widest.
        let sliced = |depth: u64| {
            let one: Vec<u64> = (0..=widest)
                .map(|slice| {
                    ratios
                        .iter()
                        .filter(|&&(_, w)| slice > 0 && slice <= w)
                        .map(|&(d, w)| depth.div_ceil(d).div_ceil(w / slice))
                        .min()
                        .unwrap_or(u64::MAX)
                })
                .collect();
            let mut best = vec![0u64; width as usize + 1];
            for w in 1..=width as usize {
                best[w] = (1..=w.min(widest as usize))
                    .map(|s| best[w - s] + one[s])
                    .min()
                    .unwrap_or(u64::MAX);
            }
            best[width as usize]
        };
        // Whole `deepest`-word pieces and the rest, or the whole depth at once.
        let (whole, rest) = (depth / deepest, depth % deepest);
        let cut = whole * sliced(deepest) + if rest > 0 { sliced(rest) } else { 0 };
        cut.min(sliced(depth))
    }

    /// Blocks of a memory cut in one aspect ratio: its width in slices of
    /// the ratio's width, its depth in pieces of the ratio's depth, the
    /// fewest over the ratios. Yosys 0.23's mapping on ECP5 for every RAM
    /// of one read and one write port of 324 shapes (8 to 400 bits, 16 to
    /// 4,096 words) and every ROM up to 1,024 words deep of 122; deeper
    /// ROMs it packed in fewer blocks than this on 20 of 40 shapes (mixing
    /// ratios: 6 blocks for 19 x 4,763 where this says 9), never more.
    /// Odd RAM shapes past 1,500 words: 5 of 68 differ, one of them more
    /// (144 blocks for 69 x 35,025 where this says 138). `tests/fit.rs`
    /// checks ten shapes against Yosys.
    fn one_ratio_blocks(self, width: u64, depth: u64) -> u64 {
        self.aspect_ratios()
            .iter()
            .map(|&(d, w)| depth.div_ceil(d) * width.div_ceil(w))
            .min()
            .unwrap_or(0)
    }

    /// (depth, width) of the block's configurations.
    fn aspect_ratios(self) -> &'static [(u64, u64)] {
        match self {
            // SB_RAM40_4K: 256x16, 512x8, 1024x4, 2048x2; Yosys adds a 4096x1
            // by selecting between the two bits of 2048x2.
            Family::Ice40 => &[(256, 16), (512, 8), (1024, 4), (2048, 2), (4096, 1)],
            // RAMB18E1 in simple dual port mode and the ECP5's DP16KD (18
            // kbit; 512x36 as PDPW16KD, one read and one write port) alike:
            // 512x36, 1Kx18, 2Kx9, 4Kx4, 8Kx2, 16Kx1.
            Family::Xc7 | Family::Ecp5 => {
                &[(512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2), (16384, 1)]
            }
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One device: its family and capacities.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Device {
    pub name: String,
    pub family: Family,
    #[serde(default)]
    pub description: String,
    /// nextpnr's device and package flags (families that place and route).
    #[serde(default)]
    pub nextpnr: Vec<String>,
    /// LUTs; on iCE40 logic cells (a LUT4, its carry and its flip-flop).
    pub luts: u64,
    pub ffs: u64,
    /// Block-RAM units: iCE40 SB_RAM40_4K (4 kbit); Xilinx RAMB18 (18 kbit,
    /// half a RAMB36).
    pub ram_blocks: u64,
    /// Single-port RAMs of 16384 words of 16 bits (iCE40 UltraPlus
    /// SB_SPRAM256KA), which hold weights loaded after power-up.
    #[serde(default)]
    pub spram: u64,
    pub dsps: u64,
    /// User IO pins.
    pub io: u64,
    /// The clock a build asks for when none is given.
    pub clock_mhz: f64,
    /// The timing model's delays, where they were calibrated for the device
    /// (`None`: the pipelining does not follow the clock).
    #[serde(default)]
    pub delays: Option<Delays>,
}

/// Delays (ns) of the timing model: a register stage's time is where it
/// starts, plus a hop for every LUT level (the LUT and its routing) and for
/// every adder it chains, plus a carry step for every bit of its widest
/// adder. Calibrated against nextpnr's critical paths (`[delays]` in a
/// device file).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delays {
    /// A stage that starts at a flip-flop: clock to out and setup.
    pub reg: f64,
    /// A stage that starts at a block RAM's read register, with the routing
    /// out of the RAM.
    pub ram: f64,
    /// One LUT level and its routing.
    pub lut: f64,
    /// One adder of a chain of adders: its LUT, its routing, the way into
    /// its carry chain.
    pub adder: f64,
    /// One bit of a carry chain.
    pub carry: f64,
    /// One adder of an unrolled shift-add graph (`graph::timing`): its
    /// operands come shifted, so its carry chain does not line up with the
    /// one before it, and a shared term fans out across the graph, so its
    /// routing is longer than a folded tree's.
    pub graph_adder: f64,
    /// A lane's multiplier on a DSP block (iCE40 UltraPlus `SB_MAC16`
    /// unregistered, as `sk_mul16` configures it), with the routing into and
    /// out of the block; none on a device whose lanes get no DSP blocks.
    #[serde(default)]
    pub dsp: f64,
    /// One LUT level of a lane's LUT multiplier (fixed-point and shared
    /// weights), where the family's synthesis makes it slower than a plain
    /// level (ECP5: wide functions of LUT4s and PFUMX/L6MUX21 multiplexers,
    /// far apart); 0: as `lut`.
    #[serde(default)]
    pub mul_lut: f64,
    /// The slowest control path of the other parts (handshakes, counters,
    /// the argmax's comparator), which pipelining the units does not
    /// shorten: the model's ceiling for a design.
    pub control: f64,
}

/// The share of the period a register stage may take by the timing model
/// when it places registers for a clock: nextpnr's placement moves the real
/// figure by about this much from seed to seed.
pub const MARGIN: f64 = 0.9;

impl Delays {
    /// The time (ns) the timing model gives a register stage at `mhz`:
    /// [`MARGIN`] of the period.
    pub fn budget_ns(mhz: f64) -> f64 {
        MARGIN * 1000.0 / mhz
    }
}

/// The highest clock a build may ask for (MHz).
pub const MAX_CLOCK_MHZ: f64 = 1000.0;

impl Device {
    /// A built-in device by name, or a device file by path (anything ending
    /// in `.toml` or holding a path separator).
    pub fn resolve(target: &str) -> Result<Device, DeviceError> {
        if target.ends_with(".toml") || target.contains(std::path::MAIN_SEPARATOR) {
            return Device::load(Path::new(target));
        }
        match BUILTIN.iter().find(|(n, _)| *n == target) {
            Some((_, text)) => {
                Ok(Device::parse(text).expect("the built-in device files are checked by tests"))
            }
            None => Err(DeviceError::Unknown { name: target.to_string(), known: known() }),
        }
    }

    /// Every built-in device.
    pub fn builtin() -> Vec<Device> {
        BUILTIN.iter().map(|(_, t)| Device::parse(t).expect("checked by tests")).collect()
    }

    /// Reads a device file.
    pub fn load(path: &Path) -> Result<Device, DeviceError> {
        let file = |message: String| DeviceError::File { path: path.to_path_buf(), message };
        let text = std::fs::read_to_string(path).map_err(|e| file(e.to_string()))?;
        Device::parse(&text).map_err(file)
    }

    /// Parses and checks the text of a device file.
    pub fn parse(text: &str) -> Result<Device, String> {
        let d: Device = toml::from_str(text).map_err(|e| e.to_string())?;
        d.check()?;
        Ok(d)
    }

    fn check(&self) -> Result<(), String> {
        if self.name.trim().is_empty() {
            return Err("`name` is empty".into());
        }
        if self.luts == 0 || self.ffs == 0 {
            return Err("`luts` and `ffs` must be at least 1".into());
        }
        if !(self.clock_mhz > 0.0 && self.clock_mhz <= MAX_CLOCK_MHZ) {
            return Err(format!(
                "`clock_mhz` {} is outside (0, {MAX_CLOCK_MHZ}] MHz",
                self.clock_mhz
            ));
        }
        if let Some(d) = self.delays.filter(|_| self.family == Family::Ice40 && self.dsps > 0) {
            if d.dsp <= 0.0 {
                return Err(format!(
                    "the timing model of a device with {} DSP blocks needs `dsp` in [delays], \
                     the delay (ns) of a lane's multiplier on one",
                    self.dsps
                ));
            }
        }
        if self.family == Family::Ecp5 {
            ecp5_part(&self.nextpnr)?;
        }
        if self.family.place_and_route() && self.nextpnr.is_empty() {
            return Err(format!(
                "family {} places and routes with nextpnr: give its device flags, like \
                 nextpnr = [\"--up5k\", \"--package\", \"sg48\"]",
                self.family
            ));
        }
        Ok(())
    }

    /// The capacity of each resource, as a [`Resources`].
    pub fn capacity(&self) -> Resources {
        Resources {
            luts: self.luts,
            cells: self.luts,
            ffs: self.ffs,
            ram_blocks: self.ram_blocks,
            spram: self.spram,
            dsps: self.dsps,
            io: self.io,
        }
    }
}

/// Where a memory of a design goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemStyle {
    /// The synthesis tool's choice (no device targeted).
    Auto,
    Block,
    Logic,
}

impl MemStyle {
    /// The value of the `ram_style` / `rom_style` attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            MemStyle::Auto => "auto",
            MemStyle::Block => "block",
            MemStyle::Logic => "logic",
        }
    }
}

/// A memory built from logic: LUTs and flip-flops.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogicMemory {
    pub luts: u64,
    pub ffs: u64,
}

impl Device {
    /// The LUTs and flip-flops of a memory of `depth` words of `width` bits
    /// built from logic: a ROM is a LUT function of the address per bit (a
    /// tree of LUTs above the LUT's own depth), a RAM keeps every bit in a
    /// flip-flop and reads through the same tree.
    pub fn logic_memory(&self, width: u64, depth: u64, rom: bool) -> LogicMemory {
        let leaf = match self.family {
            Family::Ice40 | Family::Ecp5 => 16,
            Family::Xc7 => 64,
        };
        // Leaves of `leaf` words, then 2:1 multiplexers (iCE40: a LUT each;
        // 7 series: F7/F8 multiplexers merge four leaves for free, as the
        // ECP5's PFUMX and L6MUX21 do).
        if depth <= 1 {
            // One word: constants (a ROM) or plain registers (a RAM).
            return LogicMemory { luts: 0, ffs: if rom { 0 } else { width } };
        }
        let leaves = depth.div_ceil(leaf);
        let muxes = match self.family {
            Family::Ice40 => leaves - 1,
            Family::Xc7 | Family::Ecp5 => leaves.saturating_sub(1) / 4,
        };
        let read = width * (leaves + muxes);
        if rom {
            LogicMemory { luts: read, ffs: 0 }
        } else {
            LogicMemory { luts: read + depth.div_ceil(4), ffs: width * depth }
        }
    }

    /// Logic cells a block of RAM is worth by default: the device's cells
    /// over its blocks.
    pub fn block_price(&self) -> u64 {
        self.luts / self.ram_blocks.max(1)
    }

    /// Where a memory goes on this device: block RAM when its blocks are
    /// worth fewer logic cells (`price` cells a block; the default is
    /// [`Device::block_price`]) than the logic it would take, else logic.
    pub fn memory_style(&self, width: u64, depth: u64, rom: bool, price: u64) -> MemStyle {
        if self.ram_blocks == 0 {
            return MemStyle::Logic;
        }
        let blocks = self.family.ram_blocks(width, depth);
        let logic = self.logic_memory(width, depth, rom);
        let cells = logic.luts.max(logic.ffs);
        if blocks * price < cells {
            MemStyle::Block
        } else {
            MemStyle::Logic
        }
    }
}

/// ECP5 parts (nextpnr-ecp5's flag, without the dashes) and their packages
/// (Lattice's data sheet FPGA-DS-02012, as nextpnr-ecp5 0.11 names them);
/// the UM and UM5G parts are the same dies.
const ECP5_PARTS: [(&str, &[&str]); 4] = [
    ("12k", &["CABGA256", "CABGA381", "CSFBGA285", "TQFP144"]),
    ("25k", &["CABGA256", "CABGA381", "CSFBGA285", "TQFP144"]),
    ("45k", &["CABGA256", "CABGA381", "CABGA554", "CSFBGA285", "TQFP144"]),
    ("85k", &["CABGA381", "CABGA554", "CABGA756", "CSFBGA285"]),
];

/// Checks the part and package of an ECP5 device's nextpnr flags (`--85k
/// --package CABGA381 --speed 6`): one part nextpnr-ecp5 knows, a package
/// that part comes in, a speed grade of 6, 7 or 8.
fn ecp5_part(flags: &[String]) -> Result<(), String> {
    let names = || ECP5_PARTS.iter().map(|(p, _)| format!("--{p}")).collect::<Vec<_>>().join(", ");
    let mut part = None;
    let mut package = None;
    let mut args = flags.iter();
    while let Some(a) = args.next() {
        let flag = a.trim_start_matches("--");
        let die = flag.trim_start_matches("um5g-").trim_start_matches("um-");
        if let Some(&(p, packages)) = ECP5_PARTS.iter().find(|(p, _)| *p == die) {
            if part.is_some() {
                return Err(format!("nextpnr flags name two ECP5 parts; give one of {}", names()));
            }
            part = Some((p, packages));
        } else if flag == "package" {
            package = args.next().cloned();
        } else if flag == "speed" {
            let speed = args.next().map(String::as_str).unwrap_or("");
            if !["6", "7", "8"].contains(&speed) {
                return Err(format!("ECP5 speed grade `{speed}`: give --speed 6, 7 or 8"));
            }
        }
    }
    let (part, packages) = part.ok_or_else(|| {
        format!(
            "nextpnr flags name no ECP5 part; give one of {} (as nextpnr-ecp5 takes it)",
            names()
        )
    })?;
    let package = package.ok_or_else(|| {
        format!("nextpnr flags give no package; the {part} part comes in {}", packages.join(", "))
    })?;
    if !packages.contains(&package.as_str()) {
        return Err(format!(
            "ECP5 {part} part in package `{package}`: nextpnr-ecp5 knows it in {}",
            packages.join(", ")
        ));
    }
    Ok(())
}

fn known() -> String {
    BUILTIN.iter().map(|(n, _)| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

/// What a design takes of a device (or what a device holds).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    pub luts: u64,
    /// Logic cells: on iCE40 the LUT4s and the flip-flops that could not
    /// share a cell with one (what a device runs out of); elsewhere the LUTs.
    pub cells: u64,
    pub ffs: u64,
    pub ram_blocks: u64,
    /// Single-port RAM blocks (iCE40 UltraPlus SPRAM).
    #[serde(default)]
    pub spram: u64,
    pub dsps: u64,
    pub io: u64,
}

impl Resources {
    /// Each resource's name, need and capacity.
    pub fn rows(&self, capacity: &Resources) -> [(&'static str, u64, u64); 7] {
        [
            ("LUTs", self.luts, capacity.luts),
            ("logic cells", self.cells, capacity.cells),
            ("FFs", self.ffs, capacity.ffs),
            (RAM_BLOCKS, self.ram_blocks, capacity.ram_blocks),
            (SPRAM, self.spram, capacity.spram),
            ("DSPs", self.dsps, capacity.dsps),
            ("IO", self.io, capacity.io),
        ]
    }

    /// The resources that take more than `max_util` of the device (logic:
    /// LUTs, cells, FFs) or more than the device has (RAM, DSP, IO).
    pub fn over(&self, device: &Device, max_util: f64) -> Vec<Shortfall> {
        let cap = device.capacity();
        self.rows(&cap)
            .into_iter()
            .filter_map(|(name, need, capacity)| {
                let logic = matches!(name, "LUTs" | "logic cells" | "FFs");
                let limit =
                    if logic { (capacity as f64 * max_util).floor() as u64 } else { capacity };
                (need > limit).then_some(Shortfall { name, need, limit, capacity, logic })
            })
            .collect()
    }
}

/// The name of block RAM among the resources.
pub const RAM_BLOCKS: &str = "RAM blocks";
/// The name of the single-port RAMs among the resources.
pub const SPRAM: &str = "SPRAM";

/// A resource a design needs more of than it may take.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Shortfall {
    pub name: &'static str,
    pub need: u64,
    /// What the design may take: the capacity, or a share of it for logic.
    pub limit: u64,
    pub capacity: u64,
    /// LUTs, logic cells or FFs (as against RAM blocks, DSPs or pins).
    pub logic: bool,
}

impl fmt::Display for Shortfall {
    /// "logic cells 6514 of 4488 (85% of 5280)", or "RAM blocks 31 of 30".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} of {}", self.name, self.need, self.limit)?;
        if self.limit != self.capacity {
            let share = 100.0 * self.limit as f64 / self.capacity as f64;
            write!(f, " ({share:.0}% of {})", self.capacity)?;
        }
        Ok(())
    }
}

/// Shortfalls as one line.
pub fn list(shortfalls: &[Shortfall]) -> String {
    shortfalls.iter().map(Shortfall::to_string).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_devices_parse() {
        let all = Device::builtin();
        assert_eq!(all.len(), BUILTIN.len());
        for (d, (name, _)) in all.iter().zip(BUILTIN) {
            assert_eq!(d.name, name);
        }
        let up5k = Device::resolve("ice40-up5k").unwrap();
        assert_eq!((up5k.luts, up5k.ram_blocks, up5k.io), (5280, 30, 39));
        let e = Device::resolve("ice40-up9k").unwrap_err().to_string();
        assert!(e.contains("ice40-up9k") && e.contains("ice40-up5k"), "{e}");
    }

    #[test]
    fn bad_device_files_are_named() {
        let good = BUILTIN[0].1;
        for (bad, says) in [
            (good.replace("family = \"ice40\"", "family = \"gowin\""), "gowin"),
            (good.replace("luts = 5280", "luts = 0"), "luts"),
            (good.replace("clock_mhz = 12.0", "clock_mhz = 0.0"), "clock_mhz"),
            (good.replace("clock_mhz = 12.0", "clock_mhz = 12.0\ncolour = 1"), "colour"),
            (good.replace("nextpnr = [\"--up5k\", \"--package\", \"sg48\"]", ""), "nextpnr"),
            // DSP blocks and a timing model, but no delay for a lane on one.
            (good.replace("\ndsp = 10.2", ""), "`dsp` in [delays]"),
        ] {
            let e = Device::parse(&bad).unwrap_err();
            assert!(e.contains(says), "{says}: {e}");
        }
    }

    #[test]
    fn ecp5_parts_and_packages_are_checked() {
        let good = Device::resolve("ecp5-85f").unwrap();
        assert_eq!((good.luts, good.ram_blocks, good.family), (83640, 208, Family::Ecp5));
        let text = BUILTIN.iter().find(|(n, _)| *n == "ecp5-25f").unwrap().1;
        for (bad, says) in [
            (text.replace("\"--25k\", ", ""), "no ECP5 part"),
            (text.replace("CABGA381", "CABGA756"), "`CABGA756`"),
            (text.replace("\"--package\", \"CABGA381\", ", ""), "no package"),
            (text.replace("\"6\"", "\"9\""), "speed grade `9`"),
            (text.replace("\"--25k\"", "\"--25k\", \"--85k\""), "two ECP5 parts"),
        ] {
            let e = Device::parse(&bad).unwrap_err();
            assert!(e.contains(says), "{says}: {e}");
        }
        // The UM parts are the same dies; the OrangeCrab's package and grade.
        let um = text.replace("\"--25k\"", "\"--um5g-25k\"").replace("CABGA381", "CSFBGA285");
        assert!(Device::parse(&um.replace("\"6\"", "\"8\"")).is_ok());
    }

    #[test]
    fn ecp5_memories_take_one_ratio() {
        let f = Family::Ecp5;
        assert_eq!(f.ram_blocks(36, 512), 1);
        assert_eq!(f.ram_blocks(37, 512), 2);
        assert_eq!(f.ram_blocks(1, 16384), 1);
        // 21 x 3821: 2 pieces of 2048 x 3 slices of 9 (mixing an 18-bit
        // slice with a 3-bit one would take 5; Yosys does not).
        assert_eq!(f.ram_blocks(21, 3821), 6);
        assert_eq!(f.ram_blocks(80, 64), 3);
        assert_eq!(f.ram_blocks(0, 64), 0);
    }

    #[test]
    fn block_counts_follow_the_aspect_ratios() {
        let f = Family::Ice40;
        // One block up to 4 kbit in a ratio that fits.
        assert_eq!(f.ram_blocks(16, 256), 1);
        assert_eq!(f.ram_blocks(1, 4096), 1);
        assert_eq!(f.ram_blocks(17, 256), 2);
        // 9 bits: an 8-bit slice and a 1-bit slice.
        assert_eq!(f.ram_blocks(9, 257), 2);
        // 3 x 9000: two 4096-word pieces (2 + 1 bits: 2 + 1 blocks each) and
        // 808 words in one 1024x4 block.
        assert_eq!(f.ram_blocks(3, 9000), 7);
        // 5 x 768: three 256-word pieces side by side in one 256x16 block.
        assert_eq!(f.ram_blocks(5, 768), 1);
        assert_eq!(f.ram_blocks(5, 800), 2);
        assert_eq!(f.ram_blocks(0, 10), 0);
        // Never fewer blocks than bits allow.
        for (w, d) in [(5, 9000), (33, 1000), (100, 64), (7, 3000)] {
            let blocks = f.ram_blocks(w, d);
            assert!(blocks * 4096 >= w * d, "{w} x {d}: {blocks}");
        }
    }
}
