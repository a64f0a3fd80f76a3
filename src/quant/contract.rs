//! The numeric contract (DESIGN.md section 3): the one home of every integer
//! rule. Nothing else in shiftkit rounds, saturates, shifts, sizes a width or
//! decomposes a weight into terms; the simulator calls these functions and the
//! code generator prints what they decide.
//!
//! Exact meaning of each operation, on mathematical integers:
//!
//! - A [`FixedFormat`] `(signed, bits, frac)`: integer `q` stands for `q * 2^-frac`;
//!   signed range `[-2^(bits-1), 2^(bits-1) - 1]`, unsigned `[0, 2^bits - 1]`.
//! - [`shift_round`]`(v, s)`: `s > 0`: `floor((v + 2^(s-1)) / 2^s)`, round half up
//!   (toward +inf) — an arithmetic right shift of `v + 2^(s-1)`; `s <= 0`: `v * 2^-s`.
//! - [`FixedFormat::saturate`]: clamp to the format's range.
//! - [`requantize`]`(v, s, relu, out)`: `saturate_out(relu ? max(0, shift_round(v, s)) : shift_round(v, s))`.
//! - [`quantize_real`]`(x, frac)`: `floor(x * 2^frac + 0.5)`; [`FixedFormat::quantize`]
//!   then saturates (input quantization).
//! - [`csd`]`(w)`: the canonical signed digit terms of `w`: `w = sum(sign_t * 2^shift_t)`,
//!   no two terms on adjacent shifts, the fewest terms of any signed-digit form.
//! - [`width_for`]`(lo, hi)`: the narrowest two's-complement (or unsigned, if
//!   `lo >= 0`) width holding every integer of `[lo, hi]`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The widest format the contract allows (values stay far inside `i64`).
pub const MAX_FORMAT_BITS: u32 = 32;
/// Fraction bits are limited to this magnitude.
pub const MAX_FRAC: i32 = 64;
/// Proven bounds of any accumulator must fit in this many bits (signed), so
/// `i64` arithmetic in the simulator can never overflow.
pub const MAX_ACC_BITS: u32 = 62;

/// Errors of the numeric contract: formats that cannot exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContractError {
    #[error(
        "{kind} fixed-point format needs {min} to {MAX_FORMAT_BITS} bits, got {bits}",
        kind = if *signed { "a signed" } else { "an unsigned" },
        min = if *signed { 2 } else { 1 }
    )]
    Bits { signed: bool, bits: u32 },
    #[error("fraction bits must lie in -{MAX_FRAC}..={MAX_FRAC}, got {0}")]
    Frac(i32),
}

/// A fixed-point format: integer `q` stands for `q * 2^-frac`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawFormat", into = "RawFormat")]
pub struct FixedFormat {
    signed: bool,
    bits: u32,
    frac: i32,
}

#[derive(Serialize, Deserialize)]
struct RawFormat {
    signed: bool,
    bits: u32,
    frac: i32,
}

impl TryFrom<RawFormat> for FixedFormat {
    type Error = ContractError;
    fn try_from(r: RawFormat) -> Result<Self, ContractError> {
        FixedFormat::new(r.signed, r.bits, r.frac)
    }
}

impl From<FixedFormat> for RawFormat {
    fn from(f: FixedFormat) -> RawFormat {
        RawFormat { signed: f.signed, bits: f.bits, frac: f.frac }
    }
}

impl FixedFormat {
    /// A checked format: 1..=32 bits unsigned, 2..=32 signed, |frac| <= 64.
    pub fn new(signed: bool, bits: u32, frac: i32) -> Result<FixedFormat, ContractError> {
        let min = if signed { 2 } else { 1 };
        if bits < min || bits > MAX_FORMAT_BITS {
            return Err(ContractError::Bits { signed, bits });
        }
        if frac.abs() > MAX_FRAC {
            return Err(ContractError::Frac(frac));
        }
        Ok(FixedFormat { signed, bits, frac })
    }

    pub fn signed(self) -> bool {
        self.signed
    }
    pub fn bits(self) -> u32 {
        self.bits
    }
    pub fn frac(self) -> i32 {
        self.frac
    }

    /// Smallest representable integer.
    pub fn min(self) -> i64 {
        if self.signed {
            -(1i64 << (self.bits - 1))
        } else {
            0
        }
    }

    /// Largest representable integer.
    pub fn max(self) -> i64 {
        if self.signed {
            (1i64 << (self.bits - 1)) - 1
        } else {
            (1i64 << self.bits) - 1
        }
    }

    pub fn contains(self, q: i64) -> bool {
        (self.min()..=self.max()).contains(&q)
    }

    /// Clamps to the format's range.
    pub fn saturate(self, v: i64) -> i64 {
        v.clamp(self.min(), self.max())
    }

    /// Input quantization: `saturate(floor(x * 2^frac + 0.5))`; NaN maps to 0.
    pub fn quantize(self, x: f64) -> i64 {
        match quantize_real(x, self.frac) {
            Some(q) => self.saturate(q),
            None if x.is_nan() => 0,
            None if x > 0.0 => self.max(),
            None => self.min(),
        }
    }

    /// The real value an integer stands for.
    pub fn to_real(self, q: i64) -> f64 {
        q as f64 * (-self.frac as f64).exp2()
    }
}

impl fmt::Display for FixedFormat {
    /// `s8.4`: signed, 8 bits, 4 fraction bits; `u8.7`: unsigned.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}.{}", if self.signed { 's' } else { 'u' }, self.bits, self.frac)
    }
}

/// `floor(x * 2^frac + 0.5)`, or `None` when it does not fit in `i64` (or `x`
/// is not finite).
pub fn quantize_real(x: f64, frac: i32) -> Option<i64> {
    let scaled = (x * (frac as f64).exp2() + 0.5).floor();
    // 2^62 keeps every later shift-and-add in range.
    if scaled.is_finite() && scaled.abs() < (1u64 << MAX_ACC_BITS) as f64 {
        Some(scaled as i64)
    } else {
        None
    }
}

/// Shift with rounding: `s > 0` divides by `2^s` rounding half up (toward
/// +inf); `s <= 0` multiplies by `2^-s`. In hardware steps: add
/// [`round_offset`]`(s)`, then [`shift_floor`] by `s`.
///
/// The caller guarantees (by interval analysis) that the result fits `i64`.
pub fn shift_round(v: i64, s: i32) -> i64 {
    if s > 0 {
        // In i128 so that v + 2^(s-1) cannot overflow.
        shift_floor_wide(v as i128 + round_offset(s) as i128, s) as i64
    } else {
        shift_floor(v, s)
    }
}

/// The constant added before a rounding right shift by `s > 0`: `2^(s-1)`.
pub fn round_offset(s: i32) -> i64 {
    debug_assert!(s > 0);
    1i64 << (s - 1)
}

/// Shift without rounding: `s > 0` is an arithmetic right shift, `floor(v / 2^s)`
/// (dropping the low `s` bits of the two's-complement word); `s <= 0` multiplies
/// by `2^-s`.
pub fn shift_floor(v: i64, s: i32) -> i64 {
    shift_floor_wide(v as i128, s) as i64
}

fn shift_floor_wide(v: i128, s: i32) -> i128 {
    if s >= 0 {
        v >> s as u32
    } else {
        v << (-s) as u32
    }
}

/// Requantization of an accumulator to the next activation format: rounding
/// shift, then ReLU (if the layer has it), then saturation.
pub fn requantize(acc: i64, shift: i32, relu: bool, out: FixedFormat) -> i64 {
    let v = shift_round(acc, shift);
    out.saturate(if relu { v.max(0) } else { v })
}

/// The narrowest width holding every integer of `[lo, hi]`: `(signed, bits)`,
/// unsigned when `lo >= 0`. `[0, 0]` takes one unsigned bit.
pub fn width_for(lo: i64, hi: i64) -> (bool, u32) {
    debug_assert!(lo <= hi);
    if lo >= 0 {
        (false, (64 - hi.leading_zeros()).max(1))
    } else {
        // Two's complement: need -2^(b-1) <= lo and hi <= 2^(b-1) - 1.
        let neg = 64 - (!lo).leading_zeros() + 1; // bits for lo
        let pos = if hi >= 0 { 64 - hi.leading_zeros() + 1 } else { 1 };
        (true, neg.max(pos).max(2))
    }
}

/// Bits of a signed word that holds every value of `[lo, hi]` (at least 2).
pub fn signed_bits(lo: i64, hi: i64) -> u32 {
    width_for(lo.min(-1), hi.max(0)).1
}

/// One signed power-of-two term of a constant: `sign * 2^shift`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Term {
    pub shift: u32,
    pub negative: bool,
}

impl Term {
    pub fn value(self) -> i64 {
        let v = 1i64 << self.shift;
        if self.negative {
            -v
        } else {
            v
        }
    }
}

impl fmt::Display for Term {
    /// `+2^3`, `-2^0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}2^{}", if self.negative { '-' } else { '+' }, self.shift)
    }
}

/// Canonical signed digit (non-adjacent form) of `w`, least significant term
/// first. Zero has no terms.
pub fn csd(w: i64) -> Vec<Term> {
    let mut terms = Vec::new();
    let mut v = w as i128;
    let mut shift = 0u32;
    while v != 0 {
        if v & 1 == 1 {
            // v mod 4 == 1 -> digit +1; v mod 4 == 3 -> digit -1.
            let negative = v & 3 == 3;
            terms.push(Term { shift, negative });
            v -= if negative { -1 } else { 1 };
        }
        v >>= 1;
        shift += 1;
    }
    terms
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Round half up by the definition: floor(v / 2^s + 1/2) = floor((2v + 2^s) / 2^(s+1)).
    fn reference_shift(v: i64, s: i32) -> i64 {
        if s <= 0 {
            return v * (1i64 << -s);
        }
        let num = 2 * v as i128 + (1i128 << s);
        num.div_euclid(1i128 << (s + 1)) as i64
    }

    /// Fewest non-zero digits of any signed-digit form of w, by dynamic programming
    /// over the bits: cost(v) = 0 at 0; even v: cost(v/2); odd: 1 + min(cost((v-1)/2), cost((v+1)/2)).
    fn reference_min_terms(v: i64) -> usize {
        fn go(v: i128, depth: u32) -> usize {
            if v == 0 {
                0
            } else if depth > 70 {
                usize::MAX / 2
            } else if v % 2 == 0 {
                go(v / 2, depth + 1)
            } else {
                1 + go((v - 1) / 2, depth + 1).min(go((v + 1) / 2, depth + 1))
            }
        }
        go(v as i128, 0)
    }

    #[test]
    fn rounds_half_up_on_ties() {
        assert_eq!(shift_round(1, 1), 1); // 0.5 -> 1
        assert_eq!(shift_round(-1, 1), 0); // -0.5 -> 0
        assert_eq!(shift_round(3, 1), 2); // 1.5 -> 2
        assert_eq!(shift_round(-3, 1), -1); // -1.5 -> -1
        assert_eq!(shift_round(-5, 2), -1); // -1.25 -> -1
        assert_eq!(shift_round(-6, 2), -1); // -1.5 -> -1
        assert_eq!(shift_round(-7, 2), -2); // -1.75 -> -2
        assert_eq!(shift_round(5, -3), 40);
    }

    #[test]
    fn formats_have_the_documented_ranges() {
        let s8 = FixedFormat::new(true, 8, 0).unwrap();
        assert_eq!((s8.min(), s8.max()), (-128, 127));
        let u8f = FixedFormat::new(false, 8, 7).unwrap();
        assert_eq!((u8f.min(), u8f.max()), (0, 255));
        assert_eq!(u8f.to_string(), "u8.7");
        assert!(FixedFormat::new(true, 1, 0).is_err());
        assert!(FixedFormat::new(false, 33, 0).is_err());
        assert!(FixedFormat::new(false, 8, 65).is_err());
        let s32 = FixedFormat::new(true, 32, 0).unwrap();
        assert_eq!(s32.min(), i32::MIN as i64);
    }

    #[test]
    fn quantization_rounds_half_up_then_saturates() {
        let f = FixedFormat::new(true, 4, 1).unwrap(); // [-8, 7] halves
        assert_eq!(f.quantize(0.25), 1); // 0.5 -> 1
        assert_eq!(f.quantize(-0.25), 0); // -0.5 -> 0
        assert_eq!(f.quantize(-0.75), -1); // -1.5 -> -1
        assert_eq!(f.quantize(3.5), 7);
        assert_eq!(f.quantize(3.75), 7); // 7.5 -> 8 -> saturate 7
        assert_eq!(f.quantize(-100.0), -8);
        assert_eq!(f.quantize(f64::INFINITY), 7);
        assert_eq!(f.quantize(f64::NAN), 0);
    }

    #[test]
    fn csd_of_known_values() {
        let show = |w| csd(w).iter().map(|t| t.to_string()).collect::<Vec<_>>().join(" ");
        assert_eq!(show(0), "");
        assert_eq!(show(7), "-2^0 +2^3");
        assert_eq!(show(-8), "-2^3");
        assert_eq!(show(3), "-2^0 +2^2");
        assert_eq!(show(-128), "-2^7");
        assert_eq!(show(-3), "+2^0 -2^2");
    }

    #[test]
    fn width_of_known_ranges() {
        assert_eq!(width_for(0, 0), (false, 1));
        assert_eq!(width_for(0, 255), (false, 8));
        assert_eq!(width_for(0, 256), (false, 9));
        assert_eq!(width_for(-128, 127), (true, 8));
        assert_eq!(width_for(-129, 0), (true, 9));
        assert_eq!(width_for(-1, 128), (true, 9));
        assert_eq!(width_for(-3, -2), (true, 3));
    }

    proptest! {
        #[test]
        fn shift_round_matches_the_definition(v in -(1i64 << 40)..(1i64 << 40), s in -8i32..24) {
            prop_assert_eq!(shift_round(v, s), reference_shift(v, s));
        }

        #[test]
        fn rounding_is_offset_then_floor(v in -(1i64 << 40)..(1i64 << 40), s in 1i32..24) {
            prop_assert_eq!(shift_round(v, s), shift_floor(v + round_offset(s), s));
            prop_assert_eq!(shift_floor(v, s), v.div_euclid(1i64 << s));
        }

        #[test]
        fn requantize_is_shift_then_relu_then_saturate(
            v in -(1i64 << 30)..(1i64 << 30), s in -4i32..16, relu: bool,
            signed: bool, bits in 2u32..16, frac in -4i32..12,
        ) {
            let out = FixedFormat::new(signed, bits, frac).unwrap();
            let mut want = reference_shift(v, s);
            if relu { want = want.max(0); }
            want = want.max(out.min()).min(out.max());
            let got = requantize(v, s, relu, out);
            prop_assert_eq!(got, want);
            prop_assert!(out.contains(got));
        }

        #[test]
        fn quantize_matches_floor_plus_half(x in -1000.0f64..1000.0, frac in -4i32..16, bits in 2u32..20, signed: bool) {
            let f = FixedFormat::new(signed, bits, frac).unwrap();
            let raw = (x * 2f64.powi(frac) + 0.5).floor() as i64;
            prop_assert_eq!(f.quantize(x), raw.clamp(f.min(), f.max()));
        }

        #[test]
        fn csd_terms_sum_to_the_weight_without_adjacent_digits(w in any::<i64>()) {
            prop_assume!(w > i64::MIN);
            let terms = csd(w);
            let sum: i128 = terms.iter().map(|t| if t.negative { -(1i128 << t.shift) } else { 1i128 << t.shift }).sum();
            prop_assert_eq!(sum, w as i128);
            for pair in terms.windows(2) {
                prop_assert!(pair[1].shift >= pair[0].shift + 2, "adjacent digits in {:?}", terms);
            }
        }

        #[test]
        fn csd_uses_the_fewest_terms(w in -(1i64 << 20)..(1i64 << 20)) {
            prop_assert_eq!(csd(w).len(), reference_min_terms(w));
        }

        #[test]
        fn width_is_the_narrowest_that_holds_the_range(a in -(1i64 << 40)..(1i64 << 40), b in -(1i64 << 40)..(1i64 << 40)) {
            let (lo, hi) = (a.min(b), a.max(b));
            let (signed, bits) = width_for(lo, hi);
            let fits = |bits: u32| {
                let f = FixedFormat { signed, bits, frac: 0 };
                f.contains(lo) && f.contains(hi)
            };
            prop_assert!(fits(bits));
            let narrowest = if signed { 2 } else { 1 };
            prop_assert!(bits == narrowest || !fits(bits - 1), "{} bits for [{}, {}]", bits, lo, hi);
            prop_assert_eq!(signed, lo < 0);
        }
    }
}
