//! Folding: how many PE rows and SIMD lanes each matrix-vector unit gets.
//!
//! A layer with M outputs and N inputs per output position, folded as
//! PE x SIMD (PE divides M, SIMD divides N), takes NF * SF cycles per
//! position, NF = M / PE neuron folds and SF = N / SIMD synapse folds. The
//! default gives every layer the fewest lanes that keep it within a target
//! of cycles per image (FINN's balancing rule); the target is the slowest
//! part that no folding can speed up (the input stream, or a sliding window
//! walking its padded image), or a larger figure the user asks for.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::codegen::error::CodegenError;
use crate::quant::{IntLayer, IntNetwork, IntOp};

/// PE rows x SIMD lanes of one matrix-vector unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Fold {
    pub pe: usize,
    pub simd: usize,
}

impl fmt::Display for Fold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.pe, self.simd)
    }
}

/// Per-layer foldings as the CLI spells them: `conv2=4x25,fc1=2x16`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Folds(pub BTreeMap<String, Fold>);

impl FromStr for Folds {
    type Err = String;
    fn from_str(s: &str) -> Result<Folds, String> {
        let mut map = BTreeMap::new();
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let bad = || {
                format!("folding `{item}`: expected LAYER=PExSIMD, like conv2=4x25 (whole numbers)")
            };
            let (name, fold) = item.split_once('=').ok_or_else(bad)?;
            let (pe, simd) = fold.split_once(['x', 'X']).ok_or_else(bad)?;
            let pe: usize = pe.trim().parse().map_err(|_| bad())?;
            let simd: usize = simd.trim().parse().map_err(|_| bad())?;
            if pe == 0 || simd == 0 {
                return Err(format!("folding `{item}`: PE and SIMD must be at least 1"));
            }
            if map.insert(name.trim().to_string(), Fold { pe, simd }).is_some() {
                return Err(format!("folding: layer `{}` is given twice", name.trim()));
            }
        }
        Ok(Folds(map))
    }
}

/// The divisors of `n`, in increasing order.
pub fn divisors(n: usize) -> Vec<usize> {
    let mut small = Vec::new();
    let mut large = Vec::new();
    let mut d = 1;
    while d * d <= n {
        if n.is_multiple_of(d) {
            small.push(d);
            if d * d != n {
                large.push(n / d);
            }
        }
        d += 1;
    }
    small.extend(large.into_iter().rev());
    small
}

/// The divisors of `n` as a short list for an error message.
pub fn allowed(n: usize) -> String {
    let d = divisors(n);
    if d.len() <= 16 {
        d.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")
    } else {
        let head: Vec<String> = d[..8].iter().map(usize::to_string).collect();
        let tail: Vec<String> = d[d.len() - 4..].iter().map(usize::to_string).collect();
        format!("{}, ..., {} (the divisors of {n})", head.join(", "), tail.join(", "))
    }
}

/// The folding with the fewest lanes whose cycles per image, `cycles(NF *
/// SF)` (NF * SF beats per input vector), stay within `target`; among those,
/// the fewest PE rows (fewer accumulators). Fully parallel when even that is
/// slower than the target. `cycles` must not decrease as its argument grows
/// (a unit with more beats per vector is never faster): the largest feasible
/// product is found by bisection, with a handful of calls.
pub fn choose(m: usize, n: usize, target: u64, mut cycles: impl FnMut(usize) -> u64) -> Fold {
    let (pes, simds) = (divisors(m), divisors(n));
    let mut products: Vec<usize> =
        pes.iter().flat_map(|&nf| simds.iter().map(move |&sf| nf * sf)).collect();
    products.sort_unstable();
    products.dedup();
    // products[..lo] fit the target, products[hi..] do not.
    let (mut lo, mut hi) = (0, products.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        if cycles(products[mid]) <= target {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    let f = if lo == 0 { 1 } else { products[lo - 1] };
    let nf = pes
        .iter()
        .rev()
        .copied()
        .find(|&nf| f.is_multiple_of(nf) && n.is_multiple_of(f / nf))
        .expect("f is a product of a divisor of m and one of n");
    Fold { pe: m / nf, simd: n / (f / nf) }
}

/// The unit of a weighted layer: `(M, N, positions)`, M outputs of N inputs
/// each (a convolution's window of KH x KW x C codes) at `positions` output
/// positions per image. `None` for layers without weights.
pub fn unit_shape(layer: &IntLayer) -> Option<(usize, usize, usize)> {
    match &layer.op {
        IntOp::Dense(w) => Some((w.out_channels(), w.weights.shape()[1], 1)),
        IntOp::Conv2d { layer: w, .. } => {
            let s = w.weights.shape();
            Some((s[0], s[1] * s[2] * s[3], layer.output.numel() / s[0]))
        }
        IntOp::MaxPool2d(_) | IntOp::Relu | IntOp::Flatten => None,
    }
}

/// Why `name`, given for a weighted layer (as `what`, when not a folding),
/// is refused: the network's weighted layers.
pub fn not_weighted(net: &IntNetwork, name: &str, what: &str) -> String {
    let names: Vec<&str> = net
        .layers()
        .iter()
        .filter(|l| l.op.weighted().is_some())
        .map(|l| l.name.as_str())
        .collect();
    format!(
        "`{name}`{what} is not a dense or convolution layer of the network; its weighted layers \
         are {}",
        names.join(", ")
    )
}

/// Checks that every folding of `folds` names a weighted layer of `net` and
/// divides its unit (PE its outputs, SIMD its inputs).
pub fn check_folds(net: &IntNetwork, folds: &Folds) -> Result<(), CodegenError> {
    for (name, &fold) in &folds.0 {
        let unit = net.layers().iter().find(|l| &l.name == name).and_then(|l| {
            let (m, n, positions) = unit_shape(l)?;
            Some(check_fold(l, fold, m, n, positions))
        });
        match unit {
            Some(checked) => checked?,
            None => return Err(CodegenError::Fold(not_weighted(net, name, ""))),
        }
    }
    Ok(())
}

/// Checks that `fold` divides the unit of `layer`: PE its `m` outputs (or
/// output channels), SIMD its `n` inputs (or window values).
fn check_fold(
    layer: &IntLayer,
    fold: Fold,
    m: usize,
    n: usize,
    positions: usize,
) -> Result<(), CodegenError> {
    let what = if positions > 1 { "output channels" } else { "outputs" };
    if !m.is_multiple_of(fold.pe) {
        return Err(CodegenError::Fold(format!(
            "layer `{}`: PE {} does not divide its {m} {what}; use one of {}",
            layer.name,
            fold.pe,
            allowed(m)
        )));
    }
    if !n.is_multiple_of(fold.simd) {
        let per =
            if positions > 1 { "window values (kernel x kernel x channels)" } else { "inputs" };
        return Err(CodegenError::Fold(format!(
            "layer `{}`: SIMD {} does not divide its {n} {per}; use one of {}",
            layer.name,
            fold.simd,
            allowed(n)
        )));
    }
    Ok(())
}

/// The fold of `layer`: `given` (checked to divide its `m` outputs and `n`
/// inputs per output), else the fewest lanes within `target`.
pub(super) fn pick_fold(
    layer: &IntLayer,
    given: Option<Fold>,
    (m, n, positions): (usize, usize, usize),
    target: u64,
    cycles: impl FnMut(usize) -> u64,
) -> Result<Fold, CodegenError> {
    match given {
        Some(fold) => check_fold(layer, fold, m, n, positions).map(|()| fold),
        None => Ok(choose(m, n, target, cycles)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn divisors_are_complete_and_sorted() {
        assert_eq!(divisors(1), [1]);
        assert_eq!(divisors(12), [1, 2, 3, 4, 6, 12]);
        assert_eq!(divisors(49), [1, 7, 49]);
        for n in 1..200 {
            let d = divisors(n);
            assert_eq!(d, (1..=n).filter(|k| n % k == 0).collect::<Vec<_>>());
        }
    }

    #[test]
    fn the_choice_meets_the_target_with_the_fewest_lanes() {
        // 16 x 150 at 100 cycles per beat of a vector, within 1024 cycles: 10 folds.
        let per_position = |f: usize| 100 * f as u64;
        let f = choose(16, 150, 1024, per_position);
        assert_eq!(f.pe * f.simd, 16 * 150 / 10);
        // Fewer PE rows win among equals: NF 2, SF 5 beats NF 1, SF 10.
        assert_eq!(f, Fold { pe: 8, simd: 30 });
        // A target below one cycle per position gives the fully parallel unit.
        assert_eq!(choose(6, 25, 100, |f| 784 * f as u64), Fold { pe: 6, simd: 25 });
        // A generous target folds everything.
        assert_eq!(choose(10, 84, 1_000_000, |f| f as u64), Fold { pe: 1, simd: 1 });
        // Few measurements: bisection over the distinct products.
        let mut calls = 0;
        choose(120, 400, 1024, |f| {
            calls += 1;
            f as u64
        });
        assert!(calls <= 10, "{calls} calls");
        // The cost of a folding is whatever the caller measures: here a fixed
        // overhead of 60 cycles leaves room for 9 beats only, and 16 x 150
        // has 8 (NF 8, SF 1 or NF 4, SF 2) below that.
        let f = choose(16, 150, 1024, |f| 100 * f as u64 + 60);
        assert_eq!((16 / f.pe) * (150 / f.simd), 8);
    }

    #[test]
    fn foldings_parse_and_bad_ones_are_named() {
        let f: Folds = "conv2=4x25, fc1=2X16".parse().unwrap();
        assert_eq!(f.0["conv2"], Fold { pe: 4, simd: 25 });
        assert_eq!(f.0["fc1"], Fold { pe: 2, simd: 16 });
        for bad in ["conv2", "conv2=4", "conv2=0x3", "a=1x1,a=2x2", "fc1=x2", "fc1=2x-1"] {
            let e = bad.parse::<Folds>().unwrap_err();
            assert!(e.contains("folding"), "{bad}: {e}");
        }
        assert_eq!("".parse::<Folds>().unwrap(), Folds::default());
    }
}
