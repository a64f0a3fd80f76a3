//! From a solved constant matrix ([`Solution`]) to adder-graph nodes.
//!
//! Every adder of the solution becomes one `Add` node, registered when its
//! level is a multiple of `levels_per_stage`, so a shared node sits in the
//! same pipeline stage for every output that uses it (the builder delays the
//! earlier operand of an adder whose operands come from different stages).
//! Each node's bounds are exact: its value is a linear form of the inputs,
//! and the form's interval (the one `dot_bounds` rule) is the node's range.

use crate::codegen::cmvm::{Digit, Solution};
use crate::codegen::graph::builder::Builder;
use crate::codegen::graph::Operand;
use crate::quant::{dot_bounds, Interval};

/// A linear form over the solution's inputs: `(input, coefficient)`, sorted.
type Form = Vec<(u32, i64)>;

/// `form · sign · 2^shift` (shifts are never negative here).
fn scaled(form: &Form, d: Digit) -> Option<Form> {
    let unit = 1i64.checked_shl(d.shift as u32).filter(|_| d.shift >= 0)?;
    let sign = if d.negate { -1 } else { 1 };
    form.iter().map(|&(i, c)| Some((i, c.checked_mul(unit)?.checked_mul(sign)?))).collect()
}

fn merged(a: &Form, b: &Form) -> Option<Form> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut k) = (0, 0);
    while i < a.len() || k < b.len() {
        match (a.get(i), b.get(k)) {
            (Some(&x), Some(&y)) if x.0 == y.0 => {
                let c = x.1.checked_add(y.1)?;
                if c != 0 {
                    out.push((x.0, c));
                }
                i += 1;
                k += 1;
            }
            (Some(&x), Some(&y)) if x.0 < y.0 => {
                out.push(x);
                i += 1;
            }
            (Some(&x), None) => {
                out.push(x);
                i += 1;
            }
            (_, Some(&y)) => {
                out.push(y);
                k += 1;
            }
            (None, None) => unreachable!("loop condition"),
        }
    }
    Some(out)
}

/// Builds the solution's adders on `inputs` (operands holding values in
/// `bounds`), naming them `{prefix}s{k}`; returns every output as an operand
/// (`None`: the output is zero).
pub(super) fn lower(
    b: &mut Builder,
    sol: &Solution,
    inputs: &[Operand],
    bounds: &[Interval],
    prefix: &str,
) -> Vec<Option<Operand>> {
    let mut ops: Vec<Operand> = inputs.to_vec();
    // Forms stop being tracked where a coefficient would overflow; interval
    // arithmetic alone still bounds those nodes soundly.
    let mut forms: Vec<Option<Form>> =
        (0..inputs.len()).map(|i| Some(vec![(i as u32, 1)])).collect();
    let operand = |ops: &[Operand], d: Digit| {
        let o = ops[d.src as usize];
        Operand { node: o.node, shift: o.shift + d.shift, negate: o.negate ^ d.negate }
    };
    for (k, s) in sol.sums.iter().enumerate() {
        let name = format!("{prefix}s{k}");
        let mut sum = b.combine(operand(&ops, s.a), operand(&ops, s.b), name);
        let form = match (&forms[s.a.src as usize], &forms[s.b.src as usize]) {
            (Some(fa), Some(fb)) => {
                scaled(fa, s.a).zip(scaled(fb, s.b)).and_then(|(x, y)| merged(&x, &y))
            }
            _ => None,
        };
        if let Some(f) = &form {
            let taps = f.iter().map(|&(i, c)| (c, bounds[i as usize]));
            let (lo, hi) = dot_bounds(taps, 0);
            if let (Ok(lo), Ok(hi)) = (i64::try_from(lo), i64::try_from(hi)) {
                b.tighten(sum, Interval::new(lo, hi));
            }
        }
        let level = sol.levels[inputs.len() + k];
        if level.is_multiple_of(b.levels_per_stage) {
            let name = format!("{}_q", b.node(sum.node).name);
            sum.node = b.reg(sum.node, name);
        }
        ops.push(sum);
        forms.push(form);
    }
    sol.outputs.iter().map(|d| d.map(|d| operand(&ops, d))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_add_and_cancel() {
        let a: Form = vec![(0, 3), (2, 1)];
        let b: Form = vec![(1, 5), (2, -1)];
        assert_eq!(merged(&a, &b), Some(vec![(0, 3), (1, 5)]));
        let d = Digit { src: 0, shift: 2, negate: true };
        assert_eq!(scaled(&a, d), Some(vec![(0, -12), (2, -4)]));
        assert_eq!(scaled(&vec![(0, i64::MAX)], d), None);
    }
}
