//! The solver's vocabulary: signed digits of sources, adders, the solved
//! matrix, and the depth and digit counts every stage of the solver uses.

use crate::quant::contract::csd;

/// `±(source << shift)`: a signed digit of an output or an operand of a sum.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digit {
    /// An input (`0..inputs`) or a shared sum (`inputs + k` is `sums[k]`).
    pub src: u32,
    pub shift: i32,
    pub negate: bool,
}

/// An adder: `a + b` (`b` negated: `a - b`), `a` never negated, one of the
/// two unshifted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sum {
    pub a: Digit,
    pub b: Digit,
}

/// The solved matrix: every adder, and the source each output is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Solution {
    pub inputs: usize,
    /// Source `inputs + k` is `sums[k]`; operands come before their sums.
    pub sums: Vec<Sum>,
    /// Adder level of every source (inputs are level 0).
    pub levels: Vec<u32>,
    /// Each output as a digit of a source, or `None` for zero.
    pub outputs: Vec<Option<Digit>>,
}

impl Solution {
    /// Adders of the product.
    pub fn adders(&self) -> u64 {
        self.sums.len() as u64
    }

    /// Adder levels from the inputs to the deepest output.
    pub fn depth(&self) -> u32 {
        self.outputs.iter().flatten().map(|d| self.levels[d.src as usize]).max().unwrap_or(0)
    }

    /// The outputs for integer inputs `x` (for tests).
    pub fn eval(&self, x: &[i64]) -> Vec<i64> {
        let term = |v: &[i128], d: Digit| {
            let s = v[d.src as usize];
            let s = if d.shift >= 0 { s << d.shift } else { s >> -d.shift };
            if d.negate {
                -s
            } else {
                s
            }
        };
        let mut v: Vec<i128> = x.iter().map(|&x| x as i128).collect();
        for s in &self.sums {
            let value = term(&v, s.a) + term(&v, s.b);
            v.push(value);
        }
        self.outputs.iter().map(|d| d.map_or(0, |d| term(&v, d) as i64)).collect()
    }

    /// A new adder `p + q`, common shift and double negation factored out:
    /// returns the digit of the new source that equals `p + q`.
    pub(super) fn add(&mut self, p: Digit, q: Digit) -> Digit {
        let common = p.shift.min(q.shift);
        let (p, q) =
            (Digit { shift: p.shift - common, ..p }, Digit { shift: q.shift - common, ..q });
        let (a, b, negate) = match (p.negate, q.negate) {
            (false, _) => (p, q, false),
            (true, false) => (q, p, false),
            (true, true) => (Digit { negate: false, ..p }, Digit { negate: false, ..q }, true),
        };
        let level = self.levels[a.src as usize].max(self.levels[b.src as usize]) + 1;
        self.sums.push(Sum { a, b });
        self.levels.push(level);
        Digit { src: self.levels.len() as u32 - 1, shift: common, negate }
    }
}

/// `⌈log2 Σ 2^l⌉` over the levels `l`: the adder levels a sum needs when it
/// adds its shallowest terms first.
pub fn tree_depth(levels: impl Iterator<Item = u32>) -> u32 {
    let total: u128 = levels.map(|l| 1u128 << l).sum::<u128>();
    if total <= 1 {
        0
    } else {
        128 - (total - 1).leading_zeros()
    }
}

/// The signed digits of `row`, sorted by `(src, shift)`.
pub(super) fn row_digits(row: &[i64]) -> Vec<Digit> {
    let mut ds: Vec<Digit> = row
        .iter()
        .enumerate()
        .flat_map(|(i, &w)| {
            csd(w).into_iter().map(move |t| Digit {
                src: i as u32,
                shift: t.shift as i32,
                negate: t.negative,
            })
        })
        .collect();
    ds.sort();
    ds
}

/// Signed digits of `row - sign·parent` (all of `row` without a parent).
pub(super) fn distance(row: &[i64], parent: Option<(&[i64], i64)>) -> usize {
    match parent {
        None => row.iter().map(|&w| csd(w).len()).sum(),
        Some((p, sign)) => row.iter().zip(p).map(|(&w, &v)| csd(w - sign * v).len()).sum(),
    }
}
