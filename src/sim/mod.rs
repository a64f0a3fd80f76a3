//! The bit-exact simulator: the integer network run with plain integer
//! arithmetic (no floating point), batch by batch on every core.
//!
//! It is the golden model the generated RTL is compared with. It computes with
//! ordinary integer dot products (never shift-add terms), calls the numeric
//! contract for every rounding and saturation, and checks every accumulator and
//! every output against the bounds interval analysis proved; a value outside
//! them is an error, never a silent overflow.

mod vectors;

pub use vectors::{format_vectors, parse_real_vectors, parse_vectors, VectorError};

use ndarray::{Array2, ArrayView2, Axis};
use rayon::prelude::*;

use crate::data::Split;
use crate::model::Shape;
use crate::quant::contract::requantize;
use crate::quant::{FixedFormat, IntLayer, IntNetwork, IntOp, Interval, Weighted};

/// Errors of the simulator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    #[error("input vector {sample} has {got} values, the network takes {want}")]
    InputWidth { sample: usize, got: usize, want: usize },
    #[error(
        "input vector {sample}, value {index}: {value} is outside the input format {format} \
         [{min}, {max}]"
    )]
    InputRange { sample: usize, index: usize, value: i64, format: FixedFormat, min: i64, max: i64 },
    /// A value left its proven bounds: a bug in shiftkit, or a damaged network.
    #[error(
        "layer `{layer}` {what} {index} of sample {sample} is {value}, outside its proven bounds \
         {bounds}"
    )]
    OutOfBounds {
        layer: String,
        what: &'static str,
        index: usize,
        sample: usize,
        value: i64,
        bounds: Interval,
    },
}

/// Rows per parallel work item.
const CHUNK: usize = 64;

/// Runs the network on raw input codes (one sample per row); returns the raw
/// output codes.
pub fn run(net: &IntNetwork, x: ArrayView2<i64>) -> Result<Array2<i64>, SimError> {
    Ok(run_chunks(net, x, false)?.pop().expect("at least one layer"))
}

/// Like [`run`], returning every layer's output (in layer order).
pub fn run_traced(net: &IntNetwork, x: ArrayView2<i64>) -> Result<Vec<Array2<i64>>, SimError> {
    run_chunks(net, x, true)
}

/// Quantizes real-valued samples to the network's input format.
pub fn quantize_input(net: &IntNetwork, x: ArrayView2<f32>) -> Array2<i64> {
    let f = net.input_format();
    x.mapv(|v| f.quantize(v as f64))
}

/// Top-1 accuracy of the integer network on a split of real-valued samples.
pub fn accuracy(net: &IntNetwork, split: &Split) -> Result<f64, SimError> {
    if split.is_empty() {
        return Ok(0.0);
    }
    let out = run(net, quantize_input(net, split.x.view()).view())?;
    let correct = out
        .rows()
        .into_iter()
        .zip(&split.y)
        .filter(|(row, &label)| argmax(row.iter().copied()) == label as usize)
        .count();
    Ok(correct as f64 / split.len() as f64)
}

/// Index of the largest value (the first on ties), as the hardware's argmax.
pub fn argmax(values: impl Iterator<Item = i64>) -> usize {
    let mut best = (0usize, i64::MIN);
    for (i, v) in values.enumerate() {
        if v > best.1 {
            best = (i, v);
        }
    }
    best.0
}

fn check_input(net: &IntNetwork, x: ArrayView2<i64>) -> Result<(), SimError> {
    let want = net.input().numel();
    if x.ncols() != want {
        return Err(SimError::InputWidth { sample: 0, got: x.ncols(), want });
    }
    let f = net.input_format();
    for (sample, row) in x.rows().into_iter().enumerate() {
        if let Some((index, &value)) = row.iter().enumerate().find(|(_, &v)| !f.contains(v)) {
            return Err(SimError::InputRange {
                sample,
                index,
                value,
                format: f,
                min: f.min(),
                max: f.max(),
            });
        }
    }
    Ok(())
}

fn run_chunks(
    net: &IntNetwork,
    x: ArrayView2<i64>,
    keep_all: bool,
) -> Result<Vec<Array2<i64>>, SimError> {
    check_input(net, x)?;
    let plans: Vec<Plan> = net.layers().iter().map(Plan::new).collect();
    let starts: Vec<usize> = (0..x.nrows()).step_by(CHUNK).collect();
    let chunks: Vec<Vec<Array2<i64>>> = starts
        .par_iter()
        .map(|&start| {
            let end = (start + CHUNK).min(x.nrows());
            let mut a = x.slice(ndarray::s![start..end, ..]).to_owned();
            let mut outs = Vec::new();
            for (layer, plan) in net.layers().iter().zip(&plans) {
                a = run_layer(layer, plan, a, start)?;
                if keep_all {
                    outs.push(a.clone());
                }
            }
            if !keep_all {
                outs.push(a);
            }
            Ok(outs)
        })
        .collect::<Result<_, SimError>>()?;
    let layers = if keep_all { net.layers().len() } else { 1 };
    let widths: Vec<usize> = if keep_all {
        net.layers().iter().map(|l| l.output.numel()).collect()
    } else {
        vec![net.output().numel()]
    };
    Ok((0..layers)
        .map(|k| {
            if chunks.is_empty() {
                return Array2::zeros((0, widths[k]));
            }
            let views: Vec<_> = chunks.iter().map(|c| c[k].view()).collect();
            ndarray::concatenate(Axis(0), &views).expect("chunks share widths")
        })
        .collect())
}

/// Per-layer facts the inner loops need, derived once per run.
struct Plan {
    /// Weights as `(out, taps)` rows, in the narrowest type the proof allows.
    rows: Option<Rows>,
}

/// Weight rows and the integer type the dot products run in. Each choice is
/// exact: it is taken only when interval analysis proves that every input,
/// weight and partial sum fits.
enum Rows {
    /// Inputs and weights fit `i16`, partial sums fit `i32`.
    I16(Array2<i16>),
    /// Partial sums fit `i32`.
    I32(Array2<i32>),
    I64(Array2<i64>),
}

impl Plan {
    fn new(layer: &IntLayer) -> Plan {
        let Some(w) = layer.op.weighted() else { return Plan { rows: None } };
        let outs = w.out_channels();
        let taps = w.weights.len() / outs;
        let rows = w.weights.to_shape((outs, taps)).expect("contiguous").to_owned();
        let x_max = Interval::of_format(layer.input_format).max_abs() as u128;
        let w_max = rows.iter().map(|v| v.unsigned_abs()).max().unwrap_or(0) as u128;
        let sums_fit_i32 = x_max <= i32::MAX as u128
            && rows.rows().into_iter().all(|r| {
                let s: u128 = r.iter().map(|&v| v.unsigned_abs() as u128).sum::<u128>() * x_max;
                s <= i32::MAX as u128
            });
        let rows = if sums_fit_i32 && x_max <= i16::MAX as u128 && w_max <= i16::MAX as u128 {
            Rows::I16(rows.mapv(|v| v as i16))
        } else if sums_fit_i32 {
            Rows::I32(rows)
        } else {
            Rows::I64(rows.mapv(|v| v as i64))
        };
        Plan { rows: Some(rows) }
    }
}

fn run_layer(
    layer: &IntLayer,
    plan: &Plan,
    a: Array2<i64>,
    first_sample: usize,
) -> Result<Array2<i64>, SimError> {
    match &layer.op {
        IntOp::Dense(w) => {
            let rows = plan.rows.as_ref().expect("weighted layer");
            let acc = matmul(a.view(), rows);
            finish(layer, w, acc, 1, first_sample)
        }
        IntOp::Conv2d { layer: w, stride, padding } => {
            let rows = plan.rows.as_ref().expect("weighted layer");
            let (Shape::Image { c, h, w: width }, Shape::Image { h: oh, w: ow, .. }) =
                (layer.input, layer.output)
            else {
                unreachable!("validated image shapes")
            };
            let [kh, kw] = [w.weights.shape()[2], w.weights.shape()[3]];
            let p = oh * ow;
            let batch = a.nrows();
            // Unfold: one row per (sample, position), taps in (c, ky, kx) order.
            let mut cols = Array2::<i64>::zeros((batch * p, c * kh * kw));
            for (b, img) in a.rows().into_iter().enumerate() {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let mut row = cols.row_mut(b * p + oy * ow + ox);
                        let mut k = 0;
                        for ci in 0..c {
                            for ky in 0..kh {
                                for kx in 0..kw {
                                    let iy = (oy * stride[0] + ky) as isize - padding[0] as isize;
                                    let ix = (ox * stride[1] + kx) as isize - padding[1] as isize;
                                    if iy >= 0
                                        && ix >= 0
                                        && (iy as usize) < h
                                        && (ix as usize) < width
                                    {
                                        row[k] =
                                            img[ci * h * width + iy as usize * width + ix as usize];
                                    }
                                    k += 1;
                                }
                            }
                        }
                    }
                }
            }
            let prod = matmul(cols.view(), rows); // (batch * p, oc)
            let oc = w.out_channels();
            let mut acc = Array2::<i64>::zeros((batch, oc * p));
            for b in 0..batch {
                for pos in 0..p {
                    for o in 0..oc {
                        acc[[b, o * p + pos]] = prod[[b * p + pos, o]];
                    }
                }
            }
            finish(layer, w, acc, p, first_sample)
        }
        IntOp::MaxPool2d(pool) => {
            let (Shape::Image { c, h, w }, Shape::Image { h: oh, w: ow, .. }) =
                (layer.input, layer.output)
            else {
                unreachable!("validated image shapes")
            };
            let mut out = Array2::<i64>::zeros((a.nrows(), c * oh * ow));
            for (img, mut o) in a.rows().into_iter().zip(out.rows_mut()) {
                for ci in 0..c {
                    for oy in 0..oh {
                        for ox in 0..ow {
                            let mut m = i64::MIN;
                            for ky in 0..pool.kernel[0] {
                                for kx in 0..pool.kernel[1] {
                                    let y = oy * pool.stride[0] + ky;
                                    let x = ox * pool.stride[1] + kx;
                                    m = m.max(img[ci * h * w + y * w + x]);
                                }
                            }
                            o[ci * oh * ow + oy * ow + ox] = m;
                        }
                    }
                }
            }
            check_outputs(layer, &out, first_sample)?;
            Ok(out)
        }
        IntOp::Relu => {
            let out = a.mapv(|v| v.max(0));
            check_outputs(layer, &out, first_sample)?;
            Ok(out)
        }
        IntOp::Flatten => Ok(a),
    }
}

/// `x · wᵀ` in integers: `(rows, taps) x (out, taps) -> (rows, out)`, in the
/// type the plan chose.
fn matmul(x: ArrayView2<i64>, w: &Rows) -> Array2<i64> {
    match w {
        Rows::I16(w) => matmul_as(x.mapv(|v| v as i16), w, |a, b| {
            a.iter().zip(b).map(|(&p, &q)| p as i32 * q as i32).sum::<i32>() as i64
        }),
        Rows::I32(w) => matmul_as(x.mapv(|v| v as i32), w, |a, b| {
            a.iter().zip(b).map(|(&p, &q)| p * q).sum::<i32>() as i64
        }),
        Rows::I64(w) => {
            matmul_as(x.to_owned(), w, |a, b| a.iter().zip(b).map(|(&p, &q)| p * q).sum::<i64>())
        }
    }
}

fn matmul_as<T: Copy>(x: Array2<T>, w: &Array2<T>, dot: impl Fn(&[T], &[T]) -> i64) -> Array2<i64> {
    let mut acc = Array2::<i64>::zeros((x.nrows(), w.nrows()));
    let x = x.as_standard_layout();
    for (xr, mut ar) in x.rows().into_iter().zip(acc.rows_mut()) {
        let xs = xr.as_slice().expect("standard layout");
        for (wr, a) in w.rows().into_iter().zip(ar.iter_mut()) {
            *a = dot(xs, wr.as_slice().expect("standard layout"));
        }
    }
    acc
}

/// Bias, channel scale, bound checks and requantization of a weighted layer's
/// accumulators (`positions` values per output channel).
fn finish(
    layer: &IntLayer,
    w: &Weighted,
    mut acc: Array2<i64>,
    positions: usize,
    first_sample: usize,
) -> Result<Array2<i64>, SimError> {
    let shift = w.shift(layer.input_format, layer.format);
    for (b, mut row) in acc.rows_mut().into_iter().enumerate() {
        for (i, v) in row.iter_mut().enumerate() {
            let j = i / positions;
            let a = (*v + w.bias[j]) * w.multiplier(j);
            let bounds = layer.acc_bounds[j];
            if !bounds.contains(a) {
                return Err(SimError::OutOfBounds {
                    layer: layer.name.clone(),
                    what: "accumulator",
                    index: i,
                    sample: first_sample + b,
                    value: a,
                    bounds,
                });
            }
            *v = requantize(a, shift, w.relu, layer.format);
        }
    }
    check_outputs(layer, &acc, first_sample)?;
    Ok(acc)
}

fn check_outputs(layer: &IntLayer, out: &Array2<i64>, first_sample: usize) -> Result<(), SimError> {
    for (b, row) in out.rows().into_iter().enumerate() {
        for (i, &v) in row.iter().enumerate() {
            let bounds = layer.bounds[layer.channel_of(i)];
            if !bounds.contains(v) {
                return Err(SimError::OutOfBounds {
                    layer: layer.name.clone(),
                    what: "output",
                    index: i,
                    sample: first_sample + b,
                    value: v,
                    bounds,
                });
            }
        }
    }
    Ok(())
}
