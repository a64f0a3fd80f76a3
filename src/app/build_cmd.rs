//! `build`: a device's fastest fitting design, through synthesis, place and
//! route and packing, into `DIR/build.json` (the work is `fpga::build`'s),
//! and the HTML report of the build into `DIR/report.html`.

use super::*;
use crate::report::ModelReport;

/// `shiftkit build`.
#[derive(Clone, Debug)]
pub struct BuildJob {
    pub model: PathBuf,
    pub dir: PathBuf,
    pub target: Target,
}

/// Where a build (and a flow) writes its HTML report.
pub const REPORT_HTML: &str = "report.html";

pub fn run_build(job: &BuildJob, progress: &mut dyn FnMut(&str)) -> Result<BuildOutcome, AppError> {
    let (file, net) = load_integer(&job.model)?;
    let build = crate::fpga::build(&net, &job.target, &job.dir, progress)?;
    progress("writing the HTML report");
    // The model's accuracy, when its dataset is at hand; the build stands
    // without it.
    let report = ReportJob {
        models: vec![job.model.clone()],
        reference: None,
        dataset: None,
        data_dir: None,
        output: None,
        html: None,
        sensitivity: Vec::new(),
    };
    let row = match run_report(&report) {
        Ok(mut outcome) => outcome.rows.remove(0),
        Err(e) => {
            tracing::warn!("the report of {} has no accuracy: {e}", job.model.display());
            ModelReport::new(
                &model_name(&job.model),
                &model_method(&file),
                &file.float,
                &net,
                None,
                None,
            )
        }
    };
    let hardware = hardware_view(&read_manifest(&job.dir)?, None, Some(&build));
    let page = model_page(row, &file, &net, &file.float, Some(hardware));
    let title = format!("shiftkit build: {} on {}", model_name(&job.model), build.device);
    let text = crate::report::html::page(&title, file.provenance.dataset.as_deref(), &[page], &[]);
    model::write_atomically(&job.dir.join(REPORT_HTML), text.as_bytes())?;
    Ok(build)
}
