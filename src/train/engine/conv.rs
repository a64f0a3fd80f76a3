//! The convolution and pooling kernels: im2col + one matrix product, its
//! adjoint, and max pooling with its argmax routing.

use ndarray::{Array1, Array2, ArrayView2, Axis};

use crate::model::{Conv2d, MaxPool2d, Shape};

/// Number of positions per channel: h*w for images, 1 for flat vectors.
pub(super) fn spatial(shape: Shape) -> usize {
    match shape {
        Shape::Flat(_) => 1,
        Shape::Image { h, w, .. } => h * w,
    }
}

pub(super) fn image_dims(shape: Shape) -> (usize, usize, usize) {
    match shape {
        Shape::Image { c, h, w } => (c, h, w),
        Shape::Flat(_) => unreachable!("network validation guarantees an image here"),
    }
}

/// Geometry of one convolution over a batch.
pub(super) struct ConvGeom {
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
pub(super) fn im2col(c: &Conv2d, x: ArrayView2<f32>, input: Shape, output: Shape) -> Array2<f32> {
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
pub(super) fn col2im(
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
pub(super) fn conv_weight_matrix(c: &Conv2d) -> ArrayView2<'_, f32> {
    let oc = c.out_channels();
    let k = c.weight.len() / oc;
    c.weight.view().into_shape_with_order((oc, k)).expect("weights are contiguous")
}

pub(super) fn conv_forward(
    c: &Conv2d,
    cols: &Array2<f32>,
    batch: usize,
    output: Shape,
) -> Array2<f32> {
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

pub(super) fn conv_backward(
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
pub(super) fn pool_forward(
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

pub(super) fn pool_backward(
    argmax: &[u32],
    dy: ArrayView2<f32>,
    input: Shape,
    output: Shape,
) -> Array2<f32> {
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
