//! Magnitude pruning (Han et al. 2015): the smallest weights become exactly
//! zero, per layer or against one global threshold, in iterations with
//! fine-tuning between them. A pruned weight is an exact zero, and every pass
//! that trains afterwards masks it (`pruned_masks`), so the mask survives
//! k-means, INQ, ternarization and distillation.

use ndarray::ArrayD;

use super::saliency::{obd_saliency, Saliency};
use super::{defaults, CompressError};
use crate::data::Split;
use crate::model::{Network, Op, ParamId, ParamKind};
use crate::train::{self, Hooks, Masks, Observer, TrainConfig};

/// How a sparsity target is met.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Each layer reaches its own target.
    Layer,
    /// One magnitude threshold over all selected layers: the overall fraction
    /// meets the target, layers with small weights lose more.
    Global,
}

/// What ranks weights for unstructured pruning (the smallest go first).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeightCriterion {
    /// `|w|` (Han et al. 2015); data-free.
    #[default]
    Magnitude,
    /// OBD's `½·h_kk·w²` on the validation split (`saliency.rs`).
    Obd,
}

/// Settings of a pruning run.
#[derive(Clone, Debug, PartialEq)]
pub struct PruneConfig {
    /// Target sparsity (fraction of zero weights) per layer index. With
    /// `Scope::Global` the first target is the overall one.
    pub targets: Vec<(usize, f32)>,
    pub scope: Scope,
    /// Pruning rounds; round `t` of `n` reaches sparsity `1 - (1-s)^(t/n)`, so each
    /// round removes the same fraction of what is left.
    pub iterations: usize,
    /// Fine-tuning epochs after each round (0: prune only).
    pub epochs: usize,
    pub train: TrainConfig,
    /// What ranks the weights; measured again before each round.
    pub criterion: WeightCriterion,
}

/// The weight parameters of the dense and convolution layers.
pub fn weighted_layers(net: &Network) -> Vec<usize> {
    net.layers()
        .iter()
        .enumerate()
        .filter(|(_, l)| matches!(l.op, Op::Dense(_) | Op::Conv2d(_)))
        .map(|(i, _)| i)
        .collect()
}

fn weight_id(layer: usize) -> ParamId {
    ParamId { layer, kind: ParamKind::Weight }
}

/// Masks that hold every exactly-zero weight of every dense and convolution
/// layer at zero: the pruning mask, as every later training step keeps it.
pub fn pruned_masks(net: &Network) -> Masks {
    net.params()
        .into_iter()
        .filter(|(id, _)| id.kind == ParamKind::Weight)
        .filter(|(_, w)| w.iter().any(|&v| v == 0.0))
        .map(|(id, w)| (id, w.mapv(|v| if v == 0.0 { 0.0 } else { 1.0 })))
        .collect()
}

/// Adds `more` to `masks`; where both hold a tensor, a weight trains only if
/// both let it (the product), so no mask ever lifts another. Masks of one
/// tensor must have its shape: take both from the network as it is.
pub fn merge_masks(masks: &mut Masks, more: Masks) {
    for (id, m) in more {
        let merged = match masks.remove(&id) {
            Some(old) => old * &m,
            None => m,
        };
        masks.insert(id, merged);
    }
}

/// Fraction of exactly-zero entries.
pub fn sparsity(w: &ArrayD<f32>) -> f64 {
    if w.is_empty() {
        return 0.0;
    }
    w.iter().filter(|&&v| v == 0.0).count() as f64 / w.len() as f64
}

/// Checks a sparsity target.
pub fn check_sparsity(s: f32) -> Result<(), CompressError> {
    if (0.0..1.0).contains(&s) {
        Ok(())
    } else {
        Err(CompressError::Setting {
            setting: "sparsity",
            reason: format!("must be at least 0 and below 1 (a fraction of zero weights), got {s}"),
        })
    }
}

/// Zeroes the smallest weights so that the given layers reach their targets
/// (never un-pruning a zero). Ties break by layer, then index. Returns the
/// number of weights zeroed.
pub fn prune_to(net: &mut Network, targets: &[(usize, f32)], scope: Scope) -> usize {
    prune_by(net, targets, scope, None)
}

/// [`prune_to`], ranking weights by `saliency` (one score per weight of
/// every target layer) instead of `|w|`.
pub fn prune_by(
    net: &mut Network,
    targets: &[(usize, f32)],
    scope: Scope,
    saliency: Option<&Saliency>,
) -> usize {
    // (score, layer, index) of every still-nonzero candidate, and how many to cut.
    let groups: Vec<Vec<(usize, f32)>> = match scope {
        Scope::Layer => targets.iter().map(|&t| vec![t]).collect(),
        Scope::Global => {
            let s = targets.first().map_or(0.0, |t| t.1);
            vec![targets.iter().map(|&(l, _)| (l, s)).collect()]
        }
    };
    let mut zeroed = 0;
    for group in groups {
        let mut total = 0usize;
        let mut zeros = 0usize;
        let mut free: Vec<(f32, usize, usize)> = Vec::new();
        let mut target = 0f64;
        for &(layer, s) in &group {
            let w = param(net, weight_id(layer));
            total += w.len();
            target += s as f64 * w.len() as f64;
            let score = saliency.map(|s| &s[&weight_id(layer)]);
            for (i, &v) in w.iter().enumerate() {
                if v == 0.0 {
                    zeros += 1;
                } else {
                    free.push((
                        score.map_or(v.abs(), |s| s.as_slice().expect("contiguous")[i]),
                        layer,
                        i,
                    ));
                }
            }
        }
        let want = (target - 1e-6 * total as f64).ceil().max(0.0) as usize;
        let cut = want.saturating_sub(zeros).min(free.len());
        if cut == 0 {
            continue;
        }
        free.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        free.truncate(cut);
        free.sort_by_key(|&(_, l, i)| (l, i));
        for (id, mut w) in net.params_mut() {
            if id.kind != ParamKind::Weight {
                continue;
            }
            let flat = w.as_slice_mut().expect("weights are contiguous");
            for &(_, _, i) in free.iter().filter(|f| f.1 == id.layer) {
                flat[i] = 0.0;
            }
        }
        zeroed += cut;
    }
    zeroed
}

/// One pruning round's figures.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct PruneRound {
    pub round: usize,
    /// Overall sparsity of the selected layers after the round.
    pub sparsity: f64,
    pub train_accuracy: Option<f64>,
}

/// Iterative pruning with fine-tuning, in place; OBD measures on `val`.
/// `hooks` give the fine-tuning's loss (for example distillation) and masks
/// to keep besides the pruning mask (for example weights an earlier pass
/// froze).
pub fn run_prune(
    net: &mut Network,
    data: &Split,
    val: &Split,
    config: &PruneConfig,
    hooks: &Hooks<'_>,
    observer: &mut dyn Observer,
) -> Result<Vec<PruneRound>, CompressError> {
    if config.iterations == 0 {
        return Err(CompressError::Setting {
            setting: "iterations",
            reason: "must be at least 1".into(),
        });
    }
    for &(layer, s) in &config.targets {
        check_sparsity(s)?;
        if !weighted_layers(net).contains(&layer) {
            return Err(CompressError::Config(format!("layer {layer} has no weights to prune")));
        }
    }
    let n = config.iterations as f64;
    let mut rounds = Vec::new();
    for t in 1..=config.iterations {
        let step: Vec<(usize, f32)> = config
            .targets
            .iter()
            .map(|&(l, s)| (l, (1.0 - (1.0 - s as f64).powf(t as f64 / n)) as f32))
            .map(
                |(l, s)| {
                    if t == config.iterations {
                        (l, config_target(config, l))
                    } else {
                        (l, s)
                    }
                },
            )
            .collect();
        let saliency = match config.criterion {
            WeightCriterion::Magnitude => None,
            WeightCriterion::Obd => {
                let x = val.head(defaults::SALIENCY_SAMPLES);
                Some(obd_saliency(net, x.x.view()))
            }
        };
        prune_by(net, &step, config.scope, saliency.as_ref());
        let mut train_accuracy = None;
        if config.epochs > 0 {
            let mut masks = hooks.masks.clone();
            merge_masks(&mut masks, pruned_masks(net));
            let round_hooks =
                Hooks { masks, transform: hooks.transform, loss: hooks.loss, acts: hooks.acts };
            let cfg = TrainConfig { epochs: config.epochs, ..config.train.clone() };
            let reports = train::train(net, data, None, &cfg, &round_hooks, observer)?;
            train_accuracy = reports.last().map(|r| r.train_accuracy);
        }
        let (zeros, total) = config.targets.iter().fold((0usize, 0usize), |(z, n), &(l, _)| {
            let w = param(net, weight_id(l));
            (z + w.iter().filter(|&&v| v == 0.0).count(), n + w.len())
        });
        rounds.push(PruneRound {
            round: t,
            sparsity: zeros as f64 / total.max(1) as f64,
            train_accuracy,
        });
    }
    Ok(rounds)
}

fn config_target(config: &PruneConfig, layer: usize) -> f32 {
    config.targets.iter().find(|t| t.0 == layer).map_or(0.0, |t| t.1)
}

pub(crate) fn param(net: &Network, id: ParamId) -> ArrayD<f32> {
    net.params()
        .into_iter()
        .find(|(i, _)| *i == id)
        .map(|(_, w)| w.to_owned())
        .expect("the parameter exists")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ArchSpec;

    #[test]
    fn layer_scope_meets_each_target_and_keeps_the_largest() {
        let mut net = ArchSpec::parse("mlp:20-16-8-4").unwrap().build(3).unwrap();
        let layers = weighted_layers(&net);
        let before = param(&net, weight_id(layers[0]));
        let targets: Vec<_> = layers.iter().map(|&l| (l, 0.75)).collect();
        prune_to(&mut net, &targets, Scope::Layer);
        for &l in &layers {
            let w = param(&net, weight_id(l));
            assert_eq!(w.iter().filter(|&&v| v == 0.0).count(), w.len() * 3 / 4);
        }
        let after = param(&net, weight_id(layers[0]));
        let kept_min =
            after.iter().filter(|v| **v != 0.0).map(|v| v.abs()).fold(f32::INFINITY, f32::min);
        for (a, b) in before.iter().zip(after.iter()) {
            if *b == 0.0 {
                assert!(a.abs() <= kept_min);
            } else {
                assert_eq!(a, b, "kept weights keep their value");
            }
        }
    }

    #[test]
    fn global_scope_meets_the_overall_target() {
        let mut net = ArchSpec::parse("mlp:20-16-8-4").unwrap().build(3).unwrap();
        let layers = weighted_layers(&net);
        let targets: Vec<_> = layers.iter().map(|&l| (l, 0.6)).collect();
        prune_to(&mut net, &targets, Scope::Global);
        let (z, n) = layers.iter().fold((0, 0), |(z, n), &l| {
            let w = param(&net, weight_id(l));
            (z + w.iter().filter(|&&v| v == 0.0).count(), n + w.len())
        });
        assert_eq!(z, (0.6f64 * n as f64).ceil() as usize);
    }

    #[test]
    fn masks_cover_exactly_the_zeros() {
        let mut net = ArchSpec::parse("mlp:6-5-3").unwrap().build(1).unwrap();
        prune_to(&mut net, &[(0, 0.5)], Scope::Layer);
        let masks = pruned_masks(&net);
        assert_eq!(masks.len(), 1, "only the pruned layer has a mask");
        let w = param(&net, weight_id(0));
        for (m, v) in masks[&weight_id(0)].iter().zip(w.iter()) {
            assert_eq!(*m == 0.0, *v == 0.0);
        }
    }

    #[test]
    fn merged_masks_never_lift_a_freeze() {
        let id = weight_id(0);
        let frozen = ndarray::arr1(&[0.0f32, 0.0, 0.0]).into_dyn();
        let pruned = ndarray::arr1(&[1.0f32, 0.0, 1.0]).into_dyn();
        let mut masks = Masks::from([(id, frozen.clone())]);
        merge_masks(&mut masks, Masks::from([(id, pruned.clone())]));
        assert_eq!(masks[&id], frozen);
        let mut masks = Masks::new();
        merge_masks(&mut masks, Masks::from([(id, pruned.clone())]));
        assert_eq!(masks[&id], pruned);
    }

    #[test]
    fn bad_targets_are_refused() {
        assert!(check_sparsity(1.0).is_err());
        assert!(check_sparsity(-0.1).is_err());
        assert!(check_sparsity(f32::NAN).is_err());
        assert!(check_sparsity(0.9).is_ok());
    }
}
