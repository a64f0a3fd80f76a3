//! `cmvm`: one constant matrix as adders, for comparing constant-product
//! solvers (da4ml's convention: rows are inputs, `y = x @ W`).

use super::*;
use crate::codegen::{Adders, Cost};
use crate::quant::FixedFormat;

/// Matrices larger than this are refused (the solver's pair table grows with
/// the square of a row's digits).
pub const MAX_MATRIX_ENTRIES: usize = 4_000_000;

/// Fraction bits a matrix entry may have (`v · 2^f` must be an integer).
pub const MAX_MATRIX_FRAC: u32 = 30;

/// What `shiftkit cmvm` does.
#[derive(Clone, Debug)]
pub struct CmvmJob {
    pub matrix: PathBuf,
    /// Inputs are integers of this width, two's complement when `signed`.
    pub input_bits: u32,
    pub signed: bool,
    pub adders: Adders,
    /// Writes the Verilog module here when given.
    pub output: Option<PathBuf>,
    pub top: String,
    /// Replace a file that is not a regular one.
    pub force: bool,
}

/// What `shiftkit cmvm` reports.
#[derive(Clone, Debug, Serialize)]
pub struct CmvmOutcome {
    pub inputs: usize,
    pub outputs: usize,
    /// The matrix was scaled by `2^scale_bits` to integers.
    pub scale_bits: u32,
    pub adders: u64,
    /// Adders on the longest input-to-output path.
    pub depth: u32,
    pub cost: Cost,
    pub latency: u32,
    pub seconds: f64,
    pub file: Option<PathBuf>,
}

/// Reads a whitespace- or comma-separated matrix, one row per line (`#`
/// starts a comment), as integers `[outputs][inputs]` and the power of two
/// they were scaled by.
pub fn read_matrix(path: &Path) -> Result<(Vec<Vec<i64>>, u32), AppError> {
    let bad = |reason: String| AppError::Matrix { path: path.to_path_buf(), reason };
    let text = std::fs::read_to_string(path)
        .map_err(|source| AppError::Io { path: path.to_path_buf(), source })?;
    let mut values: Vec<Vec<f64>> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let row = line
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|t| !t.is_empty())
            .map(|t| {
                t.parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| bad(format!("line {}: `{t}` is not a finite number", n + 1)))
            })
            .collect::<Result<Vec<f64>, AppError>>()?;
        if let Some(first) = values.first() {
            if row.len() != first.len() {
                return Err(bad(format!(
                    "line {} has {} entries, the first row {}",
                    n + 1,
                    row.len(),
                    first.len()
                )));
            }
        }
        values.push(row);
        if values.len() * values[0].len() > MAX_MATRIX_ENTRIES {
            return Err(bad(format!("more than {MAX_MATRIX_ENTRIES} entries")));
        }
    }
    if values.is_empty() || values[0].is_empty() {
        return Err(bad("holds no entries".into()));
    }
    // The fewest fraction bits that make every entry an integer.
    let frac = |v: f64| (0..=MAX_MATRIX_FRAC).find(|&f| (v * (f as f64).exp2()).fract() == 0.0);
    let mut scale = 0;
    for (n, row) in values.iter().enumerate() {
        for &v in row {
            let f = frac(v).ok_or_else(|| {
                bad(format!(
                    "row {}: {v} is not a multiple of 2^-{MAX_MATRIX_FRAC}; constant products \
                     need dyadic entries",
                    n + 1
                ))
            })?;
            scale = scale.max(f);
        }
    }
    let unit = (scale as f64).exp2();
    let (inputs, outputs) = (values.len(), values[0].len());
    let mut rows = vec![vec![0i64; inputs]; outputs];
    for (i, row) in values.iter().enumerate() {
        for (j, &v) in row.iter().enumerate() {
            let q = v * unit;
            if q.abs() >= (1u64 << 31) as f64 {
                return Err(bad(format!(
                    "row {}: {v} times 2^{scale} does not fit 32 bits",
                    i + 1
                )));
            }
            rows[j][i] = q as i64;
        }
    }
    Ok((rows, scale))
}

/// `shiftkit cmvm`: the adders of one constant matrix, and its Verilog.
pub fn run_cmvm(job: &CmvmJob) -> Result<CmvmOutcome, AppError> {
    codegen::check_identifier(&job.top)?;
    let file = job.output.clone();
    if let Some(path) = &file {
        model::check_output_file(path, job.force)?;
    }
    let input = FixedFormat::new(job.signed, job.input_bits, 0)
        .map_err(|e| AppError::Setting { setting: "input_bits", reason: e.to_string() })?;
    let (rows, scale_bits) = read_matrix(&job.matrix)?;
    let start = std::time::Instant::now();
    let graph = codegen::product_graph(&job.top, &rows, input, job.adders)?;
    let seconds = start.elapsed().as_secs_f64();
    let cost = Cost::of(&graph);
    if let Some(path) = &file {
        let header = format!(
            "Generated by shiftkit {} from {} (y = x @ W, W scaled by 2^{scale_bits}). Do not edit.",
            env!("CARGO_PKG_VERSION"),
            job.matrix.display()
        );
        model::write_atomically(path, codegen::layer_module(&graph, &job.top, &header).as_bytes())?;
    }
    Ok(CmvmOutcome {
        inputs: graph.inputs,
        outputs: graph.outputs.len(),
        scale_bits,
        adders: cost.adders,
        depth: graph.adder_depth(),
        cost,
        latency: graph.latency,
        seconds,
        file,
    })
}

impl CmvmOutcome {
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "{} inputs x {} outputs (W scaled by 2^{}): {} adders, depth {} adders, {} adder bits, \
             {} register bits, latency {} cycles; solved in {:.2} s",
            self.inputs,
            self.outputs,
            self.scale_bits,
            self.adders,
            self.depth,
            self.cost.adder_bits,
            self.cost.ffs,
            self.latency,
            self.seconds
        );
        if let Some(f) = &self.file {
            s.push_str(&format!("\nwritten: {}", f.display()));
        }
        s.push('\n');
        s
    }
}
