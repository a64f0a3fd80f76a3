//! Binary (BinaryConnect, deterministic; BWN scale) and ternary (TWN) weights,
//! trained through the straight-through estimator.

use std::collections::BTreeSet;

use ndarray::{ArrayD, ArrayViewD, ArrayViewMutD, Axis};

use crate::model::ParamId;
use crate::train::WeightTransform;

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

/// The training-time transform: forward with coded weights, straight-through
/// backward, real weights clipped to [-1, 1] after each update.
#[derive(Clone, Debug)]
pub struct Binarizer {
    pub params: BTreeSet<ParamId>,
    pub levels: Levels,
    pub scale: bool,
}

impl WeightTransform for Binarizer {
    fn forward(&self, id: ParamId, w: ArrayViewD<f32>) -> Option<ArrayD<f32>> {
        self.params.contains(&id).then(|| code(w, self.levels, self.scale).to_real())
    }

    fn after_update(&self, id: ParamId, mut w: ArrayViewMutD<f32>) {
        if self.params.contains(&id) {
            w.mapv_inplace(|v| v.clamp(-1.0, 1.0));
        }
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
}
