//! Saliencies against their brute-force definitions on tiny networks: OBD's
//! Hessian diagonal against finite differences of the gradient, Taylor
//! scores against the loss's change when a unit's map is scaled, APoZ against
//! zeros counted in a trace.

use ndarray::{Array2, Axis};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use shiftkit::compress::{
    apoz, hessian_diagonal, obd_saliency, prune_units_by, taylor_scores, unit_importance,
    UnitCriterion,
};
use shiftkit::data::Split;
use shiftkit::model::{ArchSpec, Network, Op, ParamKind};
use shiftkit::train::engine::{backward, forward, trace, Mode};
use shiftkit::train::{Loss, SoftmaxCrossEntropy};

fn split(seed: u64, rows: usize, features: usize, classes: u8) -> Split {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Split {
        x: Array2::from_shape_simple_fn((rows, features), || rng.gen_range(0.0..1.0)),
        y: (0..rows).map(|_| rng.gen_range(0..classes)).collect(),
    }
}

fn mlp() -> Network {
    ArchSpec::parse("mlp:5-7-6-3").unwrap().build(3).unwrap()
}

fn cnn() -> Network {
    let spec: ArchSpec = serde_json::from_str(
        r#"{"input": [2, 6, 5], "layers": [
            {"op": "conv2d", "out_channels": 3, "kernel": 3, "padding": 1},
            {"op": "relu"}, {"op": "maxpool2d", "kernel": 2},
            {"op": "flatten"}, {"op": "dense", "out": 4}]}"#,
    )
    .unwrap();
    spec.build(8).unwrap()
}

/// The mean cross-entropy and its gradient for every weight tensor.
fn loss_and_grad(net: &Network, data: &Split) -> (f64, Vec<(shiftkit::model::ParamId, Vec<f64>)>) {
    let (out, tape) = forward(net, data.x.view(), Mode::Eval);
    let (loss, dy) = SoftmaxCrossEntropy.loss_sum(out.view(), data.x.view(), &data.y);
    let (grads, _) = backward(net, &tape, dy, false);
    let n = data.len() as f64;
    let weights = grads
        .items
        .into_iter()
        .filter(|(id, _)| id.kind == ParamKind::Weight)
        .map(|(id, g)| (id, g.iter().map(|&v| v as f64 / n).collect()))
        .collect();
    (loss / n, weights)
}

/// The Hessian diagonal by central differences of the gradient, weight by weight.
fn finite_difference_diagonal(net: &Network, data: &Split, eps: f32) -> Vec<Vec<f64>> {
    let ids: Vec<_> = loss_and_grad(net, data).1.into_iter().map(|(id, _)| id).collect();
    let mut out = Vec::new();
    for (t, id) in ids.iter().enumerate() {
        let len = net.params().iter().find(|(i, _)| i == id).unwrap().1.len();
        let mut diag = Vec::with_capacity(len);
        for k in 0..len {
            let at = |delta: f32| {
                let mut moved = net.clone();
                for (i, mut w) in moved.params_mut() {
                    if i == *id {
                        w.as_slice_mut().unwrap()[k] += delta;
                    }
                }
                loss_and_grad(&moved, data).1[t].1[k]
            };
            diag.push((at(eps) - at(-eps)) / (2.0 * eps as f64));
        }
        out.push(diag);
    }
    out
}

#[test]
fn obd_hessian_diagonal_is_the_exact_one() {
    for (what, net, features, classes) in [("mlp", mlp(), 5, 3), ("cnn", cnn(), 60, 4)] {
        let data = split(5, 12, features, classes);
        let h = hessian_diagonal(&net, data.x.view());
        let fd = finite_difference_diagonal(&net, &data, 1e-3);
        assert_eq!(h.len(), fd.len(), "{what}: one diagonal per weight tensor");
        let mut worst = 0f64;
        for ((_, ours), theirs) in h.iter().zip(&fd) {
            assert_eq!(ours.len(), theirs.len());
            for (&a, &b) in ours.iter().zip(theirs) {
                assert!(a >= 0.0, "{what}: a Gauss-Newton diagonal is never negative");
                let err = (a as f64 - b).abs() / (1e-3 + b.abs());
                worst = worst.max(err);
            }
        }
        assert!(worst < 2e-2, "{what}: worst relative difference {worst}");
        // ½·h·w², weight by weight.
        let s = obd_saliency(&net, data.x.view());
        for (id, w) in net.params() {
            if let (Some(s), Some(h)) = (s.get(&id), h.get(&id)) {
                for ((&s, &h), &w) in s.iter().zip(h).zip(w.iter()) {
                    assert!((s - 0.5 * h * w * w).abs() <= 1e-6 * (1.0 + s.abs()));
                }
            }
        }
    }
}

/// Scales unit `u` of weighted layer `layer` (weights and bias) by `f`: with a
/// ReLU after it and no batch norm, its activation map scales by `f`.
fn scaled(net: &Network, layer: usize, u: usize, f: f32) -> Network {
    let mut layers = net.layers().to_vec();
    match &mut layers[layer].op {
        Op::Dense(d) => {
            d.weight.row_mut(u).mapv_inplace(|v| v * f);
            d.bias[u] *= f;
        }
        Op::Conv2d(c) => {
            c.weight.index_axis_mut(Axis(0), u).mapv_inplace(|v| v * f);
            c.bias[u] *= f;
        }
        _ => unreachable!(),
    }
    Network::new(net.input(), layers).unwrap()
}

#[test]
fn taylor_scores_are_the_first_order_change_of_each_samples_loss() {
    for (what, net, layer, features, classes, positions) in
        [("mlp", mlp(), 0, 5, 3, 1.0), ("mlp", mlp(), 2, 5, 3, 1.0), ("cnn", cnn(), 0, 60, 4, 30.0)]
    {
        let data = split(9, 10, features, classes);
        let ours = taylor_scores(&net, layer, &data).unwrap();
        let units = net.output_of(layer).channels();
        assert_eq!(ours.len(), units);
        // The losses are f32: a wider step keeps their rounding out of the difference.
        let eps = 1e-2f32;
        for (u, &score) in ours.iter().enumerate() {
            let (up, down) = (scaled(&net, layer, u, 1.0 + eps), scaled(&net, layer, u, 1.0 - eps));
            let mut brute = 0f64;
            for r in 0..data.len() {
                let one = Split { x: data.x.select(Axis(0), &[r]), y: vec![data.y[r]] };
                let loss = |n: &Network| {
                    let (out, _) = forward(n, one.x.view(), Mode::Eval);
                    SoftmaxCrossEntropy.loss_sum(out.view(), one.x.view(), &one.y).0
                };
                brute += ((loss(&up) - loss(&down)) / (2.0 * eps as f64) / positions).abs();
            }
            brute /= data.len() as f64;
            assert!(
                (score - brute).abs() <= 1e-5 + 1e-2 * brute,
                "{what} layer {layer} unit {u}: {score} against {brute}"
            );
        }
    }
}

#[test]
fn apoz_counts_the_zeros_after_each_units_relu() {
    for (what, net, layer, relu, features, classes) in
        [("mlp", mlp(), 0, 1, 5, 3), ("cnn", cnn(), 0, 1, 60, 4)]
    {
        let data = split(2, 20, features, classes);
        let ours = apoz(&net, layer, &data).unwrap();
        let maps = &trace(&net, data.x.view())[relu];
        let units = net.output_of(layer).channels();
        let per = maps.ncols() / units;
        for (u, &z) in ours.iter().enumerate() {
            let zeros = (0..data.len())
                .flat_map(|r| (0..per).map(move |p| (r, u * per + p)))
                .filter(|&(r, c)| maps[[r, c]] == 0.0)
                .count();
            let expect = zeros as f64 / (data.len() * per) as f64;
            assert!((z - expect).abs() < 1e-12, "{what} unit {u}: {z} against {expect}");
        }
        assert!(ours.iter().any(|&z| z > 0.0 && z < 1.0), "{what}: some units are partly zero");
    }
    // The output layer has no ReLU after it.
    let net = mlp();
    let err = apoz(&net, 4, &split(2, 4, 5, 3)).unwrap_err().to_string();
    assert!(err.contains("fc3") && err.contains("ReLU"), "{err}");
}

#[test]
fn structured_pruning_removes_the_least_important_units() {
    let net = mlp();
    let data = split(4, 30, 5, 3);
    for criterion in [UnitCriterion::L1, UnitCriterion::Taylor, UnitCriterion::Apoz] {
        let score = unit_importance(&net, 0, criterion, &data).unwrap();
        let pruned = prune_units_by(&net, 0, 3, &score).unwrap();
        assert_eq!(pruned.output_of(0).channels(), 4);
        // The kept units are the 4 most important, in their order.
        let mut order: Vec<usize> = (0..7).collect();
        order.sort_by(|&a, &b| score[a].total_cmp(&score[b]).then(a.cmp(&b)));
        let mut keep = order[3..].to_vec();
        keep.sort();
        let (Op::Dense(before), Op::Dense(after)) = (&net.layers()[0].op, &pruned.layers()[0].op)
        else {
            panic!()
        };
        assert_eq!(after.weight, before.weight.select(Axis(0), &keep), "{criterion:?}");
    }
    assert!(prune_units_by(&net, 0, 1, &[1.0; 6]).is_err(), "one score per unit");
    let e = taylor_scores(&net, 4, &data).unwrap_err().to_string();
    assert!(e.contains("fc3") && e.contains("outputs"), "{e}");
}
