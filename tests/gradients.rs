//! Finite-difference checks of every backward pass of the float engine.
//!
//! Each check takes a small network, a random batch `x` and a random projection
//! `r`, and compares the analytic gradients of `L = sum(r * f(x))` (for every
//! parameter tensor and for the input) with central differences.

use ndarray::{Array1, Array2, Array4};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use shiftkit::model::{ArchSpec, BatchNorm, Conv2d, Dense, Layer, MaxPool2d, Network, Op, Shape};
use shiftkit::train::engine::{
    backward, forward, forward_quantized, trace, ActQuant, Mode, Quantizer,
};
use shiftkit::train::{Distillation, Loss, SoftmaxCrossEntropy};

fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

fn random_matrix(rng: &mut ChaCha8Rng, rows: usize, cols: usize) -> Array2<f32> {
    Array2::from_shape_simple_fn((rows, cols), || rng.gen_range(-1.0..1.0))
}

/// `sum(r * f(x))`, accumulated in f64.
fn projected(net: &Network, x: &Array2<f32>, r: &Array2<f32>, mode: Mode, q: &ActQuant) -> f64 {
    let (y, _) = forward_quantized(net, x.view(), mode, q);
    y.iter().zip(r.iter()).map(|(&a, &b)| a as f64 * b as f64).sum()
}

fn close(analytic: f32, numeric: f64) -> bool {
    let (a, n) = (analytic as f64, numeric);
    (a - n).abs() <= 2e-2 * n.abs().max(a.abs()) + 2e-3
}

/// Checks every parameter gradient and the input gradient of `net` on `x`.
fn check(net: &Network, x: &Array2<f32>, mode: Mode, eps: f32, seed: u64) {
    check_quantized(net, x, mode, &[], eps, seed)
}

/// [`check`] with some layers' outputs passed through quantizers `q`.
fn check_quantized(net: &Network, x: &Array2<f32>, mode: Mode, q: &ActQuant, eps: f32, seed: u64) {
    let mut rng = rng(seed);
    let (y, tape) = forward_quantized(net, x.view(), mode, q);
    let r = random_matrix(&mut rng, y.nrows(), y.ncols());
    let (grads, dx) = backward(net, &tape, r.clone(), true);
    let dx = dx.expect("input gradient was asked for");

    let mut checked = 0;
    for (index, (id, g)) in grads.items.iter().enumerate() {
        for flat in 0..g.len() {
            let mut plus = net.clone();
            let mut minus = net.clone();
            let bump = |n: &mut Network, delta: f32| {
                let mut params = n.params_mut();
                let (pid, p) = &mut params[index];
                assert_eq!(pid, id, "gradients come in parameter order");
                let slot = p.iter_mut().nth(flat).unwrap();
                *slot += delta;
            };
            bump(&mut plus, eps);
            bump(&mut minus, -eps);
            let numeric = (projected(&plus, x, &r, mode, q) - projected(&minus, x, &r, mode, q))
                / (2.0 * eps as f64);
            let analytic = *g.iter().nth(flat).unwrap();
            assert!(
                close(analytic, numeric),
                "{id} entry {flat}: analytic {analytic}, numeric {numeric}"
            );
            checked += 1;
        }
    }
    for i in 0..x.len() {
        let (row, col) = (i / x.ncols(), i % x.ncols());
        let mut xp = x.clone();
        let mut xm = x.clone();
        xp[[row, col]] += eps;
        xm[[row, col]] -= eps;
        let numeric = (projected(net, &xp, &r, mode, q) - projected(net, &xm, &r, mode, q))
            / (2.0 * eps as f64);
        let analytic = dx[[row, col]];
        assert!(
            close(analytic, numeric),
            "input [{row}, {col}]: analytic {analytic}, numeric {numeric}"
        );
        checked += 1;
    }
    assert!(checked > 0);
}

fn dense(rng: &mut ChaCha8Rng, inputs: usize, outputs: usize) -> Op {
    Op::Dense(Dense {
        weight: random_matrix(rng, outputs, inputs),
        bias: Array1::from_shape_simple_fn(outputs, || rng.gen_range(-1.0..1.0)),
    })
}

fn layer(name: &str, op: Op) -> Layer {
    Layer { name: name.into(), op }
}

#[test]
fn dense_backward_matches_finite_differences() {
    let mut rng = rng(1);
    let net = Network::new(Shape::Flat(5), vec![layer("fc", dense(&mut rng, 5, 4))]).unwrap();
    let x = random_matrix(&mut rng, 3, 5);
    check(&net, &x, Mode::Train, 1e-2, 2);
}

#[test]
fn conv2d_with_stride_and_padding_matches_finite_differences() {
    let mut rng = rng(3);
    // A non-square 3x2 kernel, stride (2, 1), padding (1, 0), on 2x7x6 images.
    let weight = Array4::from_shape_simple_fn((3, 2, 3, 2), || rng.gen_range(-1.0..1.0));
    let conv = Op::Conv2d(Conv2d {
        weight,
        bias: Array1::from_shape_simple_fn(3, || rng.gen_range(-1.0..1.0)),
        stride: [2, 1],
        padding: [1, 0],
    });
    let net = Network::new(Shape::Image { c: 2, h: 7, w: 6 }, vec![layer("conv", conv)]).unwrap();
    assert_eq!(net.output(), Shape::Image { c: 3, h: 4, w: 5 });
    let x = random_matrix(&mut rng, 2, 2 * 7 * 6);
    check(&net, &x, Mode::Train, 1e-2, 4);
}

#[test]
fn conv2d_with_column_stride_and_padding_matches_finite_differences() {
    let mut rng = rng(19);
    // Stride and padding along columns this time: stride (1, 2), padding (0, 2).
    let weight = Array4::from_shape_simple_fn((2, 3, 2, 3), || rng.gen_range(-1.0..1.0));
    let conv = Op::Conv2d(Conv2d {
        weight,
        bias: Array1::from_shape_simple_fn(2, || rng.gen_range(-1.0..1.0)),
        stride: [1, 2],
        padding: [0, 2],
    });
    let net = Network::new(Shape::Image { c: 3, h: 4, w: 5 }, vec![layer("conv", conv)]).unwrap();
    assert_eq!(net.output(), Shape::Image { c: 2, h: 3, w: 4 });
    let x = random_matrix(&mut rng, 2, 3 * 4 * 5);
    check(&net, &x, Mode::Train, 1e-2, 20);
}

#[test]
fn maxpool_backward_matches_finite_differences() {
    let mut rng = rng(5);
    let pool = Op::MaxPool2d(MaxPool2d { kernel: [2, 2], stride: [2, 2] });
    let net = Network::new(Shape::Image { c: 2, h: 5, w: 4 }, vec![layer("pool", pool)]).unwrap();
    // Distinct values 0.1 apart, so a small step never changes a window's maximum.
    let n = 2 * 2 * 5 * 4;
    let mut values: Vec<f32> = (0..n).map(|i| i as f32 * 0.1 - 4.0).collect();
    for i in (1..n).rev() {
        values.swap(i, rng.gen_range(0..=i));
    }
    let x = Array2::from_shape_vec((2, n / 2), values).unwrap();
    check(&net, &x, Mode::Train, 1e-2, 6);
}

#[test]
fn relu_backward_matches_finite_differences() {
    let mut rng = rng(7);
    let net = Network::new(Shape::Flat(6), vec![layer("relu", Op::Relu)]).unwrap();
    // Keep inputs away from the kink at zero.
    let x = Array2::from_shape_simple_fn((4, 6), || {
        let v: f32 = rng.gen_range(0.1..1.0);
        if rng.gen() {
            v
        } else {
            -v
        }
    });
    check(&net, &x, Mode::Train, 1e-2, 8);
}

fn random_batchnorm(rng: &mut ChaCha8Rng, channels: usize) -> Op {
    Op::BatchNorm(BatchNorm {
        gamma: Array1::from_shape_simple_fn(channels, || rng.gen_range(0.5..1.5)),
        beta: Array1::from_shape_simple_fn(channels, || rng.gen_range(-0.5..0.5)),
        running_mean: Array1::from_shape_simple_fn(channels, || rng.gen_range(-0.5..0.5)),
        running_var: Array1::from_shape_simple_fn(channels, || rng.gen_range(0.5..2.0)),
        eps: 1e-5,
        momentum: 0.1,
    })
}

#[test]
fn batchnorm_after_dense_matches_finite_differences_in_both_modes() {
    let mut rng = rng(9);
    let net = Network::new(
        Shape::Flat(4),
        vec![layer("fc", dense(&mut rng, 4, 3)), layer("bn", random_batchnorm(&mut rng, 3))],
    )
    .unwrap();
    let x = random_matrix(&mut rng, 6, 4);
    check(&net, &x, Mode::Train, 1e-2, 10);
    check(&net, &x, Mode::Eval, 1e-2, 11);
}

#[test]
fn batchnorm_after_conv_matches_finite_differences_in_both_modes() {
    let mut rng = rng(12);
    let conv = Op::Conv2d(Conv2d {
        weight: Array4::from_shape_simple_fn((2, 1, 2, 2), || rng.gen_range(-1.0..1.0)),
        bias: Array1::zeros(2),
        stride: [1, 1],
        padding: [0, 0],
    });
    let net = Network::new(
        Shape::Image { c: 1, h: 4, w: 4 },
        vec![layer("conv", conv), layer("bn", random_batchnorm(&mut rng, 2))],
    )
    .unwrap();
    let x = random_matrix(&mut rng, 3, 16);
    check(&net, &x, Mode::Train, 1e-2, 13);
    check(&net, &x, Mode::Eval, 1e-2, 14);
}

#[test]
fn whole_small_convnet_matches_finite_differences() {
    let spec: ArchSpec = serde_json::from_str(
        r#"{"input": [1, 6, 6], "layers": [
            {"op": "conv2d", "out_channels": 2, "kernel": 3, "padding": 1},
            {"op": "batchnorm"}, {"op": "relu"},
            {"op": "maxpool2d", "kernel": 2},
            {"op": "flatten"}, {"op": "dense", "out": 5}, {"op": "relu"}, {"op": "dense", "out": 3}
        ]}"#,
    )
    .unwrap();
    let net = spec.build(15).unwrap();
    let mut rng = rng(16);
    let x = random_matrix(&mut rng, 4, 36);
    check(&net, &x, Mode::Train, 1e-3, 17);
}

/// Quantization-aware training's backward is the straight-through estimator:
/// the gradient of a fake quantizer is one inside its format's range and
/// zero where it saturates, which is the true gradient of clipping. So with
/// clipping as the quantizer, backward must match finite differences, on
/// values both inside and past the range.
#[test]
fn a_clipped_activation_passes_gradient_inside_its_range_only() {
    let mut rng = rng(21);
    let net = Network::new(
        Shape::Flat(4),
        vec![
            layer("fc1", dense(&mut rng, 4, 6)),
            layer("relu", Op::Relu),
            layer("fc2", dense(&mut rng, 6, 3)),
        ],
    )
    .unwrap();
    let x = random_matrix(&mut rng, 5, 4);
    let hi = 0.6f32;
    let clip: Quantizer = Box::new(move |v| (v.min(hi), v <= hi));
    let q = [(1, clip)];
    let hidden = trace(&net, x.view())[1].clone();
    let past = hidden.iter().filter(|&&v| v > hi).count();
    let inside = hidden.iter().filter(|&&v| v > 0.0 && v < hi).count();
    assert!(past > 0 && inside > 0, "{past} values past the range, {inside} inside");
    check_quantized(&net, &x, Mode::Train, &q, 1e-2, 22);
    // The quantizer is applied: the output is the clipped network's.
    let (y, _) = forward_quantized(&net, x.view(), Mode::Train, &q);
    let (y0, _) = forward_quantized(&net, x.view(), Mode::Train, &[]);
    assert!(y.iter().zip(&y0).any(|(a, b)| (a - b).abs() > 1e-4));
}

/// Central differences of `loss` over every logit against its analytic gradient.
fn check_loss(loss: &dyn Loss, z: &Array2<f32>, x: &Array2<f32>, labels: &[u8], what: &str) {
    let value = |z: &Array2<f32>| loss.loss_sum(z.view(), x.view(), labels).0;
    let (_, grad) = loss.loss_sum(z.view(), x.view(), labels);
    let (eps, cols) = (1e-2, z.ncols());
    for i in 0..z.len() {
        let (r, c) = (i / cols, i % cols);
        let (mut zp, mut zm) = (z.clone(), z.clone());
        zp[[r, c]] += eps;
        zm[[r, c]] -= eps;
        let numeric = (value(&zp) - value(&zm)) / (2.0 * eps as f64);
        assert!(close(grad[[r, c]], numeric), "{what} [{r}, {c}]: {} vs {numeric}", grad[[r, c]]);
    }
}

#[test]
fn softmax_cross_entropy_gradient_matches_finite_differences() {
    let mut rng = rng(18);
    let z = random_matrix(&mut rng, 4, 5);
    check_loss(&SoftmaxCrossEntropy, &z, &z, &[0, 3, 4, 1], "cross-entropy");
}

#[test]
fn distillation_gradient_matches_finite_differences() {
    let mut rng = rng(19);
    // A teacher network on 3 inputs; the student's logits are free variables.
    let teacher = Network::new(Shape::Flat(3), vec![layer("fc1", dense(&mut rng, 3, 5))]).unwrap();
    let x = random_matrix(&mut rng, 4, 3);
    let z = random_matrix(&mut rng, 4, 5);
    let labels = [0u8, 3, 4, 1];
    for (temperature, lambda) in [(1.0, 0.5), (4.0, 0.7), (2.5, 1.0), (3.0, 0.0)] {
        let kd = Distillation { teacher: &teacher, temperature, lambda, lambda_end: None };
        check_loss(&kd, &z, &x, &labels, &format!("T {temperature}, lambda {lambda}"));
    }
    // The soft term vanishes when the student copies the teacher (KL = 0).
    let zt = shiftkit::train::engine::predict(&teacher, x.view());
    let soft = Distillation { teacher: &teacher, temperature: 3.0, lambda: 1.0, lambda_end: None };
    let (value, grad) = soft.loss_sum(zt.view(), x.view(), &labels);
    assert!(value.abs() < 1e-5 && grad.iter().all(|g| g.abs() < 1e-6), "{value}");
}

/// FitNets' hint loss: its gradient over the regressor's outputs, and through
/// the regressor and the student's guided layers to every parameter, against
/// central differences of the loss itself.
#[test]
fn hint_loss_gradient_matches_finite_differences() {
    use shiftkit::train::Hint;
    let mut rng = rng(23);
    let conv = |rng: &mut ChaCha8Rng, oc: usize, ic: usize, k: usize| {
        Op::Conv2d(Conv2d {
            weight: Array4::from_shape_simple_fn((oc, ic, k, k), || rng.gen_range(-1.0..1.0)),
            bias: Array1::from_shape_simple_fn(oc, || rng.gen_range(-1.0..1.0)),
            stride: [1, 1],
            padding: [0, 0],
        })
    };
    // The teacher's hint: 3 maps of 3x3 from a 5x5 image.
    let input = Shape::Image { c: 1, h: 5, w: 5 };
    let hint = Network::new(input, vec![layer("t1", conv(&mut rng, 3, 1, 3))]).unwrap();
    // The student's guided layer gives 2 maps of 4x4; the regressor, a 2x2
    // convolution, maps them onto the hint's 3 maps of 3x3.
    let student = Network::new(
        input,
        vec![
            layer("s1", conv(&mut rng, 2, 1, 2)),
            layer("r", conv(&mut rng, 3, 2, 2)),
            layer("flat", Op::Flatten),
        ],
    )
    .unwrap();
    let x = random_matrix(&mut rng, 3, 25);
    let labels = [0u8, 1, 2];
    let loss = Hint { hint: &hint };
    let z = random_matrix(&mut rng, 3, 27);
    check_loss(&loss, &z, &x, &labels, "hint");
    let value = |n: &Network| {
        let (y, _) = forward(n, x.view(), Mode::Train);
        loss.loss_sum(y.view(), x.view(), &labels).0
    };
    let (y, tape) = forward(&student, x.view(), Mode::Train);
    let (_, dy) = loss.loss_sum(y.view(), x.view(), &labels);
    let (grads, _) = backward(&student, &tape, dy, false);
    let eps = 1e-2f32;
    for (index, (id, g)) in grads.items.iter().enumerate() {
        for flat in 0..g.len() {
            let bumped = |delta: f32| {
                let mut n = student.clone();
                let mut params = n.params_mut();
                *params[index].1.iter_mut().nth(flat).unwrap() += delta;
                drop(params);
                value(&n)
            };
            let numeric = (bumped(eps) - bumped(-eps)) / (2.0 * eps as f64);
            let analytic = *g.iter().nth(flat).unwrap();
            assert!(close(analytic, numeric), "{id} entry {flat}: {analytic} vs {numeric}");
        }
    }
    // Zero when the regressor's outputs are the hint.
    let target = shiftkit::train::engine::predict(&hint, x.view());
    let (v, g) = loss.loss_sum(target.view(), x.view(), &labels);
    assert!(v == 0.0 && g.iter().all(|&d| d == 0.0));
}
