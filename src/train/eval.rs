//! Inference over whole splits: outputs, predictions, accuracy.

use ndarray::{concatenate, Array2, ArrayView2, Axis};
use rayon::prelude::*;

use super::engine::predict;
use super::TrainError;
use crate::data::Split;
use crate::model::{Network, Shape};

/// Rows per parallel inference chunk.
const CHUNK: usize = 256;

/// Runs the network over many rows, in parallel chunks; rows in, rows out.
pub fn predict_all(net: &Network, x: ArrayView2<f32>) -> Array2<f32> {
    let outputs: Vec<Array2<f32>> = x
        .axis_chunks_iter(Axis(0), CHUNK)
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|chunk| predict(net, chunk))
        .collect();
    if outputs.is_empty() {
        return Array2::zeros((0, net.output().numel()));
    }
    let views: Vec<_> = outputs.iter().map(|o| o.view()).collect();
    concatenate(Axis(0), &views).expect("all chunks have the output width")
}

/// Index of the largest value of each row (the first one on ties).
pub fn argmax_rows(x: ArrayView2<f32>) -> Vec<usize> {
    x.rows()
        .into_iter()
        .map(|r| {
            let mut best = 0;
            for (i, &v) in r.iter().enumerate() {
                if v > r[best] {
                    best = i;
                }
            }
            best
        })
        .collect()
}

/// Top-1 accuracy of the network on a split (0 for an empty split).
pub fn evaluate(net: &Network, split: &Split) -> f64 {
    if split.is_empty() {
        return 0.0;
    }
    let out = predict_all(net, split.x.view());
    let correct =
        argmax_rows(out.view()).iter().zip(&split.y).filter(|(p, l)| **p == **l as usize).count();
    correct as f64 / split.len() as f64
}

/// Checks that a split fits the network: sample width and label range.
pub fn check_split(net: &Network, split: &Split, what: &str) -> Result<(), TrainError> {
    if split.x.ncols() != net.input().numel() {
        return Err(TrainError::Data(format!(
            "the {what} samples have {} features, the network input {} takes {}",
            split.x.ncols(),
            net.input(),
            net.input().numel()
        )));
    }
    if split.x.nrows() != split.y.len() {
        return Err(TrainError::Data(format!(
            "the {what} split has {} samples but {} labels",
            split.x.nrows(),
            split.y.len()
        )));
    }
    let classes = match net.output() {
        Shape::Flat(n) => n,
        other => {
            return Err(TrainError::Data(format!(
                "the network output must be a flat vector of class scores, got {other}; add a \
                 flatten and a dense layer"
            )))
        }
    };
    if let Some(l) = split.y.iter().find(|&&l| l as usize >= classes) {
        return Err(TrainError::Data(format!(
            "the {what} split has label {l}, the network has only {classes} outputs"
        )));
    }
    if split.is_empty() {
        return Err(TrainError::Data(format!("the {what} split is empty")));
    }
    Ok(())
}
