//! What values an integer layer's weights may take ([`WeightKind`]), and how
//! hardware keeps them: the code a folded unit stores per weight in ROM and
//! its lanes decode ([`WeightCode`], the `KIND` and `CODE` parameters of
//! `hdl/sk_mvu.v`).
//!
//! Two widths are counted here, on purpose apart: [`WeightKind::code_bits`]
//! is the storage of the compression literature (what the kind admits:
//! `inq5` is 5 bits whichever shifts a layer uses), [`WeightCode::bits`] the
//! width of a ROM word's lane (what the layer's weights use, and never a
//! zero-width field).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{FIXED_BITS, SHARE_INDEX_BITS, SHARE_VALUE_BITS};
use crate::quant::contract::{signed_bits, width_for, FixedFormat};

/// The largest shift of a power-of-two weight (a 32-bit weight).
pub const MAX_POW2_SHIFT: u32 = 30;

/// What values a layer's integer weights may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WeightKind {
    /// `{0, ±2^k}` with `k` in `0..=max_shift` (INQ).
    Pow2 { max_shift: u32 },
    /// `{-1, +1}`.
    Binary,
    /// `{-1, 0, +1}`.
    Ternary,
    /// Any integer of a signed `bits`-bit word.
    Fixed { bits: u32 },
    /// Weight sharing: at most `2^index_bits` distinct nonzero values, each a
    /// signed `bits`-bit integer (a codebook of fixed-point constants).
    Shared { index_bits: u32, bits: u32 },
}

impl WeightKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WeightKind::Pow2 { .. } => "pow2",
            WeightKind::Binary => "binary",
            WeightKind::Ternary => "ternary",
            WeightKind::Fixed { .. } => "fixed",
            WeightKind::Shared { .. } => "shared",
        }
    }

    /// Whether `w` is a value of this kind.
    pub fn admits(self, w: i32) -> bool {
        match self {
            WeightKind::Pow2 { max_shift } => {
                w == 0
                    || (w.unsigned_abs().is_power_of_two()
                        && w.unsigned_abs().trailing_zeros() <= max_shift)
            }
            WeightKind::Binary => w == 1 || w == -1,
            WeightKind::Ternary => (-1..=1).contains(&w),
            WeightKind::Fixed { bits } | WeightKind::Shared { bits, .. } => {
                FixedFormat::new(true, bits.clamp(2, 32), 0)
                    .expect("clamped to a valid width")
                    .contains(w as i64)
            }
        }
    }

    /// Bits of one stored weight code, as the compression literature counts
    /// storage: what the kind admits, whatever a layer uses.
    pub fn code_bits(self) -> u32 {
        match self {
            // Sign, zero flag and the shift.
            WeightKind::Pow2 { max_shift } => 2 + (32 - max_shift.leading_zeros()),
            WeightKind::Binary => 1,
            WeightKind::Ternary => 2,
            WeightKind::Fixed { bits } => bits,
            // An index into the codebook.
            WeightKind::Shared { index_bits, .. } => index_bits,
        }
    }

    pub(in crate::quant) fn check(self) -> Result<(), String> {
        match self {
            WeightKind::Pow2 { max_shift } if max_shift > MAX_POW2_SHIFT => {
                Err(format!("power-of-two weights shift at most {MAX_POW2_SHIFT}, got {max_shift}"))
            }
            WeightKind::Fixed { bits } if !FIXED_BITS.contains(&bits) => {
                Err(format!("fixed weights need {} bits, got {bits}", range(FIXED_BITS)))
            }
            WeightKind::Shared { bits, .. } if !SHARE_VALUE_BITS.contains(&bits) => Err(format!(
                "shared weights need {} value bits, got {bits}",
                range(SHARE_VALUE_BITS)
            )),
            WeightKind::Shared { index_bits, .. } if !SHARE_INDEX_BITS.contains(&index_bits) => {
                Err(format!(
                    "shared weights need {} index bits, got {index_bits}",
                    range(SHARE_INDEX_BITS)
                ))
            }
            _ => Ok(()),
        }
    }
}

/// `2 to 16`.
fn range(r: std::ops::RangeInclusive<u32>) -> String {
    format!("{} to {}", r.start(), r.end())
}

impl fmt::Display for WeightKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WeightKind::Pow2 { max_shift } => write!(f, "pow2(2^0..2^{max_shift})"),
            WeightKind::Binary => f.write_str("binary"),
            WeightKind::Ternary => f.write_str("ternary"),
            WeightKind::Fixed { bits } => write!(f, "fixed{bits}"),
            WeightKind::Shared { index_bits, bits } => write!(f, "shared{index_bits}(fixed{bits})"),
        }
    }
}

/// The weight code of one layer in hardware: what every lane of a folded
/// unit decodes (`hdl/sk_mvu.v`), sized for the weights the layer holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WeightCode {
    /// `{nonzero, negative, k}`: `±2^k` for `k` in `0..=max_shift`, or 0.
    Pow2 { max_shift: u32 },
    /// 1 is +1, 0 is -1.
    Binary,
    /// `{minus, plus}`: `01` is +1, `10` is -1, `00` is 0.
    Ternary,
    /// The weight itself, two's complement in `bits` bits.
    Fixed { bits: u32 },
    /// An index into `codebook`: the layer's distinct values in ascending
    /// order (zero among them when a weight is zero), each a signed
    /// `value_bits`-bit integer.
    Shared { codebook: Vec<i64>, value_bits: u32 },
}

impl WeightCode {
    /// The code of a layer of `kind` holding `weights`.
    pub fn of(kind: WeightKind, weights: impl Iterator<Item = i32> + Clone) -> WeightCode {
        let (lo, hi) =
            weights.clone().fold((0i64, 0i64), |(lo, hi), v| (lo.min(v as i64), hi.max(v as i64)));
        match kind {
            WeightKind::Pow2 { .. } => WeightCode::Pow2 {
                max_shift: weights.map(|v| v.unsigned_abs().max(1).ilog2()).max().unwrap_or(0),
            },
            WeightKind::Binary => WeightCode::Binary,
            WeightKind::Ternary => WeightCode::Ternary,
            WeightKind::Fixed { .. } => WeightCode::Fixed { bits: signed_bits(lo, hi) },
            WeightKind::Shared { .. } => {
                let book: std::collections::BTreeSet<i64> = weights.map(|v| v as i64).collect();
                WeightCode::Shared {
                    codebook: book.into_iter().collect(),
                    value_bits: signed_bits(lo, hi),
                }
            }
        }
    }

    /// The `KIND` parameter of `hdl/sk_mvu.v`: which lane datapath decodes it.
    pub fn rtl_kind(&self) -> u32 {
        match self {
            WeightCode::Pow2 { .. } => 0,
            WeightCode::Binary => 1,
            WeightCode::Ternary => 2,
            WeightCode::Fixed { .. } => 3,
            WeightCode::Shared { .. } => 4,
        }
    }

    /// What the lanes hold, for comments.
    pub fn describe(&self) -> &'static str {
        match self {
            WeightCode::Pow2 { .. } => "power-of-two",
            WeightCode::Binary => "binary",
            WeightCode::Ternary => "ternary",
            WeightCode::Fixed { .. } => "fixed-point",
            WeightCode::Shared { .. } => "shared",
        }
    }

    /// Bits of the shift field of a power-of-two code (at least one).
    fn shift_bits(max_shift: u32) -> u32 {
        width_for(0, max_shift as i64).1
    }

    /// Bits of one code in a ROM word (the `CODE` parameter).
    pub fn bits(&self) -> u32 {
        match self {
            WeightCode::Pow2 { max_shift } => 2 + WeightCode::shift_bits(*max_shift),
            WeightCode::Binary => 1,
            WeightCode::Ternary => 2,
            WeightCode::Fixed { bits } => *bits,
            WeightCode::Shared { codebook, .. } => {
                width_for(0, codebook.len().saturating_sub(1) as i64).1
            }
        }
    }

    /// The code of weight `w` (a value of the layer the code was made for)
    /// as an unsigned number of [`WeightCode::bits`] bits.
    pub fn encode(&self, w: i32) -> i64 {
        match self {
            WeightCode::Pow2 { max_shift } => {
                let kb = WeightCode::shift_bits(*max_shift);
                if w == 0 {
                    0
                } else {
                    let k = w.unsigned_abs().ilog2() as i64;
                    (1 << (kb + 1)) | (((w < 0) as i64) << kb) | k
                }
            }
            WeightCode::Binary => (w > 0) as i64,
            WeightCode::Ternary => match w {
                1 => 0b01,
                -1 => 0b10,
                _ => 0,
            },
            WeightCode::Fixed { bits } => w as i64 & ((1 << bits) - 1),
            WeightCode::Shared { codebook, .. } => {
                codebook.binary_search(&(w as i64)).expect("a codebook value") as i64
            }
        }
    }

    /// The weight a code stands for (the lanes' decoding, for tests).
    pub fn decode(&self, code: i64) -> i32 {
        match self {
            WeightCode::Pow2 { max_shift } => {
                let kb = WeightCode::shift_bits(*max_shift);
                if code >> (kb + 1) & 1 == 0 {
                    0
                } else {
                    let v = 1i32 << (code & ((1 << kb) - 1));
                    if code >> kb & 1 == 1 {
                        -v
                    } else {
                        v
                    }
                }
            }
            WeightCode::Binary => {
                if code & 1 == 1 {
                    1
                } else {
                    -1
                }
            }
            WeightCode::Ternary => (code & 1) as i32 - (code >> 1 & 1) as i32,
            WeightCode::Fixed { bits } => {
                let sign = 1i64 << (bits - 1);
                ((code & ((1 << bits) - 1) ^ sign) - sign) as i32
            }
            WeightCode::Shared { codebook, .. } => codebook[code as usize] as i32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn kinds() -> impl Strategy<Value = (WeightKind, Vec<i32>)> {
        prop_oneof![
            (0u32..=MAX_POW2_SHIFT).prop_flat_map(|s| {
                let w = (0..=s, any::<bool>(), any::<bool>()).prop_map(|(k, neg, zero)| {
                    if zero {
                        0
                    } else if neg {
                        -(1i32 << k)
                    } else {
                        1 << k
                    }
                });
                (Just(WeightKind::Pow2 { max_shift: s }), proptest::collection::vec(w, 1..20))
            }),
            proptest::collection::vec(prop_oneof![Just(-1), Just(1)], 1..20)
                .prop_map(|w| (WeightKind::Binary, w)),
            proptest::collection::vec(-1i32..=1, 1..20).prop_map(|w| (WeightKind::Ternary, w)),
            (2u32..=16).prop_flat_map(|b| {
                let r = -(1i32 << (b - 1))..(1i32 << (b - 1));
                (Just(WeightKind::Fixed { bits: b }), proptest::collection::vec(r, 1..20))
            }),
            (2u32..=16).prop_flat_map(|b| {
                let r = -(1i32 << (b - 1))..(1i32 << (b - 1));
                let w = proptest::collection::vec(r, 1..4).prop_flat_map(|book| {
                    proptest::collection::vec(proptest::sample::select(book), 1..20)
                });
                (Just(WeightKind::Shared { index_bits: 2, bits: b }), w)
            }),
        ]
    }

    proptest! {
        /// Every weight encodes to a code of the code's width that decodes to
        /// the weight.
        #[test]
        fn codes_fit_their_width_and_decode_back((kind, weights) in kinds()) {
            let code = WeightCode::of(kind, weights.iter().copied());
            let bits = code.bits();
            prop_assert!(bits >= 1);
            for &w in &weights {
                let c = code.encode(w);
                prop_assert!(c >= 0 && c < 1 << bits, "{w} -> {c} in {bits} bits");
                prop_assert_eq!(code.decode(c), w);
            }
        }
    }

    #[test]
    fn widths_follow_the_weights_the_layer_uses() {
        let pow2 = WeightCode::of(WeightKind::Pow2 { max_shift: 7 }, [0, 4, -2].into_iter());
        // Shifts up to 2: a 2-bit shift field, the zero flag and the sign.
        assert_eq!((pow2.bits(), pow2.encode(-2), pow2.encode(4)), (4, 0b1101, 0b1010));
        // inq5 admits shifts up to 7: 5 bits of storage, whatever a layer uses.
        assert_eq!(WeightKind::Pow2 { max_shift: 7 }.code_bits(), 5);
        // A layer of zeros still has a one-bit shift field.
        assert_eq!(WeightCode::of(WeightKind::Pow2 { max_shift: 0 }, [0].into_iter()).bits(), 3);
        let shared = WeightCode::of(
            WeightKind::Shared { index_bits: 2, bits: 8 },
            [5, 0, -3, 5].into_iter(),
        );
        assert_eq!(shared, WeightCode::Shared { codebook: vec![-3, 0, 5], value_bits: 4 });
        assert_eq!((shared.bits(), shared.encode(5)), (2, 2));
        let kinds: Vec<u32> = [
            WeightCode::Pow2 { max_shift: 1 },
            WeightCode::Binary,
            WeightCode::Ternary,
            WeightCode::Fixed { bits: 4 },
            shared,
        ]
        .iter()
        .map(WeightCode::rtl_kind)
        .collect();
        assert_eq!(kinds, [0, 1, 2, 3, 4], "the KIND numbers of hdl/sk_mvu.v");
    }
}
