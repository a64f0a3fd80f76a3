//! The text format of raw vectors: one vector per line, decimal integers
//! separated by spaces or commas; blank lines and `#` comments are skipped.

use ndarray::Array2;

use crate::quant::FixedFormat;

/// A problem with one line of a vector file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct VectorError {
    pub line: usize,
    pub reason: String,
}

/// Parses vectors of `width` raw codes of `format`.
pub fn parse_vectors(
    text: &str,
    width: usize,
    format: FixedFormat,
) -> Result<Array2<i64>, VectorError> {
    parse_rows(text, width, |token| {
        let v: i64 = token.parse().map_err(|_| format!("`{token}` is not a decimal integer"))?;
        if format.contains(v) {
            Ok(v)
        } else {
            Err(format!(
                "value {v} is outside the input format {format} [{}, {}]",
                format.min(),
                format.max()
            ))
        }
    })
}

/// Parses vectors of `width` real numbers (for float models).
pub fn parse_real_vectors(text: &str, width: usize) -> Result<Array2<f32>, VectorError> {
    parse_rows(text, width, |token| match token.parse::<f32>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(format!("`{token}` is not a finite number")),
    })
}

fn parse_rows<T>(
    text: &str,
    width: usize,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Array2<T>, VectorError> {
    let mut values = Vec::new();
    let mut rows = 0;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let err = |reason: String| VectorError { line: i + 1, reason };
        let mut count = 0;
        for token in line.split(|c: char| c == ',' || c.is_whitespace()).filter(|t| !t.is_empty()) {
            values.push(parse(token).map_err(err)?);
            count += 1;
        }
        if count != width {
            return Err(err(format!("{count} values, the network takes {width}")));
        }
        rows += 1;
    }
    Ok(Array2::from_shape_vec((rows, width), values).expect("counted"))
}

/// Prints vectors in the same format, one per line (reals in their shortest
/// exact form).
pub fn format_vectors<T: std::fmt::Display>(x: &Array2<T>) -> String {
    let mut s = String::new();
    for row in x.rows() {
        let line: Vec<String> = row.iter().map(|v| v.to_string()).collect();
        s.push_str(&line.join(" "));
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u4() -> FixedFormat {
        FixedFormat::new(false, 4, 0).unwrap()
    }

    #[test]
    fn parses_spaces_commas_comments_and_blank_lines() {
        let x = parse_vectors("# header\n1 2, 3\n\n4,5,6 # tail\n", 3, u4()).unwrap();
        assert_eq!(x, ndarray::arr2(&[[1, 2, 3], [4, 5, 6]]));
        assert_eq!(format_vectors(&x), "1 2 3\n4 5 6\n");
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse_vectors("1 2 3\n1 2\n", 3, u4()).unwrap_err();
        assert_eq!((e.line, e.reason.as_str()), (2, "2 values, the network takes 3"));
        let e = parse_vectors("1 2 3\n1 x 3\n", 3, u4()).unwrap_err();
        assert!(e.line == 2 && e.reason.contains("`x`"), "{e}");
        let e = parse_vectors("1 2 16\n", 3, u4()).unwrap_err();
        assert!(e.line == 1 && e.reason.contains("u4.0 [0, 15]"), "{e}");
        let e = parse_vectors("1 2 1.5\n", 3, u4()).unwrap_err();
        assert!(e.reason.contains("not a decimal integer"), "{e}");
    }
}
