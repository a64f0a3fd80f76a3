//! Batch-norm folding: a batch norm right after a dense or convolution layer
//! becomes part of that layer's weights and bias (float, before quantization).

use ndarray::Axis;

use super::QuantError;
use crate::model::{Layer, Network, Op};
use crate::train::engine::bn_affine;

/// The same function without batch-norm layers: each one folds into the dense
/// or convolution layer before it (`w' = w * s`, `b' = b * s + t` with the
/// eval-mode affine map `s`, `t`). A batch norm anywhere else is an error.
pub fn fold_batchnorm(net: &Network) -> Result<Network, QuantError> {
    let mut layers: Vec<Layer> = Vec::with_capacity(net.layers().len());
    for (index, layer) in net.layers().iter().enumerate() {
        let Op::BatchNorm(bn) = &layer.op else {
            layers.push(layer.clone());
            continue;
        };
        let (scale, shift) = bn_affine(bn);
        let prev = layers.last_mut().filter(|p| matches!(p.op, Op::Dense(_) | Op::Conv2d(_)));
        let Some(prev) = prev else {
            return Err(QuantError::Layer {
                index,
                name: layer.name.clone(),
                op: "batchnorm",
                reason: "only a batch norm right after a dense or convolution layer can be \
                         folded into the integer network"
                    .into(),
            });
        };
        match &mut prev.op {
            Op::Dense(d) => {
                for (mut row, &s) in d.weight.axis_iter_mut(Axis(0)).zip(&scale) {
                    row.mapv_inplace(|w| w * s);
                }
                d.bias = &d.bias * &scale + &shift;
            }
            Op::Conv2d(c) => {
                for (mut k, &s) in c.weight.axis_iter_mut(Axis(0)).zip(&scale) {
                    k.mapv_inplace(|w| w * s);
                }
                c.bias = &c.bias * &scale + &shift;
            }
            _ => unreachable!("filtered above"),
        }
    }
    Ok(Network::new(net.input(), layers)?)
}
