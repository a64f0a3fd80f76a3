//! Incremental network quantization (Zhou et al. 2017), as DESIGN.md section 4
//! defines it: per layer, weights become `{0, ±2^k}`, `k` in `[n2, n1]`, in
//! magnitude-first portions, with retraining of the rest in between.

use ndarray::{ArrayD, ArrayViewD};

use super::prune::{merge_masks, pruned_masks};
use super::CompressError;
use crate::data::Split;
use crate::model::{Network, Op, ParamId, ParamKind};
use crate::quant::{check_range, Pow2Range, RangeRule, INQ_BITS};
use crate::train::{self, Hooks, Masks, Observer, TrainConfig};

/// Settings of an INQ run.
#[derive(Clone, Debug, PartialEq)]
pub struct InqConfig {
    /// Bit width per weighted layer, by layer index (layers not listed are left alone).
    pub bits: Vec<(usize, u32)>,
    /// How each layer's exponent range is chosen.
    pub range: RangeRule,
    /// Accumulated portions, increasing, ending at 1.
    pub schedule: Vec<f32>,
    /// Retraining epochs after each portion (0: quantize without retraining).
    pub epochs_per_step: usize,
    /// The retraining run (epochs is taken from `epochs_per_step`).
    pub train: TrainConfig,
}

/// Checks a portion schedule: increasing, within (0, 1], ending at 1.
pub fn check_schedule(schedule: &[f32]) -> Result<(), CompressError> {
    let bad = |reason: &str| {
        Err(CompressError::Setting {
            setting: "schedule",
            reason: format!("{schedule:?}: {reason}"),
        })
    };
    if schedule.is_empty() {
        return bad("it is empty");
    }
    if schedule.iter().any(|p| !p.is_finite()) {
        return bad("portions must be numbers");
    }
    if schedule.windows(2).any(|p| p[1] <= p[0]) {
        return bad("portions must increase");
    }
    if schedule[0] <= 0.0 {
        return bad("portions must be above 0");
    }
    if *schedule.last().expect("non-empty") != 1.0 {
        return bad("the last portion must be 1");
    }
    Ok(())
}

/// The indices to quantize next: among entries not yet frozen, largest
/// magnitude first (ties by index), until `portion` of all entries are frozen.
pub fn partition(w: ArrayViewD<f32>, frozen: &[bool], portion: f32) -> Vec<usize> {
    let n = w.len();
    let target = portion_count(portion, n);
    let done = frozen.iter().filter(|&&f| f).count();
    let mut free: Vec<(usize, f32)> =
        w.iter().enumerate().filter(|(i, _)| !frozen[*i]).map(|(i, &v)| (i, v.abs())).collect();
    free.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    free.into_iter().take(target.saturating_sub(done)).map(|(i, _)| i).collect()
}

/// Entries frozen at `portion` of `n`: the smallest count reaching the portion,
/// with a relative tolerance of 1e-6 so that an `f32` portion like 0.6 means 3
/// of 5, not 4.
pub fn portion_count(portion: f32, n: usize) -> usize {
    let exact = portion as f64 * n as f64;
    ((exact - 1e-6 * n as f64).ceil().max(0.0) as usize).min(n)
}

/// What one INQ step did.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct InqStep {
    pub portion: f32,
    pub quantized: usize,
    pub train_accuracy: Option<f64>,
}

/// Receives the epochs of the retraining runs and the end of every INQ step.
pub trait InqObserver: Observer {
    /// After each step (its retraining included), with the network as it stands.
    fn inq_step(&mut self, _step: &InqStep, _net: &Network) {}
}

impl InqObserver for crate::train::Quiet {}

/// Runs INQ on `net` in place. Weights that are exactly zero when INQ starts
/// (pruned) stay zero, in every layer; `hooks` give the retraining's loss (for
/// example distillation) and any masks to keep besides. Returns the exponent
/// range of every quantized layer.
pub fn run_inq(
    net: &mut Network,
    data: &Split,
    config: &InqConfig,
    hooks: &Hooks<'_>,
    observer: &mut dyn InqObserver,
) -> Result<Vec<(usize, Option<Pow2Range>)>, CompressError> {
    check_schedule(&config.schedule)?;
    let mut layers = Vec::new();
    for &(index, bits) in &config.bits {
        check_range("INQ bits", bits, INQ_BITS)?;
        let Some(layer) = net.layers().get(index) else {
            return Err(CompressError::Config(format!("no layer {index}")));
        };
        if !matches!(layer.op, Op::Dense(_) | Op::Conv2d(_)) {
            return Err(CompressError::Config(format!("layer `{}` has no weights", layer.name)));
        }
        let w = weight(net, index);
        let range =
            Pow2Range::fit(w.as_slice().expect("weights are contiguous"), bits, config.range);
        // Pruned (exactly zero) weights count as already quantized.
        let frozen: Vec<bool> = w.iter().map(|&v| v == 0.0).collect();
        layers.push((index, range, frozen));
    }
    for &portion in &config.schedule {
        let mut quantized = 0;
        for (index, range, frozen) in layers.iter_mut() {
            let id = ParamId { layer: *index, kind: ParamKind::Weight };
            let pick = partition(weight(net, *index).view(), frozen, portion);
            for (pid, mut w) in net.params_mut() {
                if pid == id {
                    let flat = w.as_slice_mut().expect("weights are contiguous");
                    for &i in &pick {
                        flat[i] = range.map_or(0.0, |r| r.quantize(flat[i]));
                        frozen[i] = true;
                    }
                }
            }
            quantized += pick.len();
        }
        let mut train_accuracy = None;
        if config.epochs_per_step > 0 {
            let mut masks: Masks = hooks.masks.clone();
            merge_masks(&mut masks, pruned_masks(net));
            let frozen = layers.iter().map(|(index, _, frozen)| {
                let shape = weight(net, *index).raw_dim();
                let m = frozen.iter().map(|&f| if f { 0.0 } else { 1.0 }).collect();
                let mask = ArrayD::from_shape_vec(shape, m).expect("one flag per weight");
                (ParamId { layer: *index, kind: ParamKind::Weight }, mask)
            });
            merge_masks(&mut masks, frozen.collect());
            let hooks =
                Hooks { masks, transform: hooks.transform, loss: hooks.loss, acts: hooks.acts };
            // A fresh optimizer per step: the learning rate is reset.
            let cfg = TrainConfig { epochs: config.epochs_per_step, ..config.train.clone() };
            let reports = train::train(net, data, None, &cfg, &hooks, observer)?;
            train_accuracy = reports.last().map(|r| r.train_accuracy);
        }
        observer.inq_step(&InqStep { portion, quantized, train_accuracy }, net);
    }
    Ok(layers.into_iter().map(|(i, r, _)| (i, r)).collect())
}

fn weight(net: &Network, index: usize) -> ArrayD<f32> {
    net.params()
        .into_iter()
        .find(|(id, _)| *id == ParamId { layer: index, kind: ParamKind::Weight })
        .map(|(_, w)| w.to_owned())
        .expect("weighted layer")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn partition_takes_the_largest_free_magnitudes_ties_by_index() {
        let w = ndarray::arr1(&[0.1f32, -0.5, 0.5, 0.2, -0.05]).into_dyn();
        let frozen = [false, false, false, false, true];
        // 60% of 5 = 3 frozen in all: two more, the two 0.5s, lower index first.
        assert_eq!(partition(w.view(), &frozen, 0.6), vec![1, 2]);
        assert_eq!(partition(w.view(), &frozen, 1.0), vec![1, 2, 3, 0]);
    }

    #[test]
    fn portions_count_decimal_fractions_exactly() {
        assert_eq!(portion_count(0.6, 5), 3);
        assert_eq!(portion_count(0.875, 8), 7);
        assert_eq!(portion_count(0.5, 3), 2);
        assert_eq!(portion_count(0.75, 235_200), 176_400);
        assert_eq!(portion_count(1.0, 7), 7);
    }

    #[test]
    fn schedules_must_increase_and_end_at_one() {
        assert!(check_schedule(&[0.5, 0.75, 0.875, 1.0]).is_ok());
        assert!(check_schedule(&[0.5, 0.5, 1.0]).is_err());
        assert!(check_schedule(&[0.5, 0.9]).is_err());
        assert!(check_schedule(&[]).is_err());
        assert!(check_schedule(&[0.0, 1.0]).is_err());
    }

    proptest! {
        #[test]
        fn partition_is_magnitude_ordered(ws in proptest::collection::vec(-1.0f32..1.0, 1..40), p in 0.05f32..1.0) {
            let w = ndarray::Array1::from(ws.clone()).into_dyn();
            let frozen = vec![false; ws.len()];
            let pick = partition(w.view(), &frozen, p);
            prop_assert_eq!(pick.len(), portion_count(p, ws.len()));
            let smallest_picked = pick.iter().map(|&i| ws[i].abs()).fold(f32::INFINITY, f32::min);
            for (i, v) in ws.iter().enumerate() {
                if !pick.contains(&i) {
                    prop_assert!(v.abs() <= smallest_picked);
                }
            }
        }
    }
}
