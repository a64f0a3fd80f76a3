//! Compression I: INQ, binary and ternary weights, end to end on digits.

use std::collections::BTreeSet;

use shiftkit::compress::{partition, run_inq, Binarizer, InqConfig, InqObserver, InqStep};
use shiftkit::data::load_digits;
use shiftkit::model::{ArchSpec, Network, ParamId, ParamKind};
use shiftkit::quant::{
    self, code, IntOp, Levels, Pow2Range, QuantizeConfig, RangeRule, WeightKind, WeightSpec,
};
use shiftkit::sim;
use shiftkit::train::{self, Hooks, LrSchedule, Observer, OptimizerConfig, Quiet, TrainConfig};

fn trained_mlp() -> (Network, shiftkit::data::Dataset) {
    let d = load_digits().unwrap();
    let mut net = ArchSpec::parse("mlp:64-32-10").unwrap().build(1).unwrap();
    train::train(&mut net, &d.train, None, &retrain(30, 0.05), &Hooks::default(), &mut Quiet)
        .unwrap();
    (net, d)
}

fn retrain(epochs: usize, lr: f32) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: 32,
        optimizer: OptimizerConfig::sgd(lr).with_weight_decay(5e-4),
        schedule: LrSchedule::Cosine,
        seed: 3,
    }
}

fn fc1_weights(net: &Network) -> Vec<f32> {
    let id = ParamId { layer: 0, kind: ParamKind::Weight };
    net.params().into_iter().find(|(i, _)| *i == id).unwrap().1.iter().copied().collect()
}

/// Keeps a copy of the network after every INQ step.
#[derive(Default)]
struct Snapshots(Vec<Network>);
impl Observer for Snapshots {}
impl InqObserver for Snapshots {
    fn inq_step(&mut self, _: &InqStep, net: &Network) {
        self.0.push(net.clone());
    }
}

fn inq(bits: u32, schedule: &[f32], epochs_per_step: usize) -> InqConfig {
    InqConfig {
        bits: vec![(0, bits), (2, bits)],
        range: RangeRule::MinError,
        schedule: schedule.to_vec(),
        epochs_per_step,
        train: retrain(0, 0.01),
    }
}

#[test]
fn quantized_weights_stay_frozen_while_the_rest_retrains() {
    let (mut net, d) = trained_mlp();
    let original = fc1_weights(&net);
    let range = Pow2Range::fit(&original, 4, RangeRule::MinError).unwrap();
    let first = partition(
        ndarray::ArrayView1::from(&original).into_dyn(),
        &vec![false; original.len()],
        0.5,
    );
    let mut snaps = Snapshots::default();
    let ranges =
        run_inq(&mut net, &d.train, &inq(4, &[0.5, 1.0], 2), &Hooks::default(), &mut snaps)
            .unwrap();
    assert_eq!(ranges[0], (0, Some(range)));
    let after_first = fc1_weights(&snaps.0[0]);
    let last = fc1_weights(&net);
    for &i in &first {
        assert_eq!(after_first[i], range.quantize(original[i]), "weight {i} quantized by the rule");
        assert_eq!(last[i].to_bits(), after_first[i].to_bits(), "weight {i} moved while frozen");
    }
    let picked: BTreeSet<usize> = first.iter().copied().collect();
    let retrained = (0..original.len())
        .filter(|i| !picked.contains(i) && after_first[*i] != original[*i])
        .count();
    assert!(retrained > original.len() / 4, "the free half retrains ({retrained} moved)");
    // At the end every weight is a power of two of the layer's range, or zero.
    assert!(last.iter().all(|&w| range.quantize(w) == w));
}

#[test]
fn retraining_beats_quantizing_at_once() {
    let (net, d) = trained_mlp();
    let accuracy = |epochs_per_step| {
        let mut n = net.clone();
        run_inq(
            &mut n,
            &d.train,
            &inq(3, &[0.5, 0.75, 0.875, 1.0], epochs_per_step),
            &Hooks::default(),
            &mut Quiet,
        )
        .unwrap();
        train::evaluate(&n, &d.test)
    };
    let (at_once, retrained) = (accuracy(0), accuracy(3));
    assert!(retrained > at_once, "retrained {retrained} vs at once {at_once}");
}

#[test]
fn pruned_weights_stay_zero_and_an_all_zero_layer_stays_zero() {
    let (mut net, d) = trained_mlp();
    // Zero out every other fc1 weight ("pruned") and all of fc2.
    for (id, mut w) in net.params_mut() {
        if id.kind == ParamKind::Weight {
            for (i, v) in w.iter_mut().enumerate() {
                if id.layer == 2 || i % 2 == 0 {
                    *v = 0.0;
                }
            }
        }
    }
    run_inq(&mut net, &d.train, &inq(5, &[0.5, 1.0], 1), &Hooks::default(), &mut Quiet).unwrap();
    let w = fc1_weights(&net);
    assert!(w.iter().step_by(2).all(|&v| v == 0.0));
    let q = quant::quantize(&net, d.train.x.view(), &pow2_config(5)).unwrap();
    let IntOp::Dense(fc2) = &q.layers()[1].op else { panic!("fc2 is dense") };
    assert!(fc2.weights.iter().all(|&v| v == 0));
}

fn pow2_config(bits: u32) -> QuantizeConfig {
    QuantizeConfig {
        weights: WeightSpec::Pow2 { bits },
        layer_weights: Default::default(),
        act_bits: 8,
        output_bits: None,
        input_bits: 8,
    }
}

#[test]
fn the_integer_network_holds_exactly_the_inq_weights() {
    let (mut net, d) = trained_mlp();
    let ranges = run_inq(
        &mut net,
        &d.train,
        &inq(5, &[0.5, 0.75, 0.875, 1.0], 1),
        &Hooks::default(),
        &mut Quiet,
    )
    .unwrap();
    let q = quant::quantize(&net, d.train.x.view(), &pow2_config(5)).unwrap();
    // Quantization finds again the exponent range INQ chose when it started
    // (the largest weights are frozen first, so the top level stays: a
    // fitted range never lies above the largest weight's level).
    for ((_, range), layer) in ranges.iter().zip(q.layers().iter().filter_map(|l| l.op.weighted()))
    {
        let r = range.expect("a layer with weights");
        assert_eq!(layer.exponent, r.n2);
        assert_eq!(layer.kind, WeightKind::Pow2 { max_shift: (r.n1 - r.n2) as u32 });
    }
    let IntOp::Dense(fc1) = &q.layers()[0].op else { panic!("fc1 is dense") };
    assert_eq!(fc1.kind, WeightKind::Pow2 { max_shift: 7 });
    let real: Vec<f32> =
        fc1.weights.iter().map(|&v| (v as f64 * (fc1.exponent as f64).exp2()) as f32).collect();
    assert_eq!(real, fc1_weights(&net));
    let distinct: BTreeSet<i32> = fc1.weights.iter().map(|v| v.abs()).collect();
    assert!(distinct.len() <= 9, "zero and 8 magnitudes at 5 bits: {distinct:?}");
    let (f, i) = (train::evaluate(&net, &d.test), sim::accuracy(&q, &d.test).unwrap());
    assert!((f - i).abs() < 0.02, "float {f}, integer {i}");
}

/// The widest INQ coding, 6 bits (shifts up to 15), runs through INQ,
/// quantization, the simulator and the adder graphs of the unrolled form.
#[test]
fn inq_at_six_bits_runs_end_to_end() {
    let (mut net, d) = trained_mlp();
    run_inq(&mut net, &d.train, &inq(6, &[0.5, 1.0], 1), &Hooks::default(), &mut Quiet).unwrap();
    let q = quant::quantize(&net, d.train.x.view(), &pow2_config(6)).unwrap();
    let IntOp::Dense(fc1) = &q.layers()[0].op else { panic!("fc1 is dense") };
    assert_eq!(fc1.kind, WeightKind::Pow2 { max_shift: 15 });
    let (f, i) = (train::evaluate(&net, &d.test), sim::accuracy(&q, &d.test).unwrap());
    assert!((f - i).abs() < 0.02, "float {f}, integer {i}");
    let graphs = shiftkit::codegen::build_graphs(&q, shiftkit::codegen::Adders::new(3)).unwrap();
    assert_eq!(graphs.len(), 2);
}

#[test]
fn out_of_range_bits_are_errors() {
    let (mut net, d) = trained_mlp();
    for bits in [1, 7, 8] {
        let e = run_inq(&mut net, &d.train, &inq(bits, &[1.0], 0), &Hooks::default(), &mut Quiet)
            .unwrap_err();
        assert!(e.to_string().contains("use 2 to 6"), "{e}");
        let e = quant::quantize(&net, d.train.x.view(), &pow2_config(bits)).unwrap_err();
        assert!(e.to_string().contains("INQ bits"), "{e}");
    }
    let e =
        run_inq(&mut net, &d.train, &inq(5, &[0.6, 0.5, 1.0], 0), &Hooks::default(), &mut Quiet)
            .unwrap_err();
    assert!(e.to_string().contains("increase"), "{e}");
}

#[test]
fn binary_training_gives_a_binary_integer_network() {
    let (mut net, d) = trained_mlp();
    let params = [0, 2].map(|layer| ParamId { layer, kind: ParamKind::Weight }).into();
    let b = Binarizer { params, levels: Levels::Binary, scale: true };
    let hooks = Hooks { transform: Some(&b), ..Hooks::default() };
    train::train(&mut net, &d.train, None, &retrain(10, 0.01), &hooks, &mut Quiet).unwrap();
    let config = QuantizeConfig {
        weights: WeightSpec::Binary { scale: true },
        layer_weights: Default::default(),
        act_bits: 8,
        output_bits: None,
        input_bits: 8,
    };
    let q = quant::quantize(&net, d.train.x.view(), &config).unwrap();
    for l in q.layers() {
        if let Some(w) = l.op.weighted() {
            assert_eq!(w.kind, WeightKind::Binary);
            assert!(w.weights.iter().all(|&v| v == 1 || v == -1));
            assert_eq!(w.scale.as_ref().unwrap().multipliers.len(), w.out_channels());
        }
    }
    // The float network the training forward pass saw, against the integer network.
    let mut seen = net.clone();
    for (id, mut w) in seen.params_mut() {
        if id.kind == ParamKind::Weight {
            let coded = code(w.view(), Levels::Binary, true).to_real();
            w.assign(&coded);
        }
    }
    let (f, i) = (train::evaluate(&seen, &d.test), sim::accuracy(&q, &d.test).unwrap());
    assert!(f > 0.85 && (f - i).abs() < 0.03, "float {f}, integer {i}");
}

#[test]
fn ternary_with_the_first_layer_kept_at_fixed8() {
    let (net, d) = trained_mlp();
    let config = QuantizeConfig {
        weights: WeightSpec::Ternary { scale: true },
        layer_weights: [("fc1".to_string(), WeightSpec::Fixed { bits: 8 })].into(),
        act_bits: 8,
        output_bits: None,
        input_bits: 8,
    };
    let q = quant::quantize(&net, d.train.x.view(), &config).unwrap();
    let kinds: Vec<_> = q.layers().iter().filter_map(|l| l.op.weighted()).map(|w| w.kind).collect();
    assert_eq!(kinds, [WeightKind::Fixed { bits: 8 }, WeightKind::Ternary]);
    let ternary = q.layers()[1].op.weighted().unwrap();
    assert!(ternary.weights.iter().any(|&v| v == 0), "ternary weights include zeros");
    let bad = QuantizeConfig {
        layer_weights: [("relu1".to_string(), WeightSpec::Fixed { bits: 8 })].into(),
        ..config
    };
    let e = quant::quantize(&net, d.train.x.view(), &bad).unwrap_err().to_string();
    assert!(e.contains("relu1"), "{e}");
}
