//! Printing adder graphs as Verilog-2005. Everything is decided by the graph;
//! this module only spells it, and the askama templates only lay it out.
//!
//! Every value is a plain bit vector of its proven width, read as two's
//! complement when its bounds include negative numbers and as unsigned
//! otherwise. Adders work modulo 2^W at their own width W: each operand is
//! explicitly sign- or zero-extended, or truncated, to W bits, and shifted by
//! concatenating zeros or by dropping low bits (floor). Since the true result
//! fits in W bits, the modular result is exact. No expression mixes signed and
//! unsigned operands, and none uses `>>>` on a part-select.

use askama::Template;

use super::{LayerGraph, NodeId, NodeKind, Operand};
use crate::quant::contract::shift_floor;

#[derive(Template)]
#[template(path = "layer.v", escape = "none")]
struct LayerTemplate<'a> {
    header: &'a str,
    layer: &'a str,
    summary: String,
    module: &'a str,
    inputs: usize,
    outputs: usize,
    input_bits: u32,
    output_bits: u32,
    in_msb: usize,
    out_msb: usize,
    input_format: String,
    output_format: String,
    latency: u32,
    notes: &'a [String],
    wires: Vec<String>,
    reg_decls: Vec<String>,
    reg_updates: Vec<String>,
    output_concat: String,
    unused: String,
}

/// Which bits of every node some expression reads.
struct Usage(Vec<u128>);

impl Usage {
    fn mark(&mut self, id: NodeId, lo: u32, hi: u32) {
        for bit in lo..=hi {
            self.0[id.0 as usize] |= 1 << bit;
        }
    }
}

/// `{W}'h...` of `value` modulo 2^W.
fn literal(value: i128, width: u32) -> String {
    let modulus = 1i128 << width;
    format!("{width}'h{:x}", value.rem_euclid(modulus))
}

fn slice(name: &str, width: u32, hi: u32, lo: u32) -> String {
    if lo == 0 && hi + 1 == width {
        name.to_string()
    } else if hi == lo {
        format!("{name}[{hi}]")
    } else {
        format!("{name}[{hi}:{lo}]")
    }
}

/// The value of `(node << shift)` (or `>>`, flooring, for negative shifts) as a
/// `width`-bit vector, exact modulo 2^width.
fn fit(g: &LayerGraph, usage: &mut Usage, op: Operand, width: u32) -> String {
    debug_assert!(!op.negate, "adders subtract; operands are never negated");
    let node = g.node(op.node);
    if let NodeKind::Const { value } = node.kind {
        return literal(shift_floor(value, -op.shift) as i128, width);
    }
    let (signed, w) = node.width();
    // Dropping low bits first: the value's bits are node[w-1:drop].
    let drop = (-op.shift).max(0) as u32;
    let zeros = op.shift.max(0) as u32;
    let sign = || {
        if signed {
            Some(slice(&node.name, w, w - 1, w - 1))
        } else {
            None
        }
    };
    if drop >= w {
        // Only sign copies remain.
        return match sign() {
            Some(s) => {
                usage.mark(op.node, w - 1, w - 1);
                format!("{{{width}{{{s}}}}}")
            }
            None => literal(0, width),
        };
    }
    if zeros >= width {
        return literal(0, width);
    }
    let avail = w - drop; // bits of the shifted-down value
    let take = avail.min(width - zeros);
    let mut parts = Vec::new();
    let ext = width - zeros - take;
    if ext > 0 {
        match sign() {
            Some(s) => {
                usage.mark(op.node, w - 1, w - 1);
                parts.push(if ext == 1 { s } else { format!("{{{ext}{{{s}}}}}") });
            }
            None => parts.push(format!("{ext}'b0")),
        }
    }
    usage.mark(op.node, drop, drop + take - 1);
    parts.push(slice(&node.name, w, drop + take - 1, drop));
    if zeros > 0 {
        parts.push(format!("{zeros}'b0"));
    }
    if parts.len() == 1 {
        parts.pop().expect("one part")
    } else {
        format!("{{{}}}", parts.join(", "))
    }
}

/// The Verilog module of one layer graph.
pub fn layer_module(g: &LayerGraph, module: &str, header: &str) -> String {
    let mut usage = Usage(vec![0; g.nodes.len()]);
    let mut wires = Vec::new();
    let mut reg_decls = Vec::new();
    let mut reg_updates = Vec::new();
    let in_bits = g.input_bits;
    for n in &g.nodes {
        let (_, w) = n.width();
        let decl = |w: u32| format!("[{}:0]", w - 1);
        let comment = format!("// {} {}", n.bounds, width_text(n.width()));
        let expr = match &n.kind {
            NodeKind::Input { lane, .. } => {
                Some(format!("x[{}:{}]", (lane + 1) as u32 * in_bits - 1, *lane as u32 * in_bits))
            }
            NodeKind::Const { .. } => None,
            NodeKind::Add { a, b, sub } => {
                let (ea, eb) = (fit(g, &mut usage, *a, w), fit(g, &mut usage, *b, w));
                Some(format!("{ea} {} {eb}", if *sub { '-' } else { '+' }))
            }
            NodeKind::Pass { src } => Some(fit(g, &mut usage, *src, w)),
            NodeKind::Relu { src } => {
                let s = g.node(*src);
                let (_, sw) = s.width();
                usage.mark(*src, sw - 1, sw - 1);
                let low = fit(g, &mut usage, Operand::of(*src), w);
                Some(format!("{}[{}] ? {} : {low}", s.name, sw - 1, literal(0, w)))
            }
            NodeKind::Saturate { src, format } => {
                Some(saturate(g, &mut usage, *src, format.min(), format.max(), w))
            }
            NodeKind::Reg { src } => {
                reg_decls.push(with_comment(format!("reg  {} {};", decl(w), n.name), &comment));
                let value = fit(g, &mut usage, Operand::of(*src), w);
                reg_updates.push(format!("{} <= {value};", n.name));
                None
            }
        };
        if let Some(e) = expr {
            wires.push(with_comment(format!("wire {} {} = {e};", decl(w), n.name), &comment));
        }
    }
    let out_bits = g.output_format.bits();
    let lanes: Vec<String> =
        g.outputs.iter().rev().map(|&y| fit(g, &mut usage, Operand::of(y), out_bits)).collect();
    let output_concat = if lanes.len() == 1 { lanes[0].clone() } else { concat(&lanes, 15, 8) };
    let mut unused = Vec::new();
    for (i, n) in g.nodes.iter().enumerate() {
        if matches!(n.kind, NodeKind::Const { .. }) {
            continue;
        }
        let (_, w) = n.width();
        let mut bit = 0;
        while bit < w {
            if usage.0[i] & (1 << bit) == 0 {
                let start = bit;
                while bit < w && usage.0[i] & (1 << bit) == 0 {
                    bit += 1;
                }
                unused.push(slice(&n.name, w, bit - 1, start));
            } else {
                bit += 1;
            }
        }
    }
    let adders = g.nodes.iter().filter(|n| matches!(n.kind, NodeKind::Add { .. })).count();
    LayerTemplate {
        header,
        layer: &g.name,
        summary: format!("{} adders, {} register stages", adders, g.latency),
        module,
        inputs: g.inputs,
        outputs: g.outputs.len(),
        input_bits: in_bits,
        output_bits: out_bits,
        in_msb: g.inputs * in_bits as usize - 1,
        out_msb: g.outputs.len() * out_bits as usize - 1,
        input_format: g.input_desc.clone(),
        output_format: g.output_format.to_string(),
        latency: g.latency,
        notes: &g.notes.iter().flat_map(|n| wrap(n, 96)).collect::<Vec<_>>(),
        wires,
        reg_decls,
        reg_updates,
        output_concat,
        unused: if unused.is_empty() { String::new() } else { concat(&unused, 25, 8) },
    }
    .render()
    .expect("templates render plain strings")
        + "\n"
}

/// Lines of at most 100 columns: a code line keeps its trailing comment when it
/// fits, else the comment goes on the line above; a long expression breaks
/// before its operators.
fn with_comment(code: String, comment: &str) -> String {
    if code.len() + comment.len() + 5 <= 100 {
        return format!("{code} {comment}");
    }
    let code = if code.len() + 4 > 100 {
        code.replace(" : ", "\n        : ")
            .replace(" + ", "\n        + ")
            .replace(" - ", "\n        - ")
    } else {
        code
    };
    format!("{comment}\n    {code}")
}

/// `{a, b, c}` broken after commas so that no line passes 100 columns.
/// `lead` is the width of what precedes the brace on its line.
fn concat(items: &[String], lead: usize, indent: usize) -> String {
    let mut lines = vec![String::from("{")];
    for (i, item) in items.iter().enumerate() {
        let piece = if i + 1 < items.len() { format!("{item},") } else { format!("{item}}}") };
        let room = if lines.len() == 1 { 100 - lead } else { 100 - indent };
        let line = lines.last_mut().expect("one line");
        if line.len() + piece.len() + 1 > room && line.len() > 1 {
            lines.push(piece);
        } else {
            if line.len() > 1 {
                line.push(' ');
            }
            line.push_str(&piece);
        }
    }
    lines.join(&format!("\n{}", " ".repeat(indent)))
}

/// Splits a comment into lines of at most `width` characters at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(std::mem::take(&mut line));
            line.push_str("   ");
        }
        if !line.is_empty() && !line.ends_with("   ") {
            line.push(' ');
        }
        line.push_str(word);
    }
    lines.push(line);
    lines
}

fn width_text((signed, bits): (bool, u32)) -> String {
    format!("{}{bits}", if signed { 's' } else { 'u' })
}

/// `src` clamped to `[min, max]`, by testing the bits above the range: a
/// value is above `max = 2^m - 1` when a bit from `m` up is set (and it is not
/// negative), below `min` when it is negative and (for a signed range) not all
/// bits from `m` up are set.
fn saturate(g: &LayerGraph, usage: &mut Usage, src: NodeId, min: i64, max: i64, w: u32) -> String {
    let s = g.node(src);
    let (signed, sw) = s.width();
    let b = s.bounds;
    let m = 64 - (max as u64).leading_zeros(); // max = 2^m - 1
    let top = if signed { sw - 1 } else { sw }; // magnitude bits
    let mut cond = Vec::new();
    if b.hi > max && top > m {
        usage.mark(src, m, top - 1);
        let high = slice(&s.name, sw, top - 1, m);
        let test = if top - 1 == m { high } else { format!("|{high}") };
        let over = if signed {
            usage.mark(src, sw - 1, sw - 1);
            format!("!{}[{}] && {test}", s.name, sw - 1)
        } else {
            test
        };
        cond.push((over, literal(max as i128, w)));
    }
    if b.lo < min && signed {
        usage.mark(src, sw - 1, sw - 1);
        let neg = format!("{}[{}]", s.name, sw - 1);
        let under = if min == 0 {
            neg
        } else {
            // min = -2^m: below it unless every bit from m to the sign is set.
            usage.mark(src, m, sw - 2);
            let high = slice(&s.name, sw, sw - 2, m);
            let all = if sw - 2 == m { high } else { format!("&{high}") };
            format!("{neg} && !({all})")
        };
        cond.push((under, literal(min as i128, w)));
    }
    let mut expr = fit(g, usage, Operand::of(src), w);
    for (c, v) in cond.into_iter().rev() {
        expr = format!("({c}) ? {v} : {expr}");
    }
    expr
}
