//! FitNets' first stage (Romero et al. 2015): the student's layers up to its
//! guided layer learn to predict the teacher's hint layer through a learned
//! regressor, by the L2 hint loss. The second stage is distillation of the
//! whole student (a later recipe step with the same teacher).

use ndarray::{ArrayView2, Axis};

use super::CompressError;
use crate::data::Split;
use crate::model::{ArchSpec, Layer, LayerSpec, Network, Shape};
use crate::train::{self, Hint, Hooks, Masks, Observer, TrainConfig};

/// How well a hint step's guided layer, through its regressor, came to
/// predict the teacher's hint.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HintFit {
    /// Mean hint loss per image over the last epoch's training batches.
    pub loss: f64,
    /// The fraction of the hint's variance the regressor's outputs explain on
    /// the measured images: `1 − Σ(r − u)² / Σ(u − ū)²`, with `ū` each hint
    /// value's mean over those images. 1 is a perfect fit; 0 is no better than
    /// predicting the mean; below 0 is worse.
    pub explained: f64,
}

/// `1 − Σ(pred − target)² / Σ(target − column mean)²` over every entry; 0
/// when the target does not vary (nothing to explain, nothing explained).
fn explained_variance(pred: ArrayView2<f32>, target: ArrayView2<f32>) -> f64 {
    let Some(mean) = target.mean_axis(Axis(0)) else { return 0.0 };
    let sq = |d: f32| f64::from(d) * f64::from(d);
    let residual: f64 = pred.iter().zip(target.iter()).map(|(&p, &t)| sq(p - t)).sum();
    let total: f64 = target
        .rows()
        .into_iter()
        .flat_map(|r| r.into_iter().zip(mean.iter()))
        .map(|(&t, &m)| sq(t - m))
        .sum();
    if total > 0.0 {
        1.0 - residual / total
    } else {
        0.0
    }
}

/// The regressor from the guided layer's output `from` onto the hint's `to`:
/// a convolution without padding whose kernel makes the maps the hint's size
/// (1x1 when they already are), or a dense layer for flat outputs; then a
/// flatten, so the trainer sees flat rows in (C, H, W) order.
fn regressor(from: Shape, to: Shape, seed: u64) -> Result<Vec<Layer>, String> {
    let layers = match (from, to) {
        (Shape::Image { h: hs, w: ws, .. }, Shape::Image { c, h, w }) => {
            if hs < h || ws < w || hs - h != ws - w {
                return Err(format!(
                    "the guided layer's maps ({from}) must be the hint's size ({to}) or larger \
                     by the same amount in rows and columns, for a convolution regressor"
                ));
            }
            vec![
                LayerSpec::Conv2d { out_channels: c, kernel: hs - h + 1, stride: 1, padding: 0 },
                LayerSpec::Flatten,
            ]
        }
        (Shape::Image { .. }, Shape::Flat(n)) => {
            vec![LayerSpec::Flatten, LayerSpec::Dense { out: n }]
        }
        (Shape::Flat(_), Shape::Flat(n)) => vec![LayerSpec::Dense { out: n }],
        (Shape::Flat(_), Shape::Image { .. }) => {
            return Err(format!(
                "a flat guided layer ({from}) cannot regress an image hint ({to}); pick a hint \
                 after the teacher's flatten"
            ))
        }
    };
    let spec = ArchSpec { input: from.dims(), layers };
    let built = spec.build(seed).map_err(|e| e.to_string())?;
    Ok(built
        .into_layers()
        .into_iter()
        .map(|l| Layer { name: format!("fitnets_regressor_{}", l.name), op: l.op })
        .collect())
}

/// Trains `student`'s layers up to `guided` (by name) to predict `teacher`'s
/// output at layer `hint` through a new regressor (seeded by `cfg.seed`),
/// then keeps those layers and drops the regressor. `masks` keep pruned or
/// frozen weights of those layers. Returns the fit: the last epoch's loss,
/// and the variance explained on `measure` (validation images).
#[allow(clippy::too_many_arguments)]
pub fn train_hint(
    student: &mut Network,
    teacher: &Network,
    hint: &str,
    guided: &str,
    data: &Split,
    measure: &Split,
    cfg: &TrainConfig,
    masks: Masks,
    observer: &mut dyn Observer,
) -> Result<HintFit, CompressError> {
    let find = |net: &Network, name: &str, whose: &str| {
        net.layer_index(name).ok_or_else(|| CompressError::Setting {
            setting: if whose == "teacher" { "hint" } else { "guided" },
            reason: format!(
                "names `{name}`, which the {whose} does not have; it has {}",
                net.layers().iter().map(|l| l.name.as_str()).collect::<Vec<_>>().join(", ")
            ),
        })
    };
    let h = find(teacher, hint, "teacher")?;
    let g = find(student, guided, "student")?;
    if teacher.input() != student.input() {
        return Err(CompressError::Config(format!(
            "the teacher takes {}, the student {}; they must agree",
            teacher.input(),
            student.input()
        )));
    }
    let target = teacher.output_of(h);
    let hint_net = Network::new(teacher.input(), teacher.layers()[..=h].to_vec())?;
    let mut layers = student.layers()[..=g].to_vec();
    let reg = regressor(student.output_of(g), target, cfg.seed)
        .map_err(|reason| CompressError::Setting { setting: "guided", reason })?;
    layers.extend(reg);
    let mut net = Network::new(student.input(), layers)?;
    let masks: Masks = masks.into_iter().filter(|(id, _)| id.layer <= g).collect();
    let loss = Hint { hint: &hint_net };
    let hooks = Hooks { masks, transform: None, loss: &loss, acts: None };
    // The trainer checks labels against the outputs: the hint's values are
    // the outputs here, so labels beyond them would be refused.
    let classes = data.y.iter().map(|&l| l as usize + 1).max().unwrap_or(0);
    if target.numel() < classes {
        return Err(CompressError::Setting {
            setting: "hint",
            reason: format!(
                "the hint layer `{hint}` gives {} values; pick one with at least {classes}",
                target.numel()
            ),
        });
    }
    let reports = train::train(&mut net, data, None, cfg, &hooks, observer)?;
    let explained = explained_variance(
        train::predict_all(&net, measure.x.view()).view(),
        train::predict_all(&hint_net, measure.x.view()).view(),
    );
    let mut trained = net.into_layers();
    trained.truncate(g + 1);
    let mut all = student.layers().to_vec();
    all.splice(..=g, trained);
    *student = Network::new(student.input(), all)?;
    Ok(HintFit { loss: reports.last().map_or(0.0, |r| r.loss), explained })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regressors_map_the_guided_shape_onto_the_hint() {
        let img = |c, h, w| Shape::Image { c, h, w };
        for (from, to) in [
            (img(4, 10, 10), img(16, 8, 8)),
            (img(4, 5, 5), img(6, 5, 5)),
            (img(4, 3, 3), Shape::Flat(20)),
            (Shape::Flat(30), Shape::Flat(12)),
        ] {
            let layers = regressor(from, to, 1).unwrap();
            let net = Network::new(from, layers).unwrap();
            assert_eq!(net.output().numel(), to.numel(), "{from} -> {to}");
            assert!(matches!(net.output(), Shape::Flat(_)));
        }
        assert!(regressor(img(4, 6, 6), img(4, 8, 8), 1).is_err());
        assert!(regressor(img(4, 9, 10), img(4, 8, 8), 1).is_err());
        assert!(regressor(Shape::Flat(9), img(1, 3, 3), 1).is_err());
    }

    #[test]
    fn explained_variance_is_one_for_the_target_and_zero_for_its_mean() {
        use ndarray::{array, Array2};
        let target = array![[1.0f32, 0.0, 4.0], [3.0, 2.0, 4.0], [2.0, 7.0, 4.0]];
        assert_eq!(explained_variance(target.view(), target.view()), 1.0);
        let mean = target.mean_axis(Axis(0)).unwrap();
        let means = Array2::from_shape_fn((3, 3), |(_, j)| mean[j]);
        assert!(explained_variance(means.view(), target.view()).abs() < 1e-12);
        // Off by 1 everywhere: 9 against the columns' 2 + 26 + 0 of variance.
        let off = target.mapv(|v| v + 1.0);
        let e = explained_variance(off.view(), target.view());
        assert!((e - (1.0 - 9.0 / 28.0)).abs() < 1e-12, "{e}");
        let flat = Array2::<f32>::ones((2, 2));
        assert_eq!(explained_variance(flat.view(), flat.view()), 0.0);
    }
}
