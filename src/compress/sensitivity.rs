//! Per-layer sensitivity (the survey's layer-by-layer experiment): each
//! weighted layer compressed alone, the others as they were, no retraining,
//! measured on the validation split (and the test split, reported).

use super::lowrank::full_rank;
use super::saliency::obd_saliency;
use super::{defaults, prune_by, svd_layer, CompressError, Rank, Scope};
use crate::data::Dataset;
use crate::model::{Network, Op, ParamId, ParamKind};
use crate::quant::{Pow2Range, RangeRule};
use crate::report::{Sensitivity, SensitivityRow};
use crate::train::evaluate;

/// What each layer is put through.
#[derive(Clone, Debug, PartialEq)]
pub struct Probes {
    /// Magnitude pruning to these sparsities.
    pub sparsities: Vec<f32>,
    /// OBD pruning to the same sparsities.
    pub obd: bool,
    /// INQ at these bit widths (the least-error exponent range).
    pub inq_bits: Vec<u32>,
    /// Low rank at these fractions of the layer's full rank (rounded up).
    pub rank_fractions: Vec<f32>,
}

impl Default for Probes {
    fn default() -> Probes {
        Probes {
            sparsities: vec![0.5, 0.75, 0.9],
            obd: true,
            inq_bits: vec![5, 4, 3, 2],
            rank_fractions: vec![0.5, 0.25, 0.125],
        }
    }
}

impl Probes {
    /// Evaluations per weighted layer.
    pub fn per_layer(&self) -> usize {
        self.sparsities.len() * (1 + usize::from(self.obd))
            + self.inq_bits.len()
            + self.rank_fractions.len()
    }
}

/// Runs every probe on every weighted layer of `net`; `progress` hears of
/// each evaluation done (and the total).
pub fn sensitivity(
    net: &Network,
    model: &str,
    dataset: &str,
    data: &Dataset,
    probes: &Probes,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Sensitivity, CompressError> {
    for &s in &probes.sparsities {
        super::check_sparsity(s)?;
    }
    for &b in &probes.inq_bits {
        crate::quant::check_range("INQ bits", b, crate::quant::INQ_BITS)?;
    }
    if let Some(f) = probes.rank_fractions.iter().find(|f| !(**f > 0.0 && **f <= 1.0)) {
        return Err(CompressError::Setting {
            setting: "rank fractions",
            reason: format!("must be in (0, 1], got {f}"),
        });
    }
    let layers = super::weighted_layers(net);
    // The ranks each layer is factored at (fractions of its full rank, once each).
    let ranks: Vec<Vec<(usize, f32)>> = layers
        .iter()
        .map(|&layer| {
            let full = full_rank(net, layer);
            let mut ks: Vec<(usize, f32)> = Vec::new();
            for &f in &probes.rank_fractions {
                let k = ((f as f64 * full as f64).ceil() as usize).clamp(1, full);
                if !ks.iter().any(|&(seen, _)| seen == k) {
                    ks.push((k, f));
                }
            }
            ks
        })
        .collect();
    let total = layers.len() * (probes.per_layer() - probes.rank_fractions.len())
        + ranks.iter().map(Vec::len).sum::<usize>();
    let saliency = if probes.obd && !probes.sparsities.is_empty() {
        Some(obd_saliency(net, data.val.head(defaults::SALIENCY_SAMPLES).x.view()))
    } else {
        None
    };
    let mut rows = Vec::new();
    let mut measure = |layer: usize,
                       method: &str,
                       setting: String,
                       changed: &Network,
                       kept: f64,
                       rank: Option<usize>| {
        let name = &net.layers()[layer].name;
        let before = net.layers()[layer].op.macs(net.input_of(layer), net.output_of(layer)) as u64;
        // The layer's multiplications after: its nonzero share, or the factors'.
        let after = if method == "low-rank" {
            (layer..layer + 2)
                .map(|i| changed.layers()[i].op.macs(changed.input_of(i), changed.output_of(i)))
                .sum::<usize>() as u64
        } else if method == "inq" {
            before
        } else {
            (before as f64 / kept).round() as u64
        };
        rows.push(SensitivityRow {
            layer: name.clone(),
            method: method.into(),
            setting,
            rank,
            compression: kept,
            mults_before: before,
            mults_after: after,
            val_accuracy: evaluate(changed, &data.val),
            test_accuracy: evaluate(changed, &data.test),
        });
        progress(rows.len(), total);
    };
    for (&layer, ks) in layers.iter().zip(&ranks) {
        let id = ParamId { layer, kind: ParamKind::Weight };
        let weights = weight_count(net, layer);
        let nonzero = |n: &Network| {
            n.params()
                .into_iter()
                .find(|(i, _)| *i == id)
                .map_or(0, |(_, w)| w.iter().filter(|&&v| v != 0.0).count())
        };
        let criteria: Vec<(&str, Option<&super::Saliency>)> = match &saliency {
            Some(s) => vec![("prune", None), ("prune-obd", Some(s))],
            None => vec![("prune", None)],
        };
        for (method, by) in criteria {
            for &s in &probes.sparsities {
                let mut pruned = net.clone();
                prune_by(&mut pruned, &[(layer, s)], Scope::Layer, by);
                let kept = weights as f64 / nonzero(&pruned).max(1) as f64;
                measure(layer, method, format!("{:.0}%", s * 100.0), &pruned, kept, None);
            }
        }
        for &bits in &probes.inq_bits {
            let mut coded = net.clone();
            for (i, mut w) in coded.params_mut() {
                if i == id {
                    let flat: Vec<f32> = w.iter().copied().collect();
                    if let Some(range) = Pow2Range::fit(&flat, bits, RangeRule::MinError) {
                        w.mapv_inplace(|v| range.quantize(v));
                    }
                }
            }
            measure(layer, "inq", format!("{bits}-bit"), &coded, 32.0 / bits as f64, None);
        }
        for &(k, f) in ks {
            let (factored, _, k) = svd_layer(net, layer, Rank::Fixed(k))?;
            let after = weight_count(&factored, layer) + weight_count(&factored, layer + 1);
            let kept = weights as f64 / after as f64;
            measure(layer, "low-rank", fraction_label(f), &factored, kept, Some(k));
        }
    }
    Ok(Sensitivity {
        model: model.into(),
        dataset: dataset.into(),
        val_accuracy: evaluate(net, &data.val),
        test_accuracy: evaluate(net, &data.test),
        rows,
    })
}

/// `rank/2` for a fraction `1/2` of the full rank, else `rank*0.3`.
fn fraction_label(f: f32) -> String {
    let n = (1.0 / f as f64).round();
    if ((1.0 / n) - f as f64).abs() < 1e-6 {
        format!("rank/{n}")
    } else {
        format!("rank*{f}")
    }
}

fn weight_count(net: &Network, layer: usize) -> usize {
    match &net.layers()[layer].op {
        Op::Dense(d) => d.weight.len(),
        Op::Conv2d(c) => c.weight.len(),
        _ => 0,
    }
}
