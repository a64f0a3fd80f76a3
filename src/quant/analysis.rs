//! Interval analysis of an integer network, layer by layer: the shape, format
//! and proven bounds (accumulators and outputs, per channel) of every output.

use super::coding::WeightKind;
use super::contract::{FixedFormat, MAX_ACC_BITS};
use super::interval::{dot_bounds, Interval};
use super::layer::*;
use crate::model::{window_count, Shape};

pub(super) type Analysis = (Shape, FixedFormat, Vec<Interval>, Vec<Interval>);

/// Shape, format and bounds of one layer's output, from its input's.
pub(super) fn analyze(
    op: &IntOp,
    format: Option<FixedFormat>,
    shape: Shape,
    in_format: FixedFormat,
    in_bounds: &[Interval],
) -> Result<Analysis, String> {
    match op {
        IntOp::Dense(w) => {
            let Shape::Flat(n) = shape else {
                return Err(format!("needs a flat input, got {shape}"));
            };
            if w.weights.ndim() != 2 || w.weights.shape()[1] != n {
                return Err(format!("weights {:?} do not take {n} inputs", w.weights.shape()));
            }
            let out_format = format.ok_or("a dense layer needs an output format")?;
            let acc = weighted_bounds(w, in_format, out_format, |j| {
                w.row(j).iter().zip(in_bounds).map(|(&v, &b)| (v as i64, b)).collect::<Vec<_>>()
            })?;
            let out = output_bounds(w, in_format, out_format, &acc);
            Ok((Shape::Flat(w.out_channels()), out_format, acc, out))
        }
        IntOp::Conv2d { layer: w, stride, padding } => {
            let Shape::Image { c, h, w: width } = shape else {
                return Err(format!("needs an image input, got {shape}"));
            };
            let dims = w.weights.shape().to_vec();
            if dims.len() != 4 || dims[1] != c {
                return Err(format!("weights {dims:?} do not take {c} input channels"));
            }
            if stride.contains(&0) || dims[2] == 0 || dims[3] == 0 {
                return Err("kernel and stride must be at least 1".into());
            }
            let oh = window_count(h, dims[2], stride[0], padding[0]);
            let ow = window_count(width, dims[3], stride[1], padding[1]);
            let (Some(oh), Some(ow)) = (oh, ow) else {
                return Err(format!(
                    "a {}x{} kernel does not fit a {h}x{width} image",
                    dims[2], dims[3]
                ));
            };
            let out_format = format.ok_or("a convolution needs an output format")?;
            // Zero padding feeds zeros: widen each input channel's interval to 0.
            let padded = padding.iter().any(|&p| p > 0);
            let taps = dims[2] * dims[3];
            let acc = weighted_bounds(w, in_format, out_format, |j| {
                w.row(j)
                    .iter()
                    .enumerate()
                    .map(|(k, &v)| {
                        let b = in_bounds[k / taps];
                        (v as i64, if padded { b.hull(Interval::point(0)) } else { b })
                    })
                    .collect::<Vec<_>>()
            })?;
            let out = output_bounds(w, in_format, out_format, &acc);
            Ok((Shape::Image { c: dims[0], h: oh, w: ow }, out_format, acc, out))
        }
        IntOp::MaxPool2d(p) => {
            let Shape::Image { c, h, w } = shape else {
                return Err(format!("needs an image input, got {shape}"));
            };
            if p.kernel.contains(&0) || p.stride.contains(&0) {
                return Err("pooling kernel and stride must be at least 1".into());
            }
            let (Some(oh), Some(ow)) = (
                window_count(h, p.kernel[0], p.stride[0], 0),
                window_count(w, p.kernel[1], p.stride[1], 0),
            ) else {
                return Err(format!("the pooling window does not fit a {h}x{w} image"));
            };
            no_format(format)?;
            Ok((Shape::Image { c, h: oh, w: ow }, in_format, vec![], in_bounds.to_vec()))
        }
        IntOp::Relu => {
            no_format(format)?;
            Ok((shape, in_format, vec![], in_bounds.iter().map(|b| b.relu()).collect()))
        }
        IntOp::Flatten => {
            no_format(format)?;
            let per = shape.numel() / per_channel_count(shape).max(1);
            let flat: Vec<Interval> =
                in_bounds.iter().flat_map(|&b| std::iter::repeat_n(b, per)).collect();
            Ok((Shape::Flat(shape.numel()), in_format, vec![], flat))
        }
    }
}

pub(super) fn no_format(format: Option<FixedFormat>) -> Result<(), String> {
    match format {
        None => Ok(()),
        Some(f) => Err(format!("keeps its input's format; an output format {f} was given")),
    }
}

/// Accumulator bounds per output channel (after the channel scale), checked
/// against the weight kind and the accumulator budget.
pub(super) fn weighted_bounds(
    w: &Weighted,
    in_format: FixedFormat,
    out_format: FixedFormat,
    taps: impl Fn(usize) -> Vec<(i64, Interval)>,
) -> Result<Vec<Interval>, String> {
    w.kind.check()?;
    let outs = w.out_channels();
    if outs == 0 || w.weights.is_empty() {
        return Err("the layer has no weights".into());
    }
    if let Some(bad) = w.weights.iter().find(|&&v| !w.kind.admits(v)) {
        return Err(format!("weight {bad} is not a {} value", w.kind));
    }
    if let WeightKind::Shared { index_bits, .. } = w.kind {
        let distinct = w.distinct_nonzero();
        if distinct > 1 << index_bits {
            return Err(format!(
                "{distinct} distinct nonzero weights do not fit a codebook of 2^{index_bits}; \
                 share them first (k-means) or give more index bits"
            ));
        }
    }
    if w.bias.len() != outs {
        return Err(format!("{} biases for {outs} output channels", w.bias.len()));
    }
    if let Some(s) = &w.scale {
        if s.multipliers.len() != outs {
            return Err(format!("{} channel multipliers for {outs} channels", s.multipliers.len()));
        }
        if s.frac > 32 || s.multipliers.iter().any(|m| m.unsigned_abs() >= 1 << 32) {
            return Err("channel multipliers must fit 32 bits with at most 32 fraction bits".into());
        }
    }
    let shift = w.shift(in_format, out_format);
    if shift.abs() > 62 {
        return Err(format!("the requantization shift {shift} is out of range"));
    }
    let limit = 1i128 << MAX_ACC_BITS;
    (0..outs)
        .map(|j| {
            let (lo, hi) = dot_bounds(taps(j), w.bias[j]);
            let m = w.multiplier(j) as i128;
            let (a, b) = (lo * m, hi * m);
            let (lo, hi) = (a.min(b), a.max(b));
            // A left shift must stay in range too.
            let grow = if shift < 0 { 1i128 << (-shift) } else { 1 };
            if lo.abs() * grow >= limit || hi.abs() * grow >= limit {
                return Err(format!(
                    "output channel {j} accumulates in [{lo}, {hi}], beyond the {MAX_ACC_BITS}-bit \
                     accumulator budget; use narrower weights or activations"
                ));
            }
            Ok(Interval::new(lo as i64, hi as i64))
        })
        .collect()
}

pub(super) fn output_bounds(
    w: &Weighted,
    in_format: FixedFormat,
    out_format: FixedFormat,
    acc: &[Interval],
) -> Vec<Interval> {
    let shift = w.shift(in_format, out_format);
    acc.iter().map(|a| a.requantize(shift, w.relu, out_format)).collect()
}
