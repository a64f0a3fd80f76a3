//! The integer network and the simulator: interval soundness and tightness,
//! the simulator against a direct reference, batch-norm folding, calibration
//! accuracy and the integer section of the model file.

use ndarray::{Array1, Array2, ArrayD, IxDyn};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use shiftkit::model::{self, ArchSpec, ModelFile, Op, Provenance, Shape};
use shiftkit::quant::contract::requantize;
use shiftkit::quant::{
    self, fold_batchnorm, AwareActivations, FixedFormat, IntLayerSpec, IntNetwork, IntOp,
    QuantizeConfig, WeightKind, WeightSpec, Weighted,
};
use shiftkit::sim::{self, SimError};

mod common;
use common::{random_network, vectors};
use shiftkit::train::{self, engine::predict, ActivationQuant};

/// The layers computed directly from their definitions, one value at a time.
fn reference(net: &IntNetwork, x: &[i64]) -> Vec<i64> {
    let mut a = x.to_vec();
    for l in net.layers() {
        a = match (&l.op, l.input, l.output) {
            (IntOp::Dense(w), _, _) => (0..w.out_channels())
                .map(|j| {
                    let acc: i64 = w.row(j).iter().zip(&a).map(|(&q, &v)| q as i64 * v).sum();
                    let acc2 = (acc + w.bias[j]) * w.multiplier(j);
                    requantize(acc2, w.shift(l.input_format, l.format), w.relu, l.format)
                })
                .collect(),
            (
                IntOp::Conv2d { layer: w, stride, padding },
                Shape::Image { c, h, w: iw },
                Shape::Image { c: oc, h: oh, w: ow },
            ) => {
                let (kh, kw) = (w.weights.shape()[2], w.weights.shape()[3]);
                let mut out = vec![];
                for o in 0..oc {
                    for oy in 0..oh {
                        for ox in 0..ow {
                            let mut acc = 0i64;
                            for ci in 0..c {
                                for ky in 0..kh {
                                    for kx in 0..kw {
                                        let iy = (oy * stride[0] + ky) as i64 - padding[0] as i64;
                                        let ix = (ox * stride[1] + kx) as i64 - padding[1] as i64;
                                        if iy >= 0 && ix >= 0 && iy < h as i64 && ix < iw as i64 {
                                            let v = a[ci * h * iw + iy as usize * iw + ix as usize];
                                            acc += w.weights[[o, ci, ky, kx]] as i64 * v;
                                        }
                                    }
                                }
                            }
                            let acc2 = (acc + w.bias[o]) * w.multiplier(o);
                            out.push(requantize(
                                acc2,
                                w.shift(l.input_format, l.format),
                                w.relu,
                                l.format,
                            ));
                        }
                    }
                }
                out
            }
            (IntOp::MaxPool2d(p), Shape::Image { c, h, w }, Shape::Image { h: oh, w: ow, .. }) => {
                let mut out = vec![];
                for ci in 0..c {
                    for oy in 0..oh {
                        for ox in 0..ow {
                            let mut m = i64::MIN;
                            for ky in 0..p.kernel[0] {
                                for kx in 0..p.kernel[1] {
                                    m = m.max(
                                        a[ci * h * w
                                            + (oy * p.stride[0] + ky) * w
                                            + ox * p.stride[1]
                                            + kx],
                                    );
                                }
                            }
                            out.push(m);
                        }
                    }
                }
                out
            }
            (IntOp::Relu, _, _) => a.iter().map(|&v| v.max(0)).collect(),
            (IntOp::Flatten, _, _) => a,
            (op, i, o) => panic!("unexpected {} from {i} to {o}", op.as_str()),
        };
    }
    a
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Random networks and random inputs never leave the proven bounds (the
    /// simulator checks every value), and the simulator equals the reference.
    #[test]
    fn simulator_stays_in_bounds_and_matches_the_reference(seed in any::<u64>()) {
        let net = random_network(seed);
        let x = vectors(&net, seed ^ 0x5eed, 40);
        let y = sim::run(&net, x.view()).map_err(|e| TestCaseError::fail(format!("seed {seed}: {e}")))?;
        for (row, out) in x.rows().into_iter().zip(y.rows()) {
            prop_assert_eq!(out.to_vec(), reference(&net, &row.to_vec()), "seed {}", seed);
        }
    }
}

#[test]
fn dense_bounds_are_reached_by_some_input() {
    // One neuron with mixed-sign weights, a bias, and an identity requantization
    // (wide signed output at the accumulator's fraction), so output = accumulator.
    let input_format = FixedFormat::new(true, 6, 2).unwrap();
    let w = Weighted {
        kind: WeightKind::Fixed { bits: 5 },
        exponent: 0,
        weights: ArrayD::from_shape_vec(IxDyn(&[1, 4]), vec![3, -7, 0, 15]).unwrap(),
        bias: vec![-11],
        scale: None,
        relu: false,
    };
    let out = FixedFormat::new(true, 20, 2).unwrap();
    let net = IntNetwork::new(
        Shape::Flat(4),
        input_format,
        vec![IntLayerSpec { name: "fc".into(), op: IntOp::Dense(w.clone()), format: Some(out) }],
    )
    .unwrap();
    let acc = net.layers()[0].acc_bounds[0];
    let (lo, hi) = (input_format.min(), input_format.max());
    let pick = |high: bool| -> Vec<i64> {
        w.row(0).iter().map(|&q| if (q > 0) == high { hi } else { lo }).collect()
    };
    let x = Array2::from_shape_vec((2, 4), [pick(true), pick(false)].concat()).unwrap();
    let y = sim::run(&net, x.view()).unwrap();
    assert_eq!((y[[0, 0]], y[[1, 0]]), (acc.hi, acc.lo));
    assert_eq!(acc.hi, 3 * 31 + 7 * 32 + 15 * 31 - 11);
}

#[test]
fn a_weight_outside_its_kind_is_refused_naming_the_layer() {
    let w = Weighted {
        kind: WeightKind::Binary,
        exponent: 0,
        weights: ArrayD::from_shape_vec(IxDyn(&[1, 2]), vec![1, 2]).unwrap(),
        bias: vec![0],
        scale: None,
        relu: false,
    };
    let e = IntNetwork::new(
        Shape::Flat(2),
        FixedFormat::new(false, 4, 0).unwrap(),
        vec![IntLayerSpec {
            name: "fcx".into(),
            op: IntOp::Dense(w),
            format: Some(FixedFormat::new(true, 8, 0).unwrap()),
        }],
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("fcx") && e.contains("weight 2 is not a binary value"), "{e}");
}

#[test]
fn the_simulator_refuses_inputs_outside_the_format() {
    let net = random_network(3);
    let mut x = vectors(&net, 1, 2);
    x[[1, 0]] = net.input_format().max() + 1;
    match sim::run(&net, x.view()) {
        Err(SimError::InputRange { sample: 1, index: 0, .. }) => {}
        other => panic!("expected an input range error, got {other:?}"),
    }
}

#[test]
fn batchnorm_folding_keeps_the_function() {
    let spec: ArchSpec = serde_json::from_str(
        r#"{"input": [1, 6, 6], "layers": [
            {"op": "conv2d", "out_channels": 3, "kernel": 3, "padding": 1}, {"op": "batchnorm"},
            {"op": "relu"}, {"op": "flatten"}, {"op": "dense", "out": 4}, {"op": "batchnorm"}
        ]}"#,
    )
    .unwrap();
    let mut net = spec.build(3).unwrap();
    // Give the batch norms non-trivial statistics.
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let mut layers = net.clone().into_layers();
    for l in &mut layers {
        if let Op::BatchNorm(bn) = &mut l.op {
            let n = bn.channels();
            bn.gamma = Array1::from_shape_simple_fn(n, || rng.gen_range(-2.0..2.0));
            bn.beta = Array1::from_shape_simple_fn(n, || rng.gen_range(-1.0..1.0));
            bn.running_mean = Array1::from_shape_simple_fn(n, || rng.gen_range(-1.0..1.0));
            bn.running_var = Array1::from_shape_simple_fn(n, || rng.gen_range(0.1..3.0));
        }
    }
    net = model::Network::new(net.input(), layers).unwrap();
    let folded = fold_batchnorm(&net).unwrap();
    assert!(folded.layers().iter().all(|l| !matches!(l.op, Op::BatchNorm(_))));
    let x = Array2::from_shape_simple_fn((5, 36), || rng.gen_range(-1.0f32..1.0));
    let (a, b) = (predict(&net, x.view()), predict(&folded, x.view()));
    for (p, q) in a.iter().zip(b.iter()) {
        assert!((p - q).abs() <= 1e-4 * (1.0 + p.abs()), "{p} vs {q}");
    }
}

/// Quantization-aware training sees the integer network's activations: its
/// fake quantizers sit where `quantize` puts the formats (after the ReLU,
/// past a batch norm), round and saturate in those formats, and give the
/// last layer `output_bits`.
#[test]
fn qat_quantizes_activations_as_the_integer_network_will() {
    let spec: ArchSpec = serde_json::from_str(
        r#"{"input": [1, 6, 6], "layers": [
            {"op": "conv2d", "out_channels": 3, "kernel": 3, "padding": 1}, {"op": "batchnorm"},
            {"op": "relu"}, {"op": "maxpool2d", "kernel": 2}, {"op": "flatten"},
            {"op": "dense", "out": 5}, {"op": "relu"}, {"op": "dense", "out": 4}
        ]}"#,
    )
    .unwrap();
    let net = spec.build(5).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let x = Array2::from_shape_simple_fn((64, 36), || rng.gen_range(0.0f32..1.0));
    let mut cfg = QuantizeConfig::new(WeightSpec::Fixed { bits: 8 }, 4, 8);
    cfg.output_bits = Some(7);
    let q = quant::quantize(&net, x.view(), &cfg).unwrap();
    let aware = AwareActivations { calibration: x.view(), act_bits: 4, output_bits: Some(7) };
    let fakes = aware.quantizers(&net).unwrap();
    let points: Vec<usize> = fakes.iter().map(|(p, _)| *p).collect();
    // conv1 -> its ReLU (index 2, past the batch norm); the dense layers'
    // ReLU (6) and the last layer itself (7).
    assert_eq!(points, [2, 6, 7]);
    for ((p, fake), name) in fakes.iter().zip(["conv1", "fc1", "fc2"]) {
        let layer = q.layers().iter().find(|l| l.name == name);
        let f = layer.unwrap_or_else(|| panic!("no integer layer {name} at {p}")).format;
        assert_eq!(f.bits(), if *p == 7 { 7 } else { 4 }, "{name}");
        let (lo, hi) = (f.to_real(f.min()), f.to_real(f.max()));
        for i in -400..400 {
            let v = i as f32 / 37.0;
            let (y, inside) = fake(v);
            assert_eq!(y as f64, f.to_real(f.quantize(v as f64)), "{name} at {v}");
            assert_eq!(inside, (lo..=hi).contains(&(v as f64)), "{name} at {v}");
        }
    }
}

#[test]
fn a_batchnorm_that_cannot_fold_is_an_error() {
    let spec: ArchSpec = serde_json::from_str(
        r#"{"input": [4], "layers": [{"op": "dense", "out": 3}, {"op": "relu"}, {"op": "batchnorm"}]}"#,
    )
    .unwrap();
    let e = fold_batchnorm(&spec.build(1).unwrap()).unwrap_err().to_string();
    assert!(e.contains("bn1") && e.contains("folded"), "{e}");
}

#[test]
fn a_network_with_a_nan_is_refused_naming_the_tensor() {
    let spec: ArchSpec = serde_json::from_str(
        r#"{"input": [4], "layers": [{"op": "dense", "out": 3}, {"op": "relu"}, {"op": "dense", "out": 2}]}"#,
    )
    .unwrap();
    let mut net = spec.build(1).unwrap();
    for (bad, what) in [(f32::NAN, "NaN"), (f32::INFINITY, "inf")] {
        let (_, mut bias) = net.params_mut().into_iter().nth(3).unwrap();
        bias[[1]] = bad;
        let cfg = QuantizeConfig::new(WeightSpec::Fixed { bits: 8 }, 8, 8);
        let x = Array2::<f32>::zeros((2, 4));
        let e = quant::quantize(&net, x.view(), &cfg).unwrap_err().to_string();
        assert!(e.contains("fc2") && e.contains(&format!("bias holds {what} at index 1")), "{e}");
    }
    // Batch-norm running statistics are looked at too.
    let spec: ArchSpec = serde_json::from_str(
        r#"{"input": [4], "layers": [{"op": "dense", "out": 3}, {"op": "batchnorm"}]}"#,
    )
    .unwrap();
    let mut net = spec.build(1).unwrap();
    net.batchnorm_stats_mut(1).unwrap().1[2] = f32::NAN;
    let cfg = QuantizeConfig::new(WeightSpec::Fixed { bits: 8 }, 8, 8);
    let e = quant::quantize(&net, Array2::<f32>::zeros((2, 4)).view(), &cfg).unwrap_err();
    assert!(e.to_string().contains("`bn1` running_var holds NaN at index 2"), "{e}");
}

fn trained_digits_mlp() -> (model::Network, shiftkit::data::Dataset) {
    common::trained_digits("mlp:64-32-10", 30, 1)
}

#[test]
fn fixed8_integer_accuracy_is_within_half_a_point_of_float_on_digits() {
    let (net, d) = trained_digits_mlp();
    let cfg = QuantizeConfig::new(WeightSpec::Fixed { bits: 8 }, 8, 8);
    let q = quant::quantize(&net, d.train.x.view(), &cfg).unwrap();
    let float = train::evaluate(&net, &d.test);
    let integer = sim::accuracy(&q, &d.test).unwrap();
    assert!(float > 0.95, "float {float}");
    assert!((float - integer).abs() <= 0.005, "float {float}, integer {integer}");
    // Dequantized outputs follow the float network.
    let x = d.test.head(50);
    let yq = sim::run(&q, sim::quantize_input(&q, x.x.view()).view()).unwrap();
    let yf = predict(&net, x.x.view());
    let f = q.output_format();
    let err: f64 =
        yq.iter().zip(yf.iter()).map(|(&a, &b)| (f.to_real(a) - b as f64).abs()).sum::<f64>()
            / yq.len() as f64;
    assert!(err < 0.5, "mean output error {err}");
}

#[test]
fn the_integer_network_survives_the_model_file() {
    let (net, d) = trained_digits_mlp();
    let cfg = QuantizeConfig::new(WeightSpec::Fixed { bits: 6 }, 7, 5);
    let q = quant::quantize(&net, d.train.x.view(), &cfg).unwrap();
    let mut file = ModelFile::new(net, Provenance::default());
    quant::write_integer(&q, &mut file.rest);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.skm");
    model::save(&path, &file).unwrap();
    let back = model::load(&path).unwrap();
    assert_eq!(quant::read_integer(&back.rest).unwrap(), Some(q));
}

#[test]
fn out_of_range_bit_widths_are_errors() {
    let (net, d) = trained_digits_mlp();
    for (w, a, i) in [(8, 1, 8), (8, 8, 17), (8, 40, 8)] {
        let cfg = QuantizeConfig::new(WeightSpec::Fixed { bits: w }, a, i);
        let e = quant::quantize(&net, d.train.x.view(), &cfg).unwrap_err().to_string();
        assert!(e.contains("out of range"), "{e}");
    }
    for bad in ["fixed1", "fixed17", "fixed", "pow5", "fixedx"] {
        assert!(bad.parse::<WeightSpec>().is_err(), "{bad}");
    }
}

/// Checks that every float layer maps to the integer network: a dense or
/// convolution layer to an integer layer of its name, a ReLU right after one
/// into that layer's fused `relu`, a batch norm into the weighted layer before
/// it, and any other layer to an integer layer of its own name and kind.
fn check_mapping(net: &model::Network, q: &IntNetwork) -> Result<(), String> {
    let mut int = q.layers().iter().peekable();
    let mut last_weighted: Option<&str> = None;
    let mut fused_relu_pending = false;
    for l in net.layers() {
        match &l.op {
            Op::BatchNorm(_) => {
                last_weighted
                    .ok_or(format!("batch norm `{}` follows no weighted layer", l.name))?;
                continue;
            }
            Op::Relu if fused_relu_pending => {
                fused_relu_pending = false;
                continue;
            }
            _ => {}
        }
        let il =
            int.next().ok_or(format!("`{}` ({}) has no integer layer", l.name, l.op.as_str()))?;
        if il.name != l.name || il.op.as_str() != l.op.as_str() {
            return Err(format!(
                "`{}` ({}) maps to `{}` ({})",
                l.name,
                l.op.as_str(),
                il.name,
                il.op.as_str()
            ));
        }
        fused_relu_pending = false;
        last_weighted = None;
        if let Some(w) = il.op.weighted() {
            let i = net.layer_index(&l.name).unwrap();
            // The next layer that is not a batch norm decides whether a ReLU fuses.
            let next = net.layers()[i + 1..].iter().find(|n| !matches!(n.op, Op::BatchNorm(_)));
            let relu_next = matches!(next.map(|n| &n.op), Some(Op::Relu));
            if w.relu != relu_next {
                return Err(format!(
                    "`{}`: fused relu {} but the next layer is {next:?}",
                    l.name, w.relu
                ));
            }
            fused_relu_pending = relu_next;
            last_weighted = Some(&l.name);
        }
    }
    match int.next() {
        Some(extra) => Err(format!("integer layer `{}` stands for no float layer", extra.name)),
        None => Ok(()),
    }
}

/// The issue's network: conv -> maxpool -> relu -> flatten -> dense, the classic
/// PyTorch MNIST ordering. The ReLU after the pool was once dropped, so the
/// dense layer received negative values.
#[test]
fn a_relu_after_a_pool_is_an_integer_layer_of_its_own() {
    let spec: ArchSpec = serde_json::from_str(
        r#"{"input":[1,8,8],"layers":[{"op":"conv2d","out_channels":8,"kernel":3,"padding":1},
            {"op":"maxpool2d","kernel":2},{"op":"relu"},{"op":"flatten"},{"op":"dense","out":10}]}"#,
    )
    .unwrap();
    let (net, d) = common::trained_spec(&spec, 10, 1);
    let cfg = QuantizeConfig::new(WeightSpec::Fixed { bits: 8 }, 8, 8);
    let q = quant::quantize(&net, d.train.x.view(), &cfg).unwrap();
    check_mapping(&net, &q).unwrap();
    let ops: Vec<&str> = q.layers().iter().map(|l| l.op.as_str()).collect();
    assert_eq!(ops, ["conv2d", "maxpool2d", "relu", "flatten", "dense"]);
    // The dense layer's proven input bounds are non-negative.
    assert!(q.layers()[3].bounds.iter().all(|b| b.lo >= 0));
    let float = train::evaluate(&net, &d.test);
    let integer = sim::accuracy(&q, &d.test).unwrap();
    assert!((float - integer).abs() <= 0.006, "float {float}, integer {integer}");
}

/// Every layer kind in every position of short chains: each float layer maps to
/// the integer network, or quantization is refused naming the layer.
#[test]
fn every_layer_kind_in_every_position_maps_or_is_refused_by_name() {
    use model::LayerSpec::*;
    let kinds = [
        Conv2d { out_channels: 2, kernel: 2, stride: 1, padding: 1 },
        MaxPool2d { kernel: 2, stride: Some(1) },
        Relu,
        Flatten,
        Dense { out: 3 },
        BatchNorm,
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let x = Array2::from_shape_simple_fn((40, 2 * 5 * 5), || rng.gen_range(0.0f32..1.0));
    let (mut mapped, mut refused) = (0, 0);
    let mut chains: Vec<Vec<usize>> = vec![vec![]];
    for _ in 0..4 {
        let longer: Vec<Vec<usize>> = chains
            .iter()
            .filter(|c| c.len() == chains.last().unwrap().len())
            .flat_map(|c| (0..kinds.len()).map(move |k| [c.clone(), vec![k]].concat()))
            .collect();
        chains.extend(longer);
    }
    for chain in chains.iter().filter(|c| !c.is_empty()) {
        let spec = ArchSpec {
            input: vec![2, 5, 5],
            layers: chain.iter().map(|&k| kinds[k].clone()).collect(),
        };
        let Ok(net) = spec.build(chain.len() as u64) else { continue };
        // Random biases and batch-norm statistics, so that values of both signs flow.
        let mut layers = net.clone().into_layers();
        for l in &mut layers {
            match &mut l.op {
                Op::Dense(d) => d.bias.mapv_inplace(|_| rng.gen_range(-0.5..0.5)),
                Op::Conv2d(c) => c.bias.mapv_inplace(|_| rng.gen_range(-0.5..0.5)),
                Op::BatchNorm(bn) => bn.beta.mapv_inplace(|_| rng.gen_range(-0.5..0.5)),
                _ => {}
            }
        }
        let net = model::Network::new(net.input(), layers).unwrap();
        let cfg = QuantizeConfig::new(WeightSpec::Fixed { bits: 8 }, 8, 8);
        let names: Vec<String> = net.layers().iter().map(|l| l.name.clone()).collect();
        match quant::quantize(&net, x.view(), &cfg) {
            Ok(q) => {
                check_mapping(&net, &q).map_err(|e| format!("{names:?}: {e}")).unwrap();
                mapped += 1;
            }
            Err(e) => {
                let e = e.to_string();
                assert!(names.iter().any(|n| e.contains(&format!("`{n}`"))), "{names:?}: {e}");
                refused += 1;
            }
        }
    }
    // Chains of up to four layers over six kinds: hundreds are valid networks.
    assert!(mapped > 200 && refused > 20, "mapped {mapped}, refused {refused}");
}
