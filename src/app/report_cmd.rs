//! `report`: the survey table of compressed models against their original.

use super::*;
use crate::report::html::{self, LayerWeights, ModelPage};
use crate::report::svg::number;
use crate::report::{self, ModelReport};

/// `shiftkit report`.
#[derive(Clone, Debug)]
pub struct ReportJob {
    /// Models with an integer network.
    pub models: Vec<PathBuf>,
    /// The float original (default: each model's own float network).
    pub reference: Option<PathBuf>,
    pub dataset: Option<DatasetName>,
    pub data_dir: Option<PathBuf>,
    /// Also write the Markdown here...
    pub output: Option<PathBuf>,
    /// ...and the HTML page here.
    pub html: Option<PathBuf>,
    /// Per-layer sensitivity runs (`shiftkit sensitivity -o`) to show after the models.
    pub sensitivity: Vec<PathBuf>,
}

/// What `shiftkit report` prints.
#[derive(Clone, Debug, Serialize)]
pub struct ReportOutcome {
    pub dataset: Option<String>,
    pub rows: Vec<ModelReport>,
    #[serde(skip)]
    pub markdown: String,
    /// Where the HTML page went.
    pub html: Option<PathBuf>,
}

pub fn run_report(job: &ReportJob) -> Result<ReportOutcome, AppError> {
    if job.models.is_empty() {
        return Err(AppError::Setting {
            setting: "models",
            reason: "name at least one model to report".into(),
        });
    }
    let reference = job.reference.as_deref().map(model::load).transpose()?;
    let mut datasets: BTreeMap<DatasetName, Dataset> = BTreeMap::new();
    let mut rows = Vec::new();
    let mut pages = Vec::new();
    let mut shown = None;
    for path in &job.models {
        let (file, net) = load_integer(path)?;
        let reference_net = reference.as_ref().map_or(&file.float, |r| &r.float);
        if reference_net.input() != file.float.input()
            || reference_net.output() != file.float.output()
        {
            return Err(AppError::Setting {
                setting: "reference",
                reason: format!(
                    "the reference maps {} to {}, {} maps {} to {}; they must agree",
                    reference_net.input(),
                    reference_net.output(),
                    path.display(),
                    file.float.input(),
                    file.float.output()
                ),
            });
        }
        // Accuracy needs a dataset: the one given, else the one the model records.
        let name = match job.dataset {
            Some(d) => Some(d),
            None => file.provenance.dataset.as_deref().map(str::parse).transpose()?,
        };
        let (accuracy, val_accuracy, reference_accuracy) = match name {
            Some(name) => {
                let data = match datasets.entry(name) {
                    std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::btree_map::Entry::Vacant(e) => {
                        e.insert(data::load(name, job.data_dir.as_deref())?)
                    }
                };
                check_input_fits(net.input(), data)?;
                shown = Some(name.to_string());
                (
                    Some(sim::accuracy(&net, &data.test)?),
                    Some(sim::accuracy(&net, &data.val)?),
                    Some(train::evaluate(reference_net, &data.test)),
                )
            }
            None => (None, None, None),
        };
        let mut row = ModelReport::new(
            &model_name(path),
            &model_method(&file),
            reference_net,
            &net,
            accuracy,
            reference_accuracy,
        );
        row.val_accuracy = val_accuracy;
        let design = default_design(&net);
        row.rtl_adders = design.as_ref().map(|m| m.cost.adders);
        if job.html.is_some() {
            let hardware = design.map(|m| hardware_view(&m, None, None));
            pages.push(model_page(row.clone(), &file, &net, reference_net, hardware));
        }
        rows.push(row);
    }
    let runs =
        job.sensitivity.iter().map(|p| read_sensitivity(p)).collect::<Result<Vec<_>, _>>()?;
    let mut markdown = report::markdown(&rows);
    for run in &runs {
        markdown.push('\n');
        markdown.push_str(&run.markdown());
    }
    if let Some(out) = &job.output {
        model::write_atomically(out, markdown.as_bytes())?;
    }
    if let Some(out) = &job.html {
        let page = html::page("shiftkit report", shown.as_deref(), &pages, &runs);
        model::write_atomically(out, page.as_bytes())?;
    }
    Ok(ReportOutcome { dataset: shown, rows, markdown, html: job.html.clone() })
}

/// A model's method in reports: the last one its provenance records.
pub fn model_method(file: &ModelFile) -> String {
    let method = file.provenance.steps.iter().rev().find_map(|r| r.method.clone());
    method.unwrap_or_else(|| "quantize".into())
}

/// A model's name in reports: its file's stem.
pub fn model_name(path: &Path) -> String {
    path.file_stem().map_or("model".into(), |s| s.to_string_lossy().to_string())
}

/// A model's part of the HTML page: its survey row, the histograms of its
/// weight codes beside the float weights they came from (`float`'s layer of
/// the same name and shape, else the model's own), where it came from, and
/// its design when one was made.
pub fn model_page(
    report: ModelReport,
    file: &ModelFile,
    net: &IntNetwork,
    float: &crate::model::Network,
    hardware: Option<html::Hardware>,
) -> ModelPage {
    let float_weights = |name: &str, len: usize| -> Vec<f32> {
        for n in [float, &file.float] {
            let w = n.layer_index(name).and_then(|i| match &n.layers()[i].op {
                crate::model::Op::Dense(d) => Some(d.weight.iter().copied().collect::<Vec<_>>()),
                crate::model::Op::Conv2d(c) => Some(c.weight.iter().copied().collect()),
                _ => None,
            });
            if let Some(w) = w.filter(|w| w.len() == len) {
                return w;
            }
        }
        Vec::new()
    };
    let layers = net
        .layers()
        .iter()
        .filter_map(|l| {
            let w = l.op.weighted()?;
            let (code_axis, codes) = html::code_histogram(w);
            Some(LayerWeights {
                name: l.name.clone(),
                kind: w.kind.to_string(),
                code_axis,
                codes,
                float: html::float_histogram(
                    &float_weights(&l.name, w.weights.len()),
                    html::FLOAT_BINS,
                ),
            })
        })
        .collect();
    let mut provenance = Vec::new();
    for r in &file.provenance.steps {
        provenance.push(r.to_string());
        if !r.parameters.is_null() {
            provenance.push(format!("  {} settings: {}", r.command, r.parameters));
        }
    }
    ModelPage { report, layers, provenance, hash: codegen::network_hash(net), hardware }
}

/// The manifest of the design `shiftkit hdl` generates by default (the form
/// `auto` picks: unrolled for small dense networks, streaming otherwise), for
/// the networks it supports. Nothing is written.
pub fn default_design(net: &IntNetwork) -> Option<Manifest> {
    let config = HdlConfig::new("shiftkit_top", codegen::Form::Auto);
    Some(codegen::generate(net, &config).ok()?.manifest)
}

impl ReportOutcome {
    pub fn to_text(&self) -> String {
        self.markdown.clone()
    }
}

/// The hardware part of a model's page: the design's layers from its
/// manifest (cost model; folding and cycles of a streaming design), and as
/// facts the totals, a device build's counts and clock, the verification.
pub fn hardware_view(
    m: &Manifest,
    verify: Option<&VerifyOutcome>,
    build: Option<&BuildOutcome>,
) -> html::Hardware {
    let layer = |name: &str, c: &codegen::Cost| html::HardwareLayer {
        name: name.to_string(),
        adders: c.adders,
        luts: c.luts,
        ffs: c.ffs,
        memory_bits: c.rom_bits + c.ram_bits,
        folding: None,
        cycles: None,
    };
    let (layers, latency, cycles) = match &m.stream {
        Some(st) => (
            st.layers
                .iter()
                .filter(|l| l.hardware != "none")
                .map(|l| html::HardwareLayer {
                    folding: l.pe.zip(l.simd),
                    cycles: Some(l.cycles),
                    ..layer(&l.name, &l.cost)
                })
                .collect(),
            st.latency,
            st.cycles_per_image,
        ),
        None => (m.layers.iter().map(|l| layer(&l.name, &l.cost)).collect(), m.latency as u64, 1),
    };
    let mut facts = vec![
        ("generator".to_string(), m.generator.clone()),
        (
            "cost model: adders / LUTs / FFs".to_string(),
            [m.cost.adders, m.cost.luts, m.cost.ffs].map(|n| number(n as f64)).join(" / "),
        ),
    ];
    if let Some(v) = verify {
        for r in &v.reports {
            let vectors: usize = r.runs.iter().map(|run| run.vectors).sum();
            let mismatches = r.runs.iter().filter(|run| run.mismatch.is_some()).count();
            facts.push((
                format!("verified on {}", r.simulator.as_str()),
                format!(
                    "{} ({} vectors over {} runs, {} with a mismatch)",
                    if mismatches == 0 { "pass" } else { "FAIL" },
                    vectors,
                    r.runs.len(),
                    mismatches
                ),
            ));
        }
    }
    if let Some(b) = build {
        facts.push(("device".to_string(), b.device.clone()));
        let clock = match b.achieved_mhz {
            Some(a) => format!("{a:.1} MHz achieved, {:.1} MHz asked", b.requested_mhz),
            None => format!("{:.1} MHz asked (not placed and routed)", b.requested_mhz),
        };
        facts.push(("clock".to_string(), clock));
        if let Some(ips) = b.images_per_second {
            facts.push(("images per second".to_string(), number(ips.round())));
        }
        for u in &b.utilization {
            let used = u.used.map_or("-".to_string(), |n| number(n as f64));
            facts.push((
                format!("{} (used / model / available)", u.resource),
                format!("{used} / {} / {}", number(u.estimate as f64), number(u.available as f64)),
            ));
        }
        for (tool, version) in &b.tools {
            facts.push((tool.clone(), version.clone()));
        }
    }
    html::Hardware {
        form: if m.stream.is_some() { "streaming" } else { "unrolled" }.to_string(),
        latency_cycles: latency,
        cycles_per_image: cycles,
        layers,
        facts,
    }
}
