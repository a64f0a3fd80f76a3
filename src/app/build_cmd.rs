//! `build`: a device's fastest fitting design, through synthesis, place and
//! route and packing, into `DIR/build.json` (the work is `fpga::build`'s).

use super::*;

/// `shiftkit build`.
#[derive(Clone, Debug)]
pub struct BuildJob {
    pub model: PathBuf,
    pub dir: PathBuf,
    pub target: Target,
}

pub fn run_build(job: &BuildJob, progress: &mut dyn FnMut(&str)) -> Result<BuildOutcome, AppError> {
    let (_, net) = load_integer(&job.model)?;
    Ok(crate::fpga::build(&net, &job.target, &job.dir, progress)?)
}
