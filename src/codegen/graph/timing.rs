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
    use crate::quant::{FixedFormat, Interval};

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
        let d = crate::device::Device::resolve("ice40-up5k").unwrap().delays.unwrap();
        // 16 inputs: four levels, the last adder 12 bits wide.
        let whole = sum(16, 99).slowest_stage_ns(&d);
        assert!((whole - (d.reg + 4.0 * d.graph_adder + 12.0 * d.carry)).abs() < 1e-9, "{whole}");
        // A register after two levels: two adders a stage, the second
        // stage's widest adder 12 bits.
        let halves = sum(16, 2).slowest_stage_ns(&d);
        assert!((halves - (d.reg + 2.0 * d.graph_adder + 12.0 * d.carry)).abs() < 1e-9, "{halves}");
        // Every level registered: one adder a stage.
        let every = sum(16, 1).slowest_stage_ns(&d);
        assert!(every < halves && halves < whole, "{every} {halves} {whole}");
    }

    #[test]
    fn the_device_file_matches_the_measured_paths() {
        // Designs of scripts/bench-timing.sh whose slowest stage by the
        // model is an unrolled graph's: that stage's adders, LUT levels and
        // widest adder (bits), and the period nextpnr-ice40 0.4 achieved
        // (ns). The UP5K's model within 15% of each.
        let up5k = crate::device::Device::resolve("ice40-up5k").unwrap().delays.unwrap();
        for (adders, luts, bits, measured) in [
            (4, 0, 18, 34.25), // s_inq5_25: a unit of power-of-two weights
            (2, 0, 18, 21.05), // s_inq5_40
            (4, 0, 24, 31.06), // s_ternary_25: through a channel scale's adders
            (5, 0, 15, 44.84), // u_p60_20: an unrolled top, a pruned INQ-5 layer
            (2, 0, 14, 21.32), // u_p60_40
            (5, 0, 13, 41.32), // u_ternary_20: an unrolled top, ternary
        ] {
            let hops = up5k.reg + adders as f64 * up5k.graph_adder + luts as f64 * up5k.lut;
            let ns = super::Path { hops, width: bits }.ns(&up5k);
            assert!((measured / ns - 1.0).abs() < 0.15, "{ns} ns against {measured}");
        }
    }
}
