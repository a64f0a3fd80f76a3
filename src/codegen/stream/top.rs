//! The top of a streaming design: the layers chained by skid buffers between
//! the AXI4-Stream ports, with the argmax and the output width converter.

use askama::Template;

use super::emit::*;
use super::plan::{LayerHw, Plan};
use crate::codegen::manifest::Order;
use crate::codegen::names::sanitize;

#[derive(Template)]
#[template(path = "stream_top.v", escape = "none")]
pub(super) struct TopTemplate<'a> {
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
    layer_lines: Vec<String>,
    in_msb: usize,
    out_msb: usize,
    argmax_bits: u32,
    argmax_msb: u32,
    /// Bytes the weight port takes after power-up (0: no port).
    weight_bytes: u64,
    body: Vec<String>,
}

/// `784 beats of 1 code`, `1 beat of 10 codes`.
pub(super) fn beats_desc(beats: usize, lanes: usize) -> String {
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
pub fn top_module(plan: &Plan, top: &str, header: &str) -> String {
    let in_bits = plan.input.format.bits();
    let in_w = plan.input.lanes * in_bits as usize;
    let spram = plan.spram_units();
    let mut body = Vec::new();
    let (s_valid, s_ready) = if spram.is_empty() {
        ("s_axis_tvalid", "s_axis_tready")
    } else {
        let n = spram.len();
        body.push(
            "// Weight load: the SPRAMs of these units are filled from w_axis in this order,"
                .into(),
        );
        body.push("// 16-bit words low byte first:".into());
        for (i, f) in &spram {
            body.push(format!("//   {}: {} bytes", plan.layers[*i].name, 2 * f.spram_words()));
        }
        body.extend([
            "// Images wait until every word is in (a reset after that keeps them). A unit takes"
                .into(),
            "// words while it wants them.".into(),
            format!("wire [{}:0] w_wants;", n - 1),
            format!("wire loaded = w_wants == {n}'d0;"),
            "assign w_axis_tready = !loaded;".into(),
            "reg [7:0] w_low_q;".into(),
            "reg w_half_q;".into(),
            "always @(posedge clk) begin".into(),
            "    if (rst) w_half_q <= 1'b0;".into(),
            "    else if (w_axis_tvalid && !loaded) w_half_q <= !w_half_q;".into(),
            "    if (w_axis_tvalid && !w_half_q) w_low_q <= w_axis_tdata;".into(),
            "end".into(),
            "wire [15:0] w_word = {w_axis_tdata, w_low_q};".into(),
            "wire w_word_valid = w_axis_tvalid && w_half_q;".into(),
            "wire in_skid_ready;".into(),
            "wire in_skid_valid = s_axis_tvalid && loaded;".into(),
            "assign s_axis_tready = in_skid_ready && loaded;".into(),
            String::new(),
        ]);
        ("in_skid_valid", "in_skid_ready")
    };
    body.push(if spram.is_empty() {
        "// Input skid buffer: s_axis_tready is a register.".to_string()
    } else {
        "// Input skid buffer: s_axis_tready comes from registers (its own, the SPRAMs' load)."
            .to_string()
    });
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
                ("s_valid", s_valid.into()),
                ("s_ready", s_ready.into()),
                ("m_data", "in_data".into()),
                ("m_valid", "in_valid".into()),
                ("m_ready", "in_ready".into()),
            ],
        }
        .lines(),
    );
    let mut from = "in".to_string();
    for (index, l) in plan.layers.iter().enumerate() {
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
                let mut ports = stream_ports(&from, &name);
                if let Some(k) = spram.iter().position(|(i, _)| *i == index) {
                    // The first unit that still wants words takes them.
                    let valid = if k == 0 {
                        "w_word_valid".to_string()
                    } else {
                        format!("w_word_valid && w_wants[{}:0] == {k}'d0", k - 1)
                    };
                    ports.splice(
                        2..2,
                        [
                            ("w_data", "w_word".to_string()),
                            ("w_valid", valid),
                            ("w_ready", format!("w_wants[{k}]")),
                        ],
                    );
                }
                body.extend(
                    Inst {
                        module: format!("{top}_{name}"),
                        name: format!("u_{name}"),
                        params: vec![],
                        ports,
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
    if let Some(d) = plan.argmax_gather() {
        body.push(format!(
            "// The output beat: {} codes, gathered from beats of {}, and the index of the largest.",
            d.b, d.a
        ));
        body.extend(wires("out", d.b * bits));
        body.push(format!("wire [{}:0] best_index;", plan.argmax_bits - 1));
        let mut ports = stream_ports(&from, "out");
        ports.insert(6, ("m_index", "best_index".into()));
        body.extend(
            Inst {
                module: "sk_argmax_gather".into(),
                name: "u_out_gather".into(),
                params: vec![
                    ("BITS", int(bits)),
                    ("A", int(d.a)),
                    ("L", int(d.l)),
                    ("SIGNED", int(u32::from(last.format.signed()))),
                    ("IW", int(plan.argmax_bits)),
                ],
                ports,
            }
            .lines(),
        );
        from = "out".into();
    } else if let Some(d) = &plan.output_dwc {
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
    let (packed, packed_w) = if plan.argmax_gather().is_some() {
        (format!("{{best_index, {result}}}"), out_w + plan.argmax_bits as usize)
    } else if plan.argmax_bits > 0 {
        body.push("// The index of the largest output.".into());
        body.push(format!("wire [{}:0] best;", bits - 1));
        body.push(format!("wire [{}:0] best_index;", plan.argmax_bits - 1));
        body.extend(
            Inst {
                module: "sk_argmax".into(),
                name: "u_argmax".into(),
                params: vec![
                    ("N", int(plan.output_lanes)),
                    ("BITS", int(bits)),
                    ("SIGNED", int(u32::from(last.format.signed()))),
                    ("IW", int(plan.argmax_bits)),
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
        (format!("{{best_index, {result}}}"), out_w + plan.argmax_bits as usize)
    } else {
        (result.clone(), out_w)
    };
    // Narrow output beats: every lane carries its value and the index.
    let iw = plan.argmax_bits as usize;
    let (packed, packed_w, out_w) = match &plan.narrow {
        Some(d) => {
            body.push(String::new());
            body.push(format!(
                "// Narrow output: beats of {} value(s), from the beat of all {}.",
                d.b, d.a
            ));
            if iw > 0 {
                body.push("// Each lane carries the index of the largest beside its value.".into());
            }
            if d.hold {
                body.push("// The beat waits while its parts leave (no word register).".into());
            }
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
    if plan.argmax_bits > 0 {
        body.push(format!("assign m_axis_tuser = result_q[{}:{}];", packed_w - 1, out_w));
    }
    body.push(String::new());
    body.extend(tlast_lines(plan));
    TopTemplate {
        header,
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
        cycles: plan.cycles,
        latency: plan.latency,
        layer_lines: plan.layers.iter().map(layer_line).collect(),
        in_msb: in_w - 1,
        out_msb: out_w - 1,
        argmax_bits: plan.argmax_bits,
        argmax_msb: plan.argmax_bits.saturating_sub(1),
        weight_bytes: 2 * spram.iter().map(|(_, f)| f.spram_words()).sum::<u64>(),
        body,
    }
    .render()
    .expect("templates render plain strings")
        + "\n"
}

/// `m_axis_tlast` on the last of every image's output beats: a count
/// of the output handshakes (`s_axis_tlast` is not needed: images are
/// counted in beats).
fn tlast_lines(plan: &Plan) -> Vec<String> {
    let beats = plan.output_beats();
    let mut lines = vec!["// tlast: the last beat of every image.".to_string()];
    if beats == 1 {
        lines.push("assign m_axis_tlast = 1'b1;".into());
    } else {
        let w = plan.tlast_bits();
        let last = format!("{w}'d{}", beats - 1);
        lines.extend([
            format!("reg [{}:0] out_beat_q;", w - 1),
            "always @(posedge clk) begin".into(),
            format!("    if (rst) out_beat_q <= {w}'d0;"),
            "    else if (m_axis_tvalid && m_axis_tready)".into(),
            format!("        out_beat_q <= out_beat_q == {last} ? {w}'d0 : out_beat_q + {w}'d1;"),
            "end".into(),
            format!("assign m_axis_tlast = out_beat_q == {last};"),
        ]);
    }
    lines.push("wire unused_tlast = s_axis_tlast;".into());
    lines
}
