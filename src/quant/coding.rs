//! The weight codings: how a layer's weights become integers of few bits.
//! One home for the weight-spec type and its bit ranges, the INQ power-of-two
//! range and rule, and the binary and ternary codes with their channel scales;
//! compression trains towards these codings, quantization applies them.

use std::ops::RangeInclusive;
use std::str::FromStr;

use ndarray::{ArrayD, ArrayViewD, Axis};

use super::QuantError;

mod kind;
mod pow2;

pub use kind::{WeightCode, WeightKind, MAX_POW2_SHIFT};
pub use pow2::{Pow2Range, RangeRule, MIN_ERROR_STEPS};

/// Bits of a fixed-point weight (`fixedN`).
pub const FIXED_BITS: RangeInclusive<u32> = 2..=16;
/// Bits of an INQ weight, zero included (`inqN`): `2^(N-2)` exponents per sign.
/// Seven bits would need shifts of 31 and more, past a 32-bit weight.
pub const INQ_BITS: RangeInclusive<u32> = 2..=6;
/// Index bits of a shared layer (`sharedN`): at most `2^N` distinct values.
pub const SHARE_INDEX_BITS: RangeInclusive<u32> = 1..=8;
/// Bits of a shared value (`sharedN-fixedM`).
pub const SHARE_VALUE_BITS: RangeInclusive<u32> = 2..=16;

/// Checks that the setting `what` lies in `range`.
pub fn check_range(
    what: &'static str,
    value: u32,
    range: RangeInclusive<u32>,
) -> Result<(), QuantError> {
    if range.contains(&value) {
        Ok(())
    } else {
        Err(QuantError::OutOfRange {
            setting: what,
            value: value as i64,
            range: (*range.start() as i64, *range.end() as i64),
        })
    }
}

/// How to quantize the weights of dense and convolution layers. Written and
/// read as its name (`inq5`, `ternary-noscale`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum WeightSpec {
    /// Plain fixed point: signed `bits`-bit integers with one exponent per layer.
    Fixed { bits: u32 },
    /// INQ powers of two `{0, ±2^k}` of `bits` bits (the INQ rule, applied at once).
    Pow2 { bits: u32 },
    /// `{-1, +1}`, with a per-channel scale `α_j = mean|W_j|` when `scale`.
    Binary { scale: bool },
    /// `{-1, 0, +1}`, with a per-channel scale (TWN) when `scale`.
    Ternary { scale: bool },
    /// Shared weights (after k-means): signed `bits`-bit fixed point like
    /// `Fixed`, at most `2^index_bits` distinct nonzero values.
    Shared { index_bits: u32, bits: u32 },
}

impl FromStr for WeightSpec {
    type Err = QuantError;
    /// `fixedN` (N in [`FIXED_BITS`]), `inqN` (N in [`INQ_BITS`]), `binary`, `ternary` (the last
    /// two take `-noscale` to drop the per-channel scale), `sharedN` (N index
    /// bits in [`SHARE_INDEX_BITS`], 8-bit values) or `sharedN-fixedM`.
    fn from_str(s: &str) -> Result<WeightSpec, QuantError> {
        let bad = || {
            QuantError::Config(format!(
                "weight spec `{s}`: expected fixedN (N {}..={}), inqN (N {}..={}), binary, ternary, \
                 binary-noscale, ternary-noscale, sharedN (N {}..={}) or sharedN-fixedM",
                FIXED_BITS.start(),
                FIXED_BITS.end(),
                INQ_BITS.start(),
                INQ_BITS.end(),
                SHARE_INDEX_BITS.start(),
                SHARE_INDEX_BITS.end()
            ))
        };
        let number = |prefix: &str, range: std::ops::RangeInclusive<u32>| -> Option<u32> {
            s.strip_prefix(prefix)?.parse().ok().filter(|b| range.contains(b))
        };
        match s {
            "binary" => Ok(WeightSpec::Binary { scale: true }),
            "binary-noscale" => Ok(WeightSpec::Binary { scale: false }),
            "ternary" => Ok(WeightSpec::Ternary { scale: true }),
            "ternary-noscale" => Ok(WeightSpec::Ternary { scale: false }),
            _ if s.starts_with("fixed") => {
                number("fixed", FIXED_BITS).map(|bits| WeightSpec::Fixed { bits }).ok_or_else(bad)
            }
            _ if s.starts_with("shared") => {
                let (index, width) = match s.split_once("-fixed") {
                    Some((i, w)) => (i, w.parse().ok().filter(|b| SHARE_VALUE_BITS.contains(b))),
                    None => (s, Some(8)),
                };
                let index = index.strip_prefix("shared").and_then(|b| b.parse().ok());
                match (index.filter(|b| SHARE_INDEX_BITS.contains(b)), width) {
                    (Some(index_bits), Some(bits)) => Ok(WeightSpec::Shared { index_bits, bits }),
                    _ => Err(bad()),
                }
            }
            _ if s.starts_with("inq") => {
                number("inq", INQ_BITS).map(|bits| WeightSpec::Pow2 { bits }).ok_or_else(bad)
            }
            _ => Err(bad()),
        }
    }
}

impl TryFrom<String> for WeightSpec {
    type Error = QuantError;
    fn try_from(s: String) -> Result<WeightSpec, QuantError> {
        s.parse()
    }
}

impl From<WeightSpec> for String {
    fn from(spec: WeightSpec) -> String {
        spec.to_string()
    }
}

impl std::fmt::Display for WeightSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WeightSpec::Fixed { bits } => write!(f, "fixed{bits}"),
            WeightSpec::Pow2 { bits } => write!(f, "inq{bits}"),
            WeightSpec::Binary { scale: true } => f.write_str("binary"),
            WeightSpec::Binary { scale: false } => f.write_str("binary-noscale"),
            WeightSpec::Ternary { scale: true } => f.write_str("ternary"),
            WeightSpec::Ternary { scale: false } => f.write_str("ternary-noscale"),
            WeightSpec::Shared { index_bits, bits: 8 } => write!(f, "shared{index_bits}"),
            WeightSpec::Shared { index_bits, bits } => write!(f, "shared{index_bits}-fixed{bits}"),
        }
    }
}

impl WeightSpec {
    /// Checks every width against its range (a spec built in code rather than
    /// parsed may hold any number).
    pub fn check(&self) -> Result<(), QuantError> {
        match *self {
            WeightSpec::Fixed { bits } => check_range("fixed weight bits", bits, FIXED_BITS),
            WeightSpec::Pow2 { bits } => check_range("INQ bits", bits, INQ_BITS),
            WeightSpec::Binary { .. } | WeightSpec::Ternary { .. } => Ok(()),
            WeightSpec::Shared { index_bits, bits } => {
                check_range("shared index bits", index_bits, SHARE_INDEX_BITS)?;
                check_range("shared value bits", bits, SHARE_VALUE_BITS)
            }
        }
    }
}

/// Two or three weight levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Levels {
    /// `{-1, +1}`: `sign(w)`, `w >= 0` maps to `+1`.
    Binary,
    /// `{-1, 0, +1}`: zero where `|w| <= Δ`, `Δ = 0.7 * mean|w|`.
    Ternary,
}

/// A layer's weights as integer codes and one scale per output channel.
#[derive(Clone, Debug, PartialEq)]
pub struct Coded {
    /// Same shape as the weights; values in `{-1, 0, 1}`.
    pub codes: ArrayD<i32>,
    /// The real weight of channel `j` is `alphas[j] * code`; 1 without scaling.
    pub alphas: Vec<f32>,
}

/// Codes a weight tensor (`[out, ...]`). With `scale`, every output channel `j`
/// gets its own `Δ_j` and `α_j`: binary `α_j = mean|W_j|` (BWN), ternary
/// `α_j = mean of |w| > Δ_j` (TWN). Without, `Δ` is taken over the whole layer
/// and `α = 1`.
pub fn code(w: ArrayViewD<f32>, levels: Levels, scale: bool) -> Coded {
    let layer_delta = 0.7 * mean_abs(w.iter());
    let mut codes = ArrayD::<i32>::zeros(w.raw_dim());
    let mut alphas = Vec::with_capacity(w.shape()[0]);
    for (row, mut out) in w.axis_iter(Axis(0)).zip(codes.axis_iter_mut(Axis(0))) {
        let delta = if scale { 0.7 * mean_abs(row.iter()) } else { layer_delta };
        let mut kept = (0f64, 0usize);
        for (&v, c) in row.iter().zip(out.iter_mut()) {
            *c = match levels {
                Levels::Binary => {
                    if v >= 0.0 {
                        1
                    } else {
                        -1
                    }
                }
                Levels::Ternary if v > delta => 1,
                Levels::Ternary if v < -delta => -1,
                Levels::Ternary => 0,
            };
            if *c != 0 {
                kept = (kept.0 + v.abs() as f64, kept.1 + 1);
            }
        }
        let alpha = match (scale, levels) {
            (false, _) => 1.0,
            (true, Levels::Binary) => mean_abs(row.iter()),
            (true, Levels::Ternary) if kept.1 > 0 => (kept.0 / kept.1 as f64) as f32,
            (true, Levels::Ternary) => 0.0,
        };
        alphas.push(alpha);
    }
    Coded { codes, alphas }
}

fn mean_abs<'a>(values: impl Iterator<Item = &'a f32>) -> f32 {
    let (sum, n) = values.fold((0f64, 0usize), |(s, n), &v| (s + v.abs() as f64, n + 1));
    if n == 0 {
        0.0
    } else {
        (sum / n as f64) as f32
    }
}

impl Coded {
    /// The real weights the forward pass uses: `α_j * code`.
    pub fn to_real(&self) -> ArrayD<f32> {
        let mut out = self.codes.mapv(|c| c as f32);
        for (mut row, &a) in out.axis_iter_mut(Axis(0)).zip(&self.alphas) {
            row.mapv_inplace(|v| v * a);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::arr2;

    #[test]
    fn binary_codes_are_signs_with_mean_magnitude_scales() {
        let w = arr2(&[[0.5f32, -0.25, 0.0], [-1.0, -0.5, 0.75]]).into_dyn();
        let c = code(w.view(), Levels::Binary, true);
        assert_eq!(c.codes, arr2(&[[1, -1, 1], [-1, -1, 1]]).into_dyn());
        assert_eq!(c.alphas, vec![0.25, 0.75]);
        let plain = code(w.view(), Levels::Binary, false);
        assert_eq!(plain.alphas, vec![1.0, 1.0]);
    }

    #[test]
    fn ternary_codes_use_the_threshold_and_mean_of_kept_weights() {
        // Row mean |w| = 0.4, Δ = 0.28: 0.1 and -0.2 become 0.
        let w = arr2(&[[0.1f32, -0.2, 0.5, -0.8]]).into_dyn();
        let c = code(w.view(), Levels::Ternary, true);
        assert_eq!(c.codes, arr2(&[[0, 0, 1, -1]]).into_dyn());
        assert!((c.alphas[0] - 0.65).abs() < 1e-6);
        assert_eq!(c.to_real(), arr2(&[[0.0f32, 0.0, 0.65, -0.65]]).into_dyn());
    }

    #[test]
    fn an_all_zero_channel_codes_to_zero_scale() {
        let w = arr2(&[[0.0f32, 0.0], [0.5, -0.5]]).into_dyn();
        let c = code(w.view(), Levels::Ternary, true);
        assert_eq!(c.alphas[0], 0.0);
        assert!(c.to_real().index_axis(Axis(0), 0).iter().all(|&v| v == 0.0));
    }

    #[test]
    fn specs_parse_within_their_ranges_and_print_back() {
        for s in [
            "fixed2",
            "fixed16",
            "inq2",
            "inq6",
            "binary",
            "ternary-noscale",
            "shared1",
            "shared8-fixed16",
        ] {
            let spec: WeightSpec = s.parse().unwrap();
            assert_eq!(spec.to_string(), s);
            assert!(spec.check().is_ok());
        }
        for s in [
            "fixed1",
            "fixed17",
            "inq1",
            "inq7",
            "inq8",
            "shared0",
            "shared9",
            "shared4-fixed1",
            "int8",
        ] {
            assert!(s.parse::<WeightSpec>().is_err(), "{s}");
        }
        assert!(WeightSpec::Pow2 { bits: 7 }.check().is_err());
        assert!(WeightSpec::Shared { index_bits: 4, bits: 17 }.check().is_err());
    }
}
