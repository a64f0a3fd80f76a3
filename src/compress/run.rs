//! Runs a recipe: each step on the float network with its retraining, then
//! the integer network of the result, measured after every step.

use std::collections::BTreeMap;

use serde::Serialize;

use super::recipe::{Recipe, Step, StepKind};
use super::{
    defaults, kmeans, merge_masks, merge_neurons, prune_units_by, pruned_masks, run_inq, run_prune,
    svd_layer, train_hint, unit_importance, weighted_layers, Binarizer, CompressError, HintFit,
    InqConfig, InqObserver, PruneConfig, SharedWeights,
};
use crate::data::{Dataset, Split};
use crate::model::{Network, Op, ParamId, ParamKind};
use crate::quant::{self, code, AwareActivations, IntNetwork, Levels, WeightSpec};
use crate::report::ModelReport;
use crate::sim;
use crate::train::{
    self, ActivationQuant, Distillation, Hooks, Loss, Masks, SoftmaxCrossEntropy, TrainConfig,
};

/// Accuracy and size after one step.
#[derive(Clone, Debug, Serialize)]
pub struct StepRow {
    pub step: usize,
    pub method: String,
    /// The float network after the step.
    pub float_accuracy: f64,
    /// Its integer network (bit-exact simulator).
    pub integer_accuracy: f64,
    /// The integer network on the validation split.
    pub val_integer_accuracy: f64,
    /// Parameter bytes as `report::storage` counts them.
    pub bytes: u64,
    /// Float32 bytes of the original over `bytes`.
    pub compression: f64,
    /// Fraction of zero weights over all weighted layers.
    pub sparsity: f64,
    /// Weights of the weighted layers (structured pruning, merging and SVD change it).
    pub weights: usize,
    pub train_seconds: f64,
    /// A hint step's fit: the fraction of the teacher's hint variance that
    /// the guided layer, through the regressor, explains on validation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint_explained: Option<f64>,
}

/// What a recipe made.
#[derive(Clone, Debug)]
pub struct RecipeOutcome {
    /// The float network after the last step.
    pub net: Network,
    /// Its integer network.
    pub integer: IntNetwork,
    /// The survey row of the integer network (no name, accuracy or method yet).
    pub report: ModelReport,
    pub steps: Vec<StepRow>,
}

/// Runs `recipe` on `original`, retraining on `data.train`, calibrating on
/// `data.val` and measuring on `data.val` and `data.test`; `teacher` teaches
/// the steps that distill.
pub fn run_recipe(
    original: &Network,
    teacher: &Network,
    recipe: &Recipe,
    data: &Dataset,
    observer: &mut dyn InqObserver,
) -> Result<RecipeOutcome, CompressError> {
    recipe.check()?;
    let calibration = data.val.head(recipe.quantize.calibration);
    let aware = AwareActivations {
        calibration: calibration.x.view(),
        act_bits: recipe.quantize.act_bits,
        output_bits: recipe.quantize.output_bits,
    };
    let acts = recipe.quantize.qat.then_some(&aware as &dyn ActivationQuant);
    let mut state = State { net: original.clone(), coded: BTreeMap::new(), acts };
    let mut steps = Vec::new();
    let mut last = None;
    for (index, step) in recipe.steps.iter().enumerate() {
        tracing::info!(step = index + 1, method = %step.label(), "compressing");
        let in_step = |e: CompressError| e.in_step(index, step);
        let start = std::time::Instant::now();
        let distill = match (&recipe.distill, step.distill) {
            (Some(d), true) => Some(Distillation {
                teacher,
                temperature: d.temperature,
                lambda: d.lambda,
                lambda_end: d.lambda_end,
            }),
            _ => None,
        };
        if let Some(d) = &distill {
            d.check(&state.net).map_err(|e| in_step(e.into()))?;
        }
        let loss: &dyn Loss = match &distill {
            Some(d) => d,
            None => &SoftmaxCrossEntropy,
        };
        let cfg = recipe.step_config(step);
        let hint_fit = state.run(step, &cfg, loss, teacher, data, observer).map_err(in_step)?;
        let train_seconds = start.elapsed().as_secs_f64();
        let config = recipe.quantize.config(state.coded.clone());
        let q = quant::quantize(&state.net, calibration.x.view(), &config)
            .map_err(|e| in_step(e.into()))?;
        let integer_accuracy = sim::accuracy(&q, &data.test)?;
        let val_integer_accuracy = sim::accuracy(&q, &data.val)?;
        warn_if_collapsed(index, step, &cfg, val_integer_accuracy, data.classes);
        let report = ModelReport::new("", &step.label(), original, &q, None, None);
        let weights: usize = report.layers.iter().map(|l| l.storage.weights).sum();
        let zeros: usize =
            report.layers.iter().map(|l| l.storage.weights - l.storage.nonzero).sum();
        steps.push(StepRow {
            step: index + 1,
            method: step.label(),
            float_accuracy: train::evaluate(&state.net, &data.test),
            integer_accuracy,
            val_integer_accuracy,
            bytes: report.bytes,
            compression: report.compression,
            sparsity: zeros as f64 / weights.max(1) as f64,
            weights,
            train_seconds,
            hint_explained: hint_fit.map(|f| f.explained),
        });
        last = Some((q, report));
    }
    let (integer, report) = last.expect("a checked recipe has a step");
    Ok(RecipeOutcome { net: state.net, integer, report, steps })
}

/// A step that trained on the labels and left the network no better than
/// chance (within half of it) diverged or killed every unit: said as a
/// warning, with what to try. A hint step's accuracy means nothing (the
/// layers above the guided one no longer fit it), so it is not judged.
fn warn_if_collapsed(
    index: usize,
    step: &Step,
    cfg: &TrainConfig,
    val_accuracy: f64,
    classes: usize,
) {
    let chance = 1.0 / classes.max(1) as f64;
    if cfg.epochs > 0 && !matches!(step.kind, StepKind::Hint { .. }) && val_accuracy < 1.5 * chance
    {
        tracing::warn!(
            "step {} ({}) leaves the network at chance: {:.1}% on validation over {classes} \
             classes. Training diverged or every unit died; try a lower `lr`, or \
             `optimizer = \"adam\"` in the recipe's [train]",
            index + 1,
            step.label(),
            val_accuracy * 100.0
        );
    }
}

/// The compressed network between steps.
struct State<'a> {
    net: Network,
    /// Layers whose weights a step coded (INQ, shared, binary, ...), with the
    /// weight spec that quantizes them; later steps keep their weights frozen.
    coded: BTreeMap<String, WeightSpec>,
    /// Quantization-aware training: every retraining sees these activations.
    acts: Option<&'a dyn ActivationQuant>,
}

impl State<'_> {
    fn name(&self, layer: usize) -> String {
        self.net.layers()[layer].name.clone()
    }

    /// The layers a step works on: the named ones, or the method's default:
    /// every weighted layer; for structured pruning all but the last; for
    /// merging and SVD the dense ones but the last.
    fn select(
        &self,
        names: Option<&[String]>,
        kind: &StepKind,
    ) -> Result<Vec<usize>, CompressError> {
        let net = &self.net;
        let weighted = weighted_layers(net);
        let hidden = &weighted[..weighted.len().saturating_sub(1)];
        let Some(names) = names else {
            return Ok(match kind {
                StepKind::Structured { .. } => hidden.to_vec(),
                StepKind::Merge { .. } | StepKind::Svd { .. } => hidden
                    .iter()
                    .copied()
                    .filter(|&i| matches!(net.layers()[i].op, Op::Dense(_)))
                    .collect(),
                _ => weighted,
            });
        };
        names
            .iter()
            .map(|n| match net.layer_index(n) {
                Some(i) if weighted.contains(&i) => Ok(i),
                Some(_) => Err(CompressError::NotWeighted { layer: n.clone() }),
                None => Err(CompressError::NoLayer {
                    layer: n.clone(),
                    weighted: weighted.iter().map(|&i| self.name(i)).collect(),
                }),
            })
            .collect()
    }

    fn run(
        &mut self,
        step: &Step,
        cfg: &TrainConfig,
        loss: &dyn Loss,
        teacher: &Network,
        dataset: &Dataset,
        observer: &mut dyn InqObserver,
    ) -> Result<Option<HintFit>, CompressError> {
        let (data, val) = (&dataset.train, &dataset.val);
        if let StepKind::Hint { hint, guided } = &step.kind {
            let g = self.net.layer_index(guided);
            if let Some(i) =
                g.into_iter().flat_map(|g| 0..=g).find(|i| self.coded.contains_key(&self.name(*i)))
            {
                let spec = self.coded[&self.name(i)];
                return Err(CompressError::AlreadyCoded { layer: self.name(i), spec });
            }
            let mut masks = pruned_masks(&self.net);
            merge_masks(&mut masks, frozen_masks(&self.net, &self.coded));
            let measure = val.head(defaults::HINT_FIT_SAMPLES);
            let fit = train_hint(
                &mut self.net,
                teacher,
                hint,
                guided,
                data,
                &measure,
                cfg,
                masks,
                observer,
            )?;
            tracing::info!(
                hint,
                guided,
                loss = fit.loss,
                explained = fit.explained,
                "hint trained"
            );
            return Ok(Some(fit));
        }
        let mut layers = self.select(step.layers.as_deref(), &step.kind)?;
        if !matches!(step.kind, StepKind::Finetune) {
            for &i in &layers {
                if let Some(&spec) = self.coded.get(&self.name(i)) {
                    return Err(CompressError::AlreadyCoded { layer: self.name(i), spec });
                }
            }
        }
        // Coding steps may keep their first and last layers at another
        // precision: those train with this step (free, like any uncoded layer)
        // and are frozen after it.
        let mut kept = Vec::new();
        if let Some(keep) = step.keep_first_last.filter(|_| step.kind.codes()) {
            for i in [layers.first(), layers.last()].into_iter().flatten() {
                kept.push((self.name(*i), keep));
            }
            layers.retain(|&i| !kept.iter().any(|k| k.0 == self.name(i)));
            if layers.is_empty() {
                return Err(CompressError::Setting {
                    setting: "keep_first_last",
                    reason: "leaves no layer to code; drop it or name more layers".into(),
                });
            }
        }
        let frozen = frozen_masks(&self.net, &self.coded);
        let mut masks = pruned_masks(&self.net);
        merge_masks(&mut masks, frozen.clone());
        let hooks = Hooks { masks, transform: None, loss, acts: self.acts };
        match &step.kind {
            StepKind::Prune { sparsity, scope, iterations, criterion } => {
                let config = PruneConfig {
                    targets: layers.iter().map(|&i| (i, *sparsity)).collect(),
                    scope: *scope,
                    iterations: *iterations,
                    epochs: step.epochs,
                    train: cfg.clone(),
                    criterion: *criterion,
                };
                let hooks = Hooks { masks: frozen, transform: None, loss, acts: self.acts };
                run_prune(&mut self.net, data, val, &config, &hooks, observer)?;
            }
            StepKind::Structured { fraction, criterion } => {
                // Every layer's units are scored on the network as the step
                // found it (layer indices do not move: units go, layers stay).
                let measure = val.head(defaults::SALIENCY_SAMPLES);
                let mut scores = Vec::new();
                for &i in &layers {
                    scores.push(unit_importance(&self.net, i, *criterion, &measure)?);
                }
                for (&i, score) in layers.iter().zip(&scores) {
                    let units = self.net.output_of(i).channels();
                    let remove = (*fraction as f64 * units as f64).round() as usize;
                    tracing::info!(layer = %self.name(i), remove, criterion = criterion.as_str(), "structured");
                    self.net = prune_units_by(&self.net, i, remove.min(units - 1), score)?;
                }
                self.finetune(cfg, loss, data, observer)?;
            }
            StepKind::Merge { fraction } => {
                for &i in &layers {
                    let units = self.net.output_of(i).channels();
                    let count = (*fraction as f64 * units as f64).round() as usize;
                    let next = weighted_layers(&self.net).into_iter().find(|&j| j > i);
                    if let Some(&spec) = next.and_then(|j| self.coded.get(&self.name(j))) {
                        return Err(CompressError::AlreadyCoded {
                            layer: self.name(next.expect("found")),
                            spec,
                        });
                    }
                    self.net = merge_neurons(&self.net, i, count.min(units - 1))?.0;
                }
                self.finetune(cfg, loss, data, observer)?;
            }
            StepKind::Svd { rank } => {
                // Highest index first: each split inserts a layer after its own.
                for &i in layers.iter().rev() {
                    let (net, _, k) = svd_layer(&self.net, i, *rank)?;
                    tracing::info!(layer = %self.name(i), rank = k, "svd");
                    self.net = net;
                }
                self.finetune(cfg, loss, data, observer)?;
            }
            StepKind::Kmeans { bits, .. } => {
                let mut clusters = BTreeMap::new();
                for (id, mut w) in self.net.params_mut() {
                    if id.kind == ParamKind::Weight && layers.contains(&id.layer) {
                        let flat: Vec<f32> = w.iter().copied().collect();
                        let c = kmeans(&flat, *bits);
                        c.apply(w.view_mut());
                        clusters.insert(id, c);
                    }
                }
                if step.epochs > 0 {
                    let shared = SharedWeights::new(clusters);
                    let hooks = Hooks { transform: Some(&shared), ..hooks };
                    train::train(&mut self.net, data, None, cfg, &hooks, observer)?;
                }
                let spec = step.kind.coding().expect("a coding step");
                for &i in &layers {
                    self.coded.insert(self.name(i), spec);
                }
            }
            StepKind::Inq { bits, layer_bits, schedule, range } => {
                for n in layer_bits.keys() {
                    if !layers.iter().any(|&i| self.name(i) == *n) {
                        return Err(CompressError::Setting {
                            setting: "layer_bits",
                            reason: format!("names `{n}`, which is not a layer this step codes"),
                        });
                    }
                }
                let mut per_layer = Vec::new();
                for &i in &layers {
                    let b = layer_bits.get(&self.name(i)).copied().unwrap_or(*bits);
                    per_layer.push((i, b));
                    self.coded.insert(self.name(i), WeightSpec::Pow2 { bits: b });
                }
                let config = InqConfig {
                    bits: per_layer,
                    range: *range,
                    schedule: schedule.clone(),
                    epochs_per_step: step.epochs,
                    train: cfg.clone(),
                };
                let hooks = Hooks { masks: frozen, transform: None, loss, acts: self.acts };
                run_inq(&mut self.net, data, &config, &hooks, observer)?;
            }
            StepKind::Binary { levels, scale } => {
                if *levels == Levels::Binary {
                    if let Some(&i) = layers.iter().find(|&&i| hooks.masks.contains_key(&weight(i)))
                    {
                        return Err(CompressError::PrunedBinary { layer: self.name(i) });
                    }
                }
                let params = layers.iter().map(|&layer| weight(layer)).collect();
                let binarizer = Binarizer { params, levels: *levels, scale: *scale };
                if step.epochs > 0 {
                    let hooks = Hooks { transform: Some(&binarizer), ..hooks };
                    train::train(&mut self.net, data, None, cfg, &hooks, observer)?;
                }
                // The network now computes with the coded weights: later steps
                // and the float section see what the integer network holds.
                for (id, mut w) in self.net.params_mut() {
                    if layers.iter().any(|&l| weight(l) == id) {
                        let real = code(w.view(), *levels, *scale).to_real();
                        w.assign(&real);
                    }
                }
                let spec = step.kind.coding().expect("a coding step");
                for &i in &layers {
                    self.coded.insert(self.name(i), spec);
                }
            }
            StepKind::Finetune => self.finetune(cfg, loss, data, observer)?,
            StepKind::Hint { .. } => unreachable!("run above"),
        }
        self.coded.extend(kept);
        Ok(None)
    }

    /// Fine-tuning after a reshaping step: the masks come from the network as
    /// it is now (SVD moves layers, structured pruning and merging change
    /// shapes).
    fn finetune(
        &mut self,
        cfg: &TrainConfig,
        loss: &dyn Loss,
        data: &Split,
        observer: &mut dyn InqObserver,
    ) -> Result<(), CompressError> {
        if cfg.epochs > 0 {
            let mut masks = pruned_masks(&self.net);
            merge_masks(&mut masks, frozen_masks(&self.net, &self.coded));
            let hooks = Hooks { masks, transform: None, loss, acts: self.acts };
            train::train(&mut self.net, data, None, cfg, &hooks, observer)?;
        }
        Ok(())
    }
}

fn weight(layer: usize) -> ParamId {
    ParamId { layer, kind: ParamKind::Weight }
}

/// Masks holding every coded layer's weights where they are.
fn frozen_masks(net: &Network, coded: &BTreeMap<String, WeightSpec>) -> Masks {
    net.params()
        .into_iter()
        .filter(|(id, _)| {
            id.kind == ParamKind::Weight && coded.contains_key(&net.layers()[id.layer].name)
        })
        .map(|(id, w)| (id, ndarray::ArrayD::zeros(w.raw_dim())))
        .collect()
}
