//! A folded matrix-vector unit: the parameters of `hdl/sk_mvu.v` and the
//! contents of its ROMs, derived from one weighted layer of the integer
//! network with its weights in stream order.

use serde::Serialize;

use super::fold::Fold;
use crate::codegen::build::requant_graph;
use crate::codegen::graph::LayerGraph;
use crate::codegen::hex::pack_hex;
use crate::quant::contract::width_for;
use crate::quant::{dot_bounds, IntLayer, Interval, WeightKind, Weighted};

/// `sk_mvu`'s KIND parameter.
pub fn kind_code(kind: WeightKind) -> u32 {
    match kind {
        WeightKind::Pow2 { .. } => 0,
        WeightKind::Binary => 1,
        WeightKind::Ternary => 2,
        WeightKind::Fixed { .. } => 3,
        WeightKind::Shared { .. } => 4,
    }
}

/// Bits of a signed word that holds every value of `[lo, hi]` (at least 2).
pub fn signed_bits(lo: i64, hi: i64) -> u32 {
    width_for(lo.min(-1), hi.max(0)).1
}

/// `ceil(log2(n))`, 0 for n <= 1.
pub fn clog2(n: usize) -> u32 {
    usize::BITS - n.saturating_sub(1).leading_zeros()
}

/// Everything `sk_mvu` is instantiated with, and its ROM words as hex.
#[derive(Clone, Debug, Serialize)]
pub struct Folded {
    pub fold: Fold,
    pub nf: usize,
    pub sf: usize,
    pub xbits: u32,
    pub xsigned: bool,
    pub kind: u32,
    pub code: u32,
    /// Shared weights: the codebook's values (a code is an index into it).
    pub codebook: Vec<i64>,
    pub cb_bits: u32,
    pub lane_w: u32,
    pub h: u32,
    pub pipe: u32,
    /// Register stages in the adder tree.
    pub tree_latency: u32,
    pub sum_w: u32,
    pub acc_w: u32,
    pub scaled: bool,
    pub m_bits: u32,
    pub out_w: u32,
    /// Register stages from an accepted beat to the accumulator output.
    pub core_latency: u32,
    #[serde(skip)]
    pub weights: Vec<String>,
    #[serde(skip)]
    pub biases: Vec<String>,
    #[serde(skip)]
    pub scales: Vec<String>,
    /// The requantization of the PE accumulators (registered).
    #[serde(skip)]
    pub rq: LayerGraph,
}

impl Folded {
    /// The unit for `layer` (its arithmetic `w`), with `weights` the `[M, N]`
    /// matrix in stream order and `inputs` the bounds of the N inputs in that
    /// order. `pipe` adder levels run between tree registers (0: none).
    pub fn new(
        layer: &IntLayer,
        w: &Weighted,
        weights: &ndarray::Array2<i32>,
        inputs: &[Interval],
        fold: Fold,
        pipe: u32,
    ) -> Folded {
        let (m, n) = weights.dim();
        let (nf, sf) = (m / fold.pe, n / fold.simd);
        let x = layer.input_format;
        let xs = x.bits() + u32::from(!x.signed());
        let h = clog2(fold.simd);
        let (code, lane_w, sum_w, codebook, cb_bits) = match w.kind {
            WeightKind::Pow2 { .. } => {
                let kmax =
                    weights.iter().map(|v| v.unsigned_abs().max(1).ilog2()).max().unwrap_or(0);
                // The shift field: an unsigned number up to kmax (at least a bit).
                let kb = width_for(0, kmax as i64).1;
                (kb + 2, xs + kmax + 1, xs + kmax + 1 + h, vec![], 2)
            }
            WeightKind::Binary => (1, xs, xs + h + 2, vec![], 2),
            WeightKind::Ternary => (2, xs, xs + h + 1, vec![], 2),
            WeightKind::Fixed { .. } => {
                let (lo, hi) = min_max(weights.iter().map(|&v| v as i64));
                let bits = signed_bits(lo, hi);
                (bits, xs + bits, xs + bits + h, vec![], 2)
            }
            WeightKind::Shared { .. } => {
                let book: Vec<i64> = weights
                    .iter()
                    .map(|&v| v as i64)
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect();
                let (lo, hi) = min_max(book.iter().copied());
                let bits = signed_bits(lo, hi);
                (clog2(book.len()).max(1), xs + bits, xs + bits + h, book, bits)
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
        // A register every `pipe` levels of the adder tree (none when 0).
        let tl = h.checked_div(pipe).unwrap_or(0);
        let kind = kind_code(w.kind);
        let encode = |v: i32| -> i64 {
            match w.kind {
                WeightKind::Pow2 { .. } => {
                    let kb = code - 2;
                    if v == 0 {
                        0
                    } else {
                        let k = v.unsigned_abs().ilog2() as i64;
                        (1 << (kb + 1)) | (((v < 0) as i64) << kb) | k
                    }
                }
                WeightKind::Binary => (v > 0) as i64,
                WeightKind::Ternary => match v {
                    1 => 0b01,
                    -1 => 0b10,
                    _ => 0,
                },
                WeightKind::Fixed { .. } => v as i64,
                WeightKind::Shared { .. } => {
                    codebook.binary_search(&(v as i64)).expect("a codebook value") as i64
                }
            }
        };
        let mut rom = Vec::with_capacity(nf * sf);
        for f in 0..nf {
            for c in 0..sf {
                let mut codes = Vec::with_capacity(fold.pe * fold.simd);
                for p in 0..fold.pe {
                    for s in 0..fold.simd {
                        codes.push(encode(weights[[f * fold.pe + p, c * fold.simd + s]]));
                    }
                }
                rom.push(pack_hex(&codes, code));
            }
        }
        let biases = (0..nf)
            .map(|f| {
                let b: Vec<i64> = (0..fold.pe).map(|p| w.bias[f * fold.pe + p]).collect();
                pack_hex(&b, acc_w)
            })
            .collect();
        let scales = match &w.scale {
            Some(s) => (0..nf)
                .map(|f| {
                    let v: Vec<i64> =
                        (0..fold.pe).map(|p| s.multipliers[f * fold.pe + p]).collect();
                    pack_hex(&v, m_bits)
                })
                .collect(),
            None => vec![],
        };
        Folded {
            fold,
            nf,
            sf,
            xbits: x.bits(),
            xsigned: x.signed(),
            kind,
            code,
            codebook,
            cb_bits,
            lane_w,
            h,
            pipe,
            tree_latency: tl,
            sum_w,
            acc_w,
            scaled,
            m_bits,
            out_w,
            core_latency: 2 + tl + u32::from(scaled),
            weights: rom,
            biases,
            scales,
            rq,
        }
    }

    /// Register stages from an accepted beat to the unit's output register.
    pub fn latency(&self) -> u32 {
        self.core_latency + self.rq.latency
    }

    /// Bits of the weight ROM.
    /// (width, depth) of the weight ROM: a word of PE x SIMD codes per beat.
    pub fn rom_shape(&self) -> (u64, u64) {
        ((self.fold.pe * self.fold.simd) as u64 * self.code as u64, (self.nf * self.sf) as u64)
    }
}

fn min_max(values: impl Iterator<Item = i64>) -> (i64, i64) {
    values.fold((0, 0), |(lo, hi), v| (lo.min(v), hi.max(v)))
}
