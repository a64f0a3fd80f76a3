//! The top of code generation: the settings of `hdl` ([`HdlConfig`]),
//! checked against the network in one step before any work; the form
//! chosen; the design generated, hashed, and written to disk.

use std::path::Path;

use super::cmvm::Sharing;
use super::error::CodegenError;
use super::graph::{Cost, LayerGraph};
use super::lower::{Adders, DEFAULT_LEVELS_PER_STAGE};
use super::manifest::{argmax_bits, Design, Form, Manifest, TopSpec};
use super::names::check_identifier;
use super::stream::{self, Folds, PlanConfig};
use super::unrolled::{self, graphs_for};
use crate::quant::{IntNetwork, IntOp};

/// Settings of `shiftkit hdl`.
#[derive(Clone, Debug, PartialEq)]
pub struct HdlConfig {
    /// Name of the top module (a Verilog identifier).
    pub top: String,
    pub form: Form,
    pub levels_per_stage: u32,
    /// How the unrolled constant products share adders.
    pub sharing: Sharing,
    /// Add an `m_axis_tuser` port with the index of the largest output.
    pub argmax: bool,
    /// Streaming: per-layer foldings (the rest are chosen).
    pub folds: Folds,
    /// Streaming: target cycles per image for the chosen foldings.
    pub cycles: Option<u64>,
    /// Streaming: codes per input beat of a network that starts flat.
    pub input_lanes: Option<usize>,
    /// Streaming: values per output beat of a network that ends flat.
    pub output_lanes: Option<usize>,
    /// Streaming: the device whose block RAM and logic the memories go to
    /// (`None`: the synthesis tool decides).
    pub device: Option<crate::device::Device>,
    /// Streaming on a device: logic cells a block of RAM is worth when the
    /// memories are placed (default: the device's cells over its blocks;
    /// lower puts more memories in block RAM).
    pub block_price: Option<u64>,
    /// On a device with a timing model: the clock (MHz) the folded units
    /// and the unrolled graphs are pipelined for (instead of
    /// `levels_per_stage`).
    pub clock_mhz: Option<f64>,
    /// Streaming: layers whose folded unit keeps its weights in SPRAM
    /// (iCE40 UltraPlus), loaded through the top's weight port.
    pub spram: std::collections::BTreeSet<String>,
}

impl HdlConfig {
    /// Defaults for everything but the top's name and the form.
    pub fn new(top: &str, form: Form) -> HdlConfig {
        HdlConfig {
            top: top.to_string(),
            form,
            levels_per_stage: DEFAULT_LEVELS_PER_STAGE,
            sharing: Sharing::default(),
            argmax: false,
            folds: Folds::default(),
            cycles: None,
            input_lanes: None,
            output_lanes: None,
            device: None,
            block_price: None,
            clock_mhz: None,
            spram: Default::default(),
        }
    }

    /// The timing model of the device, if it has one.
    fn delays(&self) -> Option<&crate::device::Delays> {
        self.device.as_ref().and_then(|d| d.delays.as_ref())
    }

    /// The clock (MHz) the unrolled form's registers are placed for by the
    /// timing model, on a device with one.
    fn unrolled_clock(&self) -> Option<(&crate::device::Delays, f64)> {
        self.delays().zip(self.clock_mhz)
    }

    /// The adder settings of the constant products.
    pub fn adders(&self) -> Adders {
        Adders { levels_per_stage: self.levels_per_stage, sharing: self.sharing }
    }

    /// The settings of the streaming form's plan.
    pub fn plan_config(&self, net: &IntNetwork) -> PlanConfig {
        PlanConfig {
            folds: self.folds.clone(),
            cycles: self.cycles,
            input_lanes: self.input_lanes,
            output_lanes: self.output_lanes,
            argmax_bits: if self.argmax { argmax_bits(net.output().numel()) } else { 0 },
            levels_per_stage: self.levels_per_stage,
            sharing: self.sharing,
            device: self.device.clone(),
            block_price: self.block_price,
            clock_mhz: self.clock_mhz,
            spram: self.spram.clone(),
        }
    }

    /// Checks every setting against `net` before any work: the top's name,
    /// the adder settings, and what the form (or, for `auto`, each form the
    /// network can take) needs of the network.
    pub fn check(&self, net: &IntNetwork) -> Result<(), CodegenError> {
        check_identifier(&self.top)?;
        self.adders().check()?;
        if let Some(mhz) = self.clock_mhz {
            let max = crate::device::MAX_CLOCK_MHZ;
            if !(mhz > 0.0 && mhz <= max) {
                return Err(CodegenError::Config(format!(
                    "clock {mhz} MHz: give a clock above 0 and at most {max} MHz"
                )));
            }
        }
        match self.form {
            Form::Unrolled => unrolled::check(net),
            Form::Streaming | Form::Auto => stream::plan::check(net, &self.plan_config(net)),
        }
    }
}

/// Networks whose unrolled form needs more adders than this get the
/// streaming form when the form is left to shiftkit.
pub const AUTO_UNROLLED_ADDERS: u64 = 20_000;

/// The form shiftkit picks: unrolled for dense networks of at most
/// [`AUTO_UNROLLED_ADDERS`] adders, streaming for everything else; with the
/// unrolled form, its graphs (solved once, here).
fn auto_form(
    net: &IntNetwork,
    config: &HdlConfig,
) -> Result<(Form, Option<Vec<LayerGraph>>), CodegenError> {
    let adders = config.adders();
    let dense =
        net.layers().iter().all(|l| matches!(l.op, IntOp::Dense(_) | IntOp::Relu | IntOp::Flatten));
    if !dense {
        return Ok((Form::Streaming, None));
    }
    let count = |gs: &[LayerGraph]| gs.iter().map(|g| Cost::of(g).adders).sum::<u64>();
    // Per-output trees first (quick): sharing only lowers their count, and
    // rarely below a quarter of it, so only the range between is solved.
    let trees = Adders { sharing: Sharing { enabled: false, ..adders.sharing }, ..adders };
    let tree_graphs = graphs_for(net, trees, config.unrolled_clock())?;
    let n = count(&tree_graphs);
    if !adders.sharing.enabled {
        return Ok(if n <= AUTO_UNROLLED_ADDERS {
            (Form::Unrolled, Some(tree_graphs))
        } else {
            (Form::Streaming, None)
        });
    }
    if n > 4 * AUTO_UNROLLED_ADDERS {
        return Ok((Form::Streaming, None));
    }
    let shared = graphs_for(net, adders, config.unrolled_clock())?;
    if n <= AUTO_UNROLLED_ADDERS || count(&shared) <= AUTO_UNROLLED_ADDERS {
        Ok((Form::Unrolled, Some(shared)))
    } else {
        Ok((Form::Streaming, None))
    }
}

/// The header line of every generated file.
fn header(hash: &str) -> String {
    format!(
        "Generated by shiftkit {} from integer network {hash}. Do not edit.",
        env!("CARGO_PKG_VERSION")
    )
}

/// The top's name and the header, hash and argmax every design of `net`
/// under `config` gets; `f` makes the design from them.
pub(crate) fn with_spec<T>(
    net: &IntNetwork,
    config: &HdlConfig,
    f: impl FnOnce(&TopSpec) -> T,
) -> T {
    let hash = network_hash(net);
    let header = header(&hash);
    f(&TopSpec { module: &config.top, header: &header, hash: &hash, argmax: config.argmax })
}

/// Generates the design of `net` in the form `config` asks for, its settings
/// checked first.
pub fn generate(net: &IntNetwork, config: &HdlConfig) -> Result<Design, CodegenError> {
    config.check(net)?;
    let (form, graphs) = match config.form {
        Form::Auto => auto_form(net, config)?,
        form => (form, None),
    };
    with_spec(net, config, |spec| match form {
        Form::Streaming => stream::generate(net, &config.plan_config(net), spec),
        _ => {
            let graphs = match graphs {
                Some(g) => g,
                None => graphs_for(net, config.adders(), config.unrolled_clock())?,
            };
            unrolled::generate(
                net,
                graphs,
                spec,
                config.adders(),
                config.delays(),
                config.clock_mhz,
            )
        }
    })
}

/// A stable hash of the integer network: FNV-1a of its sections and tensors
/// as the model file's format 1 lays them out, whatever format this build
/// writes, so a design's manifest keeps matching its model across versions.
pub fn network_hash(net: &IntNetwork) -> String {
    let mut c = crate::model::Container::new();
    crate::quant::write_integer(net, &mut c);
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in c.to_bytes_as(1) {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Checks that `dir` can take a design: new, empty, or holding an earlier
/// design (recognized by its manifest).
pub fn check_design_dir(dir: &Path) -> Result<Option<Manifest>, CodegenError> {
    let Ok(mut entries) = std::fs::read_dir(dir) else { return Ok(None) };
    if entries.next().is_none() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(dir.join("manifest.json"))
        .map_err(|_| CodegenError::NotADesign { dir: dir.to_path_buf() })?;
    let manifest = serde_json::from_str(&text)
        .map_err(|_| CodegenError::NotADesign { dir: dir.to_path_buf() })?;
    Ok(Some(manifest))
}

/// Removes what an earlier design in `dir` wrote (its files, the lists, the
/// simulator builds under `build/`) and nothing else; a directory holding
/// something else is refused.
fn clear_previous(dir: &Path) -> Result<(), CodegenError> {
    let Some(old) = check_design_dir(dir)? else { return Ok(()) };
    let data = old.stream.iter().flat_map(|s| s.data_files.iter());
    let lists = ["files.f", "manifest.json", "graph.json"].map(String::from);
    for name in old.files.iter().chain(data).chain(lists.iter()) {
        // Names from a manifest stay inside the directory.
        let safe =
            Path::new(name).components().all(|c| matches!(c, std::path::Component::Normal(_)));
        if safe {
            let _ = std::fs::remove_file(dir.join(name));
        }
    }
    let _ = std::fs::remove_dir_all(dir.join("build"));
    Ok(())
}

/// Writes the design into `dir`: the Verilog files, `files.f`, `manifest.json`
/// and `graph.json`. Each file is written atomically.
pub fn write_design(design: &Design, dir: &Path) -> Result<(), CodegenError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| CodegenError::Io { path, source }
    };
    clear_previous(dir)?;
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let write = |name: &str, text: &str| -> Result<(), CodegenError> {
        let path = dir.join(name);
        crate::model::write_atomically(&path, text.as_bytes())
            .map_err(|e| CodegenError::Config(e.to_string()))
    };
    for (name, text) in design.files.iter().chain(&design.data) {
        write(name, text)?;
    }
    let list: String = design.files.iter().map(|(n, _)| format!("{n}\n")).collect();
    write("files.f", &list)?;
    write(
        "manifest.json",
        &(serde_json::to_string_pretty(&design.manifest).expect("serializes") + "\n"),
    )?;
    write("graph.json", &(serde_json::to_string(&design.graphs).expect("serializes") + "\n"))?;
    Ok(())
}
