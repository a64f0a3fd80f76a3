//! Weight sharing (Han et al. 2016, Deep Compression): per layer, the nonzero
//! weights are clustered by 1-D k-means into `2^bits` centroids (linear
//! initialization); every weight becomes its centroid, and fine-tuning moves
//! each centroid by the summed updates of its weights. Pruned (zero) weights
//! stay zero and belong to no cluster.

use std::collections::BTreeMap;
use std::sync::Mutex;

use ndarray::{ArrayViewD, ArrayViewMutD};

use crate::model::ParamId;
use crate::train::WeightTransform;

/// Centroids and the cluster of every weight of one layer.
#[derive(Clone, Debug, PartialEq)]
pub struct Clusters {
    /// Ascending.
    pub centroids: Vec<f32>,
    /// Per weight (flat order): its centroid, or `None` for a pruned weight.
    pub assign: Vec<Option<u32>>,
}

/// Lloyd iterations at most; 1-D k-means on sorted values converges well before.
const MAX_ITERATIONS: usize = 100;

/// Clusters the nonzero entries of `w` into at most `2^bits` centroids,
/// initialized evenly between the smallest and largest weight.
pub fn kmeans(w: &[f32], bits: u32) -> Clusters {
    let k = 1usize << bits;
    let mut values: Vec<(f32, usize)> =
        w.iter().enumerate().filter(|(_, v)| **v != 0.0).map(|(i, &v)| (v, i)).collect();
    if values.is_empty() {
        return Clusters { centroids: Vec::new(), assign: vec![None; w.len()] };
    }
    values.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let (lo, hi) = (values[0].0 as f64, values[values.len() - 1].0 as f64);
    let mut c: Vec<f64> = if k == 1 || lo == hi {
        vec![(lo + hi) / 2.0]
    } else {
        (0..k).map(|i| lo + (hi - lo) * i as f64 / (k - 1) as f64).collect()
    };
    // Sorted values and ascending centroids: cluster boundaries are midpoints,
    // so each cluster is a contiguous run of the sorted values.
    let mut cut = vec![0usize; c.len() + 1];
    for _ in 0..MAX_ITERATIONS {
        cut[0] = 0;
        for j in 1..c.len() {
            let mid = (c[j - 1] + c[j]) / 2.0;
            cut[j] = values.partition_point(|v| (v.0 as f64) < mid);
        }
        cut[c.len()] = values.len();
        let mut moved = false;
        for j in 0..c.len() {
            let run = &values[cut[j]..cut[j + 1]];
            if run.is_empty() {
                continue; // an empty cluster keeps its centroid
            }
            let mean = run.iter().map(|v| v.0 as f64).sum::<f64>() / run.len() as f64;
            moved |= mean != c[j];
            c[j] = mean;
        }
        if !moved {
            break;
        }
    }
    // Drop empty clusters; renumber.
    let mut centroids = Vec::new();
    let mut assign = vec![None; w.len()];
    for j in 0..c.len() {
        let run = &values[cut[j]..cut[j + 1]];
        if run.is_empty() {
            continue;
        }
        let id = centroids.len() as u32;
        centroids.push(c[j] as f32);
        for &(_, i) in run {
            assign[i] = Some(id);
        }
    }
    Clusters { centroids, assign }
}

impl Clusters {
    /// Writes each weight's centroid (zero for pruned weights).
    pub fn apply(&self, mut w: ArrayViewMutD<f32>) {
        for (v, a) in w.iter_mut().zip(&self.assign) {
            *v = a.map_or(0.0, |a| self.centroids[a as usize]);
        }
    }
}

/// The fine-tuning of shared weights as a trainer hook: the optimizer moves
/// each weight; after every update each centroid moves by the sum of its
/// weights' moves (the summed gradient of Deep Compression) and every weight
/// is set back to its centroid. Weights therefore always equal their
/// centroids, and the forward pass needs no transform.
pub struct SharedWeights {
    clusters: Mutex<BTreeMap<ParamId, Clusters>>,
}

impl SharedWeights {
    pub fn new(clusters: BTreeMap<ParamId, Clusters>) -> SharedWeights {
        SharedWeights { clusters: Mutex::new(clusters) }
    }

    pub fn into_clusters(self) -> BTreeMap<ParamId, Clusters> {
        self.clusters.into_inner().expect("no thread panicked holding the lock")
    }
}

impl WeightTransform for SharedWeights {
    fn forward(&self, _id: ParamId, _w: ArrayViewD<f32>) -> Option<ndarray::ArrayD<f32>> {
        None
    }

    fn after_update(&self, id: ParamId, mut w: ArrayViewMutD<f32>) {
        let mut all = self.clusters.lock().expect("no thread panicked holding the lock");
        let Some(cl) = all.get_mut(&id) else { return };
        let mut moves = vec![0f64; cl.centroids.len()];
        for (v, a) in w.iter().zip(&cl.assign) {
            if let Some(a) = a {
                moves[*a as usize] += (*v - cl.centroids[*a as usize]) as f64;
            }
        }
        for (c, m) in cl.centroids.iter_mut().zip(moves) {
            *c = (*c as f64 + m) as f32;
        }
        cl.apply(w.view_mut());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn well_separated_groups_are_found() {
        let w = [0.1f32, 0.11, 0.09, -0.5, -0.52, -0.48, 0.0, 0.9];
        let c = kmeans(&w, 2);
        assert_eq!(c.assign[6], None, "zero is pruned, not clustered");
        assert_eq!(c.assign[0], c.assign[1]);
        assert_eq!(c.assign[3], c.assign[5]);
        assert_ne!(c.assign[0], c.assign[3]);
        assert!(c.centroids.len() <= 4);
        let mean = (0.1f32 + 0.11 + 0.09) / 3.0;
        assert!((c.centroids[c.assign[0].unwrap() as usize] - mean).abs() < 1e-6);
    }

    #[test]
    fn after_update_moves_centroids_by_summed_updates() {
        let id = ParamId { layer: 0, kind: crate::model::ParamKind::Weight };
        let cl =
            Clusters { centroids: vec![-1.0, 1.0], assign: vec![Some(0), Some(1), Some(1), None] };
        let shared = SharedWeights::new(BTreeMap::from([(id, cl)]));
        // The optimizer moved the weights (they were -1, 1, 1, 0).
        let mut w = ndarray::arr1(&[-0.9f32, 1.5, 0.75, 0.0]).into_dyn();
        shared.after_update(id, w.view_mut());
        assert_eq!(w.as_slice().unwrap(), &[-0.9, 1.25, 1.25, 0.0]);
    }

    proptest! {
        #[test]
        fn at_most_two_to_the_bits_values(ws in proptest::collection::vec(-1.0f32..1.0, 1..300), bits in 1u32..=5) {
            let c = kmeans(&ws, bits);
            prop_assert!(c.centroids.len() <= 1 << bits);
            prop_assert!(c.centroids.windows(2).all(|p| p[0] < p[1]));
            let mut w = ndarray::Array1::from(ws.clone()).into_dyn();
            c.apply(w.view_mut());
            let distinct: std::collections::BTreeSet<u32> =
                w.iter().filter(|v| **v != 0.0).map(|v| v.to_bits()).collect();
            prop_assert!(distinct.len() <= 1 << bits);
            // Zeros stay zero; every weight takes its nearest centroid.
            for (orig, new) in ws.iter().zip(w.iter()) {
                prop_assert_eq!(*orig == 0.0, *new == 0.0);
                if *orig != 0.0 {
                    let best = c.centroids.iter().map(|c| (c - orig).abs()).fold(f32::INFINITY, f32::min);
                    prop_assert!((new - orig).abs() <= best + 1e-6);
                }
            }
        }
    }
}
