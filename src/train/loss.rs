//! Losses: the pluggable objective of the training loop.

use ndarray::{Array2, ArrayView2, Axis};

use super::engine::predict;
use super::TrainError;
use crate::model::Network;

/// A training objective over a batch of network outputs.
///
/// `loss_sum` returns the loss summed over the rows and its gradient with respect
/// to the outputs (of the sum, not the mean): the trainer scales by the batch
/// size, so a batch split into shards gives the same update as the whole.
pub trait Loss: Sync {
    fn loss_sum(
        &self,
        outputs: ArrayView2<f32>,
        inputs: ArrayView2<f32>,
        labels: &[u8],
    ) -> (f64, Array2<f32>);

    /// The objective of epoch `epoch` (counted from 1) of `epochs`, when it
    /// changes during training (an annealed weight); `None`: `self` throughout.
    fn at_epoch(&self, _epoch: usize, _epochs: usize) -> Option<Box<dyn Loss + '_>> {
        None
    }
}

/// Softmax followed by cross-entropy against the labels.
#[derive(Clone, Copy, Debug, Default)]
pub struct SoftmaxCrossEntropy;

impl Loss for SoftmaxCrossEntropy {
    fn loss_sum(
        &self,
        outputs: ArrayView2<f32>,
        _inputs: ArrayView2<f32>,
        labels: &[u8],
    ) -> (f64, Array2<f32>) {
        let mut grad = softmax(outputs, 1.0);
        let mut loss = 0.0f64;
        for ((z, mut row), &label) in outputs.rows().into_iter().zip(grad.rows_mut()).zip(labels) {
            // -log softmax(z)[label] = logsumexp(z) - z[label]; a non-finite output
            // gives a non-finite loss, which the trainer reports as divergence.
            let max = z.iter().cloned().fold(f32::NEG_INFINITY, f32::max) as f64;
            let lse = max + z.iter().map(|&v| (v as f64 - max).exp()).sum::<f64>().ln();
            loss += lse - z[label as usize] as f64;
            row[label as usize] -= 1.0;
        }
        (loss, grad)
    }
}

/// Row-wise softmax of `z / temperature`, computed stably.
pub fn softmax(z: ArrayView2<f32>, temperature: f32) -> Array2<f32> {
    let mut out = z.mapv(|v| v / temperature);
    for mut row in out.axis_iter_mut(Axis(0)) {
        let max = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        row.mapv_inplace(|v| (v - max).exp());
        let sum = row.sum();
        row.mapv_inplace(|v| v / sum);
    }
    out
}

/// Knowledge distillation (Hinton et al. 2015):
/// `(1-λ)·CE(labels, softmax(z_s)) + λ·T²·KL(softmax(z_t/T) ‖ softmax(z_s/T))`,
/// with the teacher's logits `z_t` computed from the same inputs (eval mode).
/// The `T²` keeps the soft term's gradient on the scale of the hard one.
///
/// With `lambda_end`, `λ` is annealed: it moves linearly from `lambda` in the
/// first epoch of a training run to `lambda_end` in the last (FitNets' second
/// stage lowers the teacher's weight this way, Romero et al. 2015).
#[derive(Clone, Copy)]
pub struct Distillation<'a> {
    pub teacher: &'a Network,
    pub temperature: f32,
    pub lambda: f32,
    pub lambda_end: Option<f32>,
}

impl Distillation<'_> {
    /// Checks `T > 0` and `λ` (and its annealed end) in `[0, 1]`, and that the
    /// teacher takes the student's inputs and gives its outputs.
    pub fn check(&self, student: &Network) -> Result<(), TrainError> {
        check_distill(self.temperature, self.lambda, self.lambda_end)?;
        if self.teacher.input() != student.input() || self.teacher.output() != student.output() {
            return Err(TrainError::Config(format!(
                "the teacher maps {} to {}, the student {} to {}; they must agree",
                self.teacher.input(),
                self.teacher.output(),
                student.input(),
                student.output()
            )));
        }
        Ok(())
    }
}

/// Checks distillation settings: `T > 0`, and `λ` and its annealed end in `[0, 1]`.
pub fn check_distill(
    temperature: f32,
    lambda: f32,
    lambda_end: Option<f32>,
) -> Result<(), TrainError> {
    if !(temperature > 0.0 && temperature.is_finite()) {
        return Err(TrainError::Config(format!(
            "distillation temperature must be positive, got {}",
            temperature
        )));
    }
    let weights = [("lambda", Some(lambda)), ("lambda_end", lambda_end)];
    for (name, weight) in weights {
        if let Some(w) = weight.filter(|w| !(0.0..=1.0).contains(w)) {
            return Err(TrainError::Config(format!(
                "distillation weight {name} must be in [0, 1], got {w}"
            )));
        }
    }
    Ok(())
}

impl Loss for Distillation<'_> {
    fn loss_sum(
        &self,
        outputs: ArrayView2<f32>,
        inputs: ArrayView2<f32>,
        labels: &[u8],
    ) -> (f64, Array2<f32>) {
        let (hard, mut grad) = SoftmaxCrossEntropy.loss_sum(outputs, inputs, labels);
        let (t, lambda) = (self.temperature, self.lambda);
        grad.mapv_inplace(|g| (1.0 - lambda) * g);
        let teacher = predict(self.teacher, inputs);
        let pt = softmax(teacher.view(), t);
        let ps = softmax(outputs, t);
        let mut soft = 0.0f64;
        for ((pt, ps), z) in pt.rows().into_iter().zip(ps.rows()).zip(outputs.rows()) {
            // KL(pt || ps) with log ps from a stable log-sum-exp of z / T.
            let max = z.iter().cloned().fold(f32::NEG_INFINITY, f32::max) as f64 / t as f64;
            let lse = max + z.iter().map(|&v| (v as f64 / t as f64 - max).exp()).sum::<f64>().ln();
            for ((&p, _), &zi) in pt.iter().zip(ps.iter()).zip(z.iter()) {
                if p > 0.0 {
                    soft += p as f64 * ((p as f64).ln() - (zi as f64 / t as f64 - lse));
                }
            }
        }
        // d/dz_s of λ·T²·KL = λ·T·(softmax(z_s/T) - softmax(z_t/T)).
        grad.zip_mut_with(&(&ps - &pt), |g, &d| *g += lambda * t * d);
        ((1.0 - lambda as f64) * hard + lambda as f64 * (t * t) as f64 * soft, grad)
    }

    fn at_epoch(&self, epoch: usize, epochs: usize) -> Option<Box<dyn Loss + '_>> {
        let end = self.lambda_end?;
        let progress = if epochs > 1 { (epoch - 1) as f32 / (epochs - 1) as f32 } else { 0.0 };
        let lambda = self.lambda + (end - self.lambda) * progress;
        tracing::debug!(epoch, lambda, "annealed distillation weight");
        Some(Box::new(Distillation { lambda, lambda_end: None, ..*self }))
    }
}

/// FitNets' hint loss (Romero et al. 2015): `½·mean_j (r_j(v(x)) − u_j(x))²`
/// per row, with `u(x)` the teacher's output at its hint layer (`hint`: the
/// teacher's layers up to it, run in eval mode) and `r(v(x))` the outputs
/// being trained (the student up to its guided layer, then the regressor),
/// both flattened in (C, H, W) order. The paper's `½·‖r − u‖²` divided by
/// the hint's size, so that its gradients do not grow with the hint (a
/// 16x10x10 hint would scale them by 1,600). Labels are not read.
pub struct Hint<'a> {
    pub hint: &'a Network,
}

impl Loss for Hint<'_> {
    fn loss_sum(
        &self,
        outputs: ArrayView2<f32>,
        inputs: ArrayView2<f32>,
        _labels: &[u8],
    ) -> (f64, Array2<f32>) {
        let target = predict(self.hint, inputs);
        let size = outputs.ncols().max(1) as f32;
        let grad = (&outputs - &target).mapv(|d| d / size);
        let loss = grad.iter().map(|&g| 0.5 * size as f64 * g as f64 * g as f64).sum();
        (loss, grad)
    }
}
