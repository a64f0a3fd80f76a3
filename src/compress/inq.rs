//! Incremental network quantization (Zhou et al. 2017), as DESIGN.md section 4
//! defines it: per layer, weights become `{0, ±2^k}`, `k` in `[n2, n1]`, in
//! magnitude-first portions, with retraining of the rest in between.

use ndarray::{ArrayD, ArrayViewD};

use super::prune::{merge_masks, pruned_masks};
use super::CompressError;
use crate::data::Split;
use crate::model::{Network, Op, ParamId, ParamKind};
use crate::train::{self, Hooks, Masks, Observer, TrainConfig};

/// The exponent range of a layer: weights become `{0, ±2^k}`, `n2 <= k <= n1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pow2Range {
    pub n1: i32,
    pub n2: i32,
}

impl Pow2Range {
    /// From the layer's largest magnitude `s` when INQ starts and the bit width
    /// `b` (zero included): `n1 = floor(log2(4s/3))`, `n2 = n1 + 1 - 2^(b-2)`.
    /// `None` for an all-zero layer (it stays zero).
    pub fn new(s: f32, bits: u32) -> Option<Pow2Range> {
        if s <= 0.0 || !s.is_finite() {
            return None;
        }
        let n1 = (4.0 * s as f64 / 3.0).log2().floor() as i32;
        Some(Pow2Range { n1, n2: n1 + 1 - (1 << (bits - 2)) })
    }

    /// The INQ rule: `|w| >= 0.75 * 2^k` maps to `2^k` for the largest such `k`
    /// in `[n2, n1]` (ties go up); `|w| < 2^(n2-1)` maps to 0; `|w|` in
    /// `[2^(n2-1), 0.75 * 2^n2)` maps to `2^n2`; the sign is kept.
    pub fn quantize(self, w: f32) -> f32 {
        let a = w.abs() as f64;
        if a < (self.n2 as f64 - 1.0).exp2() {
            return 0.0;
        }
        // Largest k with a >= 0.75 * 2^k, clamped into [n2, n1].
        let k = ((a / 0.75).log2().floor() as i32).clamp(self.n2, self.n1);
        // Guard the floating-point log at exact ties: step up or down to the rule.
        let k = if k < self.n1 && a >= 0.75 * ((k + 1) as f64).exp2() {
            k + 1
        } else if k > self.n2 && a < 0.75 * (k as f64).exp2() {
            k - 1
        } else {
            k
        };
        (w.signum() as f64 * (k as f64).exp2()) as f32
    }
}

/// Settings of an INQ run.
#[derive(Clone, Debug, PartialEq)]
pub struct InqConfig {
    /// Bit width per weighted layer, by layer index (layers not listed are left alone).
    pub bits: Vec<(usize, u32)>,
    /// Accumulated portions, increasing, ending at 1.
    pub schedule: Vec<f32>,
    /// Retraining epochs after each portion (0: quantize without retraining).
    pub epochs_per_step: usize,
    /// The retraining run (epochs is taken from `epochs_per_step`).
    pub train: TrainConfig,
}

/// Checks a portion schedule: increasing, within (0, 1], ending at 1.
pub fn check_schedule(schedule: &[f32]) -> Result<(), CompressError> {
    let bad =
        |reason: &str| Err(CompressError::Config(format!("INQ schedule {schedule:?}: {reason}")));
    if schedule.is_empty() {
        return bad("it is empty");
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
        check_bits(bits)?;
        let Some(layer) = net.layers().get(index) else {
            return Err(CompressError::Config(format!("no layer {index}")));
        };
        if !matches!(layer.op, Op::Dense(_) | Op::Conv2d(_)) {
            return Err(CompressError::Config(format!("layer `{}` has no weights", layer.name)));
        }
        let w = weight(net, index);
        let s = w.iter().fold(0f32, |m, v| m.max(v.abs()));
        let range = Pow2Range::new(s, bits);
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
            let hooks = Hooks { masks, transform: hooks.transform, loss: hooks.loss };
            // A fresh optimizer per step: the learning rate is reset.
            let cfg = TrainConfig { epochs: config.epochs_per_step, ..config.train.clone() };
            let reports = train::train(net, data, None, &cfg, &hooks, observer)?;
            train_accuracy = reports.last().map(|r| r.train_accuracy);
        }
        observer.inq_step(&InqStep { portion, quantized, train_accuracy }, net);
    }
    Ok(layers.into_iter().map(|(i, r, _)| (i, r)).collect())
}

/// INQ bit widths are 2 to 8 (zero included).
pub fn check_bits(bits: u32) -> Result<(), CompressError> {
    if (2..=8).contains(&bits) {
        Ok(())
    } else {
        Err(CompressError::Config(format!("INQ needs 2 to 8 bits per weight, got {bits}")))
    }
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

    /// The rule by its definition, by scanning every k.
    fn reference(w: f32, r: Pow2Range) -> f32 {
        let a = w.abs() as f64;
        let q = if a < ((r.n2 - 1) as f64).exp2() {
            0.0
        } else {
            let mut best = None;
            for k in r.n2..=r.n1 {
                if a >= 0.75 * (k as f64).exp2() {
                    best = Some(k);
                }
            }
            (best.unwrap_or(r.n2) as f64).exp2()
        };
        (q * w.signum() as f64) as f32
    }

    #[test]
    fn exponents_follow_the_paper() {
        // s = 0.9: 4s/3 = 1.2 -> n1 = 0; b = 5: n2 = 0 + 1 - 8 = -7.
        assert_eq!(Pow2Range::new(0.9, 5), Some(Pow2Range { n1: 0, n2: -7 }));
        assert_eq!(Pow2Range::new(0.75, 3), Some(Pow2Range { n1: 0, n2: -1 }));
        assert_eq!(Pow2Range::new(0.0, 5), None);
    }

    #[test]
    fn ties_and_edges_follow_the_rule() {
        let r = Pow2Range { n1: 0, n2: -3 };
        assert_eq!(r.quantize(0.75), 1.0); // 0.75 * 2^0: tie goes up
        assert_eq!(r.quantize(-0.375), -0.5); // 0.75 * 2^-1
        assert_eq!(r.quantize(0.0625), 0.125); // 2^(n2-1): up to 2^n2
        assert_eq!(r.quantize(0.0624), 0.0); // just below 2^(n2-1)
        assert_eq!(r.quantize(0.09), 0.125); // in [2^(n2-1), 0.75 * 2^n2)
        assert_eq!(r.quantize(5.0), 1.0); // above 1.5 * 2^n1: clamp to the top
        assert_eq!(r.quantize(-1.6), -1.0);
    }

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
        fn rule_matches_its_definition(w in -4.0f32..4.0, s in 0.01f32..4.0, bits in 2u32..=8) {
            let r = Pow2Range::new(s, bits).unwrap();
            prop_assert_eq!(r.quantize(w), reference(w, r));
        }

        #[test]
        fn exact_ties_go_up(k in -8i32..2, bits in 3u32..=8, neg: bool) {
            let r = Pow2Range { n1: 2, n2: 3 - (1 << (bits - 2)) };
            prop_assume!(k > r.n2 && k <= r.n1);
            let w = 0.75 * (k as f32).exp2() * if neg { -1.0 } else { 1.0 };
            prop_assert_eq!(r.quantize(w).abs(), (k as f32).exp2());
            // And 2^(n2-1) exactly goes to 2^n2.
            prop_assert_eq!(r.quantize(((r.n2 - 1) as f32).exp2()), (r.n2 as f32).exp2());
        }

        #[test]
        fn quantized_values_are_powers_of_two_in_range(w in -4.0f32..4.0, s in 0.01f32..4.0, bits in 2u32..=8) {
            let r = Pow2Range::new(s, bits).unwrap();
            let q = r.quantize(w);
            let k = q.abs().log2();
            let in_range = k.fract() == 0.0 && (r.n2..=r.n1).contains(&(k as i32));
            prop_assert!(q == 0.0 || in_range, "{} maps to {}", w, q);
            // Idempotent: quantizing a quantized weight changes nothing.
            prop_assert_eq!(r.quantize(q), q);
        }

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
