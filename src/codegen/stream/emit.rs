//! Verilog of the streaming form: one module per layer instantiating the
//! hand-written parts of `hdl/`, and the top that chains the layers with skid
//! buffers. Everything is decided by the plan; this module spells it.

use askama::Template;

use super::mvu::Folded;
use super::plan::{vecbuf_memory, Dwc, LayerHw, LayerPlan, Mvu, Plan, Window};
use crate::device::MemStyle;
use crate::quant::WeightCode;

/// One instance of a module, printed with one parameter and one port per line.
pub(super) struct Inst {
    pub(super) module: String,
    pub(super) name: String,
    pub(super) params: Vec<(&'static str, String)>,
    pub(super) ports: Vec<(&'static str, String)>,
}

impl Inst {
    pub(super) fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.params.is_empty() {
            out.push(format!("{} {} (", self.module, self.name));
        } else {
            out.push(format!("{} #(", self.module));
            let n = self.params.len();
            for (i, (k, v)) in self.params.iter().enumerate() {
                out.push(format!("    .{k}({v}){}", if i + 1 < n { "," } else { "" }));
            }
            out.push(format!(") {} (", self.name));
        }
        let n = self.ports.len();
        for (i, (k, v)) in self.ports.iter().enumerate() {
            out.push(format!("    .{k}({v}){}", if i + 1 < n { "," } else { "" }));
        }
        out.push(");".into());
        out
    }
}

/// The stream ports of an instance: `s_*` from `from`, `m_*` to `to` (wire
/// name prefixes: `<prefix>_data`, `_valid`, `_ready`).
pub(super) fn stream_ports(from: &str, to: &str) -> Vec<(&'static str, String)> {
    vec![
        ("clk", "clk".into()),
        ("rst", "rst".into()),
        ("s_data", format!("{from}_data")),
        ("s_valid", format!("{from}_valid")),
        ("s_ready", format!("{from}_ready")),
        ("m_data", format!("{to}_data")),
        ("m_valid", format!("{to}_valid")),
        ("m_ready", format!("{to}_ready")),
    ]
}

pub(super) fn wires(prefix: &str, width: usize) -> Vec<String> {
    vec![
        format!("wire [{}:0] {prefix}_data;", width - 1),
        format!("wire {prefix}_valid;"),
        format!("wire {prefix}_ready;"),
    ]
}

pub(super) fn int(v: impl std::fmt::Display) -> String {
    v.to_string()
}

pub(super) fn dwc_inst(d: &Dwc, name: &str, from: &str, to: &str) -> Vec<String> {
    let mut body = wires(to, d.b * d.bits as usize);
    body.extend(
        Inst {
            module: "sk_dwc".into(),
            name: name.into(),
            params: [("BITS", int(d.bits)), ("A", int(d.a)), ("B", int(d.b)), ("L", int(d.l))]
                .into_iter()
                .chain(d.hold.then(|| ("HOLD", int(1))))
                .collect(),
            ports: stream_ports(from, to),
        }
        .lines(),
    );
    body
}

/// The `RAM_STYLE` / `ROM_STYLE` parameter of a memory the plan places
/// (none when the synthesis tool decides).
pub(super) fn style(
    plan: &Plan,
    name: &'static str,
    width: u64,
    depth: u64,
    rom: bool,
) -> Option<(&'static str, String)> {
    match plan.memory_style(width, depth, rom) {
        MemStyle::Auto => None,
        s => Some((name, format!("\"{}\"", s.as_str()))),
    }
}

/// The line buffers' style of a window generator (`sk_window` keeps K-1
/// rows of the padded width).
pub(super) fn window_style(plan: &Plan, w: &Window) -> Option<(&'static str, String)> {
    let (width, depth) = w.line_buffer()?;
    style(plan, "RAM_STYLE", width, depth, false)
}

pub(super) fn window_params(w: &Window) -> Vec<(&'static str, String)> {
    vec![
        ("BITS", int(w.bits)),
        ("C", int(w.c)),
        ("H", int(w.h)),
        ("W", int(w.w)),
        ("KH", int(w.k[0])),
        ("KW", int(w.k[1])),
        ("SH", int(w.stride[0])),
        ("SW", int(w.stride[1])),
    ]
}

/// A verilog literal of `bits` bits holding `values` packed, value 0 lowest.
pub(super) fn packed_literal(values: &[i64], bits: u32) -> String {
    let width = values.len() as u32 * bits;
    format!("{width}'h{}", crate::codegen::hex::pack_hex(values, bits))
}

pub(super) fn mvu_params(plan: &Plan, f: &Folded, module: &str) -> Vec<(&'static str, String)> {
    let mut params = vec![
        ("PE", int(f.fold.pe)),
        ("SIMD", int(f.fold.simd)),
        ("NF", int(f.nf)),
        ("SF", int(f.sf)),
        ("XBITS", int(f.xbits)),
        ("XSIGNED", int(u32::from(f.xsigned))),
        ("KIND", int(f.code.rtl_kind())),
        ("CODE", int(f.code.bits())),
    ];
    if let WeightCode::Shared { codebook, value_bits } = &f.code {
        params.push(("CB_N", int(codebook.len())));
        params.push(("CB_BITS", int(value_bits)));
        params.push(("CODEBOOK", packed_literal(codebook, *value_bits)));
    }
    params.extend([
        ("LANE_W", int(f.lane_w)),
        ("H", int(f.h)),
        ("PIPE", int(f.pipelining.pipe)),
        ("LREG", int(u32::from(f.pipelining.lane_reg))),
        ("SUM_W", int(f.sum_w)),
        ("ACC_W", int(f.acc_w)),
        ("SCALED", int(f.scale_stages())),
        ("M_BITS", int(f.m_bits)),
        ("OUT_W", int(f.out_w)),
        ("WEIGHTS", format!("\"{module}_w.hex\"")),
        ("BIASES", format!("\"{module}_b.hex\"")),
    ]);
    if f.scaled {
        params.push(("SCALES", format!("\"{module}_m.hex\"")));
    }
    if f.dsp > 0 {
        params.push(("DSP", int(f.dsp)));
    }
    if f.spram {
        params.push(("SPRAM", int(1)));
    } else {
        let (width, depth) = f.rom_shape();
        params.extend(style(plan, "ROM_STYLE", width, depth, true));
    }
    params
}

/// The matrix-vector unit reading stream `from` and driving the module's
/// output: the unit, its requantization and the valid pipeline whose last bit
/// is `m_valid`. Every register advances on `en`.
pub(super) fn mvu_lines(plan: &Plan, mvu: &Mvu, module: &str, from: &str) -> Vec<String> {
    let mut body = vec![
        String::new(),
        "// The unit's registers advance together when its output is free or taken.".into(),
        "wire en = !m_valid || m_ready;".into(),
        format!("assign {from}_ready = en;"),
    ];
    let (valid_in, length) = match mvu {
        Mvu::Folded(f) => {
            body.push(format!("wire [{}:0] acc_data;", f.fold.pe * f.out_w as usize - 1));
            body.push("wire acc_valid;".into());
            let load = if f.spram {
                ["w_data", "w_valid", "w_ready"].map(String::from)
            } else {
                body.push("wire unused_ld_ready;".into());
                ["16'd0", "1'b0", "unused_ld_ready"].map(String::from)
            };
            let [ld_data, ld_valid, ld_ready] = load;
            body.extend(
                Inst {
                    module: "sk_mvu".into(),
                    name: "u_mvu".into(),
                    params: mvu_params(plan, f, module),
                    ports: vec![
                        ("clk", "clk".into()),
                        ("rst", "rst".into()),
                        ("en", "en".into()),
                        ("ld_data", ld_data),
                        ("ld_valid", ld_valid),
                        ("ld_ready", ld_ready),
                        ("s_data", format!("{from}_data")),
                        ("s_valid", format!("{from}_valid")),
                        ("acc_data", "acc_data".into()),
                        ("acc_valid", "acc_valid".into()),
                    ],
                }
                .lines(),
            );
            body.push(
                "// Requantization of the accumulators (generated from the numeric contract)."
                    .into(),
            );
            body.extend(
                Inst {
                    module: format!("{module}_rq"),
                    name: "u_rq".into(),
                    params: vec![],
                    ports: vec![
                        ("clk", "clk".into()),
                        ("ce", "en".into()),
                        ("x", "acc_data".into()),
                        ("y", "m_data".into()),
                    ],
                }
                .lines(),
            );
            ("acc_valid".to_string(), f.rq.latency)
        }
        Mvu::Unrolled(g) => {
            body.push("// Every weight a constant: the unrolled shift-add graph.".into());
            body.extend(
                Inst {
                    module: format!("{module}_core"),
                    name: "u_core".into(),
                    params: vec![],
                    ports: vec![
                        ("clk", "clk".into()),
                        ("ce", "en".into()),
                        ("x", format!("{from}_data")),
                        ("y", "m_data".into()),
                    ],
                }
                .lines(),
            );
            (format!("{from}_valid"), g.latency)
        }
    };
    body.push(format!("reg [{}:0] valid_q;", length - 1));
    body.push("always @(posedge clk) begin".into());
    body.push(format!("    if (rst) valid_q <= {length}'b0;"));
    if length == 1 {
        body.push(format!("    else if (en) valid_q <= {valid_in};"));
    } else {
        body.push(format!(
            "    else if (en) valid_q <= {{valid_q[{}:0], {valid_in}}};",
            length - 2
        ));
    }
    body.push("end".into());
    body.push(format!("assign m_valid = valid_q[{}];", length - 1));
    body
}

#[derive(Template)]
#[template(path = "stream_layer.v", escape = "none")]
pub(super) struct LayerTemplate<'a> {
    header: &'a str,
    layer: &'a str,
    op: &'a str,
    summary: String,
    notes: Vec<String>,
    module: &'a str,
    in_desc: String,
    out_desc: String,
    in_msb: usize,
    out_msb: usize,
    /// The layer has a weight port (its weights are in SPRAM).
    weights: bool,
    body: Vec<String>,
}

/// The module of one layer (for layers with registers).
pub fn layer_module(plan: &Plan, l: &LayerPlan, op: &str, module: &str, header: &str) -> String {
    let mut body = vec!["// The input stream, as the parts below name it.".to_string()];
    body.extend(wires("in", l.input.lanes * l.input.format.bits() as usize));
    body.push("assign in_data = s_data;".into());
    body.push("assign in_valid = s_valid;".into());
    body.push("assign s_ready = in_ready;".into());
    let mut notes = Vec::new();
    let mut from = "in".to_string();
    let mut add_dwc = |body: &mut Vec<String>, dwc: &Option<Dwc>, to: &str, what: &str| {
        if let Some(d) = dwc {
            body.push(String::new());
            body.push(format!("// Beats of {} codes to {what} of {}.", d.a, d.b));
            body.extend(dwc_inst(d, &format!("u_{to}"), &from, to));
            from = to.to_string();
        }
    };
    let summary;
    match &l.hw {
        LayerHw::Conv { dwc, window, mvu, positions } => {
            add_dwc(&mut body, dwc, "pixel", "pixels");
            body.push(String::new());
            body.push(format!(
                "// Windows of {}x{}x{} codes, {} per beat, each sent {} time(s).",
                window.k[0], window.k[1], window.c, window.chunk, window.repeat
            ));
            body.extend(wires("win", window.chunk * window.bits as usize));
            let mut params = window_params(window);
            params.extend([
                ("PH", int(window.pad[0])),
                ("PW", int(window.pad[1])),
                ("CHUNK", int(window.chunk)),
                ("REPEAT", int(window.repeat)),
            ]);
            if window.compact {
                params.push(("COMPACT", int(1)));
            }
            params.extend(window_style(plan, window));
            body.extend(
                Inst {
                    module: "sk_window".into(),
                    name: "u_window".into(),
                    params,
                    ports: stream_ports(&from, "win"),
                }
                .lines(),
            );
            body.extend(mvu_lines(plan, mvu, module, "win"));
            summary = format!("{positions} positions;\n{}", mvu_summary(mvu, l));
            notes.extend(mvu_notes(mvu));
        }
        LayerHw::Dense { dwc, vecbuf, mvu } => {
            add_dwc(&mut body, dwc, "chunk", "chunks");
            if let Some((words, repeat)) = vecbuf {
                let bits = l.input.format.bits() as usize;
                let chunk = l.input.len / words;
                body.push(String::new());
                body.push(format!(
                    "// The input vector ({words} beats of {chunk} codes), sent {repeat} times."
                ));
                body.extend(wires("vec", chunk * bits));
                body.extend(
                    Inst {
                        module: "sk_vecbuf".into(),
                        name: "u_vecbuf".into(),
                        params: [
                            ("BITS", int(bits)),
                            ("CHUNK", int(chunk)),
                            ("WORDS", int(words)),
                            ("REPEAT", int(repeat)),
                        ]
                        .into_iter()
                        .chain({
                            let (width, depth) =
                                vecbuf_memory(bits as u64, chunk as u64, *words as u64);
                            style(plan, "RAM_STYLE", width, depth, false)
                        })
                        .collect(),
                        ports: stream_ports(&from, "vec"),
                    }
                    .lines(),
                );
                from = "vec".into();
            }
            body.extend(mvu_lines(plan, mvu, module, &from));
            summary = mvu_summary(mvu, l);
            notes.extend(mvu_notes(mvu));
        }
        LayerHw::Pool { dwc, window, signed, serial } => {
            add_dwc(&mut body, dwc, "pixel", "pixels");
            body.push(String::new());
            body.extend(wires("out", l.output.lanes * l.output.format.bits() as usize));
            let mut params = window_params_pool(window, *signed);
            let module =
                match serial {
                    Some(p) => {
                        params.insert(3, ("P", int(*p)));
                        params.extend(window.serial_row_buffer(*p).and_then(|(width, depth)| {
                            style(plan, "RAM_STYLE", width, depth, false)
                        }));
                        "sk_maxpool_serial"
                    }
                    None => {
                        params.extend(window_style(plan, window));
                        "sk_maxpool"
                    }
                };
            body.extend(
                Inst {
                    module: module.into(),
                    name: "u_pool".into(),
                    params,
                    ports: stream_ports(&from, "out"),
                }
                .lines(),
            );
            body.push("assign m_data = out_data;".into());
            body.push("assign m_valid = out_valid;".into());
            body.push("assign out_ready = m_ready;".into());
            let how = match serial {
                Some(p) => format!(", the channels as they arrive ({p} a beat)"),
                None => String::new(),
            };
            summary = format!(
                "max of {}x{} windows at stride {}x{}{how}, {} cycles per image",
                window.k[0], window.k[1], window.stride[0], window.stride[1], l.cycles
            );
        }
        LayerHw::Relu | LayerHw::Flatten => unreachable!("layers without registers have no module"),
    }
    let spram = l.folded().filter(|f| f.spram).map(|f| f.spram_words());
    if let Some(words) = spram {
        notes.push(format!(
            "Weights in SPRAM, loaded after power-up: {words} words of 16 bits through w_data, \
             w_valid, w_ready."
        ));
    }
    LayerTemplate {
        header,
        layer: &l.name,
        op,
        summary,
        notes,
        weights: spram.is_some(),
        module,
        in_desc: stream_desc(l.input.lanes, l.input.format, l.input.beats()),
        out_desc: stream_desc(l.output.lanes, l.output.format, l.output.beats()),
        in_msb: l.input.lanes * l.input.format.bits() as usize - 1,
        out_msb: l.output.lanes * l.output.format.bits() as usize - 1,
        body,
    }
    .render()
    .expect("templates render plain strings")
        + "\n"
}

pub(super) fn window_params_pool(w: &Window, signed: bool) -> Vec<(&'static str, String)> {
    let mut p = window_params(w);
    p.insert(1, ("SIGNED", int(u32::from(signed))));
    p
}

pub(super) fn stream_desc(lanes: usize, format: crate::quant::FixedFormat, beats: usize) -> String {
    format!("{lanes} x {format} codes per beat, {beats} beats per image")
}

pub(super) fn mvu_summary(mvu: &Mvu, l: &LayerPlan) -> String {
    let fold = l.fold.expect("weighted layers have a folding");
    match mvu {
        Mvu::Folded(f) => format!(
            "PE {} x SIMD {}, {} neuron x {} synapse folds, {} cycles per image",
            fold.pe, fold.simd, f.nf, f.sf, l.cycles
        ),
        Mvu::Unrolled(g) => format!(
            "unrolled (PE {} x SIMD {}), {} register stages, {} cycles per image",
            fold.pe, fold.simd, g.latency, l.cycles
        ),
    }
}

pub(super) fn mvu_notes(mvu: &Mvu) -> Vec<String> {
    match mvu {
        Mvu::Folded(f) => vec![
            format!(
                "Lanes: {} weights, {}-bit codes in ROM; lane {} bits, fold sum {} bits,",
                f.code.describe(),
                f.code.bits(),
                f.lane_w,
                f.sum_w,
            ),
            format!(
                "accumulator {} bits{}.",
                f.acc_w,
                if f.scaled { format!(", scaled to {} bits", f.out_w) } else { String::new() }
            ),
        ]
        .into_iter()
        .chain(pipelining_notes(f))
        .collect(),
        Mvu::Unrolled(_) => vec![],
    }
}

/// Where the unit's registers are, and why (lines of the header).
fn pipelining_notes(f: &Folded) -> Vec<String> {
    let p = f.pipelining;
    let tree = if p.pipe > f.h {
        "no adder-tree register".to_string()
    } else {
        format!("an adder-tree register every {} of {} levels", p.pipe, f.h)
    };
    let lanes = if p.lane_reg { "lanes registered, " } else { "" };
    match p.for_mhz.zip(p.stage_ns) {
        Some((mhz, ns)) => vec![
            format!("Registers: {lanes}{tree};"),
            format!("placed for {mhz:.1} MHz by the timing model (slowest stage {ns:.1} ns, an estimate)."),
        ],
        None => vec![format!("Registers: {lanes}{tree}.")],
    }
}

/// One line of the top per hardware layer.
pub fn layer_line(l: &LayerPlan) -> String {
    let what = match (&l.hw, l.fold) {
        (LayerHw::Conv { mvu, .. } | LayerHw::Dense { mvu, .. }, Some(f)) => match mvu {
            Mvu::Folded(_) => format!("PE {} x SIMD {}", f.pe, f.simd),
            Mvu::Unrolled(_) => "unrolled".into(),
        },
        (LayerHw::Pool { .. }, _) => "max pooling".into(),
        (LayerHw::Relu, _) => "ReLU".into(),
        (LayerHw::Flatten, _) => "flatten (no hardware)".into(),
        _ => String::new(),
    };
    format!("{}: {what}, {} cycles per image", l.name, l.cycles)
}
