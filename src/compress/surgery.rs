//! Passes that change the network's shape: structured L1 pruning of neurons and
//! filters (Li et al. 2017), data-free neuron merging (Srinivas & Babu 2015)
//! and truncated SVD of dense layers. Each returns a new, smaller network; the
//! layers they touch are named in errors.

use ndarray::{Array1, Array2, Axis};

use super::CompressError;
use crate::model::{Network, Op, Shape};

fn config(msg: String) -> CompressError {
    CompressError::Config(msg)
}

/// The L1 norm of each unit's (neuron's or filter's) incoming weights in
/// weighted layer `layer`.
pub fn l1_norms(net: &Network, layer: usize) -> Result<Vec<f64>, CompressError> {
    Ok(match &net.layers().get(layer).map(|l| &l.op) {
        Some(Op::Dense(d)) => {
            d.weight.rows().into_iter().map(|r| r.iter().map(|v| v.abs() as f64).sum()).collect()
        }
        Some(Op::Conv2d(c)) => {
            c.weight.axis_iter(Axis(0)).map(|f| f.iter().map(|v| v.abs() as f64).sum()).collect()
        }
        _ => return Err(config(format!("layer {layer} is not a dense or convolution layer"))),
    })
}

/// The units of weighted layer `layer` in order of L1 norm of their incoming
/// weights, smallest first (ties by index).
pub fn l1_order(net: &Network, layer: usize) -> Result<Vec<usize>, CompressError> {
    Ok(order_by(&l1_norms(net, layer)?))
}

/// Indices in order of `scores`, smallest first (ties by index).
fn order_by(scores: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]).then(a.cmp(&b)));
    order
}

/// Removes the `remove` output units of weighted layer `layer` with the
/// smallest L1 norm, with the batch-norm channels after it and the matching
/// inputs of the next weighted layer. The last weighted layer (the network's
/// outputs) cannot shrink.
pub fn prune_units(net: &Network, layer: usize, remove: usize) -> Result<Network, CompressError> {
    prune_units_by(net, layer, remove, &l1_norms(net, layer)?)
}

/// Removes the `remove` output units of weighted layer `layer` of least
/// `importance` (one score per unit), as [`prune_units`] does.
pub fn prune_units_by(
    net: &Network,
    layer: usize,
    remove: usize,
    importance: &[f64],
) -> Result<Network, CompressError> {
    let name = |i: usize| net.layers()[i].name.clone();
    let units = net.output_of(layer).channels();
    if importance.len() != units {
        return Err(config(format!(
            "layer `{}` has {units} units; {} scores were given",
            name(layer),
            importance.len()
        )));
    }
    if remove >= units {
        return Err(config(format!(
            "layer `{}` has {units} units; removing {remove} would leave none",
            name(layer)
        )));
    }
    let mut drop: Vec<usize> = order_by(importance).into_iter().take(remove).collect();
    drop.sort_unstable();
    let keep: Vec<usize> = (0..units).filter(|u| drop.binary_search(u).is_err()).collect();
    remove_units(net, layer, &keep)
}

/// Keeps only units `keep` (in order) of weighted layer `layer`, following the
/// change through batch norms, pooling, ReLU and flatten into the next weighted
/// layer's inputs.
fn remove_units(net: &Network, layer: usize, keep: &[usize]) -> Result<Network, CompressError> {
    let mut layers = net.layers().to_vec();
    let lname = layers[layer].name.clone();
    match &mut layers[layer].op {
        Op::Dense(d) => {
            d.weight = d.weight.select(Axis(0), keep);
            d.bias = d.bias.select(Axis(0), keep);
        }
        Op::Conv2d(c) => {
            c.weight = c.weight.select(Axis(0), keep);
            c.bias = c.bias.select(Axis(0), keep);
        }
        _ => return Err(config(format!("layer `{lname}` is not a dense or convolution layer"))),
    }
    // Values per unit between here and the next weighted layer (1 until a
    // flatten turns a channel into h*w features).
    let mut per_unit = 1usize;
    let mut next = None;
    for (i, l) in layers.iter_mut().enumerate().skip(layer + 1) {
        let input = net.input_of(i);
        match &mut l.op {
            Op::BatchNorm(bn) => {
                bn.gamma = bn.gamma.select(Axis(0), keep);
                bn.beta = bn.beta.select(Axis(0), keep);
                bn.running_mean = bn.running_mean.select(Axis(0), keep);
                bn.running_var = bn.running_var.select(Axis(0), keep);
            }
            Op::Relu | Op::MaxPool2d(_) => {}
            Op::Flatten => {
                if let Shape::Image { h, w, .. } = input {
                    per_unit = h * w;
                }
            }
            Op::Dense(d) => {
                let cols: Vec<usize> =
                    keep.iter().flat_map(|&u| u * per_unit..(u + 1) * per_unit).collect();
                d.weight = d.weight.select(Axis(1), &cols);
                next = Some(i);
                break;
            }
            Op::Conv2d(c) => {
                c.weight = c.weight.select(Axis(1), keep);
                next = Some(i);
                break;
            }
        }
    }
    if next.is_none() {
        return Err(config(format!(
            "layer `{lname}` makes the network's outputs; only hidden layers can lose units"
        )));
    }
    Ok(Network::new(net.input(), layers)?)
}

/// Data-free neuron merging of dense layer `layer` (Srinivas & Babu 2015):
/// `count` times, the pair `(i, j)` of lowest saliency
/// `s_ij = <a_j^2> * ||W_i - W_j||^2` (incoming weights with bias; `a_j` the
/// outgoing weights of `j` into the next dense layer) loses `j`, and `i` takes
/// its outgoing weights: `a_i <- a_i + a_j`. Only a ReLU may stand between the
/// two dense layers. Returns the new network and the merged pairs `(i, j)` in
/// the original numbering.
pub fn merge_neurons(
    net: &Network,
    layer: usize,
    count: usize,
) -> Result<(Network, Vec<(usize, usize)>), CompressError> {
    let lname = net.layers().get(layer).map(|l| l.name.clone()).unwrap_or_default();
    let Some(Op::Dense(d)) = net.layers().get(layer).map(|l| &l.op) else {
        return Err(config(format!("neuron merging needs a dense layer; `{lname}` is not one")));
    };
    let mut next = None;
    for i in layer + 1..net.layers().len() {
        match &net.layers()[i].op {
            Op::Relu => {}
            Op::Dense(_) => {
                next = Some(i);
                break;
            }
            other => {
                return Err(config(format!(
                    "neuron merging of `{lname}` needs only a ReLU before the next dense layer, \
                     found {} `{}`",
                    other.as_str(),
                    net.layers()[i].name
                )))
            }
        }
    }
    let Some(next) = next else {
        return Err(config(format!(
            "layer `{lname}` makes the network's outputs; only hidden layers can merge neurons"
        )));
    };
    let n = d.out_features();
    if count >= n {
        return Err(config(format!(
            "layer `{lname}` has {n} neurons; merging {count} away would leave none"
        )));
    }
    let Op::Dense(out) = &net.layers()[next].op else { unreachable!("found above") };
    // Incoming vectors [W_i, b_i] and their pairwise squared distances, once:
    // merging changes only outgoing weights.
    let incoming: Array2<f64> = ndarray::concatenate(
        Axis(1),
        &[d.weight.mapv(f64::from).view(), d.bias.mapv(f64::from).insert_axis(Axis(1)).view()],
    )
    .expect("same row count");
    let sq: Array1<f64> = incoming.rows().into_iter().map(|r| r.dot(&r)).collect();
    let gram = incoming.dot(&incoming.t());
    let dist = |i: usize, j: usize| (sq[i] + sq[j] - 2.0 * gram[[i, j]]).max(0.0);
    let mut a: Array2<f64> = out.weight.mapv(f64::from); // [m, n]: column j is a_j
                                                         // <a_j^2> up to the constant 1/m, which does not change which pair is lowest.
    let sum_sq = |a: &Array2<f64>, j: usize| a.column(j).iter().map(|v| v * v).sum::<f64>();
    let mut alive = vec![true; n];
    let mut strength: Vec<f64> = (0..n).map(|j| sum_sq(&a, j)).collect();
    let mut merged = Vec::with_capacity(count);
    for _ in 0..count {
        let mut best: Option<(f64, usize, usize)> = None;
        for j in (0..n).filter(|&j| alive[j]) {
            for i in (0..n).filter(|&i| alive[i] && i != j) {
                let s = strength[j] * dist(i, j);
                if best.is_none_or(|b| s < b.0) {
                    best = Some((s, i, j));
                }
            }
        }
        let (_, i, j) = best.expect("at least two neurons are alive");
        let aj = a.column(j).to_owned();
        let mut ai = a.column_mut(i);
        ai += &aj;
        alive[j] = false;
        strength[i] = sum_sq(&a, i);
        merged.push((i, j));
    }
    let keep: Vec<usize> = (0..n).filter(|&j| alive[j]).collect();
    let mut layers = net.layers().to_vec();
    if let Op::Dense(o) = &mut layers[next].op {
        o.weight = a.mapv(|v| v as f32);
    }
    let with_sums = Network::new(net.input(), layers)?;
    Ok((remove_units(&with_sums, layer, &keep)?, merged))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::ArchSpec;
    use crate::train::engine::{predict, trace};

    /// A small MLP and a batch for it (the low-rank tests use them too).
    pub(crate) fn net() -> Network {
        ArchSpec::parse("mlp:12-9-7-4").unwrap().build(5).unwrap()
    }

    pub(crate) fn x() -> Array2<f32> {
        Array2::from_shape_fn((6, 12), |(i, j)| ((i * 31 + j * 17) % 23) as f32 / 23.0 - 0.4)
    }

    #[test]
    fn l1_pruning_keeps_the_untouched_neurons_outputs() {
        let net = net();
        let order = l1_order(&net, 0).unwrap();
        let pruned = prune_units(&net, 0, 3).unwrap();
        let Op::Dense(d) = &pruned.layers()[0].op else { panic!() };
        assert_eq!(d.out_features(), 6);
        let Op::Dense(d2) = &pruned.layers()[2].op else { panic!() };
        assert_eq!(d2.in_features(), 6);
        let mut keep: Vec<usize> = order[3..].to_vec();
        keep.sort();
        let before = &trace(&net, x().view())[0];
        let after = &trace(&pruned, x().view())[0];
        assert_eq!(before.select(Axis(1), &keep), *after);
    }

    #[test]
    fn l1_pruning_of_filters_follows_batch_norm_and_flatten() {
        let spec: ArchSpec = serde_json::from_str(
            r#"{"input": [2, 6, 6], "layers": [
                {"op": "conv2d", "out_channels": 5, "kernel": 3, "stride": 1, "padding": 1},
                {"op": "batchnorm"}, {"op": "relu"}, {"op": "maxpool2d", "kernel": 2},
                {"op": "flatten"}, {"op": "dense", "out": 4}]}"#,
        )
        .unwrap();
        let mut layers = spec.build(7).unwrap().into_layers();
        if let Op::BatchNorm(bn) = &mut layers[1].op {
            bn.gamma = Array1::from(vec![0.5, 1.5, 2.0, 0.7, 1.1]);
            bn.running_mean = Array1::from(vec![0.1, -0.2, 0.3, 0.0, 0.05]);
        }
        let net = Network::new(Shape::Image { c: 2, h: 6, w: 6 }, layers).unwrap();
        let order = l1_order(&net, 0).unwrap();
        let pruned = prune_units(&net, 0, 2).unwrap();
        let mut keep = order[2..].to_vec();
        keep.sort();
        let x = Array2::from_shape_fn((3, 72), |(i, j)| ((i * 13 + j * 7) % 11) as f32 / 11.0);
        let (before, after) = (trace(&net, x.view()), trace(&pruned, x.view()));
        // The pooled maps of the kept filters are unchanged, channel by channel (9 values each).
        let cols: Vec<usize> = keep.iter().flat_map(|&c| c * 9..(c + 1) * 9).collect();
        assert_eq!(before[3].select(Axis(1), &cols), after[3]);
        let Op::Dense(d) = &pruned.layers()[5].op else { panic!() };
        assert_eq!(d.in_features(), 27);
        let Op::Dense(orig) = &net.layers()[5].op else { panic!() };
        assert_eq!(d.weight, orig.weight.select(Axis(1), &cols));
    }

    #[test]
    fn output_layers_cannot_lose_units() {
        let net = net();
        assert!(prune_units(&net, 4, 1).unwrap_err().to_string().contains("outputs"));
        assert!(prune_units(&net, 0, 9).is_err());
    }

    #[test]
    fn merging_identical_neurons_changes_nothing() {
        let mut net = net();
        // Neuron 5 becomes a copy of neuron 2.
        let mut layers = net.layers().to_vec();
        if let Op::Dense(d) = &mut layers[0].op {
            let row = d.weight.row(2).to_owned();
            d.weight.row_mut(5).assign(&row);
            d.bias[5] = d.bias[2];
        }
        net = Network::new(net.input(), layers).unwrap();
        let (merged, pairs) = merge_neurons(&net, 0, 1).unwrap();
        assert!(pairs == vec![(2, 5)] || pairs == vec![(5, 2)], "{pairs:?}");
        let (a, b) = (predict(&net, x().view()), predict(&merged, x().view()));
        assert!((a - b).iter().all(|d| d.abs() < 1e-5));
        let Op::Dense(d) = &merged.layers()[0].op else { panic!() };
        assert_eq!(d.out_features(), 8);
    }
}
