//! Low-rank factorization: truncated SVD of a dense layer into two dense
//! layers, and of a `KH x KW` convolution into a `KH x 1` convolution and a
//! `1 x KW` one (Jaderberg et al. 2014, scheme 2). Both split the singular
//! values evenly (`Σ^½` to each factor), which keeps the factors on one scale
//! for fixed point.

use ndarray::{Array1, Array2, Array4};

use super::CompressError;
use crate::model::{Conv2d, Dense, Layer, Network, Op};

fn config(msg: String) -> CompressError {
    CompressError::Config(msg)
}

/// The rank of a truncated SVD.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rank {
    /// Keep `k` singular values.
    Fixed(usize),
    /// Keep the fewest singular values whose squares reach this fraction of the total.
    Energy(f32),
}

/// A factorization `A ≈ left · right` of rank `k`.
struct Factors {
    /// `m x k`: `U_k Σ_k^½`.
    left: Array2<f64>,
    /// `k x n`: `Σ_k^½ V_kᵀ`.
    right: Array2<f64>,
    /// Every singular value, descending.
    values: Vec<f64>,
}

/// The rank of the matrix [`svd_layer`] factors at layer `layer`:
/// `min(out, in)` for a dense layer, `min(C·KH, N·KW)` for a convolution;
/// 0 for a layer without weights.
pub fn full_rank(net: &Network, layer: usize) -> usize {
    match net.layers().get(layer).map(|l| &l.op) {
        Some(Op::Dense(d)) => d.out_features().min(d.in_features()),
        Some(Op::Conv2d(c)) => {
            let [kh, kw] = c.kernel();
            (c.in_channels() * kh).min(c.out_channels() * kw)
        }
        _ => 0,
    }
}

/// Truncated SVD of `a` (the weights of layer `lname`) at `rank`.
fn truncated_svd(a: &Array2<f64>, rank: Rank, lname: &str) -> Result<Factors, CompressError> {
    let (m, n) = a.dim();
    if a.iter().any(|v| !v.is_finite()) {
        return Err(config(format!("layer `{lname}` has weights that are not finite numbers")));
    }
    let w = nalgebra::DMatrix::<f64>::from_fn(m, n, |r, c| a[[r, c]]);
    let svd = nalgebra::linalg::SVD::new(w, true, true);
    let (u, vt) = (svd.u.expect("asked for U"), svd.v_t.expect("asked for Vt"));
    // nalgebra does not promise an order: sort by singular value, descending.
    let mut order: Vec<usize> = (0..svd.singular_values.len()).collect();
    let sv = &svd.singular_values;
    order.sort_by(|&a, &b| sv[b].total_cmp(&sv[a]).then(a.cmp(&b)));
    let values: Vec<f64> = order.iter().map(|&i| sv[i]).collect();
    let k = match rank {
        Rank::Fixed(k) if k == 0 || k > values.len() => {
            return Err(config(format!(
                "layer `{lname}` ({m}x{n} as a matrix) has rank at most {}; asked for {k}",
                values.len()
            )))
        }
        Rank::Fixed(k) => k,
        Rank::Energy(e) if !(e > 0.0 && e <= 1.0) => {
            return Err(config(format!("SVD energy must be in (0, 1], got {e}")))
        }
        Rank::Energy(e) => {
            let total: f64 = values.iter().map(|v| v * v).sum();
            let mut acc = 0.0;
            let mut k = values.len();
            for (i, v) in values.iter().enumerate() {
                acc += v * v;
                if acc >= e as f64 * total * (1.0 - 1e-12) {
                    k = i + 1;
                    break;
                }
            }
            k.max(1)
        }
    };
    let left = Array2::from_shape_fn((m, k), |(row, r)| u[(row, order[r])] * values[r].sqrt());
    let right = Array2::from_shape_fn((k, n), |(r, c)| values[r].sqrt() * vt[(order[r], c)]);
    Ok(Factors { left, right, values })
}

/// Factors weighted layer `layer` at `rank`; returns the network, the
/// singular values and the rank kept.
///
/// - A dense layer `W ≈ U_k Σ_k V_kᵀ` becomes `{name}_v` (`k x n`,
///   `Σ_k^½ V_kᵀ`, no bias) then `{name}_u` (`m x k`, `U_k Σ_k^½`, the bias).
/// - A convolution `C -> N` with kernel `KH x KW` becomes `{name}_v`, a
///   `KH x 1` convolution `C -> k` (the rows' stride and padding, no bias),
///   then `{name}_h`, a `1 x KW` convolution `k -> N` (the columns' stride
///   and padding, the bias). The kernel reshaped to the `(C·KH, N·KW)` matrix
///   `A[(c, i), (n, j)] = W[n, c, i, j]` is factored, so that
///   `W[n, c, i, j] ≈ Σ_m V[m, c, i] H[n, m, j]`: at full rank the two
///   layers compute the convolution exactly (zero padding in the columns is
///   zero after the vertical filters too).
pub fn svd_layer(
    net: &Network,
    layer: usize,
    rank: Rank,
) -> Result<(Network, Vec<f64>, usize), CompressError> {
    let Some(l) = net.layers().get(layer) else {
        return Err(config(format!("no layer {layer}; the network has {}", net.layers().len())));
    };
    let lname = &l.name;
    let (first, second, values, k) = match &l.op {
        Op::Dense(d) => {
            let f = truncated_svd(&d.weight.mapv(f64::from), rank, lname)?;
            let k = f.left.ncols();
            let v = Dense { weight: f.right.mapv(|v| v as f32), bias: Array1::zeros(k) };
            let u = Dense { weight: f.left.mapv(|v| v as f32), bias: d.bias.clone() };
            (
                Layer { name: format!("{lname}_v"), op: Op::Dense(v) },
                Layer { name: format!("{lname}_u"), op: Op::Dense(u) },
                f.values,
                k,
            )
        }
        Op::Conv2d(cv) => {
            let (n, c, kh, kw) = cv.weight.dim();
            let a = Array2::from_shape_fn((c * kh, n * kw), |(r, col)| {
                f64::from(cv.weight[[col / kw, r / kh, r % kh, col % kw]])
            });
            let f = truncated_svd(&a, rank, lname)?;
            let k = f.left.ncols();
            let v = Conv2d {
                weight: Array4::from_shape_fn((k, c, kh, 1), |(m, ch, i, _)| {
                    f.left[[ch * kh + i, m]] as f32
                }),
                bias: Array1::zeros(k),
                stride: [cv.stride[0], 1],
                padding: [cv.padding[0], 0],
            };
            let h = Conv2d {
                weight: Array4::from_shape_fn((n, k, 1, kw), |(o, m, _, j)| {
                    f.right[[m, o * kw + j]] as f32
                }),
                bias: cv.bias.clone(),
                stride: [1, cv.stride[1]],
                padding: [0, cv.padding[1]],
            };
            (
                Layer { name: format!("{lname}_v"), op: Op::Conv2d(v) },
                Layer { name: format!("{lname}_h"), op: Op::Conv2d(h) },
                f.values,
                k,
            )
        }
        _ => {
            return Err(config(format!(
                "low rank factors dense and convolution layers; `{lname}` is neither"
            )))
        }
    };
    let mut layers = net.layers().to_vec();
    layers[layer] = first;
    layers.insert(layer + 1, second);
    Ok((Network::new(net.input(), layers)?, values, k))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compress::surgery::tests::{net, x};
    use crate::model::{ArchSpec, Shape};
    use crate::train::engine::predict;

    #[test]
    fn svd_at_full_rank_reproduces_the_layer() {
        let net = net();
        let (f, values, k) = svd_layer(&net, 0, Rank::Fixed(9)).unwrap();
        assert_eq!(k, 9);
        assert!(values.windows(2).all(|p| p[0] >= p[1]));
        let (a, b) = (predict(&net, x().view()), predict(&f, x().view()));
        assert!((a - b).iter().all(|d| d.abs() < 1e-4));
        assert_eq!(f.layers()[0].name, "fc1_v");
        let Op::Dense(v) = &f.layers()[0].op else { panic!() };
        assert_eq!(v.weight.dim(), (9, 12));
        assert!(svd_layer(&net, 0, Rank::Fixed(10)).is_err());
        let (_, _, k) = svd_layer(&net, 0, Rank::Energy(1.0)).unwrap();
        assert_eq!(k, 9);
        let (_, _, k) = svd_layer(&net, 0, Rank::Energy(0.01)).unwrap();
        assert_eq!(k, 1);
        let mut layers = net.layers().to_vec();
        if let Op::Dense(d) = &mut layers[0].op {
            d.weight[[1, 1]] = f32::NAN;
        }
        let bad = Network::new(net.input(), layers).unwrap();
        assert!(svd_layer(&bad, 0, Rank::Fixed(2)).unwrap_err().to_string().contains("finite"));
        assert!(svd_layer(&net, 1, Rank::Fixed(2)).unwrap_err().to_string().contains("neither"));
    }

    /// A non-square kernel with padding and strides of its own per axis.
    fn conv_net(stride: [usize; 2], padding: [usize; 2]) -> Network {
        let spec: ArchSpec = serde_json::from_str(
            r#"{"input": [3, 9, 8], "layers": [
                {"op": "conv2d", "out_channels": 4, "kernel": 3},
                {"op": "relu"}, {"op": "flatten"}, {"op": "dense", "out": 5}]}"#,
        )
        .unwrap();
        let base = spec.build(11).unwrap();
        let mut layers = base.into_layers();
        // Replace the square kernel by a 3 x 2 one with its own geometry.
        layers[0].op = Op::Conv2d(Conv2d {
            weight: Array4::from_shape_fn((4, 3, 3, 2), |(o, c, i, j)| {
                ((o * 37 + c * 11 + i * 5 + j * 3) % 17) as f32 / 17.0 - 0.5
            }),
            bias: Array1::from(vec![0.1, -0.2, 0.05, 0.3]),
            stride,
            padding,
        });
        let out = Op::Conv2d(match &layers[0].op {
            Op::Conv2d(c) => c.clone(),
            _ => unreachable!(),
        })
        .output_shape(Shape::Image { c: 3, h: 9, w: 8 })
        .unwrap();
        let mut rng = 0u32;
        layers[3].op = Op::Dense(Dense {
            weight: Array2::from_shape_simple_fn((5, out.numel()), || {
                rng = rng.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (rng >> 16) as f32 / 65536.0 - 0.5
            }),
            bias: Array1::zeros(5),
        });
        Network::new(Shape::Image { c: 3, h: 9, w: 8 }, layers).unwrap()
    }

    #[test]
    fn kx1_then_1xk_at_full_rank_reproduces_the_convolution() {
        let x =
            Array2::from_shape_fn((4, 3 * 9 * 8), |(i, j)| ((i * 29 + j * 13) % 19) as f32 / 19.0);
        for (stride, padding) in
            [([1, 1], [0, 0]), ([2, 1], [1, 0]), ([1, 3], [2, 1]), ([2, 2], [1, 1])]
        {
            let net = conv_net(stride, padding);
            // (C·KH, N·KW) = (9, 8): full rank is 8.
            let (f, values, k) = svd_layer(&net, 0, Rank::Fixed(8)).unwrap();
            assert_eq!((k, values.len()), (8, 8));
            let names: Vec<&str> = f.layers().iter().map(|l| l.name.as_str()).collect();
            assert_eq!(names[..2], ["conv1_v", "conv1_h"]);
            let (Op::Conv2d(v), Op::Conv2d(h)) = (&f.layers()[0].op, &f.layers()[1].op) else {
                panic!()
            };
            assert_eq!(v.weight.dim(), (8, 3, 3, 1));
            assert_eq!(h.weight.dim(), (4, 8, 1, 2));
            assert_eq!((v.stride, v.padding), ([stride[0], 1], [padding[0], 0]));
            assert_eq!((h.stride, h.padding), ([1, stride[1]], [0, padding[1]]));
            assert_eq!(f.output_of(1), net.output_of(0));
            let (a, b) = (predict(&net, x.view()), predict(&f, x.view()));
            let worst = (a - b).iter().fold(0f32, |m, d| m.max(d.abs()));
            assert!(worst < 1e-4, "stride {stride:?} padding {padding:?}: {worst}");
            // Lower ranks: fewer maps between, the error grows as values drop.
            let (low, _, k) = svd_layer(&net, 0, Rank::Fixed(2)).unwrap();
            assert_eq!(k, 2);
            assert_eq!(low.output_of(0).channels(), 2);
        }
        assert!(svd_layer(&conv_net([1, 1], [0, 0]), 0, Rank::Fixed(9)).is_err());
    }
}
