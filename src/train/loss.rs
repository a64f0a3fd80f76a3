//! Losses: the pluggable objective of the training loop.

use ndarray::{Array2, ArrayView2, Axis};

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
