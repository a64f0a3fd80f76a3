//! `hdl`: Verilog and the multiplier baseline.

use super::*;

/// What `shiftkit hdl` reports.
#[derive(Clone, Debug, Serialize)]
pub struct HdlOutcome {
    pub dir: PathBuf,
    pub manifest: Manifest,
    /// What the resource model says the design takes of `--device`.
    pub estimate: Option<crate::device::Resources>,
    pub seconds: f64,
}

/// `shiftkit hdl`: the Verilog of a quantized model's integer network.
pub fn run_hdl(model_path: &Path, dir: &Path, config: &HdlConfig) -> Result<HdlOutcome, AppError> {
    codegen::check_design_dir(dir)?;
    let (_, net) = load_integer(model_path)?;
    let start = std::time::Instant::now();
    let design = codegen::generate(&net, config)?;
    codegen::write_design(&design, dir)?;
    let estimate = config
        .device
        .as_ref()
        .map(|d| codegen::fit::estimate(&design.manifest.cost, codegen::fit::io_pins(&design), d));
    Ok(HdlOutcome {
        dir: dir.to_path_buf(),
        manifest: design.manifest,
        estimate,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Writes the multiplier baseline of a quantized model (for resource
/// comparisons; see `codegen::multiplier_baseline`).
pub fn run_baseline(model_path: &Path, output: &Path, top: &str) -> Result<(), AppError> {
    let (_, net) = load_integer(model_path)?;
    let text = codegen::multiplier_baseline(&net, top, 8)?;
    model::write_atomically(output, text.as_bytes())?;
    Ok(())
}

impl HdlOutcome {
    pub fn to_text(&self) -> String {
        match &self.manifest.stream {
            Some(stream) => self.stream_text(stream),
            None => self.unrolled_text(),
        }
    }

    fn stream_text(&self, st: &codegen::manifest::StreamManifest) -> String {
        let m = &self.manifest;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:<10} {:<9} {:>9} {:>8} {:>9} {:>11} {:>9} {:>10} {:>9}",
            "layer",
            "hardware",
            "PE x SIMD",
            "cycles",
            "adders",
            "LUTs (est)",
            "FFs",
            "ROM bits",
            "RAM bits"
        );
        for l in &st.layers {
            let c = &l.cost;
            let fold = match (l.pe, l.simd) {
                (Some(p), Some(q)) => format!("{p}x{q}"),
                _ => "-".into(),
            };
            let _ = writeln!(
                s,
                "{:<10} {:<9} {:>9} {:>8} {:>9} {:>11} {:>9} {:>10} {:>9}",
                l.name, l.hardware, fold, l.cycles, c.adders, c.luts, c.ffs, c.rom_bits, c.ram_bits
            );
        }
        let c = &m.cost;
        let _ = writeln!(
            s,
            "{:<10} {:<9} {:>9} {:>8} {:>9} {:>11} {:>9} {:>10} {:>9}",
            "total", "", "", st.cycles_per_image, c.adders, c.luts, c.ffs, c.rom_bits, c.ram_bits
        );
        let _ = writeln!(
            s,
            "top `{}` (streaming): {} beats of {} x {} in, {} beat(s) of {} x {} out per image; \
             {} cycles per image (target {}), latency {} cycles",
            m.top,
            st.input.beats,
            st.input.lanes,
            m.input_format,
            st.output.beats,
            st.output.lanes,
            m.output_format,
            st.cycles_per_image,
            st.target_cycles,
            st.latency
        );
        if let Some(e) = &self.estimate {
            let _ = writeln!(
                s,
                "resource model: {} LUTs, {} logic cells, {} FFs, {} RAM blocks, {} SPRAM, {} DSPs, \
                 {} IO",
                e.luts, e.cells, e.ffs, e.ram_blocks, e.spram, e.dsps, e.io
            );
        }
        timing_line(&mut s, m);
        let rom_files = st.data_files.len() - st.sim_models.len();
        let _ = writeln!(
            s,
            "{} Verilog files and {} ROM files in {} ({:.2}s)",
            m.files.len(),
            rom_files - usize::from(st.weight_bytes > 0),
            self.dir.display(),
            self.seconds
        );
        if m.cost.dsps > 0 {
            let _ = writeln!(
                s,
                "fixed-point lanes on {} DSP blocks (sb_mac16.v: the block's model, for simulation)",
                m.cost.dsps
            );
        }
        if st.weight_bytes > 0 {
            let _ = writeln!(
                s,
                "weights in SPRAM: after power-up the top's w_axis port takes the {} bytes of \
                 weights.hex (sb_spram256ka.v: the RAM's model, for simulation)",
                st.weight_bytes
            );
        }
        s
    }

    fn unrolled_text(&self) -> String {
        let m = &self.manifest;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:<12} {:>9} {:>11} {:>9} {:>11} {:>9} {:>8}",
            "layer", "adders", "adder bits", "mux bits", "LUTs (est)", "FFs", "cycles"
        );
        for l in &m.layers {
            let c = &l.cost;
            let _ = writeln!(
                s,
                "{:<12} {:>9} {:>11} {:>9} {:>11} {:>9} {:>8}",
                l.name, c.adders, c.adder_bits, c.mux_bits, c.luts, c.ffs, l.latency
            );
        }
        let c = &m.cost;
        let _ = writeln!(
            s,
            "{:<12} {:>9} {:>11} {:>9} {:>11} {:>9} {:>8}",
            "total", c.adders, c.adder_bits, c.mux_bits, c.luts, c.ffs, m.latency
        );
        timing_line(&mut s, m);
        let _ = writeln!(
            s,
            "top `{}`: {} x {} in, {} x {} out, latency {} cycles; {} files in {} ({:.2}s)",
            m.top,
            m.inputs,
            m.input_format,
            m.outputs,
            m.output_format,
            m.latency,
            m.files.len() + 3,
            self.dir.display(),
            self.seconds
        );
        s
    }
}

/// The timing model's clock for the design, on a device with one.
fn timing_line(s: &mut String, m: &Manifest) {
    if let Some(mhz) = m.model_mhz {
        let _ = writeln!(
            s,
            "timing model: {mhz:.1} MHz for the slowest register stage (an estimate; place and \
             route decides)"
        );
    }
}
