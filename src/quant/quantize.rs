//! From a float network to an integer network: fold batch norms, calibrate
//! activation formats on data, quantize weights and biases.

use std::collections::BTreeMap;

use super::coding::WeightKind;
use super::coding::{check_range, code, Levels, Pow2Range, RangeRule, WeightSpec};
use super::contract::{quantize_real, FixedFormat, MAX_FRAC};
use super::fold::fold_batchnorm;
use super::layer::{ChannelScale, IntLayerSpec, IntOp, Weighted};
use super::network::IntNetwork;
use super::QuantError;
use crate::model::{Layer, Network, Op};
use crate::train::engine::{trace, Quantizer};
use crate::train::ActivationQuant;
use ndarray::{ArrayView2, ArrayViewD};

/// Bits of the per-channel multipliers of binary and ternary layers.
pub const SCALE_BITS: u32 = 12;

/// Activation and input widths are limited to this range.
pub const ACT_BITS: std::ops::RangeInclusive<u32> = 2..=16;

/// The defaults of quantization.
pub mod defaults {
    use super::WeightSpec;
    /// Weights of layers no compression step coded.
    pub const WEIGHTS: WeightSpec = WeightSpec::Fixed { bits: 8 };
    /// Bits of every activation, and of the input.
    pub const ACT_BITS: u32 = 8;
    pub const INPUT_BITS: u32 = 8;
    /// Validation samples that calibrate the activation formats.
    pub const CALIBRATION: usize = 5000;
}

/// Quantization settings as a user gives them (flags or a recipe's
/// `[quantize]` table).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QuantSettings {
    /// Layers that no compression step coded.
    pub weights: WeightSpec,
    pub act_bits: u32,
    pub input_bits: u32,
    /// Validation samples that calibrate the activation formats.
    pub calibration: usize,
    /// Bits of the last layer's outputs (the scores an argmax compares);
    /// left out: `act_bits`.
    pub output_bits: Option<u32>,
    /// Recipes: every retraining step trains with the activations quantized
    /// as the integer network will have them (quantization-aware training).
    pub qat: bool,
}

impl Default for QuantSettings {
    fn default() -> QuantSettings {
        QuantSettings {
            weights: defaults::WEIGHTS,
            act_bits: defaults::ACT_BITS,
            input_bits: defaults::INPUT_BITS,
            calibration: defaults::CALIBRATION,
            output_bits: None,
            qat: false,
        }
    }
}

impl QuantSettings {
    /// Checks every width and the calibration size.
    pub fn check(&self) -> Result<(), QuantError> {
        self.weights.check()?;
        check_range("activation bits (act_bits)", self.act_bits, ACT_BITS)?;
        check_range("input bits (input_bits)", self.input_bits, ACT_BITS)?;
        if let Some(bits) = self.output_bits {
            check_range("output bits (output_bits)", bits, ACT_BITS)?;
        }
        if self.calibration == 0 {
            return Err(QuantError::Config("calibration needs at least 1 sample".into()));
        }
        Ok(())
    }

    /// The quantization run, with these layers' weights coded otherwise.
    pub fn config(&self, layer_weights: BTreeMap<String, WeightSpec>) -> QuantizeConfig {
        QuantizeConfig {
            weights: self.weights,
            layer_weights,
            act_bits: self.act_bits,
            output_bits: self.output_bits,
            input_bits: self.input_bits,
        }
    }
}

/// Settings of a quantization run.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantizeConfig {
    /// The weight quantization of every dense and convolution layer...
    pub weights: WeightSpec,
    /// ...except these, by layer name.
    pub layer_weights: BTreeMap<String, WeightSpec>,
    /// Width of every activation (layer output)...
    pub act_bits: u32,
    /// ...but the last layer's, when given.
    pub output_bits: Option<u32>,
    /// Width of the input.
    pub input_bits: u32,
}

impl QuantizeConfig {
    /// The same weight quantization for every layer.
    pub fn new(weights: WeightSpec, act_bits: u32, input_bits: u32) -> QuantizeConfig {
        QuantizeConfig {
            weights,
            layer_weights: BTreeMap::new(),
            act_bits,
            output_bits: None,
            input_bits,
        }
    }
}

/// Quantizes `net` under the numeric contract, calibrating the input and
/// activation formats on `calibration` (one sample per row).
pub fn quantize(
    net: &Network,
    calibration: ArrayView2<f32>,
    config: &QuantizeConfig,
) -> Result<IntNetwork, QuantError> {
    check_range("activation bits (act_bits)", config.act_bits, ACT_BITS)?;
    check_range("input bits (input_bits)", config.input_bits, ACT_BITS)?;
    if let Some(bits) = config.output_bits {
        check_range("output bits (output_bits)", bits, ACT_BITS)?;
    }
    for spec in std::iter::once(&config.weights).chain(config.layer_weights.values()) {
        spec.check()?;
    }
    if calibration.nrows() == 0 || calibration.ncols() != net.input().numel() {
        return Err(QuantError::Config(format!(
            "calibration data must be a non-empty set of {}-value samples",
            net.input().numel()
        )));
    }
    for name in config.layer_weights.keys() {
        let weighted = net
            .layer_index(name)
            .is_some_and(|i| matches!(net.layers()[i].op, Op::Dense(_) | Op::Conv2d(_)));
        if !weighted {
            return Err(QuantError::Config(format!(
                "`{name}` is not a dense or convolution layer of the network"
            )));
        }
    }
    // A diverged training run leaves NaN or infinite values: say so, rather
    // than that some bias does not fit its format.
    if let Some(what) = net.non_finite() {
        return Err(QuantError::Config(format!(
            "{what}: only a finite network can be quantized (if training diverged, retrain with \
             a lower learning rate)"
        )));
    }
    // A batch norm folds into its layer's weights: only fixed-point weights and
    // per-channel-scaled binary/ternary codes stay what they are.
    for (i, l) in net.layers().iter().enumerate().skip(1) {
        if !matches!(l.op, Op::BatchNorm(_)) {
            continue;
        }
        let prev = &net.layers()[i - 1];
        let spec = config.layer_weights.get(&prev.name).unwrap_or(&config.weights);
        let absorbs = match spec {
            WeightSpec::Fixed { .. } => true,
            WeightSpec::Pow2 { .. } | WeightSpec::Shared { .. } => false,
            WeightSpec::Binary { scale } | WeightSpec::Ternary { scale } => *scale,
        };
        if !absorbs {
            return Err(layer_error(
                i,
                &l.name,
                "batchnorm",
                format!(
                    "cannot fold into the {spec} weights of `{}`; quantize that layer as fixedN, \
                     or binary/ternary with a per-channel scale",
                    prev.name
                ),
            ));
        }
    }
    let folded = fold_batchnorm(net)?;
    let traces = trace(&folded, calibration);
    let input_format = calibrate(calibration.iter().copied(), config.input_bits, false);
    tracing::info!(%input_format, "input format");

    let layers = folded.layers();
    let mut specs = Vec::new();
    let mut format = input_format;
    let mut i = 0;
    while i < layers.len() {
        let layer = &layers[i];
        let last = activation_point(layers, i).unwrap_or(i);
        let relu = last > i;
        let bits = act_bits_at(layers, last, config.act_bits, config.output_bits);
        let (op, out_format) = match &layer.op {
            Op::Dense(d) => {
                let out = calibrate(traces[last].iter().copied(), bits, false);
                let spec = config.layer_weights.get(&layer.name).unwrap_or(&config.weights);
                let w = quantize_weights(
                    *spec,
                    d.weight.view().into_dyn(),
                    d.bias.as_slice().expect("1-D"),
                    relu,
                    format,
                )
                .map_err(|reason| layer_error(i, &layer.name, "dense", reason))?;
                (IntOp::Dense(w), Some(out))
            }
            Op::Conv2d(c) => {
                let out = calibrate(traces[last].iter().copied(), bits, false);
                let spec = config.layer_weights.get(&layer.name).unwrap_or(&config.weights);
                let w = quantize_weights(
                    *spec,
                    c.weight.view().into_dyn(),
                    c.bias.as_slice().expect("1-D"),
                    relu,
                    format,
                )
                .map_err(|reason| layer_error(i, &layer.name, "conv2d", reason))?;
                (IntOp::Conv2d { layer: w, stride: c.stride, padding: c.padding }, Some(out))
            }
            Op::MaxPool2d(p) => (IntOp::MaxPool2d(*p), None),
            Op::Relu => (IntOp::Relu, None),
            Op::Flatten => (IntOp::Flatten, None),
            Op::BatchNorm(_) => unreachable!("folded away"),
        };
        if let Some(f) = out_format {
            tracing::info!(layer = %layer.name, format = %f, "activation format");
            format = f;
        }
        specs.push(IntLayerSpec { name: layer.name.clone(), op, format: out_format });
        i = last + 1;
    }
    IntNetwork::new(net.input(), input_format, specs)
}

/// Where the weighted layer `i`'s outputs take their activation format: the
/// layer itself, or the ReLU right after it (which fuses into its
/// requantization; a ReLU after anything else is an integer layer of its
/// own), past a batch norm between them (which folds into the weights).
/// `None` for a layer without weights.
fn activation_point(layers: &[Layer], i: usize) -> Option<usize> {
    if !matches!(layers[i].op, Op::Dense(_) | Op::Conv2d(_)) {
        return None;
    }
    let is = |j: usize, f: fn(&Op) -> bool| layers.get(j).is_some_and(|l| f(&l.op));
    let mut last = i;
    if is(last + 1, |op| matches!(op, Op::BatchNorm(_))) {
        last += 1;
    }
    if is(last + 1, |op| matches!(op, Op::Relu)) {
        last += 1;
    }
    Some(last)
}

/// The width of the activation format at layer `point`: `output_bits` for
/// the network's outputs, when given.
fn act_bits_at(layers: &[Layer], point: usize, act_bits: u32, output_bits: Option<u32>) -> u32 {
    match output_bits {
        Some(bits) if point + 1 == layers.len() => bits,
        _ => act_bits,
    }
}

/// Quantization-aware training's view of the integer network: the
/// activation formats [`quantize`] would choose for the network as it is
/// (the same calibration data and rule), as fake quantizers that round and
/// saturate by the numeric contract. The input is left as the data gives it.
pub struct AwareActivations<'a> {
    pub calibration: ArrayView2<'a, f32>,
    pub act_bits: u32,
    pub output_bits: Option<u32>,
}

impl ActivationQuant for AwareActivations<'_> {
    fn quantizers(&self, net: &Network) -> Result<Vec<(usize, Quantizer)>, String> {
        check_range("activation bits (act_bits)", self.act_bits, ACT_BITS)
            .map_err(|e| e.to_string())?;
        let traces = trace(net, self.calibration);
        let layers = net.layers();
        let points = (0..layers.len()).filter_map(|i| activation_point(layers, i));
        Ok(points
            .map(|p| {
                let bits = act_bits_at(layers, p, self.act_bits, self.output_bits);
                let f = calibrate(traces[p].iter().copied(), bits, false);
                let (lo, hi) = (f.to_real(f.min()), f.to_real(f.max()));
                let fake: Quantizer = Box::new(move |v: f32| {
                    let x = v as f64;
                    (f.to_real(f.quantize(x)) as f32, (lo..=hi).contains(&x))
                });
                (p, fake)
            })
            .collect())
    }
}

fn layer_error(index: usize, name: &str, op: &'static str, reason: String) -> QuantError {
    QuantError::Layer { index, name: name.to_string(), op, reason }
}

/// Weights to integers of the spec's kind with one exponent per layer (and, for
/// scaled binary and ternary layers, one multiplier per channel); biases to the
/// accumulator format.
fn quantize_weights(
    spec: WeightSpec,
    weight: ArrayViewD<f32>,
    bias: &[f32],
    relu: bool,
    input: FixedFormat,
) -> Result<Weighted, String> {
    let (kind, exponent, weights, scale) = match spec {
        WeightSpec::Fixed { bits } | WeightSpec::Shared { bits, .. } => {
            // Shared weights are their codebook's values in fixed point: quantizing
            // is a function, so the layer keeps at most as many distinct values as
            // it had centroids.
            let wf = calibrate(weight.iter().copied(), bits, true);
            let weights = weight.mapv(|w| wf.quantize(w as f64) as i32);
            let kind = match spec {
                WeightSpec::Shared { index_bits, .. } => WeightKind::Shared { index_bits, bits },
                _ => WeightKind::Fixed { bits },
            };
            (kind, -wf.frac(), weights, None)
        }
        WeightSpec::Pow2 { bits } => {
            let kind = WeightKind::Pow2 { max_shift: (1 << (bits - 2)) - 1 };
            // Weights INQ coded are on their grid already, and the fitted
            // range codes them exactly (whichever rule INQ chose by).
            let flat: Vec<f32> = weight.iter().copied().collect();
            match Pow2Range::fit(&flat, bits, RangeRule::MinError) {
                // An all-zero layer stays zero.
                None => (kind, 0, weight.mapv(|_| 0), None),
                Some(r) => {
                    let unit = (-r.n2 as f64).exp2();
                    let weights = weight.mapv(|w| (r.quantize(w) as f64 * unit) as i32);
                    (kind, r.n2, weights, None)
                }
            }
        }
        WeightSpec::Binary { scale } | WeightSpec::Ternary { scale } => {
            let (levels, kind) = match spec {
                WeightSpec::Binary { .. } => (Levels::Binary, WeightKind::Binary),
                _ => (Levels::Ternary, WeightKind::Ternary),
            };
            let coded = code(weight, levels, scale);
            let scale = scale.then(|| {
                let f = calibrate(coded.alphas.iter().copied(), SCALE_BITS, false);
                // Multipliers carry fraction bits; an integer part beyond the
                // format's range saturates (alphas are far below 1 in practice).
                let frac = f.frac().max(0);
                let multipliers = coded.alphas.iter().map(|&a| {
                    FixedFormat::new(false, SCALE_BITS, frac).expect("valid").quantize(a as f64)
                });
                ChannelScale { multipliers: multipliers.collect(), frac: frac as u32 }
            });
            (kind, 0, coded.codes, scale)
        }
    };
    let acc_frac = input.frac() - exponent;
    let bias = bias
        .iter()
        .enumerate()
        .map(|(j, &b)| {
            // acc = sum(W x) + B is scaled by M_j afterwards: B carries b / alpha_j.
            let alpha = match &scale {
                Some(s) if s.multipliers[j] != 0 => {
                    s.multipliers[j] as f64 / (s.frac as f64).exp2()
                }
                _ => 1.0,
            };
            quantize_real(b as f64 / alpha, acc_frac).ok_or_else(|| {
                format!(
                    "bias {b} of channel {j} does not fit the accumulator format (units of 2^{})",
                    -acc_frac
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Weighted { kind, exponent, weights, bias, scale, relu })
}

/// Values kept for the error estimate of a format choice.
const CALIBRATION_SAMPLE: usize = 200_000;

/// Chooses a `bits`-bit format for values like these: signed if any is
/// negative (or `force_signed`), and the fraction bits among the three finest
/// that cover the largest magnitude, by least squared quantization error.
pub fn calibrate(
    values: impl Iterator<Item = f32> + Clone,
    bits: u32,
    force_signed: bool,
) -> FixedFormat {
    let (mut lo, mut hi, mut count) = (0f64, 0f64, 0usize);
    for v in values.clone().filter(|v| v.is_finite()) {
        lo = lo.min(v as f64);
        hi = hi.max(v as f64);
        count += 1;
    }
    let signed = force_signed || lo < 0.0;
    let probe = FixedFormat::new(signed, bits, 0).expect("bits checked by the caller");
    let max_abs = hi.max(-lo);
    if max_abs == 0.0 {
        return FixedFormat::new(signed, bits, 0).expect("valid");
    }
    // Largest frac with probe.max() * 2^-frac >= max_abs.
    let cover =
        ((probe.max() as f64 / max_abs).log2().floor() as i32).clamp(-MAX_FRAC, MAX_FRAC - 2);
    let step = (count / CALIBRATION_SAMPLE).max(1);
    let sample: Vec<f64> =
        values.filter(|v| v.is_finite()).step_by(step).map(|v| v as f64).collect();
    (cover..=cover + 2)
        .map(|frac| FixedFormat::new(signed, bits, frac).expect("frac in range"))
        .map(|f| {
            let err: f64 = sample.iter().map(|&x| (f.to_real(f.quantize(x)) - x).powi(2)).sum();
            (f, err)
        })
        .fold(None, |best: Option<(FixedFormat, f64)>, (f, e)| match best {
            Some((_, be)) if be <= e => best,
            _ => Some((f, e)),
        })
        .expect("three candidates")
        .0
}
