//! `quantize`, `sim`, `dump`.

use super::*;

/// `shiftkit quantize`.
#[derive(Clone, Debug)]
pub struct QuantizeJob {
    pub model: PathBuf,
    pub dataset: Option<DatasetName>,
    pub data_dir: Option<PathBuf>,
    pub settings: QuantSettings,
    pub output: PathBuf,
}

/// One row of the quantization table.
#[derive(Clone, Debug, Serialize)]
pub struct QuantLayerRow {
    pub name: String,
    pub op: &'static str,
    pub weights: String,
    pub exponent: Option<i32>,
    pub format: FixedFormat,
    pub shift: Option<i32>,
    pub acc_bits: Option<u32>,
}

/// What `shiftkit quantize` reports.
#[derive(Clone, Debug, Serialize)]
pub struct QuantizeOutcome {
    pub output: PathBuf,
    pub dataset: String,
    pub input_format: FixedFormat,
    pub layers: Vec<QuantLayerRow>,
    /// Test split.
    pub float_accuracy: f64,
    pub integer_accuracy: f64,
    /// The integer network on the validation split (which calibrated it).
    pub val_integer_accuracy: f64,
}

pub fn run_quantize(job: &QuantizeJob) -> Result<QuantizeOutcome, AppError> {
    let mut file = model::load(&job.model)?;
    let name = dataset_of(&file, job.dataset, &job.model)?;
    let data = data::load(name, job.data_dir.as_deref())?;
    check_input_fits(file.float.input(), &data)?;
    job.settings.check()?;
    let calib = data.val.head(job.settings.calibration);
    let config = job.settings.config(BTreeMap::new());
    let net = quant::quantize(&file.float, calib.x.view(), &config)?;
    let float_accuracy = train::evaluate(&file.float, &data.test);
    let integer_accuracy = sim::accuracy(&net, &data.test)?;
    let val_integer_accuracy = sim::accuracy(&net, &data.val)?;
    file.provenance.dataset.get_or_insert_with(|| name.to_string());
    file.provenance.steps.push(crate::model::Record::new(
        "quantize",
        None,
        &QuantSettings { calibration: calib.len(), ..job.settings },
        &serde_json::json!({
            "integer_accuracy": integer_accuracy,
            "val_integer_accuracy": val_integer_accuracy,
        }),
    ));
    quant::write_integer(&net, &mut file.rest);
    model::save(&job.output, &file)?;
    Ok(QuantizeOutcome {
        output: job.output.clone(),
        dataset: name.to_string(),
        input_format: net.input_format(),
        layers: quant_rows(&net),
        float_accuracy,
        integer_accuracy,
        val_integer_accuracy,
    })
}

fn quant_rows(net: &IntNetwork) -> Vec<QuantLayerRow> {
    net.layers()
        .iter()
        .map(|l| {
            let w = l.op.weighted();
            QuantLayerRow {
                name: l.name.clone(),
                op: l.op.as_str(),
                weights: w.map_or(String::new(), |w| w.kind.to_string()),
                exponent: w.map(|w| w.exponent),
                format: l.format,
                shift: w.map(|w| w.shift(l.input_format, l.format)),
                acc_bits: w.map(|_| {
                    let hull = l.acc_bounds.iter().fold(l.acc_bounds[0], |a, &b| a.hull(b));
                    hull.width().1
                }),
            }
        })
        .collect()
}

impl QuantizeOutcome {
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "input format {}", self.input_format);
        let _ = writeln!(
            s,
            "{:<10} {:<10} {:<10} {:>8} {:>8} {:>6} {:>9}",
            "layer", "op", "weights", "exponent", "format", "shift", "acc bits"
        );
        let opt = |v: Option<i32>| v.map_or(String::new(), |v| v.to_string());
        for l in &self.layers {
            let _ = writeln!(
                s,
                "{:<10} {:<10} {:<10} {:>8} {:>8} {:>6} {:>9}",
                l.name,
                l.op,
                l.weights,
                opt(l.exponent),
                l.format.to_string(),
                opt(l.shift),
                l.acc_bits.map_or(String::new(), |b| b.to_string())
            );
        }
        let _ = writeln!(
            s,
            "{} test accuracy: float {:.2}%, integer {:.2}% ({:+.2} points; validation {:.2}%); \
             written to {}",
            self.dataset,
            self.float_accuracy * 100.0,
            self.integer_accuracy * 100.0,
            (self.integer_accuracy - self.float_accuracy) * 100.0,
            self.val_integer_accuracy * 100.0,
            self.output.display()
        );
        s
    }
}

/// What `shiftkit sim` reports.
#[derive(Clone, Debug, Serialize)]
pub struct SimOutcome {
    pub vectors: usize,
    /// The output file (`None`: the outputs are in `text`).
    pub output: Option<PathBuf>,
    pub trace: Option<PathBuf>,
    /// The outputs, one vector per line, when no file was asked for.
    #[serde(skip)]
    pub text: Option<String>,
}

/// `shiftkit sim`: raw integer vectors in, raw integer outputs out (to
/// `output`, or returned in the outcome); with a trace directory, every
/// layer's raw outputs too (`NN_<layer>.txt`).
pub fn run_sim(
    model_path: &Path,
    input: &Path,
    output: Option<&Path>,
    trace: Option<&Path>,
) -> Result<SimOutcome, AppError> {
    let file = model::load(model_path)?;
    let text = std::fs::read_to_string(input)
        .map_err(|source| AppError::Io { path: input.into(), source })?;
    let vectors_error = |error| AppError::Vectors { path: input.into(), error };
    // (layer name, outputs as text) of every layer.
    let (count, outs): (usize, Vec<(String, String)>) = match quant::read_integer(&file.rest)? {
        Some(net) => {
            let x = sim::parse_vectors(&text, net.input().numel(), net.input_format())
                .map_err(vectors_error)?;
            let outs = sim::run_traced(&net, x.view())?;
            let names = net.layers().iter().map(|l| l.name.clone());
            (x.nrows(), names.zip(outs.iter().map(sim::format_vectors)).collect())
        }
        // A float model: real-valued vectors in ONNX's (C, H, W) order.
        None => {
            let net = &file.float;
            let x = sim::parse_real_vectors(&text, net.input().numel()).map_err(vectors_error)?;
            let outs = train::engine::trace(net, x.view());
            let names = net.layers().iter().map(|l| l.name.clone());
            (x.nrows(), names.zip(outs.iter().map(sim::format_vectors)).collect())
        }
    };
    if let Some(dir) = trace {
        std::fs::create_dir_all(dir).map_err(|source| AppError::Io { path: dir.into(), source })?;
        for (i, (name, text)) in outs.iter().enumerate() {
            model::write_atomically(&dir.join(format!("{i:02}_{name}.txt")), text.as_bytes())?;
        }
    }
    let (_, last) = outs.last().expect("at least one layer");
    if let Some(path) = output {
        model::write_atomically(path, last.as_bytes())?;
    }
    Ok(SimOutcome {
        vectors: count,
        output: output.map(Path::to_path_buf),
        trace: trace.map(Path::to_path_buf),
        text: output.is_none().then(|| last.clone()),
    })
}

/// What `shiftkit export` reports.
#[derive(Clone, Debug, Serialize)]
pub struct ExportOutcome {
    pub output: PathBuf,
    /// Whether the weights are the integer network's, dequantized.
    pub dequantized: bool,
    pub layers: usize,
}

/// `shiftkit export`: the float network (or, for a quantized model, the integer
/// network's dequantized weights) as ONNX.
pub fn run_export(model_path: &Path, output: &Path) -> Result<ExportOutcome, AppError> {
    let file = model::load(model_path)?;
    let (net, dequantized) = match quant::read_integer(&file.rest)? {
        Some(q) => (q.to_float()?, true),
        None => (file.float, false),
    };
    model::write_atomically(output, &model::onnx::export_onnx(&net))?;
    Ok(ExportOutcome { output: output.to_path_buf(), dequantized, layers: net.layers().len() })
}

/// `shiftkit dump`: the whole integer network as JSON.
pub fn run_dump(model_path: &Path) -> Result<serde_json::Value, AppError> {
    let (_, net) = load_integer(model_path)?;
    Ok(net.dump())
}
