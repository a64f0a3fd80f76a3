//! Requantization in hardware steps: `saturate(relu(shift_round(acc, s)))`
//! of the numeric contract as adder-graph nodes, per output of a dense
//! layer's graph or as the graph that follows a folded unit's accumulators.

use crate::codegen::graph::builder::{finish, input_nodes, Builder, Io};
use crate::codegen::graph::{LayerGraph, NodeId, NodeKind, Operand};
use crate::quant::contract::{round_offset, shift_round};
use crate::quant::{FixedFormat, Interval};

/// The requantization of a folded layer's accumulators: one input lane per
/// accumulator, declared `bits` wide (signed), holding a value in `lanes[p]`;
/// each becomes `saturate(relu(shift_round(acc, shift)))` in `format`,
/// registered once (latency 1).
pub(crate) fn requant_graph(
    name: &str,
    lanes: &[Interval],
    bits: u32,
    shift: i32,
    relu: bool,
    format: FixedFormat,
) -> LayerGraph {
    let mut b = Builder::new(1);
    let inputs = input_nodes(&mut b, lanes, true, bits);
    let mut ys = Vec::new();
    let mut notes = Vec::new();
    for (p, &x) in inputs.iter().enumerate() {
        let bounds = b.node(x).bounds;
        ys.push(requantize(&mut b, Operand::of(x), 0, shift, relu, format, &format!("n{p}")));
        notes.push(format!(
            "y{p} = {}requantize(x{p} >> {shift}) to {format}; x{p} in {bounds}",
            if relu { "relu " } else { "" }
        ));
    }
    let io = Io {
        name: name.to_string(),
        inputs: inputs.len(),
        input_signed: true,
        input_bits: bits,
        input_desc: format!("s{bits} accumulators"),
        output_format: format,
    };
    finish(b, io, ys, notes)
}

/// `saturate(relu(shift_round(acc, s)))` in hardware steps.
pub(super) fn requantize(
    b: &mut Builder,
    acc: Operand,
    bias: i64,
    s: i32,
    relu: bool,
    format: FixedFormat,
    p: &str,
) -> NodeId {
    let acc = if b.tail_reg { b.reg_operand(acc, format!("{p}_acc_q")) } else { acc };
    // The bias not yet added and the rounding offset: one adder, which also
    // takes a negated accumulator as its subtrahend.
    let offset = bias + if s > 0 { round_offset(s) } else { 0 };
    let shifted = if offset != 0 {
        let name = if bias == 0 { format!("{p}_half") } else { format!("{p}_bias") };
        let offset = b.constant(name, offset);
        let sum = b.combine(acc, Operand::of(offset), format!("{p}_rnd"));
        b.pass(Operand { shift: sum.shift - s, ..sum }, format!("{p}_sh"))
    } else {
        let acc = b.materialize(acc, format!("{p}_acc"));
        b.pass(Operand { shift: acc.shift - s, ..acc }, format!("{p}_sh"))
    };
    let bounds = b.node(shifted).bounds;
    debug_assert_eq!(bounds.lo, shift_round(b.bounds(acc).lo + bias, s));
    let stage = b.node(shifted).stage;
    let mut y = shifted;
    if relu && bounds.lo < 0 {
        y = b.push(format!("{p}_relu"), NodeKind::Relu { src: y }, bounds.relu(), stage);
    }
    let yb = b.node(y).bounds;
    if yb.lo < format.min() || yb.hi > format.max() {
        let clamped = Interval::new(
            yb.lo.clamp(format.min(), format.max()),
            yb.hi.clamp(format.min(), format.max()),
        );
        y = b.push(format!("{p}_sat"), NodeKind::Saturate { src: y, format }, clamped, stage);
    }
    y
}
