//! `verify`: the RTL on Verilator and Icarus against the simulator.

use super::*;

/// `shiftkit verify`.
#[derive(Clone, Debug)]
pub struct VerifyJob {
    pub model: PathBuf,
    /// The design directory `shiftkit hdl` wrote.
    pub dir: PathBuf,
    pub simulators: Vec<Simulator>,
    /// Random in-range vectors (the extremes of the range are always added).
    pub vectors: usize,
    /// Dataset whose test samples are added (quantized), up to `vectors` of them.
    pub dataset: Option<DatasetName>,
    pub data_dir: Option<PathBuf>,
    pub seed: u64,
}

/// `progress` hears of every compile and run.
pub fn run_verify(
    job: &VerifyJob,
    progress: &mut dyn FnMut(&str),
) -> Result<VerifyOutcome, AppError> {
    check_vectors(job.vectors)?;
    let (_, net) = load_integer(&job.model)?;
    let manifest = read_manifest(&job.dir)?;
    let hash = codegen::network_hash(&net);
    if manifest.network_hash != hash {
        return Err(AppError::StaleDesign {
            dir: job.dir.clone(),
            design: manifest.network_hash,
            model: hash,
        });
    }
    let samples = match job.dataset {
        Some(name) => {
            let d = data::load(name, job.data_dir.as_deref())?;
            check_input_fits(net.input(), &d)?;
            Some(d.test.head(job.vectors.max(1)))
        }
        None => None,
    };
    let x = verify::verification_vectors(&net, job.vectors, job.seed, samples.as_ref());
    Ok(verify::check_design(&net, &job.dir, &manifest, &x, &job.simulators, job.seed, progress)?)
}

/// Random vectors within what a run can hold.
pub(crate) fn check_vectors(vectors: usize) -> Result<(), AppError> {
    if vectors > verify::MAX_VECTORS {
        return Err(AppError::Setting {
            setting: "vectors",
            reason: format!("{vectors} is more than the {} a check may run", verify::MAX_VECTORS),
        });
    }
    Ok(())
}
