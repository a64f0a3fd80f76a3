//! Packed hexadecimal words: testbench vectors and ROM contents.
//!
//! A word is a sequence of equal-width lanes, lane 0 in the lowest bits, each
//! a two's-complement integer; its text is hex digits, most significant first
//! (what `$readmemh` reads).

use crate::quant::FixedFormat;

/// Packs lanes (two's complement, `bits` each, lane 0 lowest) as hex, most
/// significant digit first.
pub fn pack_hex(lanes: &[i64], bits: u32) -> String {
    let total = lanes.len() * bits as usize;
    let mut bitv = vec![false; total.div_ceil(4) * 4];
    for (i, &v) in lanes.iter().enumerate() {
        for b in 0..bits as usize {
            bitv[i * bits as usize + b] = (v >> b.min(63)) & 1 == 1;
        }
    }
    bitv.chunks(4)
        .rev()
        .map(|c| {
            let d = c.iter().enumerate().fold(0u32, |a, (k, &bit)| a | ((bit as u32) << k));
            char::from_digit(d, 16).expect("a hex digit")
        })
        .collect()
}

/// A packed word's hex (as [`pack_hex`] writes it) in 16-bit slices, lowest
/// first, each as four hex digits: how a word is loaded into 16-bit RAM.
pub fn hex_slices16(hex: &str) -> Vec<String> {
    let k = hex.len().div_ceil(4).max(1);
    let padded = format!("{hex:0>width$}", width = 4 * k);
    (0..k).rev().map(|i| padded[4 * i..4 * i + 4].to_string()).collect()
}

/// Unpacks hex into `n` lanes of `format`.
pub fn unpack_hex(hex: &str, n: usize, format: FixedFormat) -> Option<Vec<i64>> {
    let bits = format.bits() as usize;
    let mut bitv = Vec::with_capacity(hex.len() * 4);
    for c in hex.chars().rev() {
        let d = c.to_digit(16)?;
        for k in 0..4 {
            bitv.push((d >> k) & 1 == 1);
        }
    }
    if bitv.len() < n * bits {
        return None;
    }
    Some(
        (0..n)
            .map(|i| {
                let raw = (0..bits).fold(0i64, |a, b| a | ((bitv[i * bits + b] as i64) << b));
                if format.signed() && raw >> (bits - 1) & 1 == 1 {
                    raw - (1i64 << bits)
                } else {
                    raw
                }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn pack_then_unpack_is_the_identity(signed: bool, bits in 2u32..=16, raw in proptest::collection::vec(any::<i64>(), 1..20)) {
            let f = FixedFormat::new(signed, bits, 0).unwrap();
            let lanes: Vec<i64> = raw.iter().map(|v| v.rem_euclid(f.max() - f.min() + 1) + f.min()).collect();
            let hex = pack_hex(&lanes, bits);
            prop_assert_eq!(hex.len(), (lanes.len() * bits as usize).div_ceil(4));
            prop_assert_eq!(unpack_hex(&hex, lanes.len(), f), Some(lanes));
        }
    }

    #[test]
    fn a_word_is_sliced_lowest_first() {
        assert_eq!(hex_slices16("5"), ["0005"]);
        assert_eq!(hex_slices16("12345"), ["2345", "0001"]);
        assert_eq!(hex_slices16("abcd0123"), ["0123", "abcd"]);
        // A 5-bit lane per code, 7 codes (35 bits): three slices.
        let hex = pack_hex(&[1, 2, 3, 4, 5, 6, 7], 5);
        let slices = hex_slices16(&hex);
        assert_eq!(slices.len(), 3);
        let whole = u64::from_str_radix(&hex, 16).unwrap();
        for (i, s) in slices.iter().enumerate() {
            assert_eq!(u64::from_str_radix(s, 16).unwrap(), (whole >> (16 * i)) & 0xffff);
        }
    }

    #[test]
    fn lane_zero_is_in_the_low_bits() {
        assert_eq!(pack_hex(&[1, 2], 4), "21");
        assert_eq!(pack_hex(&[-1, 0], 4), "0f");
        assert_eq!(pack_hex(&[5], 3), "5");
    }
}
