//! The adder graph: the mid-level IR between the integer network and Verilog.
//!
//! Every node is one wire or register of the generated RTL, with the bounds
//! interval analysis proves for it and therefore its exact width. Operands
//! carry a constant shift (left if positive, an arithmetic right shift — floor
//! division — if negative) and a sign, so a weight's CSD terms cost no nodes of
//! their own: `W·x` becomes operands `±(x << k)` of the adders of a tree.

pub(crate) mod builder;
mod print;
mod timing;

pub use print::layer_module;

use serde::Serialize;

use crate::quant::contract::shift_floor;
use crate::quant::{FixedFormat, Interval};

/// Index of a node in its layer graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct NodeId(pub u32);

/// A node used as an operand: `(node << shift)` (or `>>` for negative shifts),
/// negated when `negate`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Operand {
    pub node: NodeId,
    pub shift: i32,
    pub negate: bool,
}

impl Operand {
    pub fn of(node: NodeId) -> Operand {
        Operand { node, shift: 0, negate: false }
    }
}

/// What a node computes.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NodeKind {
    /// Lane `lane` of the layer's input bus, declared `bits` wide (two's
    /// complement when `signed`).
    Input { lane: usize, signed: bool, bits: u32 },
    /// A constant.
    Const { value: i64 },
    /// `a + b` or `a - b` (operands non-negated; `sub` subtracts `b`).
    Add { a: Operand, b: Operand, sub: bool },
    /// The operand itself, materialized at the node's width (shifts, drops bits).
    Pass { src: Operand },
    /// `max(0, src)`.
    Relu { src: NodeId },
    /// `src` clamped to the format's range.
    Saturate { src: NodeId, format: FixedFormat },
    /// `src` one clock later (when the pipeline advances).
    Reg { src: NodeId },
}

/// One wire or register.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Node {
    pub name: String,
    pub kind: NodeKind,
    pub bounds: Interval,
    /// Clock cycles after the layer input.
    pub stage: u32,
}

impl Node {
    /// `(signed, bits)` of the node's wire: the proven width, except inputs, which
    /// are as wide as their bus lanes.
    pub fn width(&self) -> (bool, u32) {
        match &self.kind {
            NodeKind::Input { signed, bits, .. } => (*signed, *bits),
            _ => self.bounds.width(),
        }
    }
}

/// The adder graph of one layer: nodes in topological order and the output
/// node of every lane.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LayerGraph {
    pub name: String,
    /// Input lanes, their declared width and what they hold (a format like
    /// `u8.7`, or `s24 accumulators`).
    pub inputs: usize,
    pub input_signed: bool,
    pub input_bits: u32,
    pub input_desc: String,
    pub output_format: FixedFormat,
    pub nodes: Vec<Node>,
    pub outputs: Vec<NodeId>,
    /// Register stages from input to output (the output register included).
    pub latency: u32,
    /// One comment line per output lane: the arithmetic it implements.
    pub notes: Vec<String>,
}

impl LayerGraph {
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.0 as usize]
    }

    /// Adders on the longest path from an input to an output.
    pub fn adder_depth(&self) -> u32 {
        let mut depth = vec![0u32; self.nodes.len()];
        for (i, n) in self.nodes.iter().enumerate() {
            depth[i] = match n.kind {
                NodeKind::Add { a, b, .. } => {
                    1 + depth[a.node.0 as usize].max(depth[b.node.0 as usize])
                }
                NodeKind::Pass { src } => depth[src.node.0 as usize],
                NodeKind::Relu { src } | NodeKind::Saturate { src, .. } | NodeKind::Reg { src } => {
                    depth[src.0 as usize]
                }
                NodeKind::Input { .. } | NodeKind::Const { .. } => 0,
            };
        }
        self.outputs.iter().map(|o| depth[o.0 as usize]).max().unwrap_or(0)
    }

    /// The value of every node for the input lanes `x`, registers passing
    /// their source through (values, not timing): what the RTL computes, for
    /// tests that compare graphs and check values against proven bounds.
    pub fn eval(&self, x: &[i64]) -> Vec<i64> {
        let mut v: Vec<i64> = Vec::with_capacity(self.nodes.len());
        let op = |v: &[i64], o: Operand| {
            let s = shift_floor(v[o.node.0 as usize], -o.shift);
            if o.negate {
                -s
            } else {
                s
            }
        };
        for n in &self.nodes {
            let value = match n.kind {
                NodeKind::Input { lane, .. } => x[lane],
                NodeKind::Const { value } => value,
                NodeKind::Add { a, b, sub } => {
                    if sub {
                        op(&v, a) - op(&v, b)
                    } else {
                        op(&v, a) + op(&v, b)
                    }
                }
                NodeKind::Pass { src } => op(&v, src),
                NodeKind::Relu { src } => v[src.0 as usize].max(0),
                NodeKind::Saturate { src, format } => format.saturate(v[src.0 as usize]),
                NodeKind::Reg { src } => v[src.0 as usize],
            };
            v.push(value);
        }
        v
    }
}

/// The cost model of a graph, from its nodes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Cost {
    /// Two-input adders and subtractors.
    pub adders: u64,
    /// Sum of adder widths.
    pub adder_width: u64,
    /// Adder bits where both operands can be set (shifted-in zeros and zero
    /// extensions pass through on the carry chain): about one LUT each.
    pub adder_bits: u64,
    /// Sum of multiplexer widths (ReLU and saturation).
    pub mux_bits: u64,
    /// LUT estimate: adder bits, multiplexer bits and memory LUTs.
    pub luts: u64,
    /// LUTs counted as such, not from adders and multiplexers: memories
    /// built from logic, the codebook lanes of shared weights (streaming form).
    #[serde(default)]
    pub lut_tables: u64,
    /// Control blocks (the counters and handshakes of a folded unit or a
    /// window generator), which the device model prices per block.
    #[serde(default)]
    pub units: u64,
    /// Register bits.
    pub ffs: u64,
    /// Of those, the bits registering an adder's or a LUT's output right
    /// where it is made (pipeline registers), which share that logic's cell
    /// on iCE40.
    #[serde(default)]
    pub packed_ffs: u64,
    /// Bits of read-only memories (weight codes, biases, channel scales).
    #[serde(default)]
    pub rom_bits: u64,
    /// Bits of read-write memories (line and vector buffers).
    #[serde(default)]
    pub ram_bits: u64,
    /// Block-RAM units of the memories mapped to block RAM (streaming form on
    /// a device; see `device::Family::ram_blocks`).
    #[serde(default)]
    pub ram_blocks: u64,
    /// Single-port RAM blocks (SPRAM) of weight ROMs kept there.
    #[serde(default)]
    pub spram: u64,
    /// DSP blocks (iCE40 UltraPlus SB_MAC16) of fixed-point lanes.
    #[serde(default)]
    pub dsps: u64,
}

impl Cost {
    /// Bits `[lo, hi)` of an adder of width `width` where the operand can be set:
    /// above its shift, and below its top unless it is sign-extended.
    fn active(graph: &LayerGraph, op: Operand, width: u32) -> (u32, u32) {
        let n = graph.node(op.node);
        if let NodeKind::Const { value } = n.kind {
            let v = shift_floor(value, -op.shift);
            return if v == 0 { (0, 0) } else { (v.trailing_zeros().min(width), width) };
        }
        let (signed, w) = n.width();
        let lo = op.shift.max(0) as u32;
        let top = (op.shift + w as i32).max(0) as u32;
        let hi = if signed { width } else { top.min(width) };
        (lo.min(width), hi.max(lo.min(width)))
    }

    pub fn of(graph: &LayerGraph) -> Cost {
        let mut c = Cost::default();
        for n in &graph.nodes {
            let bits = n.width().1 as u64;
            match n.kind {
                NodeKind::Add { a, b, sub } => {
                    // Where only one operand can be set, the sum bit is that
                    // operand (plus the carry): no LUT on carry-chain FPGAs. A
                    // subtrahend is inverted, so its zero extension is not free.
                    let w = n.width().1;
                    let (al, ah) = Cost::active(graph, a, w);
                    let (bl, bh) = Cost::active(graph, b, w);
                    let bh = if sub && bl < bh { w } else { bh };
                    let both = ah.min(bh).saturating_sub(al.max(bl));
                    c.adders += 1;
                    c.adder_width += bits;
                    c.adder_bits += both as u64;
                }
                NodeKind::Relu { .. } | NodeKind::Saturate { .. } => c.mux_bits += bits,
                NodeKind::Reg { .. } => c.ffs += bits,
                NodeKind::Input { .. } | NodeKind::Const { .. } | NodeKind::Pass { .. } => {}
            }
        }
        c.luts = c.adder_bits + c.mux_bits;
        c
    }
}

impl Cost {
    /// A comparator tree over `n` values of `bits` (`sk_argmax`, max
    /// pooling): per node a comparison, priced like an adder of `bits` (a
    /// carry chain) but not counted among the datapath's adders, and a
    /// multiplexer of the value and its `index_bits` index.
    pub fn argmax(n: u64, bits: u64, index_bits: u64) -> Cost {
        let nodes = n.saturating_sub(1);
        let (compare, mux) = (nodes * bits, nodes * (bits + index_bits));
        Cost { adder_bits: compare, mux_bits: mux, luts: compare + mux, ..Cost::default() }
    }
}

impl std::ops::Add for Cost {
    type Output = Cost;
    fn add(self, o: Cost) -> Cost {
        Cost {
            adders: self.adders + o.adders,
            adder_width: self.adder_width + o.adder_width,
            adder_bits: self.adder_bits + o.adder_bits,
            mux_bits: self.mux_bits + o.mux_bits,
            luts: self.luts + o.luts,
            lut_tables: self.lut_tables + o.lut_tables,
            units: self.units + o.units,
            ffs: self.ffs + o.ffs,
            packed_ffs: self.packed_ffs + o.packed_ffs,
            rom_bits: self.rom_bits + o.rom_bits,
            ram_bits: self.ram_bits + o.ram_bits,
            ram_blocks: self.ram_blocks + o.ram_blocks,
            spram: self.spram + o.spram,
            dsps: self.dsps + o.dsps,
        }
    }
}

impl std::ops::Mul<u64> for Cost {
    type Output = Cost;
    /// `k` copies.
    fn mul(self, k: u64) -> Cost {
        Cost {
            adders: self.adders * k,
            adder_width: self.adder_width * k,
            adder_bits: self.adder_bits * k,
            mux_bits: self.mux_bits * k,
            luts: self.luts * k,
            lut_tables: self.lut_tables * k,
            units: self.units * k,
            ffs: self.ffs * k,
            packed_ffs: self.packed_ffs * k,
            ram_blocks: self.ram_blocks * k,
            rom_bits: self.rom_bits * k,
            ram_bits: self.ram_bits * k,
            spram: self.spram * k,
            dsps: self.dsps * k,
        }
    }
}
