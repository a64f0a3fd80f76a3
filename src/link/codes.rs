//! Codes packed into bytes: code k of `bits` bits occupies bits
//! `[k*bits, (k+1)*bits)` of the byte stream, least significant bit first
//! (bit i of the stream is bit `i % 8` of byte `i / 8`); the last byte is
//! padded with zeros. Two's complement for signed formats.

use crate::quant::FixedFormat;

/// Bytes of `n` codes of `bits` bits.
pub fn packed_len(n: usize, bits: u32) -> usize {
    (n * bits as usize).div_ceil(8)
}

/// Packs codes (each a value of a `bits`-bit format) into bytes.
pub fn pack_codes(codes: &[i64], bits: u32) -> Vec<u8> {
    let mut out = vec![0u8; packed_len(codes.len(), bits)];
    for (k, &c) in codes.iter().enumerate() {
        for b in 0..bits as usize {
            if (c >> b.min(63)) & 1 == 1 {
                let i = k * bits as usize + b;
                out[i / 8] |= 1 << (i % 8);
            }
        }
    }
    out
}

/// Unpacks `n` codes of `format` from bytes (`None` when too few bytes).
pub fn unpack_codes(bytes: &[u8], n: usize, format: FixedFormat) -> Option<Vec<i64>> {
    let bits = format.bits() as usize;
    if bytes.len() < packed_len(n, format.bits()) {
        return None;
    }
    Some(
        (0..n)
            .map(|k| {
                let raw = (0..bits).fold(0i64, |a, b| {
                    let i = k * bits + b;
                    a | ((bytes[i / 8] >> (i % 8) & 1) as i64) << b
                });
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
        fn codes_round_trip(signed: bool, bits in 1u32..=16, raw in proptest::collection::vec(any::<i64>(), 0..40)) {
            prop_assume!(bits >= 2 || !signed);
            let f = FixedFormat::new(signed, bits, 0).unwrap();
            let codes: Vec<i64> =
                raw.iter().map(|v| v.rem_euclid(f.max() - f.min() + 1) + f.min()).collect();
            let bytes = pack_codes(&codes, bits);
            prop_assert_eq!(bytes.len(), packed_len(codes.len(), bits));
            prop_assert_eq!(unpack_codes(&bytes, codes.len(), f), Some(codes));
        }
    }

    #[test]
    fn codes_fill_bytes_from_the_low_bit() {
        // Two 4-bit codes share a byte, the first in the low nibble.
        assert_eq!(pack_codes(&[0x3, 0xa], 4), [0xa3]);
        // 3-bit codes cross byte boundaries: 1, 2, 3 -> 001 010 011.
        assert_eq!(pack_codes(&[1, 2, 3], 3), [0b1101_0001, 0]);
        let f = FixedFormat::new(true, 4, 0).unwrap();
        assert_eq!(unpack_codes(&[0xf8], 2, f), Some(vec![-8, -1]));
        assert_eq!(unpack_codes(&[0xf8], 3, f), None);
    }
}
