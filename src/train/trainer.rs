//! The training loop: mini-batches, data-parallel shards, and the hooks later
//! stages plug in (gradient masks, weight transforms, losses).

use std::time::Instant;

use ndarray::{ArrayD, ArrayView2, ArrayViewD, ArrayViewMutD, Axis};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;

use super::engine::{backward, forward_quantized, ActQuant, BatchStats, Grads, Mode, Quantizer};
use super::eval::{argmax_rows, check_split, evaluate, predict_all};
use super::loss::{Loss, SoftmaxCrossEntropy};
use super::optim::{LrSchedule, Masks, Optimizer, OptimizerConfig};
use super::TrainError;
use crate::data::Split;
use crate::model::{Network, ParamId};

/// A transform of the weights the forward pass sees, with a straight-through
/// backward: used by binarization and ternarization.
pub trait WeightTransform: Sync {
    /// The tensor the forward pass uses in place of `w`, or `None` to use `w`.
    fn forward(&self, id: ParamId, w: ArrayViewD<f32>) -> Option<ArrayD<f32>>;
    /// Maps the gradient with respect to the transformed tensor onto the real
    /// one. The default is the straight-through estimator: unchanged.
    fn backward(&self, _id: ParamId, _w: ArrayViewD<f32>, _grad: &mut ArrayD<f32>) {}
    /// Called on each real tensor after every update (for example to clip).
    fn after_update(&self, _id: ParamId, _w: ArrayViewMutD<f32>) {}
}

/// Quantization-aware training: which layers' outputs the forward pass
/// quantizes, and how, for the network as it is at the start of an epoch.
pub trait ActivationQuant: Sync {
    /// `(layer index, fake quantizer)` of every quantized output; an error
    /// says why the network cannot be quantized.
    fn quantizers(&self, net: &Network) -> Result<Vec<(usize, Quantizer)>, String>;
}

/// What a training run plugs into the loop.
pub struct Hooks<'a> {
    /// Gradient masks: masked-out weights never change.
    pub masks: Masks,
    /// Forward-weight transform with straight-through backward.
    pub transform: Option<&'a dyn WeightTransform>,
    /// The objective.
    pub loss: &'a dyn Loss,
    /// Fake-quantized activations (chosen again before every epoch), with
    /// straight-through gradients inside each format's range.
    pub acts: Option<&'a dyn ActivationQuant>,
}

impl Default for Hooks<'_> {
    fn default() -> Self {
        Hooks { masks: Masks::new(), transform: None, loss: &SoftmaxCrossEntropy, acts: None }
    }
}

/// Hyperparameters of a training run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub optimizer: OptimizerConfig,
    pub schedule: LrSchedule,
    /// Seeds the shuffling of every epoch.
    pub seed: u64,
}

/// Figures of one epoch.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EpochReport {
    /// Counted from 1.
    pub epoch: usize,
    /// Mean training loss.
    pub loss: f64,
    /// Accuracy on the training batches as they were seen.
    pub train_accuracy: f64,
    /// Accuracy on the validation split, when one was given.
    pub val_accuracy: Option<f64>,
    /// Wall time of the epoch's training steps (validation not included).
    pub seconds: f64,
}

/// Receives progress from the loop (the CLI draws progress bars with it).
pub trait Observer {
    fn epoch_start(&mut self, _epoch: usize, _batches: usize) {}
    fn batch_end(&mut self, _loss: f64, _accuracy: f64) {}
    fn epoch_end(&mut self, _report: &EpochReport) {}
}

/// An observer that ignores everything.
#[derive(Clone, Copy, Debug, Default)]
pub struct Quiet;
impl Observer for Quiet {}

/// Rows of a batch are split into this many shards, trained in parallel and
/// summed in order; fixed, so results do not depend on the thread count.
/// Batch norm sees each shard's statistics (ghost batch norm).
pub const SHARDS: usize = 2;

/// Trains `net` in place; returns one report per epoch.
pub fn train(
    net: &mut Network,
    data: &Split,
    validation: Option<&Split>,
    config: &TrainConfig,
    hooks: &Hooks<'_>,
    observer: &mut dyn Observer,
) -> Result<Vec<EpochReport>, TrainError> {
    check_split(net, data, "training")?;
    if let Some(v) = validation {
        check_split(net, v, "validation")?;
    }
    config.check()?;
    if let Some(what) = net.non_finite() {
        return Err(TrainError::Data(format!("the network to train is not finite: {what}")));
    }
    let lr = config.optimizer.lr();
    for (id, mask) in &hooks.masks {
        let shape_ok = net.params().iter().any(|(i, p)| i == id && p.shape() == mask.shape());
        if !shape_ok {
            return Err(TrainError::Config(format!("mask for {id} does not match its tensor")));
        }
    }
    // A network that gives every image one output before training (a layer
    // pruned to zeros) has not diverged; one that comes to during training has.
    let watch_collapse = {
        let t = hooks.transform.map(|t| transformed_network(net, t));
        let x = data.x.slice(ndarray::s![..data.len().min(config.batch_size), ..]);
        !one_output(predict_all(t.as_ref().unwrap_or(net), x).view(), x)
    };
    let mut optimizer = Optimizer::new(config.optimizer);
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut order: Vec<usize> = (0..data.len()).collect();
    let batches = data.len().div_ceil(config.batch_size);
    let mut reports = Vec::new();
    for epoch in 1..=config.epochs {
        let start = Instant::now();
        optimizer.set_lr(config.schedule.lr_at(lr, epoch, config.epochs));
        observer.epoch_start(epoch, batches);
        order.shuffle(&mut rng);
        let annealed = hooks.loss.at_epoch(epoch, config.epochs);
        let objective = annealed.as_deref().unwrap_or(hooks.loss);
        let quant = match hooks.acts {
            Some(acts) => {
                let t = hooks.transform.map(|t| transformed_network(net, t));
                acts.quantizers(t.as_ref().unwrap_or(net)).map_err(TrainError::Config)?
            }
            None => Vec::new(),
        };
        let (mut loss_sum, mut correct) = (0.0f64, 0usize);
        let mut collapsed = watch_collapse;
        for chunk in order.chunks(config.batch_size) {
            let x = data.x.select(Axis(0), chunk);
            let y: Vec<u8> = chunk.iter().map(|&i| data.y[i]).collect();
            let step = train_step(net, x.view(), &y, &mut optimizer, hooks, objective, &quant);
            if !step.loss.is_finite() {
                let what = "the loss is not finite".to_string();
                return Err(TrainError::Diverged { epoch, lr, what });
            }
            loss_sum += step.loss;
            correct += step.correct;
            collapsed &= step.collapsed;
            observer.batch_end(step.loss / y.len() as f64, step.correct as f64 / y.len() as f64);
        }
        // A weight gone NaN behind a ReLU leaves the loss finite.
        if let Some(what) = net.non_finite() {
            return Err(TrainError::Diverged { epoch, lr, what });
        }
        // So does a step too large that leaves every ReLU of a layer dead:
        // no gradient reaches the layers below it again, and every image gets
        // one output (in every batch of the epoch).
        if collapsed {
            let what = "the network gave every training image the same output".to_string();
            return Err(TrainError::Diverged { epoch, lr, what });
        }
        let seconds = start.elapsed().as_secs_f64();
        let report = EpochReport {
            epoch,
            loss: loss_sum / data.len() as f64,
            train_accuracy: correct as f64 / data.len() as f64,
            val_accuracy: validation.map(|v| evaluate(net, v)),
            seconds,
        };
        tracing::debug!(?report, "epoch done");
        observer.epoch_end(&report);
        reports.push(report);
    }
    Ok(reports)
}

struct StepResult {
    /// Summed over the batch.
    loss: f64,
    correct: usize,
    /// Every shard was [`ShardResult::collapsed`].
    collapsed: bool,
}

struct ShardResult {
    loss: f64,
    correct: usize,
    /// The shard's images differ, and the network's outputs for them do not.
    collapsed: bool,
    grads: Grads,
    stats: Vec<BatchStats>,
}

/// One optimizer step on one batch, with `objective` (the hooks' loss as it
/// is in this epoch) and the epoch's activation quantizers.
fn train_step(
    net: &mut Network,
    x: ArrayView2<f32>,
    y: &[u8],
    optimizer: &mut Optimizer,
    hooks: &Hooks<'_>,
    objective: &dyn Loss,
    quant: &ActQuant,
) -> StepResult {
    let transformed = hooks.transform.map(|t| transformed_network(net, t));
    let eff: &Network = transformed.as_ref().unwrap_or(net);
    let rows = x.nrows();
    let shard_len = rows.div_ceil(SHARDS);
    let ranges: Vec<(usize, usize)> =
        (0..rows).step_by(shard_len).map(|s| (s, (s + shard_len).min(rows))).collect();
    let results: Vec<ShardResult> = ranges
        .par_iter()
        .map(|&(a, b)| {
            let xs = x.slice(ndarray::s![a..b, ..]);
            let (out, tape) = forward_quantized(eff, xs, Mode::Train, quant);
            let (loss, dout) = objective.loss_sum(out.view(), xs, &y[a..b]);
            let correct = argmax_rows(out.view())
                .iter()
                .zip(&y[a..b])
                .filter(|(p, l)| **p == **l as usize)
                .count();
            let (grads, _) = backward(eff, &tape, dout, false);
            let collapsed = one_output(out.view(), xs);
            ShardResult { loss, correct, collapsed, grads, stats: tape.batch_stats }
        })
        .collect();
    let mut iter = results.into_iter();
    let first = iter.next().expect("a batch has at least one row");
    let (mut loss, mut correct, mut grads) = (first.loss, first.correct, first.grads);
    let mut collapsed = first.collapsed;
    let mut stats = vec![first.stats];
    for r in iter {
        loss += r.loss;
        correct += r.correct;
        collapsed &= r.collapsed;
        grads.add_assign(&r.grads);
        stats.push(r.stats);
    }
    let scale = 1.0 / rows as f32;
    for (_, g) in grads.items.iter_mut() {
        g.mapv_inplace(|v| v * scale);
    }
    if let Some(t) = hooks.transform {
        for ((id, w), (_, g)) in net.params().into_iter().zip(grads.items.iter_mut()) {
            t.backward(id, w, g);
        }
    }
    optimizer.step(net, &grads, &hooks.masks);
    if let Some(t) = hooks.transform {
        for (id, w) in net.params_mut() {
            t.after_update(id, w);
        }
    }
    update_running_stats(net, &stats);
    StepResult { loss, correct, collapsed }
}

/// Whether the images `x` differ (two at least) and the outputs `out` for
/// them do not.
fn one_output(out: ArrayView2<f32>, x: ArrayView2<f32>) -> bool {
    let same = |m: ArrayView2<f32>| m.rows().into_iter().all(|r| r == m.row(0));
    x.nrows() > 1 && same(out) && !same(x)
}

/// A copy of `net` with the transform applied to its tensors.
fn transformed_network(net: &Network, t: &dyn WeightTransform) -> Network {
    let mut eff = net.clone();
    for ((id, w), (_, mut e)) in net.params().into_iter().zip(eff.params_mut()) {
        if let Some(tw) = t.forward(id, w) {
            e.assign(&tw);
        }
    }
    eff
}

/// Folds the shards' batch statistics (averaged) into the running averages.
fn update_running_stats(net: &mut Network, shards: &[Vec<BatchStats>]) {
    let Some(first) = shards.first() else { return };
    for (k, s0) in first.iter().enumerate() {
        let n = shards.len() as f32;
        let mut mean = s0.mean.clone();
        let mut var = s0.var.clone();
        for other in &shards[1..] {
            mean += &other[k].mean;
            var += &other[k].var;
        }
        mean /= n;
        var /= n;
        let momentum = match &net.layers()[s0.layer].op {
            crate::model::Op::BatchNorm(bn) => bn.momentum,
            _ => unreachable!("batch statistics come from batch-norm layers"),
        };
        if let Some((rm, rv)) = net.batchnorm_stats_mut(s0.layer) {
            rm.zip_mut_with(&mean, |r, &m| *r = (1.0 - momentum) * *r + momentum * m);
            rv.zip_mut_with(&var, |r, &v| *r = (1.0 - momentum) * *r + momentum * v);
        }
    }
}
