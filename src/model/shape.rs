use std::fmt;

use serde::{Deserialize, Serialize};

/// The shape of one sample as it flows between layers (no batch dimension).
///
/// Images are in ONNX/PyTorch order: channels, height, width.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    /// A flat vector of `n` values.
    Flat(usize),
    /// A `c`-channel image of `h` rows and `w` columns.
    Image { c: usize, h: usize, w: usize },
}

impl Shape {
    /// Number of scalar values in one sample.
    pub fn numel(self) -> usize {
        match self {
            Shape::Flat(n) => n,
            Shape::Image { c, h, w } => c * h * w,
        }
    }

    /// The dimensions of one sample, outermost first.
    pub fn dims(self) -> Vec<usize> {
        match self {
            Shape::Flat(n) => vec![n],
            Shape::Image { c, h, w } => vec![c, h, w],
        }
    }

    /// Builds a shape from a dimension list: one dimension is flat, three are an image.
    pub fn from_dims(dims: &[usize]) -> Option<Shape> {
        match *dims {
            [n] => Some(Shape::Flat(n)),
            [c, h, w] => Some(Shape::Image { c, h, w }),
            _ => None,
        }
    }

    /// Number of channels: the vector length for flat shapes.
    pub fn channels(self) -> usize {
        match self {
            Shape::Flat(n) => n,
            Shape::Image { c, .. } => c,
        }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shape::Flat(n) => write!(f, "{n}"),
            Shape::Image { c, h, w } => write!(f, "{c}x{h}x{w}"),
        }
    }
}
