//! `sensitivity`: each weighted layer compressed alone (pruning, OBD, INQ,
//! low rank), no retraining, on the validation split; the test split is
//! reported beside it.

use super::*;
use crate::compress::Probes;
use crate::report::Sensitivity;

/// `shiftkit sensitivity`.
#[derive(Clone, Debug)]
pub struct SensitivityJob {
    pub model: PathBuf,
    pub dataset: Option<DatasetName>,
    pub data_dir: Option<PathBuf>,
    pub probes: Probes,
    /// Write the rows as JSON here (for `report --sensitivity`).
    pub output: Option<PathBuf>,
}

/// What `shiftkit sensitivity` prints.
#[derive(Clone, Debug, Serialize)]
pub struct SensitivityOutcome {
    #[serde(flatten)]
    pub sensitivity: Sensitivity,
    pub output: Option<PathBuf>,
}

impl SensitivityOutcome {
    pub fn to_text(&self) -> String {
        self.sensitivity.markdown()
    }
}

/// Runs the probes on the float network of `job.model`; `progress` hears of
/// each evaluation (done, total).
pub fn run_sensitivity(
    job: &SensitivityJob,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<SensitivityOutcome, AppError> {
    let file = model::load(&job.model)?;
    let name = dataset_of(&file, job.dataset, &job.model)?;
    let data = data::load(name, job.data_dir.as_deref())?;
    check_input_fits(file.float.input(), &data)?;
    train::check_split(&file.float, &data.val, "validation")?;
    let sensitivity = compress::sensitivity(
        &file.float,
        &model_name(&job.model),
        &name.to_string(),
        &data,
        &job.probes,
        progress,
    )?;
    if let Some(out) = &job.output {
        let json = serde_json::to_string_pretty(&sensitivity).expect("plain data serializes");
        model::write_atomically(out, (json + "\n").as_bytes())?;
    }
    Ok(SensitivityOutcome { sensitivity, output: job.output.clone() })
}

/// Reads a file `shiftkit sensitivity -o` wrote.
pub fn read_sensitivity(path: &Path) -> Result<Sensitivity, AppError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| AppError::Io { path: path.to_path_buf(), source })?;
    serde_json::from_str(&text).map_err(|e| AppError::Setting {
        setting: "sensitivity",
        reason: format!(
            "{} is not a file `shiftkit sensitivity -o` wrote ({e}); run it again",
            path.display()
        ),
    })
}
