//! Compression II: pruning, structured pruning, neuron merging, weight sharing,
//! SVD and distillation as recipe steps, end to end on the embedded digits.

mod common;

use std::path::{Path, PathBuf};

use ndarray::{Array1, Array2, Array4};
use shiftkit::compress::{
    self, prune_units, weighted_layers, CompressError, Recipe, RecipeOutcome,
};
use shiftkit::data::load_digits;
use shiftkit::model::{self, Conv2d, Dense, Layer, ModelFile, Network, Op, Provenance, Shape};
use shiftkit::quant;
use shiftkit::train::{self, Distillation, Hooks, Loss, Quiet};

/// A digits MLP trained briefly, saved in `dir`.
fn digits_model(dir: &Path, arch: &str) -> PathBuf {
    let (net, _) = common::trained_digits(arch, 20, 1);
    let path = dir.join("float.skm");
    let provenance =
        Provenance { arch: Some(arch.into()), dataset: Some("digits".into()), steps: vec![] };
    model::save(&path, &ModelFile::new(net, provenance)).unwrap();
    path
}

/// Runs a recipe on a model file, and saves the result at `out` as
/// `shiftkit compress` does (float and integer networks).
fn compress(model: &Path, recipe: &str, out: &Path) -> Result<RecipeOutcome, CompressError> {
    let recipe = Recipe::parse(recipe, Path::new(".")).expect("a valid recipe");
    let file = model::load(model).unwrap();
    let data = load_digits().unwrap();
    let done = compress::run_recipe(&file.float, &file.float, &recipe, &data, &mut Quiet)?;
    let mut saved = ModelFile::new(done.net.clone(), file.provenance);
    quant::write_integer(&done.integer, &mut saved.rest);
    model::save(out, &saved).unwrap();
    Ok(done)
}

/// The integer network's accuracy after the last step.
fn accuracy(out: &RecipeOutcome) -> f64 {
    out.steps.last().unwrap().integer_accuracy
}

/// Flat weights of every dense layer of a float model file.
fn float_weights(path: &Path) -> Vec<Vec<f32>> {
    let net = model::load(path).unwrap().float;
    weighted_layers(&net)
        .into_iter()
        .map(|i| match &net.layers()[i].op {
            Op::Dense(d) => d.weight.iter().copied().collect(),
            _ => unreachable!("an MLP"),
        })
        .collect()
}

fn integer_weights(path: &Path) -> Vec<Vec<i32>> {
    let q = quant::read_integer(&model::load(path).unwrap().rest).unwrap().unwrap();
    q.layers()
        .iter()
        .filter_map(|l| l.op.weighted())
        .map(|w| w.weights.iter().copied().collect())
        .collect()
}

const TRAIN: &str = "[train]\nbatch = 32\nlr = 0.01\n[quantize]\ncalibration = 500\n";

#[test]
fn pruning_meets_its_target_and_every_later_pass_keeps_the_mask() {
    let dir = tempfile::tempdir().unwrap();
    let model = digits_model(dir.path(), "mlp:64-32-10");
    let pruned = dir.path().join("pruned.skm");
    let recipe = format!(
        "{TRAIN}[[step]]\nmethod = \"prune\"\nsparsity = 0.7\niterations = 2\nepochs = 2\n"
    );
    let out = compress(&model, &recipe, &pruned).unwrap();
    assert_eq!(out.steps.len(), 1);
    let masks = float_weights(&pruned);
    for w in &masks {
        let zeros = w.iter().filter(|&&v| v == 0.0).count();
        assert_eq!(zeros, (0.7f64 * w.len() as f64).ceil() as usize, "per-layer target");
    }
    assert!(accuracy(&out) > 0.85, "{}", accuracy(&out));

    // INQ with distillation, k-means then fine-tuning, ternary: none revives a weight.
    let later = [
        "[distill]\nteacher = \"original\"\n[[step]]\nmethod = \"inq\"\nbits = 5\nepochs = 1\n",
        "[[step]]\nmethod = \"kmeans\"\nbits = 3\nepochs = 2\nlr = 0.001\n\
         [[step]]\nmethod = \"finetune\"\nepochs = 1\n",
        "[[step]]\nmethod = \"ternary\"\nepochs = 2\n",
        "[[step]]\nmethod = \"finetune\"\nepochs = 2\n",
    ];
    for (k, steps) in later.iter().enumerate() {
        let path = dir.path().join(format!("later{k}.skm"));
        compress(&pruned, &format!("{TRAIN}{steps}"), &path).unwrap();
        let (fw, iw) = (float_weights(&path), integer_weights(&path));
        for (layer, mask) in masks.iter().enumerate() {
            for (i, &m) in mask.iter().enumerate() {
                if m == 0.0 {
                    assert_eq!(fw[layer][i], 0.0, "recipe {k}: float weight {layer}/{i} revived");
                    assert_eq!(iw[layer][i], 0, "recipe {k}: integer weight {layer}/{i} revived");
                }
            }
        }
    }
    // And binary weights, which have no zero, are refused after pruning.
    let e = compress(
        &pruned,
        &format!("{TRAIN}[[step]]\nmethod = \"binary\"\nepochs = 1\n"),
        &dir.path().join("b.skm"),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("ternary"), "{e}");
}

/// `output_bits` widens the last layer's scores only; `qat = true` reaches
/// the retraining (the same recipe and seed train other weights with it).
#[test]
fn output_bits_and_qat_reach_the_integer_network_and_the_training() {
    let dir = tempfile::tempdir().unwrap();
    let model = digits_model(dir.path(), "mlp:64-32-10");
    let steps = "[[step]]\nmethod = \"finetune\"\nepochs = 2\n";
    let quantize = "[train]\nbatch = 32\nlr = 0.01\n[quantize]\ncalibration = 500\nact_bits = 3\n";
    let plain = format!("{quantize}output_bits = 8\n{steps}");
    let aware = format!("{quantize}output_bits = 8\nqat = true\n{steps}");
    let (p, a) = (dir.path().join("p.skm"), dir.path().join("a.skm"));
    let out = compress(&model, &plain, &p).unwrap();
    let widths: Vec<u32> = out.integer.layers().iter().map(|l| l.format.bits()).collect();
    assert_eq!(widths.first(), Some(&3), "{widths:?}");
    assert_eq!(widths.last(), Some(&8), "{widths:?}");
    assert!(accuracy(&out) > 0.85, "{}", accuracy(&out));
    let out = compress(&model, &aware, &a).unwrap();
    assert!(accuracy(&out) > 0.85, "{}", accuracy(&out));
    assert_ne!(float_weights(&p), float_weights(&a), "qat changed nothing in training");
}

#[test]
fn global_pruning_meets_the_overall_target() {
    let dir = tempfile::tempdir().unwrap();
    let model = digits_model(dir.path(), "mlp:64-32-10");
    let out_path = dir.path().join("g.skm");
    let recipe =
        format!("{TRAIN}[[step]]\nmethod = \"prune\"\nsparsity = 0.8\nscope = \"global\"\n");
    let out = compress(&model, &recipe, &out_path).unwrap();
    let w = float_weights(&out_path);
    let (zeros, total) = w
        .iter()
        .fold((0, 0), |(z, n), l| (z + l.iter().filter(|&&v| v == 0.0).count(), n + l.len()));
    assert_eq!(zeros, (0.8f64 * total as f64).ceil() as usize);
    assert!((out.steps[0].sparsity - zeros as f64 / total as f64).abs() < 1e-12);
    // Global: the big first layer gives up more than the small last one.
    let s = |l: &Vec<f32>| l.iter().filter(|&&v| v == 0.0).count() as f64 / l.len() as f64;
    assert!(s(&w[0]) > s(&w[1]), "{} vs {}", s(&w[0]), s(&w[1]));
}

#[test]
fn kmeans_leaves_at_most_two_to_the_bits_values_per_layer() {
    let dir = tempfile::tempdir().unwrap();
    let model = digits_model(dir.path(), "mlp:64-32-10");
    for bits in [2u32, 4] {
        let path = dir.path().join(format!("k{bits}.skm"));
        let recipe = format!(
            "{TRAIN}[[step]]\nmethod = \"kmeans\"\nbits = {bits}\nepochs = 2\nlr = 0.001\n"
        );
        let out = compress(&model, &recipe, &path).unwrap();
        for layer in integer_weights(&path) {
            let distinct: std::collections::BTreeSet<i32> =
                layer.iter().copied().filter(|&v| v != 0).collect();
            assert!(distinct.len() <= 1 << bits, "{} values at {bits} bits", distinct.len());
            assert!(distinct.len() >= 2);
        }
        for l in &out.report.layers {
            assert_eq!(l.storage.code_bits, bits);
            assert!(l.weights.starts_with(&format!("shared{bits}")), "{}", l.weights);
        }
        if bits == 4 {
            assert!(accuracy(&out) > 0.85, "{}", accuracy(&out));
        }
    }
}

#[test]
fn distillation_at_lambda_zero_is_plain_training() {
    let d = load_digits().unwrap();
    let (teacher, _) = common::trained_digits("mlp:64-32-10", 5, 2);
    let student = shiftkit::model::ArchSpec::parse("mlp:64-16-10").unwrap().build(9).unwrap();
    let cfg = common::digits_config(3, 4);
    let mut plain = student.clone();
    train::train(&mut plain, &d.train, None, &cfg, &Hooks::default(), &mut Quiet).unwrap();
    let kd = Distillation { teacher: &teacher, temperature: 4.0, lambda: 0.0, lambda_end: None };
    let mut distilled = student.clone();
    let hooks = Hooks { loss: &kd, ..Hooks::default() };
    train::train(&mut distilled, &d.train, None, &cfg, &hooks, &mut Quiet).unwrap();
    assert_eq!(plain, distilled);
    // At lambda > 0 the teacher changes the result.
    let kd = Distillation { teacher: &teacher, temperature: 4.0, lambda: 0.5, lambda_end: None };
    let mut taught = student;
    let hooks = Hooks { loss: &kd, ..Hooks::default() };
    train::train(&mut taught, &d.train, None, &cfg, &hooks, &mut Quiet).unwrap();
    assert_ne!(plain, taught);
    // A teacher of another shape is refused.
    let other = shiftkit::model::ArchSpec::parse("mlp:64-8-5").unwrap().build(1).unwrap();
    let bad = Distillation { teacher: &other, temperature: 4.0, lambda: 0.5, lambda_end: None };
    assert!(bad.check(&plain).unwrap_err().to_string().contains("teacher"));
}

/// Annealing moves lambda linearly from its start in the first epoch to its
/// end in the last: each epoch's loss is the constant-lambda loss at that point.
#[test]
fn annealed_distillation_moves_lambda_linearly_over_the_epochs() {
    let d = load_digits().unwrap();
    let (teacher, _) = common::trained_digits("mlp:64-32-10", 5, 2);
    let student = shiftkit::model::ArchSpec::parse("mlp:64-16-10").unwrap().build(9).unwrap();
    let x = d.train.x.slice(ndarray::s![..32, ..]);
    let y = &d.train.y[..32];
    let z = shiftkit::train::engine::predict(&student, x);
    let constant =
        |lambda| Distillation { teacher: &teacher, temperature: 4.0, lambda, lambda_end: None };
    let annealed = Distillation { lambda_end: Some(0.1), ..constant(0.9) };
    for (epoch, lambda) in [(1, 0.9), (3, 0.5), (5, 0.1)] {
        let at = annealed.at_epoch(epoch, 5).expect("an annealed loss changes with the epoch");
        let (value, grad) = at.loss_sum(z.view(), x, y);
        let (want, want_grad) = constant(lambda).loss_sum(z.view(), x, y);
        assert!((value - want).abs() <= 1e-6 * want.abs(), "epoch {epoch}: {value} vs {want}");
        assert!(grad.iter().zip(&want_grad).all(|(a, b)| (a - b).abs() < 1e-6), "epoch {epoch}");
    }
    assert!(constant(0.9).at_epoch(3, 5).is_none(), "a constant lambda stays as it is");
    // Trained, the annealed run differs from the constant one; annealing to the
    // same lambda does not.
    let cfg = common::digits_config(3, 4);
    let trained = |kd: &Distillation| {
        let mut net = student.clone();
        let hooks = Hooks { loss: kd, ..Hooks::default() };
        train::train(&mut net, &d.train, None, &cfg, &hooks, &mut Quiet).unwrap();
        net
    };
    let flat = trained(&constant(0.9));
    assert_eq!(flat, trained(&Distillation { lambda_end: Some(0.9), ..constant(0.9) }));
    assert_ne!(flat, trained(&annealed));
    // An end out of [0, 1] is refused, naming it.
    let bad = Distillation { lambda_end: Some(1.5), ..constant(0.9) };
    assert!(bad.check(&student).unwrap_err().to_string().contains("lambda_end"));
}

#[test]
fn reshaping_steps_shrink_the_network_and_keep_it_working() {
    let dir = tempfile::tempdir().unwrap();
    let model = digits_model(dir.path(), "mlp:64-32-16-10");
    let path = dir.path().join("r.skm");
    let recipe = format!(
        "{TRAIN}[[step]]\nmethod = \"structured\"\nfraction = 0.25\nlayers = [\"fc1\"]\n\
         [[step]]\nmethod = \"merge\"\nfraction = 0.25\nlayers = [\"fc2\"]\n\
         [[step]]\nmethod = \"svd\"\nrank = 6\nlayers = [\"fc1\"]\nepochs = 2\n"
    );
    let out = compress(&model, &recipe, &path).unwrap();
    let net = model::load(&path).unwrap().float;
    let dims: Vec<(String, usize, usize)> = net
        .layers()
        .iter()
        .filter_map(|l| match &l.op {
            Op::Dense(d) => Some((l.name.clone(), d.out_features(), d.in_features())),
            _ => None,
        })
        .collect();
    let expect = [("fc1_v", 6, 64), ("fc1_u", 24, 6), ("fc2", 12, 24), ("fc3", 10, 12)];
    let got: Vec<(&str, usize, usize)> =
        dims.iter().map(|(n, o, i)| (n.as_str(), *o, *i)).collect();
    assert_eq!(got, expect);
    assert_eq!(out.steps.len(), 3);
    assert!(out.steps.windows(2).all(|p| p[1].weights < p[0].weights));
    assert!(accuracy(&out) > 0.8, "{}", accuracy(&out));
}

#[test]
fn coded_layers_cannot_be_reshaped_or_coded_again() {
    let dir = tempfile::tempdir().unwrap();
    let model = digits_model(dir.path(), "mlp:64-32-10");
    let out = dir.path().join("x.skm");
    let inq = "[[step]]\nmethod = \"inq\"\nbits = 5\nepochs = 0\n";
    for then in ["method = \"structured\"\nfraction = 0.5", "method = \"kmeans\"\nbits = 3"] {
        let e = compress(&model, &format!("{TRAIN}{inq}[[step]]\n{then}\n"), &out).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("step 2") && msg.contains("already coded as inq5"), "{msg}");
    }
}

#[test]
fn recipes_with_mistakes_are_refused_with_the_reason() {
    let cases = [
        ("", "no [[step]]"),
        ("[[step]]\nmethod = \"squeeze\"\n", "unknown method `squeeze`"),
        ("[[step]]\nmethod = \"prune\"\n", "prune needs `sparsity`"),
        ("[[step]]\nmethod = \"prune\"\nsparsity = 1.0\n", "below 1"),
        (
            "[[step]]\nmethod = \"kmeans\"\nbits = 3\nsparsity = 0.5\n",
            "`sparsity` is not a setting of kmeans",
        ),
        ("[[step]]\nmethod = \"kmeans\"\nbits = 9\n", "bits (bits) 9 is out of range: use 1 to 8"),
        ("[[step]]\nmethod = \"inq\"\nbits = 5\nschedule = [0.5, 0.9]\n", "must be 1"),
        ("[[step]]\nmethod = \"inq\"\nbits = 7\n", "INQ bits 7 is out of range: use 2 to 6"),
        ("[quantize]\nweights = \"inq8\"\n[[step]]\nmethod = \"finetune\"\nepochs = 1\n", "inq8"),
        ("[quantize]\nact_bits = 1\n[[step]]\nmethod = \"finetune\"\nepochs = 1\n", "act_bits"),
        ("[quantize]\noutput_bits = 17\n[[step]]\nmethod = \"finetune\"\nepochs = 1\n", "output_bits"),
        ("[train]\nbatch = 0\n[[step]]\nmethod = \"finetune\"\nepochs = 1\n", "batch size"),
        ("[[step]]\nmethod = \"svd\"\n", "svd needs `rank`"),
        ("[[step]]\nmethod = \"svd\"\nrank = 3\nenergy = 0.9\n", "not both"),
        ("[[step]]\nmethod = \"finetune\"\n", "finetune needs `epochs`"),
        ("[[step]]\nmethod = \"finetune\"\nepochs = 1\ndistill = true\n", "[distill]"),
        ("[distill]\nlambda = 2.0\n[[step]]\nmethod = \"finetune\"\nepochs = 1\n", "lambda"),
        (
            "[distill]\nlambda_end = -0.5\n[[step]]\nmethod = \"finetune\"\nepochs = 1\n",
            "lambda_end must be in [0, 1], got -0.5",
        ),
        (
            "[train]\noptimizer = \"rmsprop\"\n[[step]]\nmethod = \"finetune\"\nepochs = 1\n",
            "rmsprop",
        ),
        ("[[step]]\nmethod = \"prune\"\nsparsity = 0.5\nspeed = 3\n", "speed"),
        ("[[step]]\nmethod = \"inq\"\nbits = 3\nrange = \"mean\"\n", "mean"),
        ("[[step]]\nmethod = \"binary\"\nrange = \"max\"\n", "`range` is not a setting of binary"),
        ("[[step]\n", "expected"),
        ("[[step]]\nmethod = \"hint\"\nhint = \"relu1\"\nguided = \"relu1\"\n", "[distill]"),
        ("[distill]\n[[step]]\nmethod = \"hint\"\nguided = \"relu1\"\n", "hint needs `hint`"),
        ("[distill]\n[[step]]\nmethod = \"hint\"\nhint = \"relu1\"\n", "needs `guided`"),
        (
            "[distill]\n[[step]]\nmethod = \"hint\"\nhint = \"a\"\nguided = \"b\"\nlayers = [\"fc1\"]\n",
            "not a setting of hint",
        ),
        ("[[step]]\nmethod = \"prune\"\nsparsity = 0.5\ncriterion = \"l1\"\n", "magnitude or obd"),
        ("[[step]]\nmethod = \"structured\"\nfraction = 0.5\ncriterion = \"obd\"\n", "apoz"),
        ("[[step]]\nmethod = \"merge\"\nfraction = 0.5\ncriterion = \"l1\"\n", "criterion"),
    ];
    for (text, needle) in cases {
        let e = Recipe::parse(text, Path::new(".")).unwrap_err().to_string();
        assert!(e.contains(needle), "{text:?}: {e}");
    }
    let e = Recipe::load(Path::new("/nonexistent/recipe.toml")).unwrap_err().to_string();
    assert!(e.contains("/nonexistent/recipe.toml"), "{e}");
}

/// Binary and ternary steps retrain with Adam unless the recipe names an
/// optimizer; every other step with the recipe's; a step's `lr` holds for
/// either. INQ fits its exponent range by least error unless told `max`.
#[test]
fn each_step_retrains_with_its_kinds_optimizer() {
    use shiftkit::compress::StepKind;
    use shiftkit::quant::RangeRule;
    use shiftkit::train::OptimizerConfig;
    let steps =
        "[[step]]\nmethod = \"inq\"\nbits = 4\n[[step]]\nmethod = \"ternary\"\nlr = 0.003\n\
                 [[step]]\nmethod = \"binary\"\n";
    let r = Recipe::parse(steps, Path::new(".")).unwrap();
    let sgd = OptimizerConfig::sgd(0.01).with_weight_decay(5e-4);
    let adam = OptimizerConfig::adam(0.001).with_weight_decay(5e-4);
    let opts: Vec<_> = r.steps.iter().map(|s| r.step_config(s).optimizer).collect();
    assert_eq!(opts, vec![sgd, adam.with_lr(0.003), adam]);
    assert!(matches!(r.steps[0].kind, StepKind::Inq { range: RangeRule::MinError, .. }));
    // A named optimizer holds for every step.
    let named =
        Recipe::parse(&format!("[train]\noptimizer = \"sgd\"\n{steps}"), Path::new(".")).unwrap();
    let opts: Vec<_> = named.steps.iter().map(|s| named.step_config(s).optimizer).collect();
    assert_eq!(opts, vec![sgd, sgd.with_lr(0.003), sgd]);
    let paper =
        Recipe::parse("[[step]]\nmethod = \"inq\"\nbits = 3\nrange = \"max\"\n", Path::new("."))
            .unwrap();
    assert!(matches!(paper.steps[0].kind, StepKind::Inq { range: RangeRule::Max, .. }));
    // FitNets' hint stage trains with Adam too; the distillation after it with SGD.
    let fitnets = Recipe::parse(
        "[distill]\n[[step]]\nmethod = \"hint\"\nhint = \"a\"\nguided = \"b\"\n\
         [[step]]\nmethod = \"finetune\"\nepochs = 2\n",
        Path::new("."),
    )
    .unwrap();
    let opts: Vec<_> = fitnets.steps.iter().map(|s| fitnets.step_config(s).optimizer).collect();
    assert_eq!(opts, vec![adam, sgd]);
}

#[test]
fn unknown_layers_in_a_step_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let model = digits_model(dir.path(), "mlp:64-32-10");
    let recipe =
        format!("{TRAIN}[[step]]\nmethod = \"prune\"\nsparsity = 0.5\nlayers = [\"fc9\"]\n");
    let e = compress(&model, &recipe, &dir.path().join("x.skm")).unwrap_err().to_string();
    assert!(e.contains("no layer `fc9`") && e.contains("fc1, fc2"), "{e}");
}

/// conv(3 filters) -> relu -> pool -> flatten -> dense(4): a dead filter
/// (zero weights, negative bias) carries nothing, so removing it by L1 (it has
/// the smallest norm) changes no output: the flatten columns were mapped right.
#[test]
fn structured_pruning_of_a_dead_filter_changes_no_output() {
    let mut conv_w = Array4::from_shape_fn((3, 1, 3, 3), |(o, _, i, j)| {
        ((o * 7 + i * 3 + j) % 5) as f32 / 5.0 - 0.3
    });
    conv_w.slice_mut(ndarray::s![1, .., .., ..]).fill(0.0);
    let conv = Conv2d {
        weight: conv_w,
        bias: Array1::from(vec![0.1, -0.5, 0.05]),
        stride: [1, 1],
        padding: [1, 1],
    };
    let fc = Dense {
        weight: Array2::from_shape_fn((4, 3 * 2 * 2), |(i, j)| {
            ((i * 5 + j * 3) % 7) as f32 / 7.0 - 0.4
        }),
        bias: Array1::from(vec![0.1, 0.2, -0.1, 0.0]),
    };
    let layers = vec![
        Layer { name: "conv1".into(), op: Op::Conv2d(conv) },
        Layer { name: "relu1".into(), op: Op::Relu },
        Layer {
            name: "pool1".into(),
            op: Op::MaxPool2d(shiftkit::model::MaxPool2d { kernel: [2, 2], stride: [2, 2] }),
        },
        Layer { name: "flatten1".into(), op: Op::Flatten },
        Layer { name: "fc1".into(), op: Op::Dense(fc) },
    ];
    let net = Network::new(Shape::Image { c: 1, h: 4, w: 4 }, layers).unwrap();
    let pruned = prune_units(&net, 0, 1).unwrap();
    let Op::Conv2d(c) = &pruned.layers()[0].op else { panic!() };
    assert_eq!(c.out_channels(), 2);
    let Op::Dense(d) = &pruned.layers()[4].op else { panic!() };
    assert_eq!(d.in_features(), 8);
    let x = Array2::from_shape_fn((5, 16), |(i, j)| ((i * 11 + j * 5) % 9) as f32 / 9.0);
    let (a, b) =
        (train::engine::predict(&net, x.view()), train::engine::predict(&pruned, x.view()));
    assert!((a - b).iter().all(|v| v.abs() < 1e-6));
    // The integer network of the pruned model still quantizes and validates.
    let cfg = quant::QuantizeConfig::new(quant::WeightSpec::Fixed { bits: 8 }, 8, 8);
    quant::quantize(&pruned, x.view(), &cfg).unwrap();
}

#[test]
fn keep_first_last_codes_only_the_middle_layers() {
    let dir = tempfile::tempdir().unwrap();
    let model = digits_model(dir.path(), "mlp:64-32-16-10");
    let path = dir.path().join("k.skm");
    let recipe = format!(
        "{TRAIN}[[step]]\nmethod = \"inq\"\nbits = 4\nepochs = 1\nkeep_first_last = \"fixed6\"\n"
    );
    let out = compress(&model, &recipe, &path).unwrap();
    let kinds: Vec<&str> = out.report.layers.iter().map(|l| l.weights.as_str()).collect();
    assert_eq!(kinds, ["fixed6", "pow2(2^0..2^3)", "fixed6"]);
    // The kept layers are frozen for later steps: a k-means step on them is refused.
    let recipe = format!(
        "{TRAIN}[[step]]\nmethod = \"inq\"\nbits = 4\nepochs = 0\nkeep_first_last = \"fixed6\"\n\
         [[step]]\nmethod = \"kmeans\"\nbits = 3\nlayers = [\"fc1\"]\n"
    );
    let e = compress(&model, &recipe, &path).unwrap_err().to_string();
    assert!(e.contains("already coded as fixed6"), "{e}");
    // Two weighted layers leave nothing between the first and the last.
    let small = tempfile::tempdir().unwrap();
    let model = digits_model(small.path(), "mlp:64-16-10");
    let e = compress(&model, &recipe, &path).unwrap_err().to_string();
    assert!(e.contains("leaves no layer"), "{e}");
}

#[test]
fn the_same_recipe_gives_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let model = digits_model(dir.path(), "mlp:64-32-10");
    let recipe = format!(
        "{TRAIN}[distill]\n[[step]]\nmethod = \"prune\"\nsparsity = 0.6\nepochs = 1\n\
         [[step]]\nmethod = \"kmeans\"\nbits = 3\nepochs = 1\nlr = 0.001\n"
    );
    let (a, b) = (dir.path().join("a.skm"), dir.path().join("b.skm"));
    compress(&model, &recipe, &a).unwrap();
    compress(&model, &recipe, &b).unwrap();
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
}

/// A pruned, shared layer stays exactly as k-means left it while INQ retrains
/// the others: its freeze is not lifted by the pruning mask (a regression:
/// the masks were once merged by overwriting).
#[test]
fn coded_layers_stay_frozen_while_later_steps_retrain_others() {
    let dir = tempfile::tempdir().unwrap();
    let model = digits_model(dir.path(), "mlp:64-32-10");
    let (shared, both) = (dir.path().join("s.skm"), dir.path().join("b.skm"));
    let prune_share = format!(
        "{TRAIN}[[step]]\nmethod = \"prune\"\nsparsity = 0.5\n\
         [[step]]\nmethod = \"kmeans\"\nbits = 2\nlayers = [\"fc1\"]\n"
    );
    compress(&model, &prune_share, &shared).unwrap();
    let then_inq = format!(
        "{prune_share}[[step]]\nmethod = \"inq\"\nbits = 5\nlayers = [\"fc2\"]\nepochs = 2\n\
         [[step]]\nmethod = \"finetune\"\nepochs = 2\n"
    );
    compress(&model, &then_inq, &both).unwrap();
    assert_eq!(float_weights(&shared)[0], float_weights(&both)[0]);
    assert_ne!(float_weights(&shared)[1], float_weights(&both)[1], "fc2 did retrain");
}

/// Reshaping steps that fine-tune keep coded layers frozen, though the layers
/// move (SVD inserts a layer) or change shape (the next layer loses inputs).
#[test]
fn reshaping_after_coding_keeps_coded_layers_frozen() {
    let dir = tempfile::tempdir().unwrap();
    let model = digits_model(dir.path(), "mlp:64-32-16-10");
    let path = dir.path().join("r.skm");
    let recipe = format!(
        "{TRAIN}[[step]]\nmethod = \"inq\"\nbits = 5\nlayers = [\"fc2\", \"fc3\"]\nepochs = 1\n\
         [[step]]\nmethod = \"structured\"\nfraction = 0.25\nlayers = [\"fc1\"]\nepochs = 1\n\
         [[step]]\nmethod = \"svd\"\nrank = 8\nlayers = [\"fc1\"]\nepochs = 1\n"
    );
    let out = compress(&model, &recipe, &path).unwrap();
    let kinds: Vec<&str> = out.report.layers.iter().map(|l| l.weights.as_str()).collect();
    assert_eq!(kinds, ["fixed8", "fixed8", "pow2(2^0..2^7)", "pow2(2^0..2^7)"]);
    // fc3 after the last step holds exactly what INQ left.
    let inq_only = dir.path().join("i.skm");
    let first = format!(
        "{TRAIN}[[step]]\nmethod = \"inq\"\nbits = 5\nlayers = [\"fc2\", \"fc3\"]\nepochs = 1\n"
    );
    compress(&model, &first, &inq_only).unwrap();
    let (a, b) = (float_weights(&inq_only), float_weights(&path));
    assert_eq!(a.last(), b.last());
}

/// FitNets' first stage: the student's layers up to the guided one learn the
/// teacher's hint (the loss falls with more epochs), the layers after it are
/// untouched; names the student or teacher lacks are refused naming theirs.
#[test]
fn a_hint_step_trains_the_guided_layers_only() {
    use shiftkit::train::TrainConfig;
    let (teacher, data) = common::trained_digits("mlp:64-32-10", 10, 1);
    let (student, _) = common::trained_digits("mlp:64-16-16-10", 1, 2);
    let g = student.layer_index("relu2").unwrap();
    let cfg = |epochs| TrainConfig { epochs, ..common::digits_config(epochs, 3) };
    let run = |epochs: usize| {
        let mut s = student.clone();
        let fit = compress::train_hint(
            &mut s,
            &teacher,
            "relu1",
            "relu2",
            &data.train,
            &data.val,
            &cfg(epochs),
            Default::default(),
            &mut Quiet,
        )
        .unwrap();
        (s, fit)
    };
    let ((one, f1), (four, f4)) = (run(1), run(4));
    assert!(f4.loss < f1.loss, "hint loss {f4:?} after 4 epochs, {f1:?} after 1");
    // The fit on validation improves with training too, and stays a fraction.
    assert!(f1.explained < f4.explained && f4.explained <= 1.0, "{f1:?} then {f4:?}");
    for trained in [&one, &four] {
        assert_eq!(trained.layers()[g + 1..], student.layers()[g + 1..]);
        assert_ne!(trained.layers()[0], student.layers()[0]);
        assert_eq!(trained.output(), student.output());
    }
    let mut s = student.clone();
    let e = compress::train_hint(
        &mut s,
        &teacher,
        "conv9",
        "relu2",
        &data.train,
        &data.val,
        &cfg(1),
        Default::default(),
        &mut Quiet,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("conv9") && e.contains("fc1, relu1"), "{e}");
    // Through a recipe: hint, then distillation, from a teacher file.
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("t.skm");
    model::save(&t, &ModelFile::new(teacher.clone(), Provenance::default())).unwrap();
    let recipe = format!(
        "[train]\nlr = 0.05\nbatch = 32\n[distill]\nteacher = \"{}\"\n[[step]]\nmethod = \"hint\"\nhint = \"relu1\"\nguided = \"relu2\"\nepochs = 5\n[[step]]\nmethod = \"finetune\"\nepochs = 20\n",
        t.display()
    );
    let recipe = Recipe::parse(&recipe, Path::new(".")).unwrap();
    assert_eq!(recipe.steps[0].label(), "FitNets hint relu1 -> relu2");
    let done = compress::run_recipe(&student, &teacher, &recipe, &data, &mut Quiet).unwrap();
    assert_eq!(done.steps.len(), 2);
    assert!(done.steps[1].integer_accuracy > 0.9, "{:?}", done.steps);
    let explained = done.steps[0].hint_explained.expect("a hint step reports its fit");
    assert!(explained > 0.0 && explained <= 1.0, "{explained}");
    assert_eq!(done.steps[1].hint_explained, None);
}

/// Every recipe the repository ships reads and checks (the scripts and the
/// README name them).
#[test]
fn every_shipped_recipe_is_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("recipes");
    let mut read = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let recipe = Recipe::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            recipe.check().unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            read += 1;
        }
    }
    assert!(read >= 9, "{read} recipes");
}
