//! A folded matrix-vector unit: the parameters of `hdl/sk_mvu.v`, planned
//! from one weighted layer of the integer network with its weights in stream
//! order, and (elaborated after planning) the contents of its ROMs.

use std::rc::Rc;

use ndarray::Array2;

use super::fold::Fold;
use super::pipeline::{clog2, lane_path, PipeRule, Pipelining, UnitShape, DSP_LANE};
use crate::codegen::graph::LayerGraph;
use crate::codegen::hex::pack_hex;
use crate::codegen::lower::requant_graph;
use crate::device::Delays;
use crate::quant::contract::signed_bits;
use crate::quant::{dot_bounds, IntLayer, Interval, WeightCode, Weighted};

/// Everything `sk_mvu` is instantiated with.
#[derive(Clone, Debug)]
pub struct Folded {
    pub fold: Fold,
    pub nf: usize,
    pub sf: usize,
    pub xbits: u32,
    pub xsigned: bool,
    /// How the weights are coded in the ROM.
    pub code: WeightCode,
    pub lane_w: u32,
    pub h: u32,
    /// What the datapath is made of, for the timing model.
    pub shape: UnitShape,
    /// Where the registers of the lanes and the adder tree go.
    pub pipelining: Pipelining,
    /// Register stages from the lanes to the tree's output.
    pub tree_latency: u32,
    pub sum_w: u32,
    pub acc_w: u32,
    pub scaled: bool,
    pub m_bits: u32,
    pub out_w: u32,
    /// Register stages from an accepted beat to the accumulator output.
    pub core_latency: u32,
    /// The requantization of the PE accumulators (registered).
    pub rq: LayerGraph,
    /// The weights in SPRAM (loaded through the top's weight port) rather
    /// than in a ROM.
    pub spram: bool,
    /// Fixed-point lanes whose multiplier is a DSP block (`sk_mul16`): the
    /// first `dsp` of the PE x SIMD lanes.
    pub dsp: usize,
    /// The `[M, N]` weights in stream order, for the ROM.
    weights: Rc<Array2<i32>>,
}

/// The contents of a folded unit's ROMs, one hex word per line's worth.
#[derive(Clone, Debug)]
pub struct Roms {
    /// A word of PE x SIMD codes per beat.
    pub weights: Vec<String>,
    /// A word of PE accumulators per neuron fold.
    pub biases: Vec<String>,
    /// A word of PE channel multipliers per neuron fold (scaled layers).
    pub scales: Vec<String>,
}

impl Folded {
    /// The unit for `layer` (its arithmetic `w`), with `weights` the `[M, N]`
    /// matrix in stream order and `inputs` the bounds of the N inputs in that
    /// order. `rule` places the registers of the lanes and the adder tree.
    pub fn new(
        layer: &IntLayer,
        w: &Weighted,
        weights: Rc<Array2<i32>>,
        inputs: &[Interval],
        fold: Fold,
        rule: PipeRule,
    ) -> Folded {
        let (m, n) = weights.dim();
        let (nf, sf) = (m / fold.pe, n / fold.simd);
        let x = layer.input_format;
        let xs = x.bits() + u32::from(!x.signed());
        let h = clog2(fold.simd);
        let code = WeightCode::of(w.kind, weights.iter().copied());
        let (lane_w, sum_w) = match &code {
            WeightCode::Pow2 { max_shift } => (xs + max_shift + 1, xs + max_shift + 1 + h),
            WeightCode::Binary => (xs, xs + h + 2),
            WeightCode::Ternary => (xs, xs + h + 1),
            WeightCode::Fixed { bits } | WeightCode::Shared { value_bits: bits, .. } => {
                (xs + bits, xs + bits + h)
            }
        };
        // The accumulator holds bias + the sums of the first chunks: the hull of
        // every prefix, over every output.
        let mut hull = Interval::point(0);
        for j in 0..m {
            let (mut lo, mut hi) = (w.bias[j] as i128, w.bias[j] as i128);
            for c in 0..sf {
                let taps = (c * fold.simd..(c + 1) * fold.simd)
                    .map(|i| (weights[[j, i]] as i64, inputs[i]));
                let (a, b) = dot_bounds(taps, 0);
                lo += a;
                hi += b;
                hull = hull.hull(Interval::new(lo as i64, hi as i64));
            }
        }
        let acc_w = signed_bits(hull.lo, hull.hi);
        let scaled = w.scale.is_some();
        let (m_bits, out_w) = match &w.scale {
            Some(s) => {
                let (lo, hi) = min_max(s.multipliers.iter().copied());
                let out = layer.acc_bounds.iter().fold(Interval::point(0), |a, &b| a.hull(b));
                (signed_bits(lo, hi), signed_bits(out.lo, out.hi))
            }
            None => (2, acc_w),
        };
        // Requantization: lane p holds outputs p, PE + p, 2 PE + p, ...
        let lanes: Vec<Interval> = (0..fold.pe)
            .map(|p| {
                (0..nf)
                    .map(|f| layer.acc_bounds[f * fold.pe + p])
                    .reduce(Interval::hull)
                    .expect("at least one fold")
            })
            .collect();
        let shift = w.shift(layer.input_format, layer.format);
        let rq = requant_graph(&layer.name, &lanes, out_w, shift, w.relu, layer.format);
        let shape = UnitShape {
            lane: lane_path(&code, lane_w),
            lane_w,
            h,
            tail_adders: 1 + u32::from(matches!(code, WeightCode::Pow2 { .. })),
            acc_w,
            scale_bits: scaled.then_some(m_bits),
            scale_splits: m_bits >= 2 && out_w > m_bits / 2 + 1,
        };
        let mut unit = Folded {
            fold,
            nf,
            sf,
            xbits: x.bits(),
            xsigned: x.signed(),
            code,
            lane_w,
            h,
            shape,
            pipelining: Pipelining::fixed(1),
            tree_latency: 0,
            sum_w,
            acc_w,
            scaled,
            m_bits,
            out_w,
            core_latency: 0,
            rq,
            spram: false,
            dsp: 0,
            weights,
        };
        unit.pipeline(rule);
        unit
    }

    /// Places the registers as `rule` says for the unit's shape, and the
    /// latencies that follow.
    fn pipeline(&mut self, rule: PipeRule) {
        let p = rule.choose(&self.shape);
        // A register every `pipe` levels of the adder tree, and the lanes'.
        self.tree_latency = self.h / p.pipe + u32::from(p.lane_reg);
        self.core_latency =
            2 + self.tree_latency + u32::from(self.scaled) + u32::from(p.split_scale);
        self.pipelining = p;
    }

    /// Puts the first `dsp` lanes' multipliers on DSP blocks and places the
    /// registers again for the lanes' new path (the slower of a DSP lane and
    /// a LUT lane when some lanes stay in LUTs).
    pub fn on_dsps(&mut self, dsp: usize, rule: PipeRule, delays: Option<&Delays>) {
        self.dsp = dsp;
        if dsp == 0 {
            return;
        }
        let lut_lane = lane_path(&self.code, self.lane_w);
        self.shape.lane = match (dsp < self.fold.pe * self.fold.simd, delays) {
            (false, _) => DSP_LANE,
            (true, Some(d)) => DSP_LANE.slower(lut_lane, d),
            (true, None) => lut_lane,
        };
        self.pipeline(rule);
    }

    /// The scale's register stages: 0 (no scale), 1, or 2 (cut in two).
    pub fn scale_stages(&self) -> u32 {
        u32::from(self.scaled) * (1 + u32::from(self.pipelining.split_scale))
    }

    /// Register stages from an accepted beat to the unit's output register.
    pub fn latency(&self) -> u32 {
        self.core_latency + self.rq.latency
    }

    /// (width, depth) of the weight ROM: a word of PE x SIMD codes per beat.
    pub fn rom_shape(&self) -> (u64, u64) {
        let bits = self.code.bits() as u64;
        ((self.fold.pe * self.fold.simd) as u64 * bits, (self.nf * self.sf) as u64)
    }

    /// 16-bit words a weight ROM in SPRAM takes to load: each word of the
    /// ROM in 16-bit slices.
    pub fn spram_words(&self) -> u64 {
        let (width, depth) = self.rom_shape();
        depth * width.div_ceil(16)
    }

    /// SPRAM blocks (16384 words of 16 bits) the weight ROM takes there:
    /// slices side by side, banks of 16384 words deep.
    pub fn spram_blocks(&self) -> u64 {
        let (width, depth) = self.rom_shape();
        width.div_ceil(16) * depth.div_ceil(16384)
    }

    /// The ROMs' contents, for the layer's arithmetic `w` (the one the unit
    /// was planned from).
    pub fn roms(&self, w: &Weighted) -> Roms {
        let (fold, nf, sf) = (self.fold, self.nf, self.sf);
        let bits = self.code.bits();
        let mut weights = Vec::with_capacity(nf * sf);
        for f in 0..nf {
            for c in 0..sf {
                let mut codes = Vec::with_capacity(fold.pe * fold.simd);
                for p in 0..fold.pe {
                    for s in 0..fold.simd {
                        let v = self.weights[[f * fold.pe + p, c * fold.simd + s]];
                        codes.push(self.code.encode(v));
                    }
                }
                weights.push(pack_hex(&codes, bits));
            }
        }
        let per_fold = |values: &dyn Fn(usize) -> i64, bits: u32| -> Vec<String> {
            (0..nf)
                .map(|f| {
                    let v: Vec<i64> = (0..fold.pe).map(|p| values(f * fold.pe + p)).collect();
                    pack_hex(&v, bits)
                })
                .collect()
        };
        let biases = per_fold(&|j| w.bias[j], self.acc_w);
        let scales = match &w.scale {
            Some(s) => per_fold(&|j| s.multipliers[j], self.m_bits),
            None => vec![],
        };
        Roms { weights, biases, scales }
    }
}

fn min_max(values: impl Iterator<Item = i64>) -> (i64, i64) {
    values.fold((0, 0), |(lo, hi), v| (lo.min(v), hi.max(v)))
}
