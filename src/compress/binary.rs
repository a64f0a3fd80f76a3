//! Training towards binary (BinaryConnect, deterministic; BWN scale) and
//! ternary (TWN) weights through the straight-through estimator; the codes
//! themselves are `quant::code`.

use std::collections::BTreeSet;

use ndarray::{ArrayD, ArrayViewD, ArrayViewMutD};

use crate::model::ParamId;
use crate::quant::{code, Levels};
use crate::train::WeightTransform;

/// The training-time transform: forward with coded weights, straight-through
/// backward, real weights clipped to [-1, 1] after each update.
#[derive(Clone, Debug)]
pub struct Binarizer {
    pub params: BTreeSet<ParamId>,
    pub levels: Levels,
    pub scale: bool,
}

impl WeightTransform for Binarizer {
    fn forward(&self, id: ParamId, w: ArrayViewD<f32>) -> Option<ArrayD<f32>> {
        self.params.contains(&id).then(|| code(w, self.levels, self.scale).to_real())
    }

    fn after_update(&self, id: ParamId, mut w: ArrayViewMutD<f32>) {
        if self.params.contains(&id) {
            w.mapv_inplace(|v| v.clamp(-1.0, 1.0));
        }
    }
}
