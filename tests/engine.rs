//! The float engine's forward pass against direct, loop-by-loop definitions of
//! each layer, over random geometries.

use ndarray::{Array1, Array2, Array4};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use shiftkit::model::{BatchNorm, Conv2d, Layer, MaxPool2d, Network, Op, Shape};
use shiftkit::train::engine::{forward, predict, Mode};

/// Direct convolution: zero padding, cross-correlation as in PyTorch and ONNX.
fn reference_conv(c: &Conv2d, x: &[f32], (ch, h, w): (usize, usize, usize)) -> Vec<f32> {
    let [kh, kw] = c.kernel();
    let oh = (h + 2 * c.padding[0] - kh) / c.stride[0] + 1;
    let ow = (w + 2 * c.padding[1] - kw) / c.stride[1] + 1;
    let mut out = vec![];
    for o in 0..c.out_channels() {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut acc = c.bias[o] as f64;
                for ci in 0..ch {
                    for ky in 0..kh {
                        for kx in 0..kw {
                            let iy = (oy * c.stride[0] + ky) as isize - c.padding[0] as isize;
                            let ix = (ox * c.stride[1] + kx) as isize - c.padding[1] as isize;
                            if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                                let v = x[ci * h * w + iy as usize * w + ix as usize];
                                acc += c.weight[[o, ci, ky, kx]] as f64 * v as f64;
                            }
                        }
                    }
                }
                out.push(acc as f32);
            }
        }
    }
    out
}

fn reference_pool(p: &MaxPool2d, x: &[f32], (ch, h, w): (usize, usize, usize)) -> Vec<f32> {
    let oh = (h - p.kernel[0]) / p.stride[0] + 1;
    let ow = (w - p.kernel[1]) / p.stride[1] + 1;
    let mut out = vec![];
    for c in 0..ch {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut m = f32::NEG_INFINITY;
                for ky in 0..p.kernel[0] {
                    for kx in 0..p.kernel[1] {
                        m = m.max(
                            x[c * h * w + (oy * p.stride[0] + ky) * w + ox * p.stride[1] + kx],
                        );
                    }
                }
                out.push(m);
            }
        }
    }
    out
}

#[derive(Debug, Clone)]
struct ConvCase {
    ch: usize,
    h: usize,
    w: usize,
    oc: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    seed: u64,
}

fn conv_case() -> impl Strategy<Value = ConvCase> {
    (
        1usize..4,
        1usize..9,
        1usize..9,
        1usize..4,
        [1usize..4, 1usize..4],
        [1usize..4, 1usize..4],
        [0usize..3, 0usize..3],
        any::<u64>(),
    )
        .prop_filter("kernel fits the padded image", |(_, h, w, _, k, _, p, _)| {
            h + 2 * p[0] >= k[0] && w + 2 * p[1] >= k[1]
        })
        .prop_map(|(ch, h, w, oc, kernel, stride, padding, seed)| ConvCase {
            ch,
            h,
            w,
            oc,
            kernel,
            stride,
            padding,
            seed,
        })
}

proptest! {
    #[test]
    fn conv2d_forward_equals_direct_convolution(case in conv_case()) {
        let mut rng = ChaCha8Rng::seed_from_u64(case.seed);
        let conv = Conv2d {
            weight: Array4::from_shape_simple_fn((case.oc, case.ch, case.kernel[0], case.kernel[1]), || rng.gen_range(-1.0..1.0)),
            bias: Array1::from_shape_simple_fn(case.oc, || rng.gen_range(-1.0..1.0)),
            stride: case.stride,
            padding: case.padding,
        };
        let input = Shape::Image { c: case.ch, h: case.h, w: case.w };
        let net = Network::new(input, vec![Layer { name: "conv".into(), op: Op::Conv2d(conv.clone()) }]).unwrap();
        let x = Array2::from_shape_simple_fn((3, input.numel()), || rng.gen_range(-1.0f32..1.0));
        let y = predict(&net, x.view());
        for (b, row) in x.rows().into_iter().enumerate() {
            let want = reference_conv(&conv, row.as_slice().unwrap(), (case.ch, case.h, case.w));
            prop_assert_eq!(want.len(), y.ncols());
            for (i, (&a, &e)) in y.row(b).iter().zip(&want).enumerate() {
                prop_assert!((a - e).abs() <= 1e-4, "sample {} value {}: {} vs {}", b, i, a, e);
            }
        }
    }

    #[test]
    fn maxpool_forward_equals_direct_maximum(
        ch in 1usize..4, h in 1usize..9, w in 1usize..9,
        kernel in [1usize..4, 1usize..4], stride in [1usize..4, 1usize..4], seed in any::<u64>(),
    ) {
        prop_assume!(h >= kernel[0] && w >= kernel[1]);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let pool = MaxPool2d { kernel, stride };
        let input = Shape::Image { c: ch, h, w };
        let net = Network::new(input, vec![Layer { name: "pool".into(), op: Op::MaxPool2d(pool) }]).unwrap();
        let x = Array2::from_shape_simple_fn((2, input.numel()), || rng.gen_range(-1.0f32..1.0));
        let y = predict(&net, x.view());
        for (b, row) in x.rows().into_iter().enumerate() {
            let want = reference_pool(&pool, row.as_slice().unwrap(), (ch, h, w));
            prop_assert_eq!(y.row(b).to_vec(), want);
        }
    }
}

#[test]
fn batchnorm_eval_uses_running_statistics_and_train_uses_the_batch() {
    let bn = BatchNorm {
        gamma: Array1::from(vec![2.0, 0.5]),
        beta: Array1::from(vec![1.0, -1.0]),
        running_mean: Array1::from(vec![0.5, -0.5]),
        running_var: Array1::from(vec![4.0, 0.25]),
        eps: 0.0001,
        momentum: 0.1,
    };
    let net =
        Network::new(Shape::Flat(2), vec![Layer { name: "bn".into(), op: Op::BatchNorm(bn) }])
            .unwrap();
    let x = Array2::from_shape_vec((2, 2), vec![1.0, 0.0, 3.0, 1.0]).unwrap();
    let eval = predict(&net, x.view());
    let expect =
        |v: f32, m: f32, var: f32, g: f32, b: f32| g * (v - m) / (var + 0.0001f32).sqrt() + b;
    assert!((eval[[0, 0]] - expect(1.0, 0.5, 4.0, 2.0, 1.0)).abs() < 1e-6);
    assert!((eval[[1, 1]] - expect(1.0, -0.5, 0.25, 0.5, -1.0)).abs() < 1e-6);
    let (train, tape) = forward(&net, x.view(), Mode::Train);
    // Batch mean of feature 0 is 2, biased variance 1: normalized values are -1 and +1.
    assert!((train[[0, 0]] - (-2.0 / (1.0f32 + 0.0001).sqrt() + 1.0)).abs() < 1e-5);
    assert_eq!(tape.batch_stats[0].mean.to_vec(), vec![2.0, 0.5]);
    // Unbiased variance for the running average: 2 samples, biased 1 -> 2.
    assert!((tape.batch_stats[0].var[0] - 2.0).abs() < 1e-6);
}
