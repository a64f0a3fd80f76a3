//! The INQ power-of-two coding: a layer's exponent range, how it is fitted
//! to the weights (`RangeRule`), and the rule mapping a weight into it.

use std::str::FromStr;

use crate::quant::QuantError;

/// How a layer's exponent range is chosen from its weights.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RangeRule {
    /// The INQ paper's: `n1` from the largest magnitude alone.
    Max,
    /// The range, of the paper's and the [`MIN_ERROR_STEPS`] below it, that
    /// codes the layer with the least squared error (ties to the higher).
    #[default]
    MinError,
}

impl FromStr for RangeRule {
    type Err = QuantError;
    fn from_str(s: &str) -> Result<RangeRule, QuantError> {
        match s {
            "max" => Ok(RangeRule::Max),
            "min-error" => Ok(RangeRule::MinError),
            _ => Err(QuantError::Config(format!(
                "exponent range rule `{s}`: expected `max` (the INQ paper's) or `min-error`"
            ))),
        }
    }
}

impl std::fmt::Display for RangeRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RangeRule::Max => "max",
            RangeRule::MinError => "min-error",
        })
    }
}

/// How many ranges below the paper's `RangeRule::MinError` tries.
pub const MIN_ERROR_STEPS: i32 = 16;

/// The exponent range of a layer: weights become `{0, ±2^k}`, `n2 <= k <= n1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pow2Range {
    pub n1: i32,
    pub n2: i32,
}

impl Pow2Range {
    /// From the layer's largest magnitude `s` when INQ starts and the bit width
    /// `b` (zero included): `n1 = floor(log2(4s/3))`, `n2 = n1 + 1 - 2^(b-2)`.
    /// `None` for an all-zero layer (it stays zero).
    pub fn new(s: f32, bits: u32) -> Option<Pow2Range> {
        if s <= 0.0 || !s.is_finite() {
            return None;
        }
        let n1 = (4.0 * s as f64 / 3.0).log2().floor() as i32;
        Some(Pow2Range { n1, n2: n1 + 1 - (1 << (bits - 2)) })
    }

    /// The range `rule` picks for weights `w` of `bits` bits; `None` when all
    /// are zero (the layer stays zero).
    pub fn fit(w: &[f32], bits: u32, rule: RangeRule) -> Option<Pow2Range> {
        let s = w.iter().fold(0f32, |m, v| m.max(v.abs()));
        let paper = Pow2Range::new(s, bits)?;
        match rule {
            RangeRule::Max => Some(paper),
            RangeRule::MinError => {
                // The paper's range first, then each one step lower: a lower
                // range is kept only when its error is strictly smaller.
                let span = paper.n1 - paper.n2;
                let mut best = (paper, paper.error(w));
                for down in 1..=MIN_ERROR_STEPS {
                    let r = Pow2Range { n1: paper.n1 - down, n2: paper.n1 - down - span };
                    let e = r.error(w);
                    if e < best.1 {
                        best = (r, e);
                    }
                }
                Some(best.0)
            }
        }
    }

    /// The squared error of coding `w` in this range: `Σ (w - q(w))²`.
    pub fn error(self, w: &[f32]) -> f64 {
        w.iter().map(|&v| (v as f64 - self.quantize(v) as f64).powi(2)).sum()
    }

    /// The INQ rule: `|w| >= 0.75 * 2^k` maps to `2^k` for the largest such `k`
    /// in `[n2, n1]` (ties go up); `|w| < 2^(n2-1)` maps to 0; `|w|` in
    /// `[2^(n2-1), 0.75 * 2^n2)` maps to `2^n2`; the sign is kept.
    pub fn quantize(self, w: f32) -> f32 {
        let a = w.abs() as f64;
        if a < (self.n2 as f64 - 1.0).exp2() {
            return 0.0;
        }
        // Largest k with a >= 0.75 * 2^k, clamped into [n2, n1].
        let k = ((a / 0.75).log2().floor() as i32).clamp(self.n2, self.n1);
        // Guard the floating-point log at exact ties: step up or down to the rule.
        let k = if k < self.n1 && a >= 0.75 * ((k + 1) as f64).exp2() {
            k + 1
        } else if k > self.n2 && a < 0.75 * (k as f64).exp2() {
            k - 1
        } else {
            k
        };
        (w.signum() as f64 * (k as f64).exp2()) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::INQ_BITS;
    use proptest::prelude::*;

    /// The rule by its definition, by scanning every k.
    fn reference(w: f32, r: Pow2Range) -> f32 {
        let a = w.abs() as f64;
        let q = if a < ((r.n2 - 1) as f64).exp2() {
            0.0
        } else {
            let mut best = None;
            for k in r.n2..=r.n1 {
                if a >= 0.75 * (k as f64).exp2() {
                    best = Some(k);
                }
            }
            (best.unwrap_or(r.n2) as f64).exp2()
        };
        (q * w.signum() as f64) as f32
    }

    #[test]
    fn exponents_follow_the_paper() {
        // s = 0.9: 4s/3 = 1.2 -> n1 = 0; b = 5: n2 = 0 + 1 - 8 = -7.
        assert_eq!(Pow2Range::new(0.9, 5), Some(Pow2Range { n1: 0, n2: -7 }));
        assert_eq!(Pow2Range::new(0.75, 3), Some(Pow2Range { n1: 0, n2: -1 }));
        assert_eq!(Pow2Range::new(0.0, 5), None);
    }

    #[test]
    fn min_error_lowers_the_range_under_an_outlier() {
        // One large weight and many small ones: at 3 bits the paper's range
        // {0, ±1, ±0.5} zeroes every small weight; the fitted range codes them
        // (and clamps the one large weight: 1,000 small errors outweigh it).
        let mut ws = vec![0.05f32; 1000];
        ws[0] = 1.0;
        let paper = Pow2Range::fit(&ws, 3, RangeRule::Max).unwrap();
        let fitted = Pow2Range::fit(&ws, 3, RangeRule::MinError).unwrap();
        assert_eq!(paper, Pow2Range { n1: 0, n2: -1 });
        assert!(fitted.n1 < paper.n1, "{fitted:?}");
        assert!(fitted.error(&ws) < paper.error(&ws) / 2.0);
        assert_eq!("min-error".parse::<RangeRule>().unwrap(), RangeRule::MinError);
        assert!("mean".parse::<RangeRule>().is_err());
    }

    #[test]
    fn ties_and_edges_follow_the_rule() {
        let r = Pow2Range { n1: 0, n2: -3 };
        assert_eq!(r.quantize(0.75), 1.0); // 0.75 * 2^0: tie goes up
        assert_eq!(r.quantize(-0.375), -0.5); // 0.75 * 2^-1
        assert_eq!(r.quantize(0.0625), 0.125); // 2^(n2-1): up to 2^n2
        assert_eq!(r.quantize(0.0624), 0.0); // just below 2^(n2-1)
        assert_eq!(r.quantize(0.09), 0.125); // in [2^(n2-1), 0.75 * 2^n2)
        assert_eq!(r.quantize(5.0), 1.0); // above 1.5 * 2^n1: clamp to the top
        assert_eq!(r.quantize(-1.6), -1.0);
    }

    proptest! {
        #[test]
        fn rule_matches_its_definition(w in -4.0f32..4.0, s in 0.01f32..4.0, bits in INQ_BITS) {
            let r = Pow2Range::new(s, bits).unwrap();
            prop_assert_eq!(r.quantize(w), reference(w, r));
        }

        #[test]
        fn exact_ties_go_up(k in -8i32..2, bits in 3u32..=*INQ_BITS.end(), neg: bool) {
            let r = Pow2Range { n1: 2, n2: 3 - (1 << (bits - 2)) };
            prop_assume!(k > r.n2 && k <= r.n1);
            let w = 0.75 * (k as f32).exp2() * if neg { -1.0 } else { 1.0 };
            prop_assert_eq!(r.quantize(w).abs(), (k as f32).exp2());
            // And 2^(n2-1) exactly goes to 2^n2.
            prop_assert_eq!(r.quantize(((r.n2 - 1) as f32).exp2()), (r.n2 as f32).exp2());
        }

        #[test]
        fn min_error_is_never_worse_than_the_paper(
            ws in proptest::collection::vec(-2.0f32..2.0, 1..200),
            spread in 0u32..12,
            bits in INQ_BITS,
        ) {
            // Magnitudes spread over 2^spread, so many layers have a few
            // large weights and many small ones.
            let ws: Vec<f32> = ws.iter().enumerate()
                .map(|(i, &w)| w / ((i as u32 % (spread + 1)) as f32).exp2())
                .collect();
            prop_assume!(ws.iter().any(|&w| w != 0.0));
            let paper = Pow2Range::fit(&ws, bits, RangeRule::Max).unwrap();
            let fitted = Pow2Range::fit(&ws, bits, RangeRule::MinError).unwrap();
            prop_assert_eq!(paper, Pow2Range::new(ws.iter().fold(0f32, |m, w| m.max(w.abs())), bits).unwrap());
            prop_assert!(fitted.error(&ws) <= paper.error(&ws));
            // Same span of exponents, no higher.
            prop_assert_eq!(fitted.n1 - fitted.n2, paper.n1 - paper.n2);
            prop_assert!(fitted.n1 <= paper.n1);
            // Weights already on the fitted grid fit back to an exact range.
            let coded: Vec<f32> = ws.iter().map(|&w| fitted.quantize(w)).collect();
            if let Some(again) = Pow2Range::fit(&coded, bits, RangeRule::MinError) {
                prop_assert_eq!(again.error(&coded), 0.0);
            }
        }

        #[test]
        fn quantized_values_are_powers_of_two_in_range(w in -4.0f32..4.0, s in 0.01f32..4.0, bits in INQ_BITS) {
            let r = Pow2Range::new(s, bits).unwrap();
            let q = r.quantize(w);
            let k = q.abs().log2();
            let in_range = k.fract() == 0.0 && (r.n2..=r.n1).contains(&(k as i32));
            prop_assert!(q == 0.0 || in_range, "{} maps to {}", w, q);
            // Idempotent: quantizing a quantized weight changes nothing.
            prop_assert_eq!(r.quantize(q), q);
        }
    }
}
