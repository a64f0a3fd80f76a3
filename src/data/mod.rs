//! Datasets: the embedded 8x8 digits set and Fashion-MNIST from Debian's
//! `dataset-fashion-mnist` package.
//!
//! Every sample is a flat row of `f32` features in [0, 1] (the raw pixel divided
//! by [`Dataset::pixel_max`]), in ONNX order (channels, height, width), and a
//! class label.
//!
//! Every dataset has three fixed splits: `train` (what training learns from),
//! `val` (carved from the published training data; every choice made from data
//! — hyperparameters, calibration, early stopping — is made on it) and `test`
//! (only ever reported).

mod idx;
mod subset;

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use ndarray::{Array2, Axis};

use crate::model::Shape;

pub use idx::{parse_idx, IdxArray};

/// The scikit-learn copy of the UCI 8x8 digits (1797 rows of 64 pixels 0..16 and a label).
const DIGITS_CSV_GZ: &[u8] = include_bytes!("../../data/digits.csv.gz");

/// Where Debian's `dataset-fashion-mnist` package installs its files.
pub const FASHION_MNIST_DEFAULT_DIR: &str = "/usr/share/datasets/fashion-mnist";
/// Environment variable that overrides the Fashion-MNIST directory.
pub const DATA_DIR_ENV: &str = "SHIFTKIT_DATA_DIR";

/// Errors of the data stage.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("unknown dataset `{0}`; choose `digits` or `fashion-mnist`")]
    UnknownDataset(String),
    #[error("{}: {reason}", path.display())]
    Malformed { path: PathBuf, reason: String },
    #[error(
        "Fashion-MNIST not found: {} does not exist; install it with \
         `apt-get install dataset-fashion-mnist`, or point the data directory (data_dir, or \
         {DATA_DIR_ENV}) at a directory holding the four IDX files",
        path.display()
    )]
    FashionMnistMissing { path: PathBuf },
    #[error(
        "cannot train on {asked} samples: {reason}; give a number from {classes} (one of each \
         class) to {most}"
    )]
    TrainSamples { asked: usize, classes: usize, most: usize, reason: String },
    #[error("cannot read {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The datasets shiftkit knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DatasetName {
    Digits,
    FashionMnist,
}

impl DatasetName {
    pub fn as_str(self) -> &'static str {
        match self {
            DatasetName::Digits => "digits",
            DatasetName::FashionMnist => "fashion-mnist",
        }
    }
}

impl fmt::Display for DatasetName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DatasetName {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self, DataError> {
        match s {
            "digits" => Ok(DatasetName::Digits),
            "fashion-mnist" | "fashion_mnist" | "fmnist" => Ok(DatasetName::FashionMnist),
            other => Err(DataError::UnknownDataset(other.to_string())),
        }
    }
}

/// Samples and labels of one split.
#[derive(Clone, Debug, PartialEq)]
pub struct Split {
    /// One sample per row, features in [0, 1].
    pub x: Array2<f32>,
    pub y: Vec<u8>,
}

impl Split {
    pub fn len(&self) -> usize {
        self.y.len()
    }
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }
    /// The first `n` samples (all of them if there are fewer).
    pub fn head(&self, n: usize) -> Split {
        let n = n.min(self.len());
        Split { x: self.x.slice(ndarray::s![..n, ..]).to_owned(), y: self.y[..n].to_vec() }
    }
}

/// A dataset with its fixed train/validation/test splits.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub name: DatasetName,
    /// Shape of one sample.
    pub sample: Shape,
    pub classes: usize,
    /// Raw pixel values run from 0 to `pixel_max`; features are `pixel / pixel_max`.
    pub pixel_max: u8,
    /// What training learns from.
    pub train: Split,
    /// Held out of the published training data: what choices are made on.
    pub val: Split,
    /// Only reported.
    pub test: Split,
}

/// The three splits, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SplitName {
    Train,
    Val,
    Test,
}

impl SplitName {
    pub fn as_str(self) -> &'static str {
        match self {
            SplitName::Train => "training",
            SplitName::Val => "validation",
            SplitName::Test => "test",
        }
    }
}

impl Dataset {
    /// The split `name`.
    pub fn split(&self, name: SplitName) -> &Split {
        match name {
            SplitName::Train => &self.train,
            SplitName::Val => &self.val,
            SplitName::Test => &self.test,
        }
    }
}

/// Sample `i` of the published training data is a validation sample when
/// `i % VAL_EVERY == VAL_EVERY - 1`...
pub const FASHION_VAL_EVERY: usize = 12;
/// ...and of the digits' training rows (counted among them) likewise.
pub const DIGITS_VAL_EVERY: usize = 8;

impl Split {
    /// Splits off every `every`-th sample (indices `every - 1`, `2 * every - 1`,
    /// ...): (the rest, the taken), both in their original order.
    pub fn split_every(&self, every: usize) -> (Split, Split) {
        let every = every.max(1);
        let (taken, rest): (Vec<usize>, Vec<usize>) =
            (0..self.len()).partition(|i| i % every == every - 1);
        (self.select(&rest), self.select(&taken))
    }

    fn select(&self, rows: &[usize]) -> Split {
        Split { x: self.x.select(Axis(0), rows), y: rows.iter().map(|&i| self.y[i]).collect() }
    }
}

/// Loads a dataset. `data_dir` (or the environment variable [`DATA_DIR_ENV`])
/// overrides where Fashion-MNIST is read from.
pub fn load(name: DatasetName, data_dir: Option<&Path>) -> Result<Dataset, DataError> {
    match name {
        DatasetName::Digits => load_digits(),
        DatasetName::FashionMnist => {
            let dir = match data_dir {
                Some(d) => d.to_path_buf(),
                None => std::env::var_os(DATA_DIR_ENV)
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from(FASHION_MNIST_DEFAULT_DIR)),
            };
            load_fashion_mnist(&dir)
        }
    }
}

/// The digits set, split deterministically: sample `i` is in the test split when
/// `i % 5 == 4` (359 samples), so both splits span all writers; every
/// [`DIGITS_VAL_EVERY`]-th of the other 1438 is a validation sample (179), the
/// remaining 1259 train.
pub fn load_digits() -> Result<Dataset, DataError> {
    let path = Path::new("<embedded digits.csv.gz>");
    let mut text = String::new();
    flate2::read::GzDecoder::new(DIGITS_CSV_GZ)
        .read_to_string(&mut text)
        .map_err(|source| DataError::Io { path: path.into(), source })?;
    let samples = parse_digits_csv(&text, path)?;
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for (i, s) in samples.into_iter().enumerate() {
        if i % 5 == 4 {
            test.push(s);
        } else {
            train.push(s);
        }
    }
    let (train, val) = split_from_pixels(&train, 16).split_every(DIGITS_VAL_EVERY);
    Ok(Dataset {
        name: DatasetName::Digits,
        sample: Shape::Image { c: 1, h: 8, w: 8 },
        classes: 10,
        pixel_max: 16,
        train,
        val,
        test: split_from_pixels(&test, 16),
    })
}

type Sample = (Vec<u8>, u8);

fn parse_digits_csv(text: &str, path: &Path) -> Result<Vec<Sample>, DataError> {
    let bad = |line: usize, reason: String| DataError::Malformed {
        path: path.into(),
        reason: format!("line {line}: {reason}"),
    };
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let values = line
            .split(',')
            .map(|v| v.trim().parse::<f32>().map_err(|e| bad(i + 1, format!("`{v}`: {e}"))))
            .collect::<Result<Vec<f32>, _>>()?;
        if values.len() != 65 {
            return Err(bad(i + 1, format!("expected 65 values, found {}", values.len())));
        }
        let as_u8 = |v: f32, max: f32| -> Result<u8, DataError> {
            if v.fract() == 0.0 && (0.0..=max).contains(&v) {
                Ok(v as u8)
            } else {
                Err(bad(i + 1, format!("value {v} is not a whole number in 0..={max}")))
            }
        };
        let pixels = values[..64].iter().map(|&v| as_u8(v, 16.0)).collect::<Result<_, _>>()?;
        out.push((pixels, as_u8(values[64], 9.0)?));
    }
    Ok(out)
}

fn split_from_pixels(samples: &[Sample], pixel_max: u8) -> Split {
    let features = samples.first().map_or(0, |s| s.0.len());
    let scale = 1.0 / pixel_max as f32;
    let x =
        Array2::from_shape_fn((samples.len(), features), |(i, j)| samples[i].0[j] as f32 * scale);
    Split { x, y: samples.iter().map(|s| s.1).collect() }
}

/// Fashion-MNIST from a directory holding the four IDX files (gzipped or not).
/// Every [`FASHION_VAL_EVERY`]-th training image is a validation image (5,000
/// of the 60,000), the other 55,000 train.
pub fn load_fashion_mnist(dir: &Path) -> Result<Dataset, DataError> {
    if !dir.is_dir() {
        return Err(DataError::FashionMnistMissing { path: dir.to_path_buf() });
    }
    let (train, val) = read_idx_split(dir, "train")?.split_every(FASHION_VAL_EVERY);
    let test = read_idx_split(dir, "t10k")?;
    Ok(Dataset {
        name: DatasetName::FashionMnist,
        sample: Shape::Image { c: 1, h: 28, w: 28 },
        classes: 10,
        pixel_max: 255,
        train,
        val,
        test,
    })
}

fn read_idx_split(dir: &Path, prefix: &str) -> Result<Split, DataError> {
    let (img_path, images) = read_idx_file(dir, &format!("{prefix}-images-idx3-ubyte"))?;
    let (lbl_path, labels) = read_idx_file(dir, &format!("{prefix}-labels-idx1-ubyte"))?;
    let bad = |path: &Path, reason: String| DataError::Malformed { path: path.into(), reason };
    if images.dims.len() != 3 || images.dims[1] != 28 || images.dims[2] != 28 {
        return Err(bad(
            &img_path,
            format!("expected N x 28 x 28 images, found {:?}", images.dims),
        ));
    }
    if labels.dims.len() != 1 || labels.dims[0] != images.dims[0] {
        return Err(bad(
            &lbl_path,
            format!("expected {} labels, found dimensions {:?}", images.dims[0], labels.dims),
        ));
    }
    if let Some(l) = labels.data.iter().find(|&&l| l >= 10) {
        return Err(bad(&lbl_path, format!("label {l} is not a class 0..9")));
    }
    let n = images.dims[0];
    let x = Array2::from_shape_vec((n, 784), images.data)
        .expect("parse_idx checked the size")
        .mapv(|p| p as f32 / 255.0);
    debug_assert_eq!(x.len_of(Axis(0)), n);
    Ok(Split { x, y: labels.data })
}

/// Reads `dir/name.gz` or, failing that, `dir/name`.
fn read_idx_file(dir: &Path, name: &str) -> Result<(PathBuf, IdxArray), DataError> {
    let gz = dir.join(format!("{name}.gz"));
    let plain = dir.join(name);
    let (path, bytes) = if gz.exists() {
        let file = std::fs::File::open(&gz)
            .map_err(|source| DataError::Io { path: gz.clone(), source })?;
        let mut bytes = Vec::new();
        flate2::read::GzDecoder::new(file)
            .read_to_end(&mut bytes)
            .map_err(|source| DataError::Io { path: gz.clone(), source })?;
        (gz, bytes)
    } else if plain.exists() {
        let bytes = std::fs::read(&plain)
            .map_err(|source| DataError::Io { path: plain.clone(), source })?;
        (plain, bytes)
    } else {
        return Err(DataError::FashionMnistMissing { path: gz });
    };
    let idx =
        parse_idx(&bytes).map_err(|reason| DataError::Malformed { path: path.clone(), reason })?;
    Ok((path, idx))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_split_is_fixed_and_complete() {
        let d = load_digits().unwrap();
        assert_eq!(d.train.len(), 1259);
        assert_eq!(d.val.len(), 179);
        assert_eq!(d.test.len(), 359);
        assert_eq!(d.train.x.ncols(), 64);
        assert!(d.train.x.iter().all(|&v| (0.0..=1.0).contains(&v)));
        assert!(d.test.y.iter().all(|&l| l < 10));
        // Every class appears in every split.
        for c in 0..10u8 {
            assert!(d.train.y.contains(&c) && d.val.y.contains(&c) && d.test.y.contains(&c));
        }
    }

    #[test]
    fn split_every_takes_every_nth_in_order() {
        let x = Array2::from_shape_fn((7, 1), |(i, _)| i as f32);
        let s = Split { x, y: (0..7).collect() };
        let (rest, taken) = s.split_every(3);
        assert_eq!(taken.y, vec![2, 5]);
        assert_eq!(rest.y, vec![0, 1, 3, 4, 6]);
        assert_eq!(rest.x.column(0).to_vec(), vec![0.0, 1.0, 3.0, 4.0, 6.0]);
    }

    #[test]
    fn digits_csv_errors_name_the_line() {
        let e = parse_digits_csv("1,2,3\n", Path::new("x.csv")).unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("65"), "{e}");
        let row = vec!["17"; 65].join(",");
        let e = parse_digits_csv(&row, Path::new("x.csv")).unwrap_err().to_string();
        assert!(e.contains("17"), "{e}");
    }

    #[test]
    fn missing_fashion_dir_says_what_to_install() {
        let e = load_fashion_mnist(Path::new("/nonexistent/fmnist")).unwrap_err().to_string();
        assert!(e.contains("apt-get install dataset-fashion-mnist"), "{e}");
    }
}
