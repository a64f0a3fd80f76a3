//! The IDX format of (Fashion-)MNIST: a big-endian header, then raw bytes.

/// An IDX array of unsigned bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxArray {
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

/// Parses an IDX file of unsigned bytes (type code 0x08). Any other content is
/// an error saying what is wrong; this never panics.
pub fn parse_idx(bytes: &[u8]) -> Result<IdxArray, String> {
    if bytes.len() < 4 {
        return Err(format!("too short for an IDX header ({} bytes)", bytes.len()));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err("not an IDX file (the first two bytes must be zero)".into());
    }
    if bytes[2] != 0x08 {
        return Err(format!("IDX data type 0x{:02x} is not unsigned bytes (0x08)", bytes[2]));
    }
    let ndims = bytes[3] as usize;
    if ndims == 0 {
        return Err("IDX file declares zero dimensions".into());
    }
    let header = 4 + 4 * ndims;
    if bytes.len() < header {
        return Err(format!("header declares {ndims} dimensions but the file ends early"));
    }
    let dims: Vec<usize> = bytes[4..header]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let count = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| format!("dimensions {dims:?} overflow"))?;
    let body = &bytes[header..];
    if body.len() != count {
        return Err(format!(
            "dimensions {dims:?} need {count} data bytes, the file has {}",
            body.len()
        ));
    }
    Ok(IdxArray { dims, data: body.to_vec() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_a_small_array() {
        let bytes = [0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6];
        let a = parse_idx(&bytes).unwrap();
        assert_eq!(a.dims, vec![2, 3]);
        assert_eq!(a.data, vec![1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn rejects_a_short_body() {
        let bytes = [0, 0, 8, 1, 0, 0, 0, 5, 1, 2];
        assert!(parse_idx(&bytes).unwrap_err().contains("need 5 data bytes"));
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = parse_idx(&bytes);
        }
    }
}
