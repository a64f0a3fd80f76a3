//! Exact integer intervals, for proving the range of every value.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::contract::{requantize, width_for, FixedFormat};

/// A closed integer interval `[lo, hi]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Interval {
    pub lo: i64,
    pub hi: i64,
}

impl Interval {
    pub fn new(lo: i64, hi: i64) -> Interval {
        debug_assert!(lo <= hi, "empty interval [{lo}, {hi}]");
        Interval { lo, hi }
    }

    pub fn point(v: i64) -> Interval {
        Interval { lo: v, hi: v }
    }

    /// Every value of a format.
    pub fn of_format(f: FixedFormat) -> Interval {
        Interval { lo: f.min(), hi: f.max() }
    }

    pub fn contains(self, v: i64) -> bool {
        (self.lo..=self.hi).contains(&v)
    }

    /// The smallest interval holding both.
    pub fn hull(self, other: Interval) -> Interval {
        Interval { lo: self.lo.min(other.lo), hi: self.hi.max(other.hi) }
    }

    /// `max(0, x)` over the interval.
    pub fn relu(self) -> Interval {
        Interval { lo: self.lo.max(0), hi: self.hi.max(0) }
    }

    /// Largest magnitude of any member.
    pub fn max_abs(self) -> u64 {
        self.lo.unsigned_abs().max(self.hi.unsigned_abs())
    }

    /// The narrowest `(signed, bits)` holding the interval (the contract's width rule).
    pub fn width(self) -> (bool, u32) {
        width_for(self.lo, self.hi)
    }

    /// Image under [`requantize`], which is monotone non-decreasing in its input.
    pub fn requantize(self, shift: i32, relu: bool, out: FixedFormat) -> Interval {
        Interval {
            lo: requantize(self.lo, shift, relu, out),
            hi: requantize(self.hi, shift, relu, out),
        }
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}, {}]", self.lo, self.hi)
    }
}

/// Exact bounds of `sum_i w_i * x_i + bias` over independent `x_i` in `inputs[i]`,
/// in `i128` (the caller checks the result fits its budget). Both bounds are
/// reached: by `x_i = hi_i` where `w_i > 0` and `lo_i` elsewhere, and the reverse.
pub fn dot_bounds(weights: impl IntoIterator<Item = (i64, Interval)>, bias: i64) -> (i128, i128) {
    let (mut lo, mut hi) = (bias as i128, bias as i128);
    for (w, x) in weights {
        let (w, a, b) = (w as i128, x.lo as i128, x.hi as i128);
        if w > 0 {
            lo += w * a;
            hi += w * b;
        } else {
            lo += w * b;
            hi += w * a;
        }
    }
    (lo, hi)
}
