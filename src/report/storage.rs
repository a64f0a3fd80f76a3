//! Storage of an integer network's parameters, counted the way Deep
//! Compression (Han et al. 2016) counts it: each weighted layer is stored dense
//! (one code per weight) or sparse (the nonzero entries, each with a relative
//! index of 5 bits for dense layers and 8 for convolutions, a filler entry
//! whenever a gap is longer than the index can say), whichever is smaller.
//! Shared (k-means) layers store Huffman-coded codebook indices (and Huffman-coded
//! relative indices) plus the codebook itself. Biases count 32 bits each (none
//! when all are zero), channel multipliers `SCALE_BITS`.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use serde::Serialize;

use crate::quant::{IntNetwork, IntOp, WeightKind, Weighted, SCALE_BITS};

/// Relative-index bits of Deep Compression's sparse format.
pub const DENSE_INDEX_BITS: u32 = 5;
pub const CONV_INDEX_BITS: u32 = 8;

/// Huffman code lengths for symbol frequencies (zero-frequency symbols get 0).
/// A lone symbol gets 1 bit. Ties break by symbol order, so the lengths are
/// deterministic.
pub fn huffman_lengths(freqs: &[u64]) -> Vec<u32> {
    let mut lengths = vec![0u32; freqs.len()];
    let used: Vec<usize> = (0..freqs.len()).filter(|&i| freqs[i] > 0).collect();
    if used.len() == 1 {
        lengths[used[0]] = 1;
    }
    if used.len() <= 1 {
        return lengths;
    }
    // Nodes: leaves first, then internal ones; parent links give the depths.
    let mut parent: Vec<usize> = vec![usize::MAX; used.len()];
    let mut heap: BinaryHeap<Reverse<(u64, usize)>> =
        used.iter().enumerate().map(|(node, &s)| Reverse((freqs[s], node))).collect();
    while heap.len() > 1 {
        let Reverse((fa, a)) = heap.pop().expect("two nodes");
        let Reverse((fb, b)) = heap.pop().expect("two nodes");
        let node = parent.len();
        parent.push(usize::MAX);
        parent[a] = node;
        parent[b] = node;
        heap.push(Reverse((fa + fb, node)));
    }
    for (leaf, &s) in used.iter().enumerate() {
        let (mut depth, mut n) = (0, leaf);
        while parent[n] != usize::MAX {
            n = parent[n];
            depth += 1;
        }
        lengths[s] = depth;
    }
    lengths
}

/// Bits of a symbol stream under its own Huffman code.
pub fn huffman_bits<T: Ord + Copy>(symbols: impl Iterator<Item = T>) -> u64 {
    let mut hist: BTreeMap<T, u64> = BTreeMap::new();
    for s in symbols {
        *hist.entry(s).or_default() += 1;
    }
    let freqs: Vec<u64> = hist.values().copied().collect();
    huffman_lengths(&freqs).iter().zip(&freqs).map(|(&l, &f)| l as u64 * f).sum()
}

/// The entries of the sparse format: `(relative index, value)` in flat order,
/// with a filler `(max gap, 0)` whenever a gap exceeds what `index_bits` can say.
pub fn sparse_entries(weights: &[i32], index_bits: u32) -> Vec<(u32, i32)> {
    let max_gap = (1u32 << index_bits) - 1;
    let mut entries = Vec::new();
    let mut last: i64 = -1;
    for (i, &w) in weights.iter().enumerate() {
        if w == 0 {
            continue;
        }
        let mut gap = (i as i64 - last - 1) as u32;
        while gap > max_gap {
            entries.push((max_gap, 0));
            gap -= max_gap + 1;
        }
        entries.push((gap, w));
        last = i as i64;
    }
    entries
}

/// How one layer's parameters are stored.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LayerStorage {
    pub name: String,
    /// `dense` or `sparse`.
    pub format: &'static str,
    pub weights: usize,
    pub nonzero: usize,
    /// Bits of one weight code before entropy coding.
    pub code_bits: u32,
    /// Bits of the weight codes (Huffman-coded for shared layers).
    pub weight_bits: u64,
    /// Bits of the sparse format's relative indices (0 when dense).
    pub index_bits: u64,
    /// Bits of the codebook (shared layers) and channel multipliers.
    pub table_bits: u64,
    pub bias_bits: u64,
    pub total_bits: u64,
}

/// The storage of every weighted layer.
pub fn storage(net: &IntNetwork) -> Vec<LayerStorage> {
    net.layers()
        .iter()
        .filter_map(|l| {
            let (w, conv) = match &l.op {
                IntOp::Dense(w) => (w, false),
                IntOp::Conv2d { layer, .. } => (layer, true),
                _ => return None,
            };
            Some(layer_storage(&l.name, w, conv))
        })
        .collect()
}

fn layer_storage(name: &str, w: &Weighted, conv: bool) -> LayerStorage {
    let flat: Vec<i32> = w.weights.iter().copied().collect();
    let nonzero = flat.iter().filter(|&&v| v != 0).count();
    let code_bits = w.kind.code_bits();
    let shared = matches!(w.kind, WeightKind::Shared { .. });
    let index = if conv { CONV_INDEX_BITS } else { DENSE_INDEX_BITS };
    let entries = sparse_entries(&flat, index);
    let (dense_w, sparse_w, sparse_i) = if shared {
        (
            huffman_bits(flat.iter().copied()),
            huffman_bits(entries.iter().map(|e| e.1)),
            huffman_bits(entries.iter().map(|e| e.0)),
        )
    } else {
        let n = entries.len() as u64;
        (flat.len() as u64 * code_bits as u64, n * code_bits as u64, n * index as u64)
    };
    let (format, weight_bits, index_bits) = if sparse_w + sparse_i < dense_w {
        ("sparse", sparse_w, sparse_i)
    } else {
        ("dense", dense_w, 0)
    };
    let codebook = match w.kind {
        WeightKind::Shared { bits, .. } => w.distinct_nonzero() as u64 * bits as u64,
        _ => 0,
    };
    let scales = w.scale.as_ref().map_or(0, |s| s.multipliers.len() as u64 * SCALE_BITS as u64);
    // A layer whose biases are all zero stores none.
    let bias_bits = if w.bias.iter().all(|&b| b == 0) { 0 } else { 32 * w.bias.len() as u64 };
    LayerStorage {
        name: name.to_string(),
        format,
        weights: flat.len(),
        nonzero,
        code_bits,
        weight_bits,
        index_bits,
        table_bits: codebook + scales,
        bias_bits,
        total_bits: weight_bits + index_bits + codebook + scales + bias_bits,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn huffman_of_a_skewed_source() {
        // Frequencies 8, 4, 2, 1, 1: lengths 1, 2, 3, 4, 4.
        assert_eq!(huffman_lengths(&[8, 4, 2, 1, 1]), vec![1, 2, 3, 4, 4]);
        assert_eq!(huffman_lengths(&[0, 5, 0]), vec![0, 1, 0]);
        assert_eq!(huffman_bits([7, 7, 7].into_iter()), 3);
    }

    #[test]
    fn gaps_longer_than_the_index_get_fillers() {
        let mut w = vec![0; 40];
        w[3] = 5;
        w[4] = -1;
        w[39] = 2; // gap 34 with 5-bit indices (max 31): one filler
        assert_eq!(sparse_entries(&w, 5), vec![(3, 5), (0, -1), (31, 0), (2, 2)]);
    }

    fn weighted(kind: WeightKind, weights: Vec<i32>, bias: Vec<i64>) -> Weighted {
        let n = weights.len() / bias.len();
        Weighted {
            kind,
            exponent: 0,
            weights: ndarray::Array2::from_shape_vec((bias.len(), n), weights).unwrap().into_dyn(),
            bias,
            scale: None,
            relu: false,
        }
    }

    #[test]
    fn a_dense_layer_is_stored_dense_and_a_sparse_one_sparse() {
        // 2 x 8 fixed4: 16 codes of 4 bits; biases 2 x 32.
        let w = weighted(
            WeightKind::Fixed { bits: 4 },
            (1..=16).map(|v| v % 7 - 3).collect(),
            vec![1, 0],
        );
        let s = layer_storage("d", &w, false);
        assert_eq!((s.format, s.weight_bits, s.index_bits, s.bias_bits), ("dense", 64, 0, 64));
        // One nonzero weight in 16: one entry of 4 + 5 bits beats 64 bits; no biases.
        let mut v = vec![0; 16];
        v[9] = 3;
        let s = layer_storage("s", &weighted(WeightKind::Fixed { bits: 4 }, v, vec![0, 0]), false);
        assert_eq!((s.format, s.weight_bits, s.index_bits, s.bias_bits), ("sparse", 4, 5, 0));
        assert_eq!(s.total_bits, 9);
    }

    #[test]
    fn shared_layers_count_huffman_codes_and_the_codebook() {
        // Two values, one three times as frequent: 1 bit each; codebook 2 x 8 bits.
        let v = vec![5, 5, 5, -7, 5, 5, 5, -7];
        let w = weighted(WeightKind::Shared { index_bits: 2, bits: 8 }, v, vec![3]);
        let s = layer_storage("k", &w, false);
        assert_eq!(
            (s.format, s.weight_bits, s.table_bits, s.total_bits),
            ("dense", 8, 16, 8 + 16 + 32)
        );
    }

    proptest! {
        #[test]
        fn huffman_lengths_are_a_complete_prefix_code_within_a_bit_of_entropy(
            freqs in proptest::collection::vec(0u64..1000, 2..40)
        ) {
            prop_assume!(freqs.iter().filter(|&&f| f > 0).count() >= 2);
            let l = huffman_lengths(&freqs);
            // Kraft equality: a full binary tree.
            let kraft: f64 = l.iter().filter(|&&x| x > 0).map(|&x| (-(x as f64)).exp2()).sum();
            prop_assert!((kraft - 1.0).abs() < 1e-9);
            let total: f64 = freqs.iter().sum::<u64>() as f64;
            let bits: f64 = l.iter().zip(&freqs).map(|(&l, &f)| l as f64 * f as f64).sum();
            let entropy: f64 = freqs.iter().filter(|&&f| f > 0)
                .map(|&f| { let p = f as f64 / total; -p * p.log2() * total }).sum();
            prop_assert!(bits >= entropy - 1e-6 && bits < entropy + total);
        }

        #[test]
        fn sparse_entries_decode_to_the_weights(
            w in proptest::collection::vec(prop_oneof![4 => Just(0i32), 1 => -3i32..4], 0..300),
            bits in 2u32..6
        ) {
            let mut out = Vec::new();
            for (gap, v) in sparse_entries(&w, bits) {
                prop_assert!(gap < 1 << bits);
                out.extend(std::iter::repeat_n(0, gap as usize));
                out.push(v);
            }
            // Trailing zeros are implied by the length.
            out.resize(w.len(), 0);
            prop_assert_eq!(out, w);
        }
    }
}
