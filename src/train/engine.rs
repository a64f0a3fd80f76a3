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

use crate::model::{BatchNorm, Conv2d, Dense, MaxPool2d, Network, Op, ParamId, ParamKind, Shape};

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
    batch: usize,
    pub batch_stats: Vec<BatchStats>,
}

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
    run(net, x, mode)
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

fn run(net: &Network, x: ArrayView2<f32>, mode: Mode) -> (Array2<f32>, Tape) {
    assert_eq!(
        x.ncols(),
        net.input().numel(),
        "engine input width must match the network input (callers check this)"
    );
    let batch = x.nrows();
    let mut tape = Tape { caches: Vec::new(), batch, batch_stats: Vec::new() };
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

/// Number of positions per channel: h*w for images, 1 for flat vectors.
fn spatial(shape: Shape) -> usize {
    match shape {
        Shape::Flat(_) => 1,
        Shape::Image { h, w, .. } => h * w,
    }
}

fn image_dims(shape: Shape) -> (usize, usize, usize) {
    match shape {
        Shape::Image { c, h, w } => (c, h, w),
        Shape::Flat(_) => unreachable!("network validation guarantees an image here"),
    }
}

/// Geometry of one convolution over a batch.
struct ConvGeom {
    ch: usize,
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
    kh: usize,
    kw: usize,
    stride: [usize; 2],
    pad: [usize; 2],
}

impl ConvGeom {
    fn new(c: &Conv2d, input: Shape, output: Shape) -> ConvGeom {
        let (ch, h, w) = image_dims(input);
        let (_, oh, ow) = image_dims(output);
        let [kh, kw] = c.kernel();
        ConvGeom { ch, h, w, oh, ow, kh, kw, stride: c.stride, pad: c.padding }
    }

    /// For kernel offset `(ky, kx)` and output row `oy`: the input row, and the
    /// range of output columns whose input column lies inside the image.
    fn span(&self, ky: usize, kx: usize, oy: usize) -> Option<(usize, usize, usize)> {
        let iy = (oy * self.stride[0] + ky).checked_sub(self.pad[0])?;
        if iy >= self.h {
            return None;
        }
        // Input column of output column ox: ox * sw + kx - pw, inside [0, w).
        let sw = self.stride[1];
        let lo = self.pad[1].saturating_sub(kx).div_ceil(sw);
        let hi = ((self.w + self.pad[1]).saturating_sub(kx)).div_ceil(sw).min(self.ow);
        (lo < hi).then_some((iy, lo, hi))
    }

    /// Visits every (kernel row k, batch b, output row oy) with the matching
    /// input line: `f(k, out_offset, in_offset, lo, hi)` where output column
    /// `ox` in `lo..hi` reads input `in_offset + ox * sw` and writes
    /// `out_offset + ox` of row `k` of the unfolded matrix.
    fn for_each_span(&self, batch: usize, mut f: impl FnMut(usize, usize, usize, usize, usize)) {
        let p = self.oh * self.ow;
        let mut k = 0;
        for ci in 0..self.ch {
            for ky in 0..self.kh {
                for kx in 0..self.kw {
                    for b in 0..batch {
                        for oy in 0..self.oh {
                            if let Some((iy, lo, hi)) = self.span(ky, kx, oy) {
                                let img = (b * self.ch + ci) * self.h * self.w;
                                // ox * sw + kx - pw >= 0 for ox >= lo.
                                let in_off = img + iy * self.w + kx;
                                f(k, b * p + oy * self.ow, in_off, lo, hi);
                            }
                        }
                    }
                    k += 1;
                }
            }
        }
    }
}

/// Unfolds every receptive field into a column: `(c * kh * kw, batch * oh * ow)`.
/// Row `k` is one kernel tap over all output positions, so stride-1 rows are
/// contiguous copies of input lines.
fn im2col(c: &Conv2d, x: ArrayView2<f32>, input: Shape, output: Shape) -> Array2<f32> {
    let g = ConvGeom::new(c, input, output);
    let batch = x.nrows();
    let bp = batch * g.oh * g.ow;
    let mut cols = Array2::<f32>::zeros((g.ch * g.kh * g.kw, bp));
    let x = x.as_standard_layout();
    let xs = x.as_slice().expect("standard layout");
    let out = cols.as_slice_mut().expect("fresh array");
    let (sw, pw) = (g.stride[1], g.pad[1]);
    g.for_each_span(batch, |k, out_off, in_off, lo, hi| {
        let dst = &mut out[k * bp + out_off..][lo..hi];
        // in_off + ox * sw - pw is the input index of output column ox.
        if sw == 1 {
            dst.copy_from_slice(&xs[in_off + lo - pw..in_off + hi - pw]);
        } else {
            for (d, ox) in dst.iter_mut().zip(lo..hi) {
                *d = xs[in_off + ox * sw - pw];
            }
        }
    });
    cols
}

/// The adjoint of [`im2col`]: adds every column entry back onto its pixel.
fn col2im(
    c: &Conv2d,
    cols: &Array2<f32>,
    batch: usize,
    input: Shape,
    output: Shape,
) -> Array2<f32> {
    let g = ConvGeom::new(c, input, output);
    let bp = batch * g.oh * g.ow;
    let mut dx = Array2::<f32>::zeros((batch, g.ch * g.h * g.w));
    let src = cols.as_slice().expect("standard layout");
    let out = dx.as_slice_mut().expect("fresh array");
    let (sw, pw) = (g.stride[1], g.pad[1]);
    g.for_each_span(batch, |k, col_off, in_off, lo, hi| {
        let row = &src[k * bp + col_off..][lo..hi];
        if sw == 1 {
            for (d, &v) in out[in_off + lo - pw..in_off + hi - pw].iter_mut().zip(row) {
                *d += v;
            }
        } else {
            for (&v, ox) in row.iter().zip(lo..hi) {
                out[in_off + ox * sw - pw] += v;
            }
        }
    });
    dx
}

/// The weight as a `(oc, c * kh * kw)` matrix.
fn conv_weight_matrix(c: &Conv2d) -> ArrayView2<'_, f32> {
    let oc = c.out_channels();
    let k = c.weight.len() / oc;
    c.weight.view().into_shape_with_order((oc, k)).expect("weights are contiguous")
}

fn conv_forward(c: &Conv2d, cols: &Array2<f32>, batch: usize, output: Shape) -> Array2<f32> {
    let (oc, oh, ow) = image_dims(output);
    let p = oh * ow;
    // (oc, batch * p): one column per output position.
    let prod = conv_weight_matrix(c).dot(cols);
    let mut y = Array2::<f32>::zeros((batch, oc * p));
    let ps = prod.as_slice().expect("fresh array");
    let ys = y.as_slice_mut().expect("fresh array");
    for b in 0..batch {
        for o in 0..oc {
            let src = &ps[o * batch * p + b * p..][..p];
            let bias = c.bias[o];
            for (d, &v) in ys[(b * oc + o) * p..][..p].iter_mut().zip(src) {
                *d = v + bias;
            }
        }
    }
    y
}

fn conv_backward(
    c: &Conv2d,
    cols: &Array2<f32>,
    dy: ArrayView2<f32>,
    batch: usize,
    input: Shape,
    output: Shape,
    need_dx: bool,
) -> (ndarray::Array4<f32>, Array1<f32>, Option<Array2<f32>>) {
    let (oc, oh, ow) = image_dims(output);
    let p = oh * ow;
    let dy = dy.as_standard_layout();
    let dys = dy.as_slice().expect("standard layout");
    // Rearrange to (oc, batch * p), matching the columns of `cols`.
    let mut d2 = Array2::<f32>::zeros((oc, batch * p));
    {
        let ds = d2.as_slice_mut().expect("fresh array");
        for b in 0..batch {
            for o in 0..oc {
                ds[o * batch * p + b * p..][..p].copy_from_slice(&dys[(b * oc + o) * p..][..p]);
            }
        }
    }
    let db = d2.sum_axis(Axis(1));
    let dw = d2.dot(&cols.t());
    let dw = dw.into_shape_with_order(c.weight.raw_dim()).expect("same number of values");
    let dx = need_dx.then(|| {
        let dcols = conv_weight_matrix(c).t().dot(&d2);
        col2im(c, &dcols, batch, input, output)
    });
    (dw, db, dx)
}

/// Max pooling; ties go to the first maximum in raster order.
fn pool_forward(
    p: &MaxPool2d,
    x: ArrayView2<f32>,
    input: Shape,
    output: Shape,
) -> (Array2<f32>, Vec<u32>) {
    let (ch, h, w) = image_dims(input);
    let (_, oh, ow) = image_dims(output);
    let batch = x.nrows();
    let x = x.as_standard_layout();
    let xs = x.as_slice().expect("standard layout");
    let mut y = Array2::<f32>::zeros((batch, ch * oh * ow));
    let mut argmax = vec![0u32; batch * ch * oh * ow];
    let ys = y.as_slice_mut().expect("fresh array");
    for b in 0..batch {
        let img = &xs[b * ch * h * w..(b + 1) * ch * h * w];
        for ci in 0..ch {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut best = f32::NEG_INFINITY;
                    let mut best_i = 0usize;
                    for ky in 0..p.kernel[0] {
                        for kx in 0..p.kernel[1] {
                            let i =
                                ci * h * w + (oy * p.stride[0] + ky) * w + ox * p.stride[1] + kx;
                            if img[i] > best || (ky == 0 && kx == 0) {
                                best = img[i];
                                best_i = i;
                            }
                        }
                    }
                    let o = b * ch * oh * ow + (ci * oh + oy) * ow + ox;
                    ys[o] = best;
                    argmax[o] = best_i as u32;
                }
            }
        }
    }
    (y, argmax)
}

fn pool_backward(argmax: &[u32], dy: ArrayView2<f32>, input: Shape, output: Shape) -> Array2<f32> {
    let batch = dy.nrows();
    let n_in = input.numel();
    let n_out = output.numel();
    let mut dx = Array2::<f32>::zeros((batch, n_in));
    let dy = dy.as_standard_layout();
    let dys = dy.as_slice().expect("standard layout");
    let out = dx.as_slice_mut().expect("fresh array");
    for b in 0..batch {
        for o in 0..n_out {
            out[b * n_in + argmax[b * n_out + o] as usize] += dys[b * n_out + o];
        }
    }
    dx
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
