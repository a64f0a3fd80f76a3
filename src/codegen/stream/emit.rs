//! Verilog of the streaming form: one module per layer instantiating the
//! hand-written parts of `hdl/`, and the top that chains the layers with skid
//! buffers. Everything is decided by the plan; this module spells it.

use askama::Template;

use super::manifest::Order;
use super::mvu::Folded;
use super::plan::{vecbuf_memory, Dwc, LayerHw, LayerPlan, Mvu, Plan, Window};
use crate::codegen::design::sanitize;
use crate::device::MemStyle;

/// One instance of a module, printed with one parameter and one port per line.
struct Inst {
    module: String,
    name: String,
    params: Vec<(&'static str, String)>,
    ports: Vec<(&'static str, String)>,
}

impl Inst {
    fn lines(&self) -> Vec<String> {
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
fn stream_ports(from: &str, to: &str) -> Vec<(&'static str, String)> {
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

fn wires(prefix: &str, width: usize) -> Vec<String> {
    vec![
        format!("wire [{}:0] {prefix}_data;", width - 1),
        format!("wire {prefix}_valid;"),
        format!("wire {prefix}_ready;"),
    ]
}

fn int(v: impl std::fmt::Display) -> String {
    v.to_string()
}

fn dwc_inst(d: &Dwc, name: &str, from: &str, to: &str) -> Vec<String> {
    let mut body = wires(to, d.b * d.bits as usize);
    body.extend(
        Inst {
            module: "sk_dwc".into(),
            name: name.into(),
            params: vec![("BITS", int(d.bits)), ("A", int(d.a)), ("B", int(d.b)), ("L", int(d.l))],
            ports: stream_ports(from, to),
        }
        .lines(),
    );
    body
}

/// The `RAM_STYLE` / `ROM_STYLE` parameter of a memory the plan places
/// (none when the synthesis tool decides).
fn style(
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
fn window_style(plan: &Plan, w: &Window) -> Option<(&'static str, String)> {
    let (width, depth) = w.line_buffer()?;
    style(plan, "RAM_STYLE", width, depth, false)
}

fn window_params(w: &Window) -> Vec<(&'static str, String)> {
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
fn packed_literal(values: &[i64], bits: u32) -> String {
    let width = values.len() as u32 * bits;
    format!("{width}'h{}", crate::codegen::hex::pack_hex(values, bits))
}

fn mvu_params(plan: &Plan, f: &Folded, module: &str) -> Vec<(&'static str, String)> {
    let mut params = vec![
        ("PE", int(f.fold.pe)),
        ("SIMD", int(f.fold.simd)),
        ("NF", int(f.nf)),
        ("SF", int(f.sf)),
        ("XBITS", int(f.xbits)),
        ("XSIGNED", int(u32::from(f.xsigned))),
        ("KIND", int(f.kind)),
        ("CODE", int(f.code)),
    ];
    if !f.codebook.is_empty() {
        params.push(("CB_N", int(f.codebook.len())));
        params.push(("CB_BITS", int(f.cb_bits)));
        params.push(("CODEBOOK", packed_literal(&f.codebook, f.cb_bits)));
    }
    params.extend([
        ("LANE_W", int(f.lane_w)),
        ("H", int(f.h)),
        ("PIPE", int(f.pipe)),
        ("SUM_W", int(f.sum_w)),
        ("ACC_W", int(f.acc_w)),
        ("SCALED", int(u32::from(f.scaled))),
        ("M_BITS", int(f.m_bits)),
        ("OUT_W", int(f.out_w)),
        ("WEIGHTS", format!("\"{module}_w.hex\"")),
        ("BIASES", format!("\"{module}_b.hex\"")),
    ]);
    if f.scaled {
        params.push(("SCALES", format!("\"{module}_m.hex\"")));
    }
    let (width, depth) = f.rom_shape();
    params.extend(style(plan, "ROM_STYLE", width, depth, true));
    params
}

/// The matrix-vector unit reading stream `from` and driving the module's
/// output: the unit, its requantization and the valid pipeline whose last bit
/// is `m_valid`. Every register advances on `en`.
fn mvu_lines(plan: &Plan, mvu: &Mvu, module: &str, from: &str) -> Vec<String> {
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
            body.extend(
                Inst {
                    module: "sk_mvu".into(),
                    name: "u_mvu".into(),
                    params: mvu_params(plan, f, module),
                    ports: vec![
                        ("clk", "clk".into()),
                        ("rst", "rst".into()),
                        ("en", "en".into()),
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
struct LayerTemplate<'a> {
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
        LayerHw::Pool { dwc, window, signed } => {
            add_dwc(&mut body, dwc, "pixel", "pixels");
            body.push(String::new());
            body.extend(wires("out", l.output.lanes * l.output.format.bits() as usize));
            body.extend(
                Inst {
                    module: "sk_maxpool".into(),
                    name: "u_pool".into(),
                    params: window_params_pool(window, *signed)
                        .into_iter()
                        .chain(window_style(plan, window))
                        .collect(),
                    ports: stream_ports(&from, "out"),
                }
                .lines(),
            );
            body.push("assign m_data = out_data;".into());
            body.push("assign m_valid = out_valid;".into());
            body.push("assign out_ready = m_ready;".into());
            summary = format!(
                "max of {}x{} windows at stride {}x{}, {} cycles per image",
                window.k[0], window.k[1], window.stride[0], window.stride[1], l.cycles
            );
        }
        LayerHw::Relu | LayerHw::Flatten => unreachable!("layers without registers have no module"),
    }
    LayerTemplate {
        header,
        layer: &l.name,
        op,
        summary,
        notes,
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

fn window_params_pool(w: &Window, signed: bool) -> Vec<(&'static str, String)> {
    let mut p = window_params(w);
    p.insert(1, ("SIGNED", int(u32::from(signed))));
    p
}

fn stream_desc(lanes: usize, format: crate::quant::FixedFormat, beats: usize) -> String {
    format!("{lanes} x {format} codes per beat, {beats} beats per image")
}

fn mvu_summary(mvu: &Mvu, l: &LayerPlan) -> String {
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

fn mvu_notes(mvu: &Mvu) -> Vec<String> {
    match mvu {
        Mvu::Folded(f) => vec![
            format!(
                "Lanes: {} weights, {}-bit codes in ROM; lane {} bits, fold sum {} bits,",
                ["power-of-two", "binary", "ternary", "fixed-point", "shared"][f.kind as usize],
                f.code,
                f.lane_w,
                f.sum_w,
            ),
            format!(
                "accumulator {} bits{}.",
                f.acc_w,
                if f.scaled { format!(", scaled to {} bits", f.out_w) } else { String::new() }
            ),
        ],
        Mvu::Unrolled(_) => vec![],
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

#[derive(Template)]
#[template(path = "stream_top.v", escape = "none")]
struct TopTemplate<'a> {
    header: &'a str,
    module: &'a str,
    inputs: usize,
    outputs: usize,
    input_format: String,
    output_format: String,
    in_desc: String,
    in_order: &'a str,
    in_bits: u32,
    out_desc: String,
    out_order: &'a str,
    cycles: u64,
    latency: u64,
    warmup: u64,
    layer_lines: Vec<String>,
    in_msb: usize,
    out_msb: usize,
    argmax_bits: u32,
    argmax_msb: u32,
    body: Vec<String>,
}

/// What the top needs beyond the plan.
pub struct TopInfo<'a> {
    pub module: &'a str,
    pub header: &'a str,
    pub argmax_bits: u32,
    pub cycles: u64,
    pub latency: u64,
}

/// `784 beats of 1 code`, `1 beat of 10 codes`.
fn beats_desc(beats: usize, lanes: usize) -> String {
    let s = |n: usize| if n == 1 { "" } else { "s" };
    format!("{beats} beat{} of {lanes} code{}", s(beats), s(lanes))
}

pub fn order_desc(order: Order) -> &'static str {
    match order {
        Order::Index => "in index order",
        Order::Hwc { .. } => "pixels in raster order, channels within a pixel",
    }
}

/// The top module: input skid buffer, the layers with a skid buffer after each
/// module, the output beat (all of a flat output, or one pixel), argmax, the
/// output skid buffer.
pub fn top_module(plan: &Plan, info: &TopInfo) -> String {
    let top = info.module;
    let in_bits = plan.input.format.bits();
    let in_w = plan.input.lanes * in_bits as usize;
    let mut body = vec!["// Input skid buffer: s_axis_tready is a register.".to_string()];
    body.extend(wires("in", in_w));
    body.extend(
        Inst {
            module: "sk_skid".into(),
            name: "u_in".into(),
            params: vec![("W", int(in_w))],
            ports: vec![
                ("clk", "clk".into()),
                ("rst", "rst".into()),
                ("s_data", "s_axis_tdata".into()),
                ("s_valid", "s_axis_tvalid".into()),
                ("s_ready", "s_axis_tready".into()),
                ("m_data", "in_data".into()),
                ("m_valid", "in_valid".into()),
                ("m_ready", "in_ready".into()),
            ],
        }
        .lines(),
    );
    let mut from = "in".to_string();
    for l in &plan.layers {
        let name = sanitize(&l.name);
        let width = l.output.lanes * l.output.format.bits() as usize;
        match &l.hw {
            LayerHw::Flatten => continue,
            LayerHw::Relu => {
                body.push(String::new());
                body.push(format!("// {}: ReLU on the stream.", l.name));
                body.extend(wires(&name, width));
                if l.input.format.signed() {
                    body.extend(
                        Inst {
                            module: "sk_relu".into(),
                            name: format!("u_{name}"),
                            params: vec![
                                ("LANES", int(l.input.lanes)),
                                ("BITS", int(l.input.format.bits())),
                            ],
                            ports: stream_ports(&from, &name)
                                .into_iter()
                                .filter(|(k, _)| *k != "clk" && *k != "rst")
                                .collect(),
                        }
                        .lines(),
                    );
                } else {
                    body.push("// (unsigned codes: nothing to do)".into());
                    body.push(format!("assign {name}_data = {from}_data;"));
                    body.push(format!("assign {name}_valid = {from}_valid;"));
                    body.push(format!("assign {from}_ready = {name}_ready;"));
                }
                from = name;
            }
            _ => {
                body.push(String::new());
                body.push(format!("// {}", layer_line(l)));
                body.extend(wires(&name, width));
                body.extend(
                    Inst {
                        module: format!("{top}_{name}"),
                        name: format!("u_{name}"),
                        params: vec![],
                        ports: stream_ports(&from, &name),
                    }
                    .lines(),
                );
                let q = format!("{name}_q");
                body.extend(wires(&q, width));
                let (module, suffix, params) = match l.fifo {
                    Some(depth) => {
                        let mut params = vec![("W", int(width)), ("DEPTH", int(depth))];
                        params.extend(style(plan, "RAM_STYLE", width as u64, depth as u64, false));
                        ("sk_fifo", "fifo", params)
                    }
                    None => ("sk_skid", "skid", vec![("W", int(width))]),
                };
                body.extend(
                    Inst {
                        module: module.into(),
                        name: format!("u_{name}_{suffix}"),
                        params,
                        ports: stream_ports(&name, &q),
                    }
                    .lines(),
                );
                from = q;
            }
        }
    }
    let last = plan.last;
    let bits = last.format.bits() as usize;
    let out_w = plan.output_lanes * bits;
    body.push(String::new());
    if let Some(d) = &plan.output_dwc {
        body.push(format!("// The output beat: {} codes, gathered from beats of {}.", d.b, d.a));
        body.extend(dwc_inst(d, "u_out_gather", &from, "out"));
        from = "out".into();
    }
    // A flattened image leaves in the network's (C, H, W) order.
    let result = if let (Order::Hwc { .. }, None) = (last.order, last.image) {
        body.push("// Lanes from the stream's (H, W, C) order to the network's (C, H, W).".into());
        body.push(format!("wire [{}:0] result;", out_w - 1));
        // Stream position of every network index.
        let mut position = vec![0; plan.output_lanes];
        for p in 0..plan.output_lanes {
            position[last.order.index(p)] = p;
        }
        for (i, &p) in position.iter().enumerate() {
            body.push(format!(
                "assign result[{}:{}] = {from}_data[{}:{}];",
                (i + 1) * bits - 1,
                i * bits,
                (p + 1) * bits - 1,
                p * bits
            ));
        }
        "result".to_string()
    } else {
        format!("{from}_data")
    };
    let (packed, packed_w) = if info.argmax_bits > 0 {
        body.push("// The index of the largest output.".into());
        body.push(format!("wire [{}:0] best;", bits - 1));
        body.push(format!("wire [{}:0] best_index;", info.argmax_bits - 1));
        body.extend(
            Inst {
                module: "sk_argmax".into(),
                name: "u_argmax".into(),
                params: vec![
                    ("N", int(plan.output_lanes)),
                    ("BITS", int(bits)),
                    ("SIGNED", int(u32::from(last.format.signed()))),
                    ("IW", int(info.argmax_bits)),
                ],
                ports: vec![
                    ("x", result.clone()),
                    ("max", "best".into()),
                    ("index", "best_index".into()),
                ],
            }
            .lines(),
        );
        body.push("wire unused_best = ^best;".into());
        (format!("{{best_index, {result}}}"), out_w + info.argmax_bits as usize)
    } else {
        (result.clone(), out_w)
    };
    // Narrow output beats: every lane carries its value and the index.
    let iw = info.argmax_bits as usize;
    let (packed, packed_w, out_w) = match &plan.narrow {
        Some(d) => {
            body.push(String::new());
            body.push(format!(
                "// Narrow output: beats of {} value(s){}, from the beat of all {}.",
                d.b,
                if iw > 0 { ", each lane with the index of the largest" } else { "" },
                d.a
            ));
            let lane = d.bits as usize;
            body.push(format!("wire [{}:0] all_data;", d.a * lane - 1));
            for i in 0..d.a {
                let value = format!("{result}[{}:{}]", (i + 1) * bits - 1, i * bits);
                let word = if iw > 0 { format!("{{best_index, {value}}}") } else { value };
                body.push(format!(
                    "assign all_data[{}:{}] = {word};",
                    (i + 1) * lane - 1,
                    i * lane
                ));
            }
            body.push(format!("wire all_valid = {from}_valid;"));
            body.push("wire all_ready;".into());
            body.push(format!("assign {from}_ready = all_ready;"));
            body.extend(dwc_inst(d, "u_out_split", "all", "narrow"));
            from = "narrow".into();
            // The top's lanes: values in the low bits, lane 0's index above.
            let mut parts = Vec::new();
            if iw > 0 {
                parts.push(format!("narrow_data[{}:{}]", lane - 1, bits));
            }
            for i in (0..d.b).rev() {
                parts.push(format!("narrow_data[{}:{}]", i * lane + bits - 1, i * lane));
            }
            if iw > 0 && d.b > 1 {
                body.push("// The other lanes' copies of the index.".into());
                let copies: Vec<String> = (1..d.b)
                    .map(|i| format!("narrow_data[{}:{}]", (i + 1) * lane - 1, i * lane + bits))
                    .collect();
                body.push(format!("wire unused_index = ^{{{}}};", copies.join(", ")));
            }
            (format!("{{{}}}", parts.join(", ")), d.b * bits + iw, d.b * bits)
        }
        None => (packed, packed_w, out_w),
    };
    body.push(String::new());
    body.push("// Output skid buffer: m_axis_* are registers.".into());
    body.push(format!("wire [{}:0] result_q;", packed_w - 1));
    body.extend(
        Inst {
            module: "sk_skid".into(),
            name: "u_out".into(),
            params: vec![("W", int(packed_w))],
            ports: vec![
                ("clk", "clk".into()),
                ("rst", "rst".into()),
                ("s_data", packed),
                ("s_valid", format!("{from}_valid")),
                ("s_ready", format!("{from}_ready")),
                ("m_data", "result_q".into()),
                ("m_valid", "m_axis_tvalid".into()),
                ("m_ready", "m_axis_tready".into()),
            ],
        }
        .lines(),
    );
    body.push(format!("assign m_axis_tdata = result_q[{}:0];", out_w - 1));
    if info.argmax_bits > 0 {
        body.push(format!("assign m_axis_tuser = result_q[{}:{}];", packed_w - 1, out_w));
    }
    TopTemplate {
        header: info.header,
        module: top,
        inputs: plan.input.len,
        outputs: plan.last.len,
        input_format: plan.input.format.to_string(),
        output_format: last.format.to_string(),
        in_desc: beats_desc(plan.input.beats(), plan.input.lanes),
        in_order: order_desc(plan.input.order),
        in_bits,
        out_desc: beats_desc(plan.output_beats(), plan.top_lanes()),
        out_order: if last.image.is_some() { order_desc(last.order) } else { "in index order" },
        cycles: info.cycles,
        latency: info.latency,
        warmup: plan.warmup(),
        layer_lines: plan.layers.iter().map(layer_line).collect(),
        in_msb: in_w - 1,
        out_msb: out_w - 1,
        argmax_bits: info.argmax_bits,
        argmax_msb: info.argmax_bits.saturating_sub(1),
        body,
    }
    .render()
    .expect("templates render plain strings")
        + "\n"
}
