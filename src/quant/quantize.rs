//! From a float network to an integer network: fold batch norms, calibrate
//! activation formats on data, quantize weights and biases.

use std::str::FromStr;

use ndarray::{ArrayD, ArrayView2};
use serde::Serialize;

use super::contract::{quantize_real, FixedFormat, MAX_FRAC};
use super::fold::fold_batchnorm;
use super::network::{IntLayerSpec, IntNetwork, IntOp, WeightKind, Weighted};
use super::QuantError;
use crate::model::{Network, Op};
use crate::train::engine::trace;

/// How to quantize the weights of dense and convolution layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum WeightSpec {
    /// Plain fixed point: signed `bits`-bit integers with one exponent per layer.
    Fixed { bits: u32 },
}

impl FromStr for WeightSpec {
    type Err = QuantError;
    fn from_str(s: &str) -> Result<WeightSpec, QuantError> {
        let bad = || {
            QuantError::Config(format!(
                "weight spec `{s}`: expected fixedN with N from 2 to 16, like fixed8"
            ))
        };
        let bits: u32 = s.strip_prefix("fixed").ok_or_else(bad)?.parse().map_err(|_| bad())?;
        if !(2..=16).contains(&bits) {
            return Err(bad());
        }
        Ok(WeightSpec::Fixed { bits })
    }
}

/// Activation and input widths are limited to this range.
pub const ACT_BITS: std::ops::RangeInclusive<u32> = 2..=16;

/// Settings of a quantization run.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantizeConfig {
    pub weights: WeightSpec,
    /// Width of every activation (layer output).
    pub act_bits: u32,
    /// Width of the input.
    pub input_bits: u32,
}

/// Quantizes `net` under the numeric contract, calibrating the input and
/// activation formats on `calibration` (one sample per row).
pub fn quantize(
    net: &Network,
    calibration: ArrayView2<f32>,
    config: &QuantizeConfig,
) -> Result<IntNetwork, QuantError> {
    for (what, bits) in [("--act-bits", config.act_bits), ("--input-bits", config.input_bits)] {
        if !ACT_BITS.contains(&bits) {
            return Err(QuantError::Config(format!(
                "{what} {bits} is out of range; use {} to {}",
                ACT_BITS.start(),
                ACT_BITS.end()
            )));
        }
    }
    if calibration.nrows() == 0 || calibration.ncols() != net.input().numel() {
        return Err(QuantError::Config(format!(
            "calibration data must be a non-empty set of {}-value samples",
            net.input().numel()
        )));
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
        let relu = matches!(layers.get(i + 1).map(|l| &l.op), Some(Op::Relu));
        let last = if relu { i + 1 } else { i };
        let (op, out_format) = match &layer.op {
            Op::Dense(d) => {
                let out = calibrate(traces[last].iter().copied(), config.act_bits, false);
                let w = quantize_weights(
                    &d.weight.clone().into_dyn(),
                    &d.bias.to_vec(),
                    relu,
                    format,
                    config,
                )
                .map_err(|reason| layer_error(i, &layer.name, "dense", reason))?;
                (IntOp::Dense(w), Some(out))
            }
            Op::Conv2d(c) => {
                let out = calibrate(traces[last].iter().copied(), config.act_bits, false);
                let w = quantize_weights(
                    &c.weight.clone().into_dyn(),
                    &c.bias.to_vec(),
                    relu,
                    format,
                    config,
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

fn layer_error(index: usize, name: &str, op: &'static str, reason: String) -> QuantError {
    QuantError::Layer { index, name: name.to_string(), op, reason }
}

/// Weights to signed fixed point with one exponent per layer, biases to the
/// accumulator format.
fn quantize_weights(
    weight: &ArrayD<f32>,
    bias: &[f32],
    relu: bool,
    input: FixedFormat,
    config: &QuantizeConfig,
) -> Result<Weighted, String> {
    let WeightSpec::Fixed { bits } = config.weights;
    let wf = calibrate(weight.iter().copied(), bits, true);
    let exponent = -wf.frac();
    let weights = weight.mapv(|w| wf.quantize(w as f64) as i32);
    let acc_frac = input.frac() - exponent;
    let bias = bias
        .iter()
        .map(|&b| {
            quantize_real(b as f64, acc_frac).ok_or_else(|| {
                format!("bias {b} does not fit the accumulator format (2^-{acc_frac})")
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Weighted { kind: WeightKind::Fixed { bits }, exponent, weights, bias, scale: None, relu })
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
