//! The adder graph of a dense layer: per-output balanced trees of CSD terms,
//! or one shared constant product (`cmvm`) for all outputs; then channel
//! scale, bias, rounding and requantization per output.

use super::requant::requantize;
use super::solution::lower;
use super::{most_levels_within, Adders};
use crate::codegen::cmvm::{self, Sharing, Solution};
use crate::codegen::error::CodegenError;
use crate::codegen::graph::builder::{finish, input_nodes, Builder, Io};
use crate::codegen::graph::{LayerGraph, NodeId, Operand};
use crate::device::Delays;
use crate::quant::contract::csd;
use crate::quant::{dot_bounds, FixedFormat, IntLayer, Interval, Weighted};

/// The adder graph of a dense layer; also the unrolled form of a streaming
/// layer (a convolution's window or a dense layer's whole input vector), given
/// its weights as a 2-D `[outputs, inputs]` matrix in stream order.
pub(crate) fn dense_graph(
    layer: &IntLayer,
    w: &Weighted,
    in_bounds: &[Interval],
    adders: Adders,
) -> LayerGraph {
    let shared = adders.sharing.enabled.then(|| solve_shared(w, in_bounds, adders.sharing));
    build(layer, w, in_bounds, adders, false, shared.as_ref())
}

/// [`dense_graph`] with its registers placed for `mhz` by the timing model
/// (the constant product solved once, lowered for every spacing tried).
pub(crate) fn dense_graph_for_clock(
    layer: &IntLayer,
    w: &Weighted,
    in_bounds: &[Interval],
    sharing: Sharing,
    delays: &Delays,
    mhz: f64,
) -> LayerGraph {
    let shared = sharing.enabled.then(|| solve_shared(w, in_bounds, sharing));
    most_levels_within(
        |levels_per_stage, tail_reg| {
            let adders = Adders { levels_per_stage, sharing };
            build(layer, w, in_bounds, adders, tail_reg, shared.as_ref())
        },
        delays,
        mhz,
    )
}

/// The shared constant product of a dense layer's weights, and each output's
/// constant part: inputs proven constant are no operands, their products
/// join the bias.
fn solve_shared(w: &Weighted, in_bounds: &[Interval], sharing: Sharing) -> (Solution, Vec<i64>) {
    let fixed = |i: usize| (in_bounds[i].lo == in_bounds[i].hi).then_some(in_bounds[i].lo);
    let mut variable = rows(w);
    let mut constant = vec![0i64; variable.len()];
    for (j, row) in variable.iter_mut().enumerate() {
        for (i, q) in row.iter_mut().enumerate() {
            if let Some(c) = fixed(i) {
                constant[j] += *q * c;
                *q = 0;
            }
        }
    }
    (cmvm::solve(&variable, in_bounds.len(), sharing), constant)
}

fn rows(w: &Weighted) -> Vec<Vec<i64>> {
    (0..w.out_channels()).map(|j| w.row(j).iter().map(|&q| q as i64).collect()).collect()
}

/// The graph of [`dense_graph`], the shared product solved (`shared`) or
/// one tree per output (`None`), a register before each requantization
/// when `tail_reg`.
fn build(
    layer: &IntLayer,
    w: &Weighted,
    in_bounds: &[Interval],
    adders: Adders,
    tail_reg: bool,
    shared: Option<&(Solution, Vec<i64>)>,
) -> LayerGraph {
    let mut b = Builder::new(adders.levels_per_stage);
    b.tail_reg = tail_reg;
    let f = layer.input_format;
    let inputs = input_nodes(&mut b, in_bounds, f.signed(), f.bits());
    let shift = w.shift(layer.input_format, layer.format);
    let rows = rows(w);
    // Shared: the whole product at once, then per output scale and requantize.
    let shared = shared.map(|(sol, constant)| {
        let ops: Vec<Operand> = inputs.iter().map(|&x| Operand::of(x)).collect();
        (lower(&mut b, sol, &ops, in_bounds, ""), constant)
    });
    let mut ys = Vec::new();
    let mut notes = Vec::new();
    for (j, row) in rows.iter().enumerate() {
        let p = format!("n{j}");
        let y = match &shared {
            Some((products, constant)) => {
                let product = (products[j], constant[j]);
                shared_output(&mut b, layer, w, j, product, adders.sharing, &p)
            }
            None => tree_output(&mut b, layer, w, j, &inputs, in_bounds, &p),
        };
        ys.push(y);
        notes.push(note(w, j, row, shift, layer.acc_bounds[j]));
    }
    let io = Io::of(layer, inputs.len());
    finish(b, io, ys, notes)
}

/// `w · op` as operands: one shifted copy of `op` per CSD term of `w`.
fn csd_terms(w: i64, op: Operand) -> impl Iterator<Item = Operand> {
    csd(w).into_iter().map(move |t| Operand {
        node: op.node,
        shift: op.shift + t.shift as i32,
        negate: op.negate ^ t.negative,
    })
}

/// One output lane of a dense graph as its own balanced tree of CSD terms
/// (the bias one of them), scaled and requantized: no sharing.
fn tree_output(
    b: &mut Builder,
    layer: &IntLayer,
    w: &Weighted,
    j: usize,
    inputs: &[NodeId],
    in_bounds: &[Interval],
    p: &str,
) -> NodeId {
    let row = w.row(j);
    let mut terms: Vec<Operand> =
        row.iter().zip(inputs).flat_map(|(&q, &x)| csd_terms(q as i64, Operand::of(x))).collect();
    if w.bias[j] != 0 {
        terms.push(Operand::of(b.constant(format!("{p}_bias"), w.bias[j])));
    }
    let acc = b.tree(terms, p).unwrap_or_else(|| Operand::of(b.constant(format!("{p}_zero"), 0)));
    let taps = row.iter().zip(in_bounds).map(|(&q, &x)| (q as i64, x));
    let (lo, hi) = dot_bounds(taps, w.bias[j]);
    b.tighten(acc, Interval::new(lo as i64, hi as i64));
    // Channel scale: acc * M_j as the sum of M_j's CSD terms of acc.
    let acc2 = match &w.scale {
        None => acc,
        Some(_) => {
            let m = w.multiplier(j);
            let scaled: Vec<Operand> = csd_terms(m, acc).collect();
            let name = format!("{p}_m");
            let acc2 = b
                .tree(scaled, &name)
                .unwrap_or_else(|| Operand::of(b.constant(format!("{name}_zero"), 0)));
            b.tighten(acc2, layer.acc_bounds[j]);
            acc2
        }
    };
    debug_assert_eq!(b.bounds(acc2), layer.acc_bounds[j], "graph and analysis agree");
    let shift = w.shift(layer.input_format, layer.format);
    requantize(b, acc2, 0, shift, w.relu, layer.format, p)
}

/// One output lane of a shared product (`None`: zero) plus a constant part:
/// the channel scale as a shared-digit constant multiplication, then the
/// bias and constant part (times the scale) and the rounding offset as one
/// constant, then the shift.
fn shared_output(
    b: &mut Builder,
    layer: &IntLayer,
    w: &Weighted,
    j: usize,
    (product, constant): (Option<Operand>, i64),
    sharing: Sharing,
    p: &str,
) -> NodeId {
    let zero = |b: &mut Builder, name: String| Operand::of(b.constant(name, 0));
    let product = product.unwrap_or_else(|| zero(b, format!("{p}_zero")));
    let m = w.multiplier(j);
    let scaled = match &w.scale {
        None => product,
        Some(_) => {
            let sol = cmvm::solve(&[vec![m]], 1, sharing);
            let bounds = [b.bounds(product)];
            let name = format!("{p}_m_");
            let out = lower(b, &sol, &[product], &bounds, &name)[0];
            out.unwrap_or_else(|| zero(b, format!("{p}_m_zero")))
        }
    };
    let bias = (w.bias[j] + constant) * m;
    let acc = b.bounds(scaled);
    debug_assert_eq!(
        Interval::new(acc.lo + bias, acc.hi + bias),
        layer.acc_bounds[j],
        "graph and analysis agree"
    );
    let shift = w.shift(layer.input_format, layer.format);
    requantize(b, scaled, bias, shift, w.relu, layer.format, p)
}

/// The comment line of output `j`: the arithmetic it implements.
fn note(w: &Weighted, j: usize, row: &[i64], shift: i32, acc: Interval) -> String {
    let mut terms = 0;
    let mut listed = Vec::new();
    for (i, &q) in row.iter().enumerate() {
        let digits = csd(q);
        terms += digits.len();
        if q != 0 {
            let d: Vec<String> = digits.iter().map(|t| t.to_string()).collect();
            listed.push(format!("x{i}*{q}({})", d.join("")));
        }
    }
    terms += (w.bias[j] != 0) as usize;
    let nonzero = listed.len();
    let weights =
        if nonzero <= 64 { listed.join(" ") } else { format!("{nonzero} nonzero weights") };
    format!(
        "y{j} = requantize(sum + bias {}{}) >> {shift}: {terms} terms; acc in [{}, {}]; {weights}",
        w.bias[j],
        w.scale.as_ref().map_or(String::new(), |s| format!(
            ", * {} / 2^{}",
            w.multiplier(j),
            s.frac
        )),
        acc.lo,
        acc.hi
    )
}

/// The adder graph of the bare product `y = W·x` (no bias, no
/// requantization), for comparing constant-product solvers: `rows` is
/// `[outputs][inputs]`, the inputs are integers of `input` (fraction bits
/// ignored), every output a signed integer as wide as the widest.
pub fn product_graph(
    name: &str,
    rows: &[Vec<i64>],
    input: FixedFormat,
    adders: Adders,
) -> Result<LayerGraph, CodegenError> {
    adders.check()?;
    let inputs = rows.first().map_or(0, |r| r.len());
    let mut b = Builder::new(adders.levels_per_stage);
    let in_bounds = vec![Interval::new(input.min(), input.max()); inputs];
    let xs = input_nodes(&mut b, &in_bounds, input.signed(), input.bits());
    let products: Vec<Option<Operand>> = if adders.sharing.enabled {
        let sol = cmvm::solve(rows, inputs, adders.sharing);
        let ops: Vec<Operand> = xs.iter().map(|&x| Operand::of(x)).collect();
        lower(&mut b, &sol, &ops, &in_bounds, "")
    } else {
        let digits = |row: &[i64]| -> Vec<Operand> {
            row.iter().zip(&xs).flat_map(|(&q, &x)| csd_terms(q, Operand::of(x))).collect()
        };
        rows.iter().enumerate().map(|(j, r)| b.tree(digits(r), &format!("n{j}"))).collect()
    };
    let ys: Vec<NodeId> = products
        .into_iter()
        .enumerate()
        .map(|(j, p)| {
            let p = p.unwrap_or_else(|| Operand::of(b.constant(format!("n{j}_zero"), 0)));
            b.pass(p, format!("n{j}_y"))
        })
        .collect();
    let signed_bits = |(signed, bits): (bool, u32)| if signed { bits } else { bits + 1 };
    let bits = ys.iter().map(|&y| signed_bits(b.node(y).bounds.width())).max().unwrap_or(2);
    let output_format = FixedFormat::new(true, bits.max(2), 0).map_err(|_| {
        CodegenError::Config(format!("a product needs {bits} bits, beyond the 32-bit outputs"))
    })?;
    let notes = rows
        .iter()
        .enumerate()
        .map(|(j, r)| {
            let n = r.iter().filter(|&&q| q != 0).count();
            format!("y{j} = sum of {n} weights times inputs")
        })
        .collect();
    let io = Io {
        name: name.to_string(),
        inputs,
        input_signed: input.signed(),
        input_bits: input.bits(),
        input_desc: format!("{}{} integers", if input.signed() { 's' } else { 'u' }, input.bits()),
        output_format,
    };
    Ok(finish(b, io, ys, notes))
}
