//! Building adder graphs: nodes with their proven bounds, balanced trees,
//! pipeline and delay registers, and the finished graph with its outputs
//! aligned and registered. What the nodes compute is the caller's (the
//! lowering of dense layers, shared products and requantization).

use std::collections::HashMap;

use super::{LayerGraph, Node, NodeId, NodeKind, Operand};
use crate::quant::contract::shift_floor;
use crate::quant::{FixedFormat, IntLayer, Interval};

/// Nodes under construction, with the delay registers already made.
pub(in crate::codegen) struct Builder {
    nodes: Vec<Node>,
    delays: HashMap<(NodeId, u32), NodeId>,
    pub(in crate::codegen) levels_per_stage: u32,
    /// A register before each requantization (the accumulator's), so that
    /// its rounding adder and saturation get a stage of their own.
    pub(in crate::codegen) tail_reg: bool,
}

impl Builder {
    pub(in crate::codegen) fn new(levels_per_stage: u32) -> Builder {
        Builder { nodes: Vec::new(), delays: HashMap::new(), levels_per_stage, tail_reg: false }
    }

    pub(in crate::codegen) fn push(
        &mut self,
        name: String,
        kind: NodeKind,
        bounds: Interval,
        stage: u32,
    ) -> NodeId {
        // Logic whose proven bounds are one value is that constant (a neuron
        // without nonzero weights is its bias, requantized and saturated).
        let kind = match kind {
            NodeKind::Add { .. }
            | NodeKind::Pass { .. }
            | NodeKind::Relu { .. }
            | NodeKind::Saturate { .. }
                if bounds.lo == bounds.hi =>
            {
                NodeKind::Const { value: bounds.lo }
            }
            _ => kind,
        };
        self.nodes.push(Node { name, kind, bounds, stage });
        NodeId(self.nodes.len() as u32 - 1)
    }

    pub(in crate::codegen) fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.0 as usize]
    }

    fn is_const(&self, id: NodeId) -> bool {
        matches!(self.node(id).kind, NodeKind::Const { .. })
    }

    pub(in crate::codegen) fn constant(&mut self, name: String, value: i64) -> NodeId {
        self.push(name, NodeKind::Const { value }, Interval::point(value), 0)
    }

    /// The interval of an operand's value.
    pub(in crate::codegen) fn bounds(&self, op: Operand) -> Interval {
        let b = self.node(op.node).bounds;
        let (lo, hi) = (shift_floor(b.lo, -op.shift), shift_floor(b.hi, -op.shift));
        if op.negate {
            Interval::new(-hi, -lo)
        } else {
            Interval::new(lo, hi)
        }
    }

    /// A register of `src`, one stage later.
    pub(in crate::codegen) fn reg(&mut self, src: NodeId, name: String) -> NodeId {
        let n = self.node(src);
        let (bounds, stage) = (n.bounds, n.stage + 1);
        self.push(name, NodeKind::Reg { src }, bounds, stage)
    }

    /// `op` one stage later (constants need no register).
    pub(in crate::codegen) fn reg_operand(&mut self, op: Operand, name: String) -> Operand {
        if self.is_const(op.node) {
            return op;
        }
        Operand { node: self.reg(op.node, name), ..op }
    }

    /// `op` delayed to `stage` through (shared) registers; constants need none.
    fn delay(&mut self, mut op: Operand, stage: u32) -> Operand {
        if self.is_const(op.node) {
            return op;
        }
        while self.node(op.node).stage < stage {
            let next = self.node(op.node).stage + 1;
            let base = op.node;
            op.node = match self.delays.get(&(base, next)) {
                Some(&d) => d,
                None => {
                    let name = delay_name(&self.node(base).name);
                    let d = self.reg(base, name);
                    self.delays.insert((base, next), d);
                    d
                }
            };
        }
        op
    }

    fn stage(&self, op: Operand) -> u32 {
        if self.is_const(op.node) {
            0
        } else {
            self.node(op.node).stage
        }
    }

    /// `a ± b` as one adder: common shifts factored out, signs folded so that the
    /// adder never negates (a result both of whose operands were negative is
    /// returned negated).
    pub(in crate::codegen) fn combine(&mut self, a: Operand, b: Operand, name: String) -> Operand {
        let stage = self.stage(a).max(self.stage(b));
        let (a, b) = (self.delay(a, stage), self.delay(b, stage));
        let common = a.shift.min(b.shift);
        let (mut a, mut b) = (a, b);
        a.shift -= common;
        b.shift -= common;
        let (x, y, sub, negate) = match (a.negate, b.negate) {
            (false, false) => (a, b, false, false),
            (false, true) => (a, b, true, false),
            (true, false) => (b, a, true, false),
            (true, true) => (a, b, false, true),
        };
        let x = Operand { negate: false, ..x };
        let y = Operand { negate: false, ..y };
        let (bx, by) = (self.bounds(x), self.bounds(y));
        let bounds = if sub {
            Interval::new(bx.lo - by.hi, bx.hi - by.lo)
        } else {
            Interval::new(bx.lo + by.lo, bx.hi + by.hi)
        };
        let id = self.push(name, NodeKind::Add { a: x, b: y, sub }, bounds, stage);
        Operand { node: id, shift: common, negate }
    }

    /// Sums the operands in a balanced tree, registering every
    /// `levels_per_stage` levels. Returns `None` for an empty sum.
    pub(in crate::codegen) fn tree(
        &mut self,
        mut ops: Vec<Operand>,
        prefix: &str,
    ) -> Option<Operand> {
        let mut level = 0;
        while ops.len() > 1 {
            level += 1;
            let mut next = Vec::with_capacity(ops.len().div_ceil(2));
            for (k, pair) in ops.chunks(2).enumerate() {
                match *pair {
                    [a, b] => {
                        let mut sum = self.combine(a, b, format!("{prefix}_a{level}_{k}"));
                        if level % self.levels_per_stage == 0 {
                            let name = format!("{}_q", self.node(sum.node).name);
                            sum.node = self.reg(sum.node, name);
                        }
                        next.push(sum);
                    }
                    [a] => next.push(a),
                    _ => unreachable!("chunks of two"),
                }
            }
            ops = next;
        }
        ops.pop()
    }

    /// The operand as a non-negated node (a subtraction from zero if needed).
    pub(in crate::codegen) fn materialize(&mut self, op: Operand, name: String) -> Operand {
        if !op.negate {
            return op;
        }
        let zero = self.constant(format!("{name}_zero"), 0);
        let pos = Operand { negate: false, ..op };
        let b = self.bounds(pos);
        let stage = self.stage(pos);
        let id = self.push(
            name,
            NodeKind::Add { a: Operand::of(zero), b: pos, sub: true },
            Interval::new(-b.hi, -b.lo),
            stage,
        );
        Operand::of(id)
    }

    /// Narrows the bounds of the node behind `op` (a tree root whose value is
    /// known to lie in `exact`): interval arithmetic over CSD terms treats the
    /// terms of one weight as independent and overestimates; the analysis of
    /// the whole dot product does not.
    pub(in crate::codegen) fn tighten(&mut self, op: Operand, exact: Interval) {
        if op.shift < 0 {
            return;
        }
        let e = if op.negate { Interval::new(-exact.hi, -exact.lo) } else { exact };
        // The node's value times 2^shift lies in e: divide, rounding inward.
        let unit = 1i64 << op.shift;
        let (lo, hi) = (-((-e.lo).div_euclid(unit)), e.hi.div_euclid(unit));
        // The root and the registers that carry it belong to this tree alone.
        let mut id = op.node;
        loop {
            let node = &mut self.nodes[id.0 as usize];
            let next = match node.kind {
                NodeKind::Add { .. } => None,
                NodeKind::Reg { src } => Some(src),
                _ => return,
            };
            let b = node.bounds;
            node.bounds = Interval::new(b.lo.max(lo), b.hi.min(hi));
            match next {
                Some(src) => id = src,
                None => return,
            }
        }
    }

    /// A wire holding exactly the operand's value.
    pub(in crate::codegen) fn pass(&mut self, src: Operand, name: String) -> NodeId {
        if src.shift == 0 && !src.negate {
            return src.node;
        }
        let src = self.materialize(src, format!("{name}_neg"));
        let bounds = self.bounds(src);
        let stage = self.stage(src);
        self.push(name, NodeKind::Pass { src }, bounds, stage)
    }
}

fn delay_name(base: &str) -> String {
    // x3 -> x3_d1 -> x3_d2; n4_a2_0_q -> n4_a2_0_q_d1.
    match base.rsplit_once("_d") {
        Some((stem, n)) if n.parse::<u32>().is_ok() => {
            format!("{stem}_d{}", n.parse::<u32>().expect("checked") + 1)
        }
        _ => format!("{base}_d1"),
    }
}

pub(in crate::codegen) fn input_nodes(
    b: &mut Builder,
    bounds: &[Interval],
    signed: bool,
    bits: u32,
) -> Vec<NodeId> {
    bounds
        .iter()
        .enumerate()
        .map(|(lane, &bd)| {
            b.push(format!("x{lane}"), NodeKind::Input { lane, signed, bits }, bd, 0)
        })
        .collect()
}

/// What a graph takes and gives, for its module's ports and comments.
pub(in crate::codegen) struct Io {
    pub(in crate::codegen) name: String,
    pub(in crate::codegen) inputs: usize,
    pub(in crate::codegen) input_signed: bool,
    pub(in crate::codegen) input_bits: u32,
    pub(in crate::codegen) input_desc: String,
    pub(in crate::codegen) output_format: FixedFormat,
}

impl Io {
    /// The ports of a layer's own graph: its input format in, its format out.
    pub(in crate::codegen) fn of(layer: &IntLayer, inputs: usize) -> Io {
        Io {
            name: layer.name.clone(),
            inputs,
            input_signed: layer.input_format.signed(),
            input_bits: layer.input_format.bits(),
            input_desc: layer.input_format.to_string(),
            output_format: layer.format,
        }
    }
}

/// Aligns every output to the same stage and registers it.
pub(in crate::codegen) fn finish(
    mut b: Builder,
    io: Io,
    ys: Vec<NodeId>,
    notes: Vec<String>,
) -> LayerGraph {
    let last = ys.iter().map(|&y| b.stage(Operand::of(y))).max().unwrap_or(0);
    let outputs = ys
        .into_iter()
        .enumerate()
        .map(|(j, y)| {
            let aligned = b.delay(Operand::of(y), last).node;
            b.reg(aligned, format!("y{j}_q"))
        })
        .collect();
    LayerGraph {
        name: io.name,
        inputs: io.inputs,
        input_signed: io.input_signed,
        input_bits: io.input_bits,
        input_desc: io.input_desc,
        output_format: io.output_format,
        nodes: b.nodes,
        outputs,
        latency: last + 1,
        notes,
    }
}
