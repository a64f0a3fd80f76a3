//! Shared helpers of the integration tests: random integer networks.
#![allow(dead_code)]

use ndarray::{Array2, ArrayD, IxDyn};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use shiftkit::compress::{run_inq, InqConfig};
use shiftkit::data::{load_digits, Dataset};
use shiftkit::model::{ArchSpec, MaxPool2d, Network, Shape};
use shiftkit::quant::{quantize, QuantizeConfig, RangeRule, WeightSpec};
use shiftkit::quant::{
    ChannelScale, FixedFormat, IntLayerSpec, IntNetwork, IntOp, WeightKind, Weighted,
};
use shiftkit::train::{self, Hooks, LrSchedule, OptimizerConfig, Quiet, TrainConfig};

pub fn random_format(rng: &mut ChaCha8Rng, min_bits: u32) -> FixedFormat {
    let signed = rng.gen_bool(0.5);
    let bits = rng.gen_range(min_bits.max(2)..=12);
    FixedFormat::new(signed, bits, rng.gen_range(-2..=8)).unwrap()
}

pub fn random_kind(rng: &mut ChaCha8Rng) -> WeightKind {
    match rng.gen_range(0..5) {
        0 => WeightKind::Pow2 { max_shift: rng.gen_range(0..=6) },
        1 => WeightKind::Binary,
        2 => WeightKind::Ternary,
        3 => WeightKind::Shared { index_bits: rng.gen_range(1..=3), bits: rng.gen_range(3..=8) },
        _ => WeightKind::Fixed { bits: rng.gen_range(2..=8) },
    }
}

pub fn random_weight(rng: &mut ChaCha8Rng, kind: WeightKind) -> i32 {
    match kind {
        WeightKind::Pow2 { max_shift } => {
            if rng.gen_bool(0.2) {
                0
            } else {
                let v = 1 << rng.gen_range(0..=max_shift);
                if rng.gen() {
                    v
                } else {
                    -v
                }
            }
        }
        WeightKind::Binary => {
            if rng.gen() {
                1
            } else {
                -1
            }
        }
        WeightKind::Ternary => rng.gen_range(-1..=1),
        WeightKind::Fixed { bits } => rng.gen_range(-(1 << (bits - 1))..(1 << (bits - 1))),
        // A codebook of 2^index_bits values spread over the signed range, and zero.
        WeightKind::Shared { index_bits, bits } => {
            if rng.gen_bool(0.3) {
                0
            } else {
                let (lo, span) = (-(1i32 << (bits - 1)), (1i32 << bits) - 1);
                let k = 1i32 << index_bits;
                lo + span * rng.gen_range(0..k) / (k - 1).max(1)
            }
        }
    }
}

pub fn random_weighted(rng: &mut ChaCha8Rng, shape: &[usize]) -> Weighted {
    let kind = random_kind(rng);
    let weights = ArrayD::from_shape_simple_fn(IxDyn(shape), || random_weight(rng, kind));
    let outs = shape[0];
    let scale = rng.gen_bool(0.3).then(|| ChannelScale {
        multipliers: (0..outs).map(|_| rng.gen_range(-9..=9)).collect(),
        frac: rng.gen_range(0..=4),
    });
    Weighted {
        kind,
        exponent: rng.gen_range(-6..=2),
        weights,
        bias: (0..outs).map(|_| rng.gen_range(-300..=300)).collect(),
        scale,
        relu: rng.gen(),
    }
}

/// A random network of every layer kind, from one seed.
pub fn random_network(seed: u64) -> IntNetwork {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let input_format = random_format(&mut rng, 2);
    let mut specs = Vec::new();
    let shape;
    if rng.gen_bool(0.5) {
        let (c, h, w) = (rng.gen_range(1..=2), rng.gen_range(3..=6), rng.gen_range(3..=6));
        let oc = rng.gen_range(1..=3);
        let (kh, kw) = (rng.gen_range(1..=3), rng.gen_range(1..=3));
        let stride = [rng.gen_range(1..=2), rng.gen_range(1..=2)];
        let padding = [rng.gen_range(0..=1), rng.gen_range(0..=1)];
        specs.push(IntLayerSpec {
            name: "conv1".into(),
            op: IntOp::Conv2d {
                layer: random_weighted(&mut rng, &[oc, c, kh, kw]),
                stride,
                padding,
            },
            format: Some(random_format(&mut rng, 2)),
        });
        let oh = (h + 2 * padding[0] - kh) / stride[0] + 1;
        let ow = (w + 2 * padding[1] - kw) / stride[1] + 1;
        if oh >= 2 && ow >= 2 && rng.gen() {
            specs.push(IntLayerSpec {
                name: "pool1".into(),
                op: IntOp::MaxPool2d(MaxPool2d { kernel: [2, 2], stride: [2, 1] }),
                format: None,
            });
        }
        if rng.gen() {
            specs.push(IntLayerSpec { name: "relu1".into(), op: IntOp::Relu, format: None });
        }
        if rng.gen() {
            // A second, padded convolution: its input bounds come from a layer, not a
            // format, and need not contain the zeros of the padding.
            let oc2 = rng.gen_range(1..=2);
            let mut layer = random_weighted(&mut rng, &[oc2, oc, 1, 2]);
            layer.bias.iter_mut().for_each(|b| *b = b.abs() * 40);
            specs.push(IntLayerSpec {
                name: "conv2".into(),
                op: IntOp::Conv2d { layer, stride: [1, 1], padding: [1, 1] },
                format: Some(random_format(&mut rng, 2)),
            });
        }
        specs.push(IntLayerSpec { name: "flatten".into(), op: IntOp::Flatten, format: None });
        let net = IntNetwork::new(Shape::Image { c, h, w }, input_format, specs.clone()).unwrap();
        shape = net.output().numel();
        return finish_dense(&mut rng, Shape::Image { c, h, w }, input_format, specs, shape);
    }
    shape = rng.gen_range(1..=8);
    finish_dense(&mut rng, Shape::Flat(shape), input_format, specs, shape)
}

pub fn finish_dense(
    rng: &mut ChaCha8Rng,
    input: Shape,
    input_format: FixedFormat,
    mut specs: Vec<IntLayerSpec>,
    mut width: usize,
) -> IntNetwork {
    for i in 0..rng.gen_range(1..=2) {
        let out = rng.gen_range(1..=6);
        specs.push(IntLayerSpec {
            name: format!("fc{}", i + 1),
            op: IntOp::Dense(random_weighted(rng, &[out, width])),
            format: Some(random_format(rng, 2)),
        });
        width = out;
    }
    IntNetwork::new(input, input_format, specs).unwrap()
}

/// A random dense network (one or two layers, every weight kind, formats,
/// ReLU or not, channel scales), from one seed.
pub fn random_dense_network(seed: u64) -> IntNetwork {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let input_format = random_format(&mut rng, 2);
    let width = rng.gen_range(1..=8);
    finish_dense(&mut rng, Shape::Flat(width), input_format, Vec::new(), width)
}

/// Random in-range vectors plus the extremes of the input range.
pub fn vectors(net: &IntNetwork, seed: u64, count: usize) -> Array2<i64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let f = net.input_format();
    let n = net.input().numel();
    let mut x = Array2::from_shape_simple_fn((count, n), || rng.gen_range(f.min()..=f.max()));
    if count >= 3 {
        x.row_mut(0).fill(f.min());
        x.row_mut(1).fill(f.max());
        x.row_mut(2)
            .iter_mut()
            .enumerate()
            .for_each(|(i, v)| *v = if i % 2 == 0 { f.min() } else { f.max() });
    }
    x
}

/// SGD with momentum, batch 32, cosine schedule: the digits recipe.
pub fn digits_config(epochs: usize, seed: u64) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: 32,
        optimizer: OptimizerConfig::sgd(0.05),
        schedule: LrSchedule::Cosine,
        seed,
    }
}

/// A network of `arch` trained on the digits for `epochs` epochs.
pub fn trained_digits(arch: &str, epochs: usize, seed: u64) -> (Network, Dataset) {
    trained_spec(&ArchSpec::parse(arch).unwrap(), epochs, seed)
}

/// A network of `spec` trained on the digits for `epochs` epochs.
pub fn trained_spec(spec: &ArchSpec, epochs: usize, seed: u64) -> (Network, Dataset) {
    let d = load_digits().unwrap();
    let mut net = spec.build(seed).unwrap();
    train::train(
        &mut net,
        &d.train,
        None,
        &digits_config(epochs, seed),
        &Hooks::default(),
        &mut Quiet,
    )
    .unwrap();
    (net, d)
}

/// The digits MLP (mlp:64-32-10) trained for `epochs`, through INQ-5 with
/// `epochs_per_step` of retraining, and its integer network.
pub fn digits_inq5(epochs: usize, epochs_per_step: usize) -> (Network, Dataset, IntNetwork) {
    let (mut net, d) = trained_digits("mlp:64-32-10", epochs, 1);
    let cfg = digits_config(epochs, 1);
    let inq = InqConfig {
        bits: vec![(0, 5), (2, 5)],
        range: RangeRule::MinError,
        schedule: vec![0.5, 0.75, 0.875, 1.0],
        epochs_per_step,
        train: TrainConfig { optimizer: OptimizerConfig::sgd(0.01).with_weight_decay(5e-4), ..cfg },
    };
    run_inq(&mut net, &d.train, &inq, &Hooks::default(), &mut Quiet).unwrap();
    let q =
        quantize(&net, d.train.x.view(), &QuantizeConfig::new(WeightSpec::Pow2 { bits: 5 }, 8, 8))
            .unwrap();
    (net, d, q)
}
