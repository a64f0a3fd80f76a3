//! `report`: the survey table of compressed models against their original.

use super::*;
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
    /// Also write the Markdown here.
    pub output: Option<PathBuf>,
}

/// What `shiftkit report` prints.
#[derive(Clone, Debug, Serialize)]
pub struct ReportOutcome {
    pub dataset: Option<String>,
    pub rows: Vec<ModelReport>,
    #[serde(skip)]
    pub markdown: String,
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
        let method = file
            .provenance
            .steps
            .iter()
            .rev()
            .find_map(|r| r.method.clone())
            .unwrap_or_else(|| "quantize".into());
        let stem = path.file_stem().map_or("model".into(), |s| s.to_string_lossy().to_string());
        let mut row =
            ModelReport::new(&stem, &method, reference_net, &net, accuracy, reference_accuracy);
        row.val_accuracy = val_accuracy;
        row.rtl_adders = rtl_adders(&net);
        rows.push(row);
    }
    let markdown = report::markdown(&rows);
    if let Some(out) = &job.output {
        model::write_atomically(out, markdown.as_bytes())?;
    }
    Ok(ReportOutcome { dataset: shown, rows, markdown })
}

/// Adders of the design `shiftkit hdl` would generate, for the networks it
/// supports (dense ones).
/// The adder graphs are built, no Verilog is printed.
pub fn rtl_adders(net: &IntNetwork) -> Option<u64> {
    let graphs =
        codegen::build_graphs(net, codegen::Adders::new(codegen::DEFAULT_LEVELS_PER_STAGE)).ok()?;
    Some(graphs.iter().map(|g| codegen::Cost::of(g).adders).sum())
}

impl ReportOutcome {
    pub fn to_text(&self) -> String {
        self.markdown.clone()
    }
}
