//! The float engine: batched forward and backward passes of every layer.
//!
//! Activations are `(batch, features)` matrices, each row one sample flattened
//! in ONNX order (channels, height, width), so `Flatten` costs nothing and a
//! convolution reads its image straight from the row. Convolutions run as
//! im2col followed by one matrix product; matrix products go to ndarray
//! (matrixmultiply). The engine never mutates the network: batch-norm batch
//! statistics are returned in the [`Tape`] for the trainer to fold into the
//! running averages.

use ndarray::{s, Array1, Array2, ArrayD, ArrayView2, Axis};

use crate::model::{BatchNorm, Dense, Network, Op, ParamId, ParamKind, Shape};

mod conv;

use conv::*;

/// Whether batch norm uses batch statistics (training) or running ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Train,
    Eval,
}

/// What backward needs of one layer's forward pass.
#[derive(Debug)]
enum Cache {
    Dense {
        x: Array2<f32>,
    },
    Conv {
        cols: Array2<f32>,
    },
    Pool {
        argmax: Vec<u32>,
    },
    Relu {
        y: Array2<f32>,
    },
    Flatten,
    BatchNorm {
        xhat: Array2<f32>,
        inv_std: Array1<f32>,
    },
    /// Eval-mode batch norm: normalized by the running statistics.
    BatchNormEval {
        xhat: Array2<f32>,
    },
}

/// The batch statistics a training-mode batch norm saw.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchStats {
    pub layer: usize,
    pub mean: Array1<f32>,
    /// Unbiased variance (as PyTorch folds into its running variance).
    pub var: Array1<f32>,
}

/// The record of one forward pass.
#[derive(Debug)]
pub struct Tape {
    caches: Vec<Cache>,
    /// Per layer whose outputs were fake-quantized: where the value was
    /// inside the format's range (the straight-through gradient passes there).
    inside: Vec<Option<Array2<bool>>>,
    batch: usize,
    pub batch_stats: Vec<BatchStats>,
}

/// The fake quantizer of one layer's outputs: the value the next layer sees
/// and whether the real value was inside the format's range.
pub type Quantizer = Box<dyn Fn(f32) -> (f32, bool) + Send + Sync>;

/// Fake quantization of some layers' outputs during training
/// (quantization-aware training): `(layer index, quantizer)`.
pub type ActQuant = [(usize, Quantizer)];

/// Gradients of every trainable tensor, in [`Network::params`] order.
#[derive(Clone, Debug, PartialEq)]
pub struct Grads {
    pub items: Vec<(ParamId, ArrayD<f32>)>,
}

impl Grads {
    pub fn get(&self, id: ParamId) -> Option<&ArrayD<f32>> {
        self.items.iter().find(|(i, _)| *i == id).map(|(_, g)| g)
    }

    /// Adds `other` (same parameters, same order) into `self`.
    pub fn add_assign(&mut self, other: &Grads) {
        for ((a, ga), (b, gb)) in self.items.iter_mut().zip(&other.items) {
            debug_assert_eq!(a, b);
            *ga += gb;
        }
    }
}

/// Runs the network on a batch (one sample per row); returns the output rows
/// and the tape backward needs.
pub fn forward(net: &Network, x: ArrayView2<f32>, mode: Mode) -> (Array2<f32>, Tape) {
    run(net, x, mode, &[])
}

/// [`forward`] with the outputs of the layers `quant` names fake-quantized;
/// [`backward`] passes their gradient straight through where the value was
/// inside the format's range and stops it where the format saturated.
pub fn forward_quantized(
    net: &Network,
    x: ArrayView2<f32>,
    mode: Mode,
    quant: &ActQuant,
) -> (Array2<f32>, Tape) {
    run(net, x, mode, quant)
}

/// Inference only: the outputs, keeping nothing for backward.
pub fn predict(net: &Network, x: ArrayView2<f32>) -> Array2<f32> {
    run_layers(net, x, 0..net.layers().len())
}

/// Inference that keeps every layer's output (for calibration and traces).
pub fn trace(net: &Network, x: ArrayView2<f32>) -> Vec<Array2<f32>> {
    let mut outs = Vec::with_capacity(net.layers().len());
    let mut a = x.to_owned();
    for i in 0..net.layers().len() {
        a = run_layers(net, a.view(), i..i + 1);
        outs.push(a.clone());
    }
    outs
}

/// Inference through a range of layers.
fn run_layers(net: &Network, x: ArrayView2<f32>, layers: std::ops::Range<usize>) -> Array2<f32> {
    let mut a = x.to_owned();
    for i in layers {
        a = layer_forward(net, i, a);
    }
    a
}

/// Inference through one layer.
fn layer_forward(net: &Network, i: usize, a: Array2<f32>) -> Array2<f32> {
    let (input, output) = (net.input_of(i), net.output_of(i));
    match &net.layers()[i].op {
        Op::Dense(d) => dense_forward(d, a.view()),
        Op::Conv2d(c) => {
            let batch = a.nrows();
            conv_forward(c, &im2col(c, a.view(), input, output), batch, output)
        }
        Op::MaxPool2d(p) => pool_forward(p, a.view(), input, output).0,
        Op::Relu => a.mapv(|v| v.max(0.0)),
        Op::Flatten => a,
        Op::BatchNorm(bn) => bn_eval(bn, a, input),
    }
}

fn run(net: &Network, x: ArrayView2<f32>, mode: Mode, quant: &ActQuant) -> (Array2<f32>, Tape) {
    assert_eq!(
        x.ncols(),
        net.input().numel(),
        "engine input width must match the network input (callers check this)"
    );
    let batch = x.nrows();
    let mut tape = Tape { caches: Vec::new(), inside: Vec::new(), batch, batch_stats: Vec::new() };
    let mut a = x.to_owned();
    for (i, layer) in net.layers().iter().enumerate() {
        let input = net.input_of(i);
        let output = net.output_of(i);
        let (y, cache) = match &layer.op {
            Op::Dense(d) => {
                let y = dense_forward(d, a.view());
                (y, Cache::Dense { x: a })
            }
            Op::Conv2d(c) => {
                let cols = im2col(c, a.view(), input, output);
                let y = conv_forward(c, &cols, batch, output);
                (y, Cache::Conv { cols })
            }
            Op::MaxPool2d(p) => {
                let (y, argmax) = pool_forward(p, a.view(), input, output);
                (y, Cache::Pool { argmax })
            }
            Op::Relu => {
                a.mapv_inplace(|v| v.max(0.0));
                (a.clone(), Cache::Relu { y: a })
            }
            Op::Flatten => (a, Cache::Flatten),
            Op::BatchNorm(bn) => match mode {
                Mode::Eval => {
                    let xhat = bn_normalize_eval(bn, a.view(), input);
                    (bn_eval(bn, a, input), Cache::BatchNormEval { xhat })
                }
                Mode::Train => {
                    let (y, xhat, inv_std, stats) = bn_train(bn, a.view(), input);
                    tape.batch_stats.push(BatchStats { layer: i, mean: stats.0, var: stats.1 });
                    (y, Cache::BatchNorm { xhat, inv_std })
                }
            },
        };
        tape.caches.push(cache);
        a = y;
        let inside = quant.iter().find(|(l, _)| *l == i).map(|(_, q)| {
            let mut inside = Array2::from_elem(a.raw_dim(), true);
            ndarray::Zip::from(&mut a).and(&mut inside).for_each(|v, ok| {
                let (fake, within) = q(*v);
                *v = fake;
                *ok = within;
            });
            inside
        });
        tape.inside.push(inside);
    }
    (a, tape)
}

/// Backpropagates `dy` (gradient of the loss with respect to the outputs) through
/// the tape. Returns parameter gradients and, when `input_grad`, the gradient
/// with respect to the input batch.
pub fn backward(
    net: &Network,
    tape: &Tape,
    dy: Array2<f32>,
    input_grad: bool,
) -> (Grads, Option<Array2<f32>>) {
    assert_eq!(tape.caches.len(), net.layers().len(), "tape belongs to this network");
    let mut grads = Grads { items: Vec::new() };
    let mut g = dy;
    let batch = tape.batch;
    for (i, layer) in net.layers().iter().enumerate().rev() {
        let need_dx = i > 0 || input_grad;
        let input = net.input_of(i);
        let output = net.output_of(i);
        let id = |kind| ParamId { layer: i, kind };
        if let Some(inside) = &tape.inside[i] {
            g.zip_mut_with(inside, |d, &ok| {
                if !ok {
                    *d = 0.0
                }
            });
        }
        match (&layer.op, &tape.caches[i]) {
            (Op::Dense(d), Cache::Dense { x }) => {
                let dw = g.t().dot(x);
                let db = g.sum_axis(Axis(0));
                grads.items.push((id(ParamKind::Bias), db.into_dyn()));
                grads.items.push((id(ParamKind::Weight), dw.into_dyn()));
                if need_dx {
                    g = g.dot(&d.weight);
                }
            }
            (Op::Conv2d(c), Cache::Conv { cols }) => {
                let (dw, db, dx) = conv_backward(c, cols, g.view(), batch, input, output, need_dx);
                grads.items.push((id(ParamKind::Bias), db.into_dyn()));
                grads.items.push((id(ParamKind::Weight), dw.into_dyn()));
                if let Some(dx) = dx {
                    g = dx;
                }
            }
            (Op::MaxPool2d(_), Cache::Pool { argmax }) => {
                if need_dx {
                    g = pool_backward(argmax, g.view(), input, output);
                }
            }
            (Op::Relu, Cache::Relu { y }) => {
                g.zip_mut_with(y, |d, &v| {
                    if v <= 0.0 {
                        *d = 0.0
                    }
                });
            }
            (Op::Flatten, Cache::Flatten) => {}
            (Op::BatchNorm(bn), Cache::BatchNorm { xhat, inv_std }) => {
                let (dgamma, dbeta, dx) = bn_backward(bn, xhat, inv_std, g.view(), input);
                grads.items.push((id(ParamKind::Beta), dbeta.into_dyn()));
                grads.items.push((id(ParamKind::Gamma), dgamma.into_dyn()));
                g = dx;
            }
            (Op::BatchNorm(bn), Cache::BatchNormEval { xhat }) => {
                // Running statistics are constants here: y = gamma * xhat + beta.
                let s = spatial(input);
                let mut dgamma = Array1::<f32>::zeros(bn.channels());
                let mut dbeta = Array1::<f32>::zeros(bn.channels());
                for c in 0..bn.channels() {
                    let cols = s![.., c * s..(c + 1) * s];
                    dbeta[c] = g.slice(cols).sum();
                    dgamma[c] =
                        g.slice(cols).iter().zip(xhat.slice(cols)).map(|(a, b)| a * b).sum();
                    let k = bn.gamma[c] / (bn.running_var[c] + bn.eps).sqrt();
                    g.slice_mut(cols).mapv_inplace(|v| v * k);
                }
                grads.items.push((id(ParamKind::Beta), dbeta.into_dyn()));
                grads.items.push((id(ParamKind::Gamma), dgamma.into_dyn()));
            }
            (op, cache) => unreachable!("cache {cache:?} does not belong to {}", op.as_str()),
        }
    }
    grads.items.reverse();
    (grads, if input_grad { Some(g) } else { None })
}

fn dense_forward(d: &Dense, x: ArrayView2<f32>) -> Array2<f32> {
    let mut y = x.dot(&d.weight.t());
    y += &d.bias;
    y
}

/// Eval-mode batch norm as a per-channel affine map `y = scale * x + shift`.
pub fn bn_affine(bn: &BatchNorm) -> (Array1<f32>, Array1<f32>) {
    let scale: Array1<f32> =
        bn.gamma.iter().zip(&bn.running_var).map(|(&g, &v)| g / (v + bn.eps).sqrt()).collect();
    let shift: Array1<f32> =
        (0..bn.channels()).map(|c| bn.beta[c] - scale[c] * bn.running_mean[c]).collect();
    (scale, shift)
}

fn bn_eval(bn: &BatchNorm, mut x: Array2<f32>, input: Shape) -> Array2<f32> {
    let (scale, shift) = bn_affine(bn);
    let s = spatial(input);
    for mut row in x.rows_mut() {
        for c in 0..bn.channels() {
            row.slice_mut(s![c * s..(c + 1) * s]).mapv_inplace(|v| v * scale[c] + shift[c]);
        }
    }
    x
}

/// `(x - running_mean) / sqrt(running_var + eps)`, per channel.
fn bn_normalize_eval(bn: &BatchNorm, x: ArrayView2<f32>, input: Shape) -> Array2<f32> {
    let s = spatial(input);
    let mut xhat = x.to_owned();
    for mut row in xhat.rows_mut() {
        for c in 0..bn.channels() {
            let (m, k) = (bn.running_mean[c], 1.0 / (bn.running_var[c] + bn.eps).sqrt());
            row.slice_mut(s![c * s..(c + 1) * s]).mapv_inplace(|v| (v - m) * k);
        }
    }
    xhat
}

type BnTrainOut = (Array2<f32>, Array2<f32>, Array1<f32>, (Array1<f32>, Array1<f32>));

fn bn_train(bn: &BatchNorm, x: ArrayView2<f32>, input: Shape) -> BnTrainOut {
    let s = spatial(input);
    let chans = bn.channels();
    let n = (x.nrows() * s) as f64;
    let mut mean = Array1::<f32>::zeros(chans);
    let mut var = Array1::<f32>::zeros(chans);
    let mut var_unbiased = Array1::<f32>::zeros(chans);
    for c in 0..chans {
        let block = x.slice(s![.., c * s..(c + 1) * s]);
        let m = block.iter().map(|&v| v as f64).sum::<f64>() / n;
        let v = block.iter().map(|&v| (v as f64 - m).powi(2)).sum::<f64>() / n;
        mean[c] = m as f32;
        var[c] = v as f32;
        var_unbiased[c] = if n > 1.0 { (v * n / (n - 1.0)) as f32 } else { v as f32 };
    }
    let inv_std = var.mapv(|v| 1.0 / (v + bn.eps).sqrt());
    let mut xhat = x.to_owned();
    for mut row in xhat.rows_mut() {
        for c in 0..chans {
            row.slice_mut(s![c * s..(c + 1) * s]).mapv_inplace(|v| (v - mean[c]) * inv_std[c]);
        }
    }
    let mut y = xhat.clone();
    for mut row in y.rows_mut() {
        for c in 0..chans {
            row.slice_mut(s![c * s..(c + 1) * s]).mapv_inplace(|v| v * bn.gamma[c] + bn.beta[c]);
        }
    }
    (y, xhat, inv_std, (mean, var_unbiased))
}

fn bn_backward(
    bn: &BatchNorm,
    xhat: &Array2<f32>,
    inv_std: &Array1<f32>,
    dy: ArrayView2<f32>,
    input: Shape,
) -> (Array1<f32>, Array1<f32>, Array2<f32>) {
    let s = spatial(input);
    let chans = bn.channels();
    let n = (dy.nrows() * s) as f32;
    let mut dgamma = Array1::<f32>::zeros(chans);
    let mut dbeta = Array1::<f32>::zeros(chans);
    let mut dx = Array2::<f32>::zeros(dy.raw_dim());
    for c in 0..chans {
        let cols = s![.., c * s..(c + 1) * s];
        let d = dy.slice(cols);
        let xh = xhat.slice(cols);
        let sum_d: f32 = d.sum();
        let sum_dx: f32 = d.iter().zip(xh.iter()).map(|(a, b)| a * b).sum();
        dbeta[c] = sum_d;
        dgamma[c] = sum_dx;
        // dxhat = dy * gamma; dx = inv_std / n * (n * dxhat - sum(dxhat) - xhat * sum(dxhat * xhat))
        let g = bn.gamma[c];
        let k = inv_std[c] / n;
        let mut out = dx.slice_mut(cols);
        ndarray::Zip::from(&mut out).and(&d).and(&xh).for_each(|o, &dv, &xv| {
            *o = k * g * (n * dv - sum_d - xv * sum_dx);
        });
    }
    (dgamma, dbeta, dx)
}
