//! The timing model of an adder graph: the delay of every register stage by
//! the device's [`Delays`], the terms the folded units' model uses
//! (`stream::pipeline`): a stage starts at a flip-flop (`reg`: the layer's
//! inputs come from registers too), takes `graph_adder` for every adder on
//! its path and `lut` for every LUT level (a ReLU's multiplexer; a saturation's
//! range check and multiplexer, two), and `carry` for every bit of the
//! widest adder it holds (the adders of a stage ripple together, so only the
//! widest chain counts whole). Shifts, negations folded into adders and
//! constants cost nothing.

use super::{LayerGraph, NodeKind};
use crate::device::Delays;

/// The path into a node: the time of its hops (ns) and the widest adder
/// on it (bits).
#[derive(Clone, Copy)]
struct Path {
    hops: f64,
    width: u32,
}

impl Path {
    fn ns(self, d: &Delays) -> f64 {
        self.hops + self.width as f64 * d.carry
    }

    fn latest(a: Path, b: Path) -> Path {
        Path { hops: a.hops.max(b.hops), width: a.width.max(b.width) }
    }
}

impl LayerGraph {
    /// The slowest register stage of the graph by the timing model (ns, an
    /// estimate): the longest path from a register or an input to a
    /// register (its outputs are registers).
    pub fn slowest_stage_ns(&self, d: &Delays) -> f64 {
        let mut at: Vec<Path> = Vec::with_capacity(self.nodes.len());
        let mut slowest = 0.0f64;
        let from_reg = Path { hops: d.reg, width: 0 };
        for n in &self.nodes {
            let path = match n.kind {
                NodeKind::Input { .. } => from_reg,
                NodeKind::Const { .. } => Path { hops: 0.0, width: 0 },
                NodeKind::Add { a, b, .. } => {
                    let p = Path::latest(at[a.node.0 as usize], at[b.node.0 as usize]);
                    Path { hops: p.hops + d.graph_adder, width: p.width.max(n.width().1) }
                }
                NodeKind::Pass { src } => at[src.node.0 as usize],
                NodeKind::Relu { src } => {
                    let p = at[src.0 as usize];
                    Path { hops: p.hops + d.lut, ..p }
                }
                NodeKind::Saturate { src, .. } => {
                    let p = at[src.0 as usize];
                    Path { hops: p.hops + 2.0 * d.lut, ..p }
                }
                NodeKind::Reg { src } => {
                    // A register of a constant still has a stage: its own.
                    slowest = slowest.max(at[src.0 as usize].ns(d)).max(d.reg);
                    from_reg
                }
            };
            at.push(path);
        }
        slowest
    }
}

#[cfg(test)]
mod tests {
    use crate::codegen::graph::builder::{finish, input_nodes, Builder, Io};
    use crate::codegen::graph::{LayerGraph, Operand};
    use crate::device::Delays;
    use crate::quant::{FixedFormat, Interval};

    const D: Delays = Delays {
        reg: 2.6,
        ram: 5.0,
        lut: 2.9,
        adder: 4.8,
        carry: 0.2,
        graph_adder: 6.5,
        control: 20.0,
    };

    /// The sum of `n` 8-bit inputs as a balanced tree, a register every
    /// `levels` levels.
    fn sum(n: usize, levels: u32) -> LayerGraph {
        let mut b = Builder::new(levels);
        let xs = input_nodes(&mut b, &vec![Interval::new(0, 255); n], false, 8);
        let ops = xs.iter().map(|&x| Operand::of(x)).collect();
        let y = b.tree(ops, "n0").unwrap();
        let y = b.pass(y, "y".into());
        let format = FixedFormat::new(false, 16, 0).unwrap();
        let io = Io {
            name: "sum".into(),
            inputs: n,
            input_signed: false,
            input_bits: 8,
            input_desc: "u8".into(),
            output_format: format,
        };
        finish(b, io, vec![y], vec![String::new()])
    }

    #[test]
    fn a_stage_is_its_adders_and_its_widest_carry() {
        // 16 inputs: four levels, the last adder 12 bits wide.
        let whole = sum(16, 99).slowest_stage_ns(&D);
        assert!((whole - (D.reg + 4.0 * D.graph_adder + 12.0 * D.carry)).abs() < 1e-9, "{whole}");
        // A register after two levels: two adders a stage, the second
        // stage's widest adder 12 bits.
        let halves = sum(16, 2).slowest_stage_ns(&D);
        assert!((halves - (D.reg + 2.0 * D.graph_adder + 12.0 * D.carry)).abs() < 1e-9, "{halves}");
        // Every level registered: one adder a stage.
        let every = sum(16, 1).slowest_stage_ns(&D);
        assert!(every < halves && halves < whole, "{every} {halves} {whole}");
    }

    #[test]
    fn the_device_file_matches_the_measured_paths() {
        // nextpnr-ice40 0.4's critical paths through unrolled graphs
        // (scripts/bench-timing.sh's designs and its first trials): adders,
        // LUT levels and the widest adder (bits) of the path as the model
        // counts them, and the period nextpnr achieved (ns). The UP5K's
        // model within 15% of each on the clock.
        let up5k = crate::device::Device::resolve("ice40-up5k").unwrap().delays.unwrap();
        for (adders, luts, bits, measured) in [
            (2, 0, 18, 21.06), // power-of-two weights, a register every two levels
            (5, 2, 18, 43.7),  // power-of-two, the layer whole, then requantized
            (8, 2, 24, 56.5),  // ternary, through the channel scale's adders
            (7, 2, 17, 59.0),  // 8-bit weights, the layer whole
        ] {
            let hops = up5k.reg + adders as f64 * up5k.graph_adder + luts as f64 * up5k.lut;
            let ns = super::Path { hops, width: bits }.ns(&up5k);
            assert!((measured / ns - 1.0).abs() < 0.15, "{ns} ns against {measured}");
        }
    }
}
