//! Constant matrix–vector multiplication (CMVM) with shared subexpressions.
//!
//! `y = W·x` for a constant integer `W` is a sum of signed digits per output:
//! `y_j = Σ ±(x_i << k)`. Many outputs add the same pair of shifted inputs, so
//! the solver extracts pairs greedily (`greedy.rs`): a pattern
//! `x_a ± (x_b << Δ)` that occurs often across the outputs becomes one new
//! source (one adder), and every occurrence becomes a single digit of it. New
//! sources take part in later patterns like inputs do, so sums of three,
//! four, … terms are shared too (Hartley's common subexpression elimination
//! over signed digits, as da4ml does it). Outputs may also be built from a
//! similar output, `y_j = r_j ± y_p` (`chains.rs`, da4ml's first stage). What
//! remains of each output is summed shallowest terms first.
//!
//! Depth: a source made of sources at levels `a` and `b` sits at level
//! `max(a, b) + 1`, and an output whose terms sit at levels `l_i` needs
//! `⌈log2 Σ 2^l_i⌉` adder levels (summing shallowest first reaches that
//! bound). The solver never lets an output pass the layer's depth budget: the
//! deepest balanced tree the layer needs without sharing, plus
//! [`Sharing::extra_depth`]. Pairing two terms of one level never costs depth,
//! which is why many shared pairs come for free.
//!
//! The solver knows nothing of bounds or widths: `codegen::lower` gives every
//! node its proven interval like any other adder.

mod chains;
mod digits;
mod greedy;

use std::collections::BinaryHeap;

use serde::{Deserialize, Serialize};

use chains::chains;
use digits::{distance, row_digits};
pub use digits::{tree_depth, Digit, Solution, Sum};

/// How the unrolled constant layers share adders.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sharing {
    /// Share subexpressions across and within outputs (`false`: one balanced
    /// tree per output, as before sharing existed).
    pub enabled: bool,
    /// Adder levels an output may use beyond the deepest balanced tree of
    /// its layer: more levels, fewer adders.
    pub extra_depth: u32,
    /// Greedy passes with different tie orders on layers of at most
    /// [`SEARCH_DIGITS`] digits; the one with the fewest adders wins.
    pub tries: u32,
}

impl Default for Sharing {
    fn default() -> Sharing {
        Sharing { enabled: true, extra_depth: 0, tries: DEFAULT_TRIES }
    }
}

/// Tie orders tried by default on small layers.
pub const DEFAULT_TRIES: u32 = 16;

/// More tie orders than this are refused (each is a whole greedy pass).
pub const MAX_TRIES: u32 = 4096;

/// Depth budgets above this are refused: deeper adder chains than this are
/// never useful, and it keeps `2^level` sums in range.
pub const MAX_EXTRA_DEPTH: u32 = 16;

/// Adder levels of the deepest balanced tree the rows need without sharing.
pub fn plain_depth(rows: &[Vec<i64>]) -> u32 {
    rows.iter().map(|r| tree_depth(std::iter::repeat_n(0, distance(r, None)))).max().unwrap_or(0)
}

/// Layers of at most this many signed digits get the full search: every
/// chain length and [`Sharing::tries`] orders; larger ones one greedy pass.
pub const SEARCH_DIGITS: usize = 16_384;

/// Solves `rows` (`[outputs][inputs]`, weights as integers) within the depth
/// of [`plain_depth`] plus `sharing.extra_depth`.
pub fn solve(rows: &[Vec<i64>], inputs: usize, sharing: Sharing) -> Solution {
    let depth = plain_depth(rows) + sharing.extra_depth.min(MAX_EXTRA_DEPTH);
    if !sharing.enabled {
        let plain = Chains::new(rows, depth, 1).expect("one hop always fits");
        return solve_with(inputs, depth, &plain, None);
    }
    let digits: usize = rows.iter().map(|r| distance(r, None)).sum();
    let (tries, hops) = if digits <= SEARCH_DIGITS {
        (sharing.tries.max(1) as u64, depth.min(rows.len() as u32).max(1))
    } else {
        (1, 1)
    };
    // Chains of outputs (`y_j = r_j ± y_p`) take a level per hop: try each
    // chain length the budget leaves room for, and each order, and keep the
    // fewest adders (then the shallowest, then the first). The chains do not
    // depend on the order: found once per length.
    let plans: Vec<Option<Chains>> = (1..=hops).map(|h| Chains::new(rows, depth, h)).collect();
    let mut best: Option<Solution> = None;
    for seed in 0..tries {
        for plan in plans.iter().flatten() {
            let s = solve_with(inputs, depth, plan, Some(seed));
            if best.as_ref().is_none_or(|b| (s.adders(), s.depth()) < (b.adders(), b.depth())) {
                best = Some(s);
            }
        }
    }
    best.expect("one hop always fits")
}

/// Outputs as chains of at most `hops` differences (`hops = 1`: each output
/// on its own): every output's parent and the digits of its difference.
struct Chains {
    hops: u32,
    parents: Vec<Option<(usize, i64)>>,
    diffs: Vec<Vec<Digit>>,
}

impl Chains {
    fn new(rows: &[Vec<i64>], depth: u32, hops: u32) -> Option<Chains> {
        let parents = if hops > 1 { chains(rows, depth, hops)? } else { vec![None; rows.len()] };
        let diffs = rows
            .iter()
            .zip(&parents)
            .map(|(row, parent)| match parent {
                None => row_digits(row),
                Some((p, sign)) => {
                    let d: Vec<i64> =
                        row.iter().zip(&rows[*p]).map(|(&w, &v)| w - sign * v).collect();
                    row_digits(&d)
                }
            })
            .collect();
        Some(Chains { hops, parents, diffs })
    }
}

/// The outputs as `plan` chains them, the differences' digits shared when a
/// tie order `seed` is given, each output within `depth` levels.
fn solve_with(inputs: usize, depth: u32, plan: &Chains, seed: Option<u64>) -> Solution {
    let (hops, parents, diffs) = (plan.hops, &plan.parents, plan.diffs.clone());
    let mut sol =
        Solution { inputs, sums: Vec::new(), levels: vec![0; inputs], outputs: Vec::new() };
    // A difference at level L reaches its output after its hops: L + hops - 1.
    let diffs = match seed {
        Some(seed) => greedy::share(&mut sol, diffs, 1u128 << (depth + 1 - hops), seed),
        None => diffs,
    };
    // Sum what is left of each difference, shallowest first.
    let mut top = top_bits(&sol);
    let roots: Vec<Option<Digit>> =
        diffs.into_iter().map(|ds| huffman(&mut sol, &mut top, ds)).collect();
    // Then walk the chains from the zero root down.
    let mut done: Vec<Option<Option<Digit>>> = vec![None; parents.len()];
    for j in order(parents) {
        let y = match parents[j] {
            None => roots[j],
            Some((p, sign)) => {
                let up = done[p]
                    .expect("parents come first")
                    .map(|d| Digit { negate: d.negate ^ (sign < 0), ..d });
                match (roots[j], up) {
                    (Some(r), Some(u)) => Some(sol.add(r, u)),
                    (r, u) => r.or(u),
                }
            }
        };
        done[j] = Some(y);
    }
    sol.outputs = done.into_iter().map(|y| y.expect("every output visited")).collect();
    sol
}

/// Sums the digits with the fewest levels: always the two shallowest, and
/// among those of one level the narrowest (lowest top bit, then lowest
/// shift), which keeps the partial sums narrow. `top` holds every source's
/// rough top bit and grows with the new sums.
fn huffman(sol: &mut Solution, top: &mut Vec<i32>, ds: Vec<Digit>) -> Option<Digit> {
    use std::cmp::Reverse;
    /// (level, top bit, shift), then the order terms came in.
    type Term = ((u32, i32, i32), usize, Digit);
    let key = |sol: &Solution, top: &[i32], d: Digit| {
        (sol.levels[d.src as usize], top[d.src as usize] + d.shift, d.shift)
    };
    let mut heap: BinaryHeap<Reverse<Term>> =
        ds.into_iter().enumerate().map(|(k, d)| Reverse((key(sol, top, d), k, d))).collect();
    let mut seq = heap.len();
    loop {
        let Reverse((_, _, p)) = heap.pop()?;
        let Some(Reverse((_, _, q))) = heap.pop() else { return Some(p) };
        let d = sol.add(p, q);
        push_top(top, sol.sums[sol.sums.len() - 1]);
        heap.push(Reverse((key(sol, top, d), seq, d)));
        seq += 1;
    }
}

/// The rough top bit of every source: inputs count as 8 bits (all inputs of
/// a layer are alike, so only the order matters), a sum one above its wider
/// shifted operand.
fn top_bits(sol: &Solution) -> Vec<i32> {
    let mut top = vec![8; sol.inputs];
    for &s in &sol.sums {
        push_top(&mut top, s);
    }
    top
}

fn push_top(top: &mut Vec<i32>, s: Sum) {
    top.push((top[s.a.src as usize] + s.a.shift).max(top[s.b.src as usize] + s.b.shift) + 1);
}

/// Outputs in an order where every parent comes before its children.
fn order(parents: &[Option<(usize, i64)>]) -> Vec<usize> {
    let hop = |mut j: usize| {
        let mut h = 0;
        while let Some((p, _)) = parents[j] {
            j = p;
            h += 1;
        }
        h
    };
    let mut idx: Vec<usize> = (0..parents.len()).collect();
    idx.sort_by_key(|&j| (hop(j), j));
    idx
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn product(rows: &[Vec<i64>], x: &[i64]) -> Vec<i64> {
        rows.iter().map(|r| r.iter().zip(x).map(|(w, x)| w * x).sum()).collect()
    }

    fn plain(rows: &[Vec<i64>], inputs: usize) -> Solution {
        solve(rows, inputs, Sharing { enabled: false, extra_depth: 0, tries: 1 })
    }

    #[test]
    fn shares_a_pair_common_to_outputs() {
        // y0 = x0 + 2 x1 + x2, y1 = x0 + 2 x1 - x2: x0 + 2 x1 once.
        let rows = vec![vec![1, 2, 1], vec![1, 2, -1]];
        let s = solve(&rows, 3, Sharing::default());
        assert_eq!(s.adders(), 3);
        assert_eq!(plain(&rows, 3).adders(), 4);
        assert_eq!(s.eval(&[3, -5, 7]), product(&rows, &[3, -5, 7]));
    }

    #[test]
    fn shares_within_one_constant() {
        // 341 = 1 + 4 + 16 + 64 + 256: (x + 4x) twice.
        let rows = vec![vec![341]];
        let s = solve(&rows, 1, Sharing { enabled: true, extra_depth: 2, tries: 4 });
        assert!(s.adders() < plain(&rows, 1).adders(), "{s:?}");
        assert_eq!(s.eval(&[-9]), vec![-9 * 341]);
    }

    #[test]
    fn depth_budget_holds() {
        // Four terms per output: two levels; shared pairs of one level each
        // cost nothing, a chain would.
        let rows = vec![vec![1, 1, 1, 1], vec![1, 1, 1, -1], vec![1, 1, -1, 1]];
        let s = solve(&rows, 4, Sharing::default());
        assert!(s.depth() <= 2, "{s:?}");
        assert!(s.adders() < plain(&rows, 4).adders());
    }

    #[test]
    fn chains_reuse_similar_outputs() {
        // y1 = y0 + x3 needs one adder once y0 exists, given a level more.
        let rows = vec![vec![3, 5, 7, 0], vec![3, 5, 7, 1], vec![-3, -5, -7, 0]];
        let s = solve(&rows, 4, Sharing { enabled: true, extra_depth: 1, tries: 4 });
        assert_eq!(s.eval(&[1, 2, 3, 4]), product(&rows, &[1, 2, 3, 4]));
        assert!(s.depth() <= plain_depth(&rows) + 1);
        // y0 needs its own adders; y1 one more; y2 none.
        let y0 = plain(&rows[..1], 4).adders();
        assert!(s.adders() <= y0 + 1, "{s:?}");
    }

    #[test]
    fn tree_depth_is_the_huffman_bound() {
        assert_eq!(tree_depth([].into_iter()), 0);
        assert_eq!(tree_depth([0].into_iter()), 0);
        assert_eq!(tree_depth([0, 0].into_iter()), 1);
        assert_eq!(tree_depth([0, 0, 0].into_iter()), 2);
        assert_eq!(tree_depth([1, 0, 0].into_iter()), 2);
        assert_eq!(tree_depth([2, 0].into_iter()), 3);
    }

    proptest! {
        #[test]
        fn solution_computes_the_product_within_its_depth(
            rows in prop::collection::vec(prop::collection::vec(-300i64..300, 6), 1..8),
            x in prop::collection::vec(-1000i64..1000, 6),
            extra_depth in 0u32..4,
        ) {
            let s = solve(&rows, 6, Sharing { enabled: true, extra_depth, tries: 2 });
            prop_assert_eq!(s.eval(&x), product(&rows, &x));
            let p = plain(&rows, 6);
            prop_assert_eq!(p.eval(&x), product(&rows, &x));
            prop_assert!(s.adders() <= p.adders());
            prop_assert!(s.depth() <= plain_depth(&rows) + extra_depth);
            prop_assert_eq!(p.depth(), plain_depth(&rows));
        }
    }
}
