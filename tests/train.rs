//! The training loop and its hooks: masks, weight transforms, losses,
//! determinism, and the errors of bad data.

use ndarray::{Array2, ArrayD, ArrayView2, ArrayViewD, ArrayViewMutD};

use shiftkit::data::{load_digits, Split};
use shiftkit::model::{self, ArchSpec, ModelFile, Network, Op, ParamId, ParamKind, Provenance};
use shiftkit::train::{
    evaluate, train, Hooks, Loss, LrSchedule, Masks, OptimizerConfig, Quiet, TrainConfig,
    WeightTransform,
};

fn config(epochs: usize, optimizer: OptimizerConfig) -> TrainConfig {
    TrainConfig { epochs, batch_size: 32, optimizer, schedule: LrSchedule::Cosine, seed: 5 }
}

fn digits_mlp() -> (Network, Split, Split) {
    let d = load_digits().unwrap();
    (ArchSpec::parse("mlp:64-32-10").unwrap().build(1).unwrap(), d.train, d.test)
}

#[test]
fn sgd_on_digits_learns() {
    let (mut net, train_split, test) = digits_mlp();
    let before = evaluate(&net, &test);
    let reports = train(
        &mut net,
        &train_split,
        Some(&test),
        &config(20, OptimizerConfig::sgd(0.05)),
        &Hooks::default(),
        &mut Quiet,
    )
    .unwrap();
    let after = evaluate(&net, &test);
    assert!(before < 0.3, "an untrained network guesses: {before}");
    assert!(after > 0.94, "accuracy after training: {after}");
    assert!(reports.last().unwrap().loss < reports[0].loss / 3.0);
    assert_eq!(reports.last().unwrap().val_accuracy, Some(after));
}

#[test]
fn adam_on_digits_learns() {
    let (mut net, train_split, test) = digits_mlp();
    train(
        &mut net,
        &train_split,
        None,
        &config(15, OptimizerConfig::adam(0.003)),
        &Hooks::default(),
        &mut Quiet,
    )
    .unwrap();
    assert!(evaluate(&net, &test) > 0.93);
}

#[test]
fn same_seed_gives_the_same_model_bytes() {
    let run = || {
        let (mut net, train_split, _) = digits_mlp();
        train(
            &mut net,
            &train_split,
            None,
            &config(2, OptimizerConfig::sgd(0.05)),
            &Hooks::default(),
            &mut Quiet,
        )
        .unwrap();
        ModelFile::new(net, Provenance::default()).into_container().to_bytes()
    };
    assert_eq!(run(), run());
}

#[test]
fn masked_weights_never_change() {
    let (mut net, train_split, _) = digits_mlp();
    let id = ParamId { layer: 0, kind: ParamKind::Weight };
    let original = net.params().into_iter().find(|(i, _)| *i == id).unwrap().1.to_owned();
    // Freeze every other weight of fc1 and zero some of the frozen ones, as pruning does.
    let mask = ArrayD::from_shape_fn(original.raw_dim(), |ix| ((ix[0] + ix[1]) % 2) as f32);
    for (i, mut p) in net.params_mut() {
        if i == id {
            p.zip_mut_with(&mask, |w, &m| {
                if m == 0.0 && (*w as f64) < 0.0 {
                    *w = 0.0
                }
            });
        }
    }
    let frozen = net.params().into_iter().find(|(i, _)| *i == id).unwrap().1.to_owned();
    let mut masks = Masks::new();
    masks.insert(id, mask.clone());
    let hooks = Hooks { masks, ..Hooks::default() };
    let sgd = OptimizerConfig::sgd(0.05).with_weight_decay(1e-3);
    train(&mut net, &train_split, None, &config(2, sgd), &hooks, &mut Quiet).unwrap();
    let after = net.params().into_iter().find(|(i, _)| *i == id).unwrap().1.to_owned();
    let mut changed = 0;
    for ((a, b), m) in after.iter().zip(frozen.iter()).zip(mask.iter()) {
        if *m == 0.0 {
            assert_eq!(a.to_bits(), b.to_bits(), "a frozen weight moved");
        } else if a != b {
            changed += 1;
        }
    }
    assert!(changed > mask.len() / 4, "free weights should train ({changed} changed)");
}

/// Binarization scaled by mean |w| (BWN), with a straight-through estimator and clipping.
struct Sign;
impl WeightTransform for Sign {
    fn forward(&self, id: ParamId, w: ArrayViewD<f32>) -> Option<ArrayD<f32>> {
        let alpha = w.mapv(f32::abs).mean().unwrap_or(0.0);
        (id.kind == ParamKind::Weight).then(|| w.mapv(|v| if v >= 0.0 { alpha } else { -alpha }))
    }
    fn after_update(&self, id: ParamId, mut w: ArrayViewMutD<f32>) {
        if id.kind == ParamKind::Weight {
            w.mapv_inplace(|v| v.clamp(-1.0, 1.0));
        }
    }
}

#[test]
fn weight_transform_trains_through_the_straight_through_estimator() {
    let (mut net, train_split, test) = digits_mlp();
    let hooks = Hooks { transform: Some(&Sign), ..Hooks::default() };
    train(
        &mut net,
        &train_split,
        None,
        &config(10, OptimizerConfig::sgd(0.01)),
        &hooks,
        &mut Quiet,
    )
    .unwrap();
    for l in net.layers() {
        if let Op::Dense(d) = &l.op {
            assert!(d.weight.iter().all(|w| (-1.0..=1.0).contains(w)), "weights are clipped");
        }
    }
    // Evaluate the binarized network the forward pass trained.
    let mut binary = net.clone();
    for (id, mut p) in binary.params_mut() {
        if let Some(t) = Sign.forward(id, p.view()) {
            p.assign(&t);
        }
    }
    let acc = evaluate(&binary, &test);
    assert!(acc > 0.7, "binary-weight accuracy {acc} (chance is 0.1)");
}

/// A loss with no gradient: nothing may move.
struct Flat;
impl Loss for Flat {
    fn loss_sum(&self, out: ArrayView2<f32>, _: ArrayView2<f32>, _: &[u8]) -> (f64, Array2<f32>) {
        (0.0, Array2::zeros(out.raw_dim()))
    }
}

#[test]
fn the_loss_is_pluggable() {
    let (mut net, train_split, _) = digits_mlp();
    let before = net.clone();
    let hooks = Hooks { loss: &Flat, ..Hooks::default() };
    train(&mut net, &train_split, None, &config(1, OptimizerConfig::sgd(0.1)), &hooks, &mut Quiet)
        .unwrap();
    assert_eq!(net, before);
}

/// Records which epochs the trainer asked it for.
struct Recorder(std::sync::Mutex<Vec<(usize, usize)>>);
impl Loss for Recorder {
    fn loss_sum(&self, out: ArrayView2<f32>, _: ArrayView2<f32>, _: &[u8]) -> (f64, Array2<f32>) {
        (0.0, Array2::zeros(out.raw_dim()))
    }
    fn at_epoch(&self, epoch: usize, epochs: usize) -> Option<Box<dyn Loss + '_>> {
        self.0.lock().unwrap().push((epoch, epochs));
        None
    }
}

#[test]
fn the_loss_is_asked_for_each_epochs_objective() {
    let (mut net, train_split, _) = digits_mlp();
    let recorder = Recorder(Default::default());
    let hooks = Hooks { loss: &recorder, ..Hooks::default() };
    train(&mut net, &train_split, None, &config(3, OptimizerConfig::sgd(0.1)), &hooks, &mut Quiet)
        .unwrap();
    assert_eq!(*recorder.0.lock().unwrap(), vec![(1, 3), (2, 3), (3, 3)]);
}

#[test]
fn batchnorm_running_statistics_follow_the_data() {
    let spec: ArchSpec = serde_json::from_str(
        r#"{"input": [64], "layers": [{"op": "dense", "out": 16}, {"op": "batchnorm"},
            {"op": "relu"}, {"op": "dense", "out": 10}]}"#,
    )
    .unwrap();
    let mut net = spec.build(2).unwrap();
    let d = load_digits().unwrap();
    train(
        &mut net,
        &d.train,
        None,
        &config(3, OptimizerConfig::sgd(0.05)),
        &Hooks::default(),
        &mut Quiet,
    )
    .unwrap();
    let Op::BatchNorm(bn) = &net.layers()[1].op else { panic!("layer 1 is batch norm") };
    assert!(bn.running_mean.iter().any(|&m| m.abs() > 1e-3));
    assert!(bn.running_var.iter().any(|&v| (v - 1.0).abs() > 1e-3));
    assert!(evaluate(&net, &d.test) > 0.9);
}

#[test]
fn data_that_does_not_fit_is_an_error() {
    let (mut net, train_split, _) = digits_mlp();
    let cfg = config(1, OptimizerConfig::sgd(0.05));
    let narrow = Split {
        x: train_split.x.slice(ndarray::s![.., ..10]).to_owned(),
        y: train_split.y.clone(),
    };
    let e = train(&mut net, &narrow, None, &cfg, &Hooks::default(), &mut Quiet).unwrap_err();
    assert!(e.to_string().contains("10 features"), "{e}");
    let mut bad_labels = train_split.head(5);
    bad_labels.y[2] = 12;
    let e = train(&mut net, &bad_labels, None, &cfg, &Hooks::default(), &mut Quiet).unwrap_err();
    assert!(e.to_string().contains("label 12"), "{e}");
    let zero_batch = TrainConfig { batch_size: 0, ..cfg };
    assert!(
        train(&mut net, &train_split, None, &zero_batch, &Hooks::default(), &mut Quiet).is_err()
    );
}

#[test]
fn a_diverging_run_is_an_error_that_suggests_a_lower_rate() {
    let (mut net, train_split, _) = digits_mlp();
    let cfg =
        TrainConfig { schedule: LrSchedule::Constant, ..config(3, OptimizerConfig::sgd(1e30)) };
    let e = train(&mut net, &train_split, None, &cfg, &Hooks::default(), &mut Quiet).unwrap_err();
    assert!(e.to_string().contains("lower the learning rate"), "{e}");
}

/// A finite loss whose gradient is NaN: the weights go NaN while the loss
/// stays finite, as behind a ReLU.
struct NanGradient;
impl Loss for NanGradient {
    fn loss_sum(&self, out: ArrayView2<f32>, _: ArrayView2<f32>, _: &[u8]) -> (f64, Array2<f32>) {
        (1.0, Array2::from_elem(out.raw_dim(), f32::NAN))
    }
}

#[test]
fn weights_gone_nan_under_a_finite_loss_are_a_divergence_naming_the_tensor() {
    let (mut net, train_split, _) = digits_mlp();
    let hooks = Hooks { loss: &NanGradient, ..Hooks::default() };
    let cfg = config(2, OptimizerConfig::sgd(0.1));
    let e = train(&mut net, &train_split, None, &cfg, &hooks, &mut Quiet).unwrap_err().to_string();
    assert!(e.contains("diverged in epoch 1") && e.contains("`fc1` weight holds NaN"), "{e}");
    // A network that is not finite is refused before any training.
    let e = train(&mut net, &train_split, None, &cfg, &Hooks::default(), &mut Quiet).unwrap_err();
    assert!(e.to_string().contains("not finite: `fc1` weight holds NaN at index 0"), "{e}");
}

/// An update that leaves every ReLU of a layer dead, as a step far too
/// large does: here `fc1`'s biases go to -1000 after each update.
struct KillFc1;

impl WeightTransform for KillFc1 {
    fn forward(&self, _: ParamId, _: ArrayViewD<f32>) -> Option<ArrayD<f32>> {
        None
    }
    fn after_update(&self, id: ParamId, mut w: ArrayViewMutD<f32>) {
        if id == (ParamId { layer: 0, kind: ParamKind::Bias }) {
            w.fill(-1000.0);
        }
    }
}

/// A network that comes to give every image the same output learns nothing
/// more below its dead layer: training stops at the end of the first epoch
/// in which every batch did, and says so. A network that gave one output
/// before training (a layer pruned to zeros) has not diverged, and identical
/// images rightly get one output.
#[test]
fn a_network_that_collapses_to_one_output_is_a_divergence() {
    let (mut net, train_split, _) = digits_mlp();
    let cfg = config(3, OptimizerConfig::sgd(0.05));
    let hooks = Hooks { transform: Some(&KillFc1), ..Hooks::default() };
    let e = train(&mut net, &train_split, None, &cfg, &hooks, &mut Quiet).unwrap_err().to_string();
    // Epoch 1's first batch ran before the first update.
    assert!(e.contains("diverged in epoch 2"), "{e}");
    assert!(e.contains("the network gave every training image the same output"), "{e}");
    let reports = train(&mut net, &train_split, None, &cfg, &Hooks::default(), &mut Quiet).unwrap();
    assert_eq!(reports.len(), 3, "dead before training: not a divergence");
    let same =
        Split { x: Array2::from_shape_fn((64, 64), |(_, j)| j as f32 / 64.0), y: vec![3; 64] };
    let (mut fresh, _, _) = digits_mlp();
    let reports = train(&mut fresh, &same, None, &cfg, &hooks, &mut Quiet).unwrap();
    assert_eq!(reports.len(), 3, "identical images: not a collapse");
}

#[test]
fn a_trained_model_survives_the_file_round_trip() {
    let (mut net, train_split, test) = digits_mlp();
    train(
        &mut net,
        &train_split,
        None,
        &config(2, OptimizerConfig::sgd(0.05)),
        &Hooks::default(),
        &mut Quiet,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.skm");
    model::save(&path, &ModelFile::new(net.clone(), Provenance::default())).unwrap();
    let back = model::load(&path).unwrap();
    assert_eq!(evaluate(&back.float, &test), evaluate(&net, &test));
}
