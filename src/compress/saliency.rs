//! Saliencies: how much the loss would suffer without a weight or a unit,
//! measured on data (the validation split, never the test split).
//!
//! - OBD (LeCun et al. 1990): weight `k` costs `½·h_kk·w_k²`, with `h_kk` the
//!   Hessian diagonal of the mean cross-entropy. We compute the Gauss-Newton
//!   diagonal exactly: `h_kk = mean_x Σ_c p_c(x)·(∂ℓ_c(x)/∂w_k)²`, where `ℓ_c`
//!   is the loss had the label been `c` (for softmax cross-entropy this is also
//!   the Fisher information under the model's own predictions). For networks
//!   that are piecewise linear in each single weight (ReLU, max pooling,
//!   eval-mode batch norm) the term Gauss-Newton drops vanishes on the
//!   diagonal, so this *is* the exact Hessian diagonal almost everywhere;
//!   `tests` check it against finite differences of the gradient.
//! - Taylor (Molchanov et al. 2017): unit `u`'s activation map `a` (after the
//!   batch norm and ReLU that follow its layer) scores
//!   `mean_x |mean_positions(a·∂L/∂a)|`, the first-order change of the loss
//!   were the map zeroed, with `L` the cross-entropy against the true label.
//! - APoZ (Hu et al. 2016): the average percentage of zeros in a unit's map
//!   after its ReLU; a unit that is mostly zero is pruned first.

use std::collections::BTreeMap;

use ndarray::{s, Array2, ArrayD, ArrayView2, Axis};
use rayon::prelude::*;

use super::CompressError;
use crate::data::Split;
use crate::model::{Network, Op, ParamId, ParamKind, Shape};
use crate::train::engine::{backward, forward, predict, Mode};
use crate::train::{softmax, Loss, SoftmaxCrossEntropy};

/// A score per weight of every weight tensor it covers.
pub type Saliency = BTreeMap<ParamId, ArrayD<f32>>;

/// How unit (neuron or filter) importance is measured for structured pruning.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitCriterion {
    /// L1 norm of the unit's incoming weights (Li et al. 2017); data-free.
    #[default]
    L1,
    /// First-order Taylor expansion of the loss (Molchanov et al. 2017).
    Taylor,
    /// Average percentage of zeros after the ReLU (Hu et al. 2016).
    Apoz,
}

impl UnitCriterion {
    pub fn as_str(self) -> &'static str {
        match self {
            UnitCriterion::L1 => "l1",
            UnitCriterion::Taylor => "taylor",
            UnitCriterion::Apoz => "apoz",
        }
    }
}

/// Samples per parallel chunk; fixed, so the sums are the same bytes on any
/// thread count.
const CHUNK: usize = 16;

/// The Gauss-Newton (exact, see the module notes) diagonal of the Hessian of
/// the mean cross-entropy over the rows of `x`, for every weight tensor
/// (not biases or batch-norm parameters).
pub fn hessian_diagonal(net: &Network, x: ArrayView2<f32>) -> Saliency {
    let rows: Vec<usize> = (0..x.nrows()).collect();
    let partial: Vec<Saliency> = rows
        .par_chunks(CHUNK)
        .map(|chunk| {
            let mut acc = Saliency::new();
            for &r in chunk {
                let (out, tape) = forward(net, x.slice(s![r..r + 1, ..]), Mode::Eval);
                let p = softmax(out.view(), 1.0);
                for c in 0..p.ncols() {
                    let pc = p[[0, c]];
                    if pc == 0.0 {
                        continue;
                    }
                    // ∂ℓ_c/∂z = p - e_c, weighted by √p_c so that the squares carry p_c.
                    let mut dy = p.mapv(|v| v * pc.sqrt());
                    dy[[0, c]] -= pc.sqrt();
                    let (grads, _) = backward(net, &tape, dy, false);
                    for (id, g) in grads.items {
                        if id.kind == ParamKind::Weight {
                            let sq = g.mapv(|v| v * v);
                            match acc.get_mut(&id) {
                                Some(a) => *a += &sq,
                                None => {
                                    acc.insert(id, sq);
                                }
                            }
                        }
                    }
                }
            }
            acc
        })
        .collect();
    let mut total = Saliency::new();
    for part in partial {
        for (id, a) in part {
            match total.get_mut(&id) {
                Some(t) => *t += &a,
                None => {
                    total.insert(id, a);
                }
            }
        }
    }
    let n = x.nrows().max(1) as f32;
    total.values_mut().for_each(|t| t.mapv_inplace(|v| v / n));
    total
}

/// OBD saliencies `½·h_kk·w_k²` of every weight, on the rows of `x`.
pub fn obd_saliency(net: &Network, x: ArrayView2<f32>) -> Saliency {
    let mut h = hessian_diagonal(net, x);
    for (id, w) in net.params() {
        if let Some(s) = h.get_mut(&id) {
            s.zip_mut_with(&w, |s, &w| *s = 0.5 * *s * w * w);
        }
    }
    h
}

/// The layer whose output is the activation map of weighted layer `layer`'s
/// units: the last of the batch norms and ReLUs right after it.
pub fn activation_layer(net: &Network, layer: usize) -> usize {
    let mut j = layer;
    while matches!(net.layers().get(j + 1).map(|l| &l.op), Some(Op::BatchNorm(_) | Op::Relu)) {
        j += 1;
    }
    j
}

/// Values of each unit's map in a row of activations of `shape` (C, H, W or
/// flat): the unit's positions.
fn unit_positions(shape: Shape) -> (usize, usize) {
    match shape {
        Shape::Image { c, h, w } => (c, h * w),
        Shape::Flat(n) => (n, 1),
    }
}

/// Taylor scores of the units of weighted layer `layer` on `data`
/// (`mean_x |mean_positions(a·∂L/∂a)|`).
pub fn taylor_scores(net: &Network, layer: usize, data: &Split) -> Result<Vec<f64>, CompressError> {
    let j = activation_layer(net, layer);
    if j + 1 == net.layers().len() {
        return Err(CompressError::Config(format!(
            "layer `{}` gives the network's outputs; its units are not pruned",
            net.layers()[layer].name
        )));
    }
    let (units, positions) = unit_positions(net.output_of(j));
    let tail = Network::new(net.output_of(j), net.layers()[j + 1..].to_vec())?;
    let rows: Vec<usize> = (0..data.len()).collect();
    let partial: Vec<Vec<f64>> = rows
        .par_chunks(CHUNK * 8)
        .map(|chunk| {
            let x = data.x.select(Axis(0), chunk);
            let labels: Vec<u8> = chunk.iter().map(|&i| data.y[i]).collect();
            let a = prefix(net, j, x.view());
            let (out, tape) = forward(&tail, a.view(), Mode::Eval);
            let (_, dy) = SoftmaxCrossEntropy.loss_sum(out.view(), a.view(), &labels);
            let (_, da) = backward(&tail, &tape, dy, true);
            let da = da.expect("asked for the input gradient");
            let mut sums = vec![0f64; units];
            for (ar, gr) in a.rows().into_iter().zip(da.rows()) {
                for (u, sum) in sums.iter_mut().enumerate() {
                    let span = u * positions..(u + 1) * positions;
                    let dot: f64 = ar
                        .slice(s![span.clone()])
                        .iter()
                        .zip(gr.slice(s![span]))
                        .map(|(&a, &g)| a as f64 * g as f64)
                        .sum();
                    *sum += (dot / positions as f64).abs();
                }
            }
            sums
        })
        .collect();
    Ok(mean_of(partial, units, data.len()))
}

/// APoZ of the units of weighted layer `layer` on `data`: the fraction of
/// zeros in each unit's map after its ReLU.
pub fn apoz(net: &Network, layer: usize, data: &Split) -> Result<Vec<f64>, CompressError> {
    let j = activation_layer(net, layer);
    if !matches!(net.layers()[j].op, Op::Relu) {
        return Err(CompressError::Config(format!(
            "APoZ counts zeros after a ReLU, and layer `{}` has none after it; use criterion l1 \
             or taylor",
            net.layers()[layer].name
        )));
    }
    let (units, positions) = unit_positions(net.output_of(j));
    let rows: Vec<usize> = (0..data.len()).collect();
    let partial: Vec<Vec<f64>> = rows
        .par_chunks(CHUNK * 8)
        .map(|chunk| {
            let a = prefix(net, j, data.x.select(Axis(0), chunk).view());
            let mut zeros = vec![0f64; units];
            for row in a.rows() {
                for (v, z) in row.exact_chunks(positions).into_iter().zip(zeros.iter_mut()) {
                    *z += v.iter().filter(|&&v| v == 0.0).count() as f64 / positions as f64;
                }
            }
            zeros
        })
        .collect();
    Ok(mean_of(partial, units, data.len()))
}

/// Importance of each unit of weighted layer `layer` (higher is kept first).
pub fn unit_importance(
    net: &Network,
    layer: usize,
    criterion: UnitCriterion,
    data: &Split,
) -> Result<Vec<f64>, CompressError> {
    Ok(match criterion {
        UnitCriterion::L1 => super::surgery::l1_norms(net, layer)?,
        UnitCriterion::Taylor => taylor_scores(net, layer, data)?,
        UnitCriterion::Apoz => apoz(net, layer, data)?.into_iter().map(|z| 1.0 - z).collect(),
    })
}

/// The output of layer `last` for the rows of `x`.
fn prefix(net: &Network, last: usize, x: ArrayView2<f32>) -> Array2<f32> {
    let head = Network::new(net.input(), net.layers()[..=last].to_vec())
        .expect("a prefix of a valid network is valid");
    predict(&head, x)
}

fn mean_of(partial: Vec<Vec<f64>>, units: usize, n: usize) -> Vec<f64> {
    let mut total = vec![0f64; units];
    for p in partial {
        total.iter_mut().zip(p).for_each(|(t, v)| *t += v);
    }
    total.iter().map(|t| t / n.max(1) as f64).collect()
}
