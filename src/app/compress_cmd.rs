//! `compress`: INQ, binary and ternary with retraining.

use super::*;

/// The compression method of `shiftkit compress`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Inq,
    Binary,
    Ternary,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Inq => "inq",
            Method::Binary => "binary",
            Method::Ternary => "ternary",
        }
    }
}

/// `shiftkit compress`.
#[derive(Clone, Debug)]
pub struct CompressJob {
    pub model: PathBuf,
    pub dataset: Option<DatasetName>,
    pub data_dir: Option<PathBuf>,
    pub method: Method,
    /// INQ bits per weight (2..=8) for every compressed layer...
    pub bits: u32,
    /// ...except these, by layer name.
    pub layer_bits: BTreeMap<String, u32>,
    pub schedule: Vec<f32>,
    /// INQ retraining epochs after each portion.
    pub epochs_per_step: usize,
    /// Binary/ternary training epochs.
    pub epochs: usize,
    /// Keep the first and last weighted layers at this precision.
    pub keep_first_last: Option<WeightSpec>,
    /// Binary/ternary per-channel scale.
    pub scale: bool,
    /// The retraining run (its `epochs` is replaced per method).
    pub train: TrainConfig,
    pub act_bits: u32,
    pub input_bits: u32,
    pub calibration: usize,
    pub output: PathBuf,
}

/// One row of the compression table.
#[derive(Clone, Debug, Serialize)]
pub struct CompressLayerRow {
    pub name: String,
    pub weights: String,
    pub code_bits: u32,
    pub params: usize,
    pub distinct: usize,
    pub sparsity: f64,
}

/// What `shiftkit compress` reports.
#[derive(Clone, Debug, Serialize)]
pub struct CompressOutcome {
    pub output: PathBuf,
    pub dataset: String,
    pub method: Method,
    pub layers: Vec<CompressLayerRow>,
    /// The model before compression.
    pub float_accuracy: f64,
    /// The integer network (bit-exact simulator).
    pub integer_accuracy: f64,
    /// Weight bits of the compressed layers' weights, over all weighted layers.
    pub weight_bits: u64,
    /// Bytes of weights and biases (biases at 32 bits), compressed.
    pub bytes: u64,
    /// The same at 32-bit float.
    pub float_bytes: u64,
    pub train_seconds: f64,
}

pub fn run_compress(
    job: &CompressJob,
    observer: &mut dyn compress::InqObserver,
) -> Result<CompressOutcome, AppError> {
    let mut file = model::load(&job.model)?;
    let name = dataset_of(&file, job.dataset, &job.model)?;
    let data = data::load(name, job.data_dir.as_deref())?;
    check_input_fits(file.float.input(), &data)?;
    let float_accuracy = train::evaluate(&file.float, &data.test);
    let mut net = file.float.clone();
    let weighted: Vec<usize> = net
        .layers()
        .iter()
        .enumerate()
        .filter(|(_, l)| matches!(l.op, model::Op::Dense(_) | model::Op::Conv2d(_)))
        .map(|(i, _)| i)
        .collect();
    let kept: BTreeSet<usize> = match job.keep_first_last {
        Some(_) => [weighted.first(), weighted.last()].into_iter().flatten().copied().collect(),
        None => BTreeSet::new(),
    };
    for layer in job.layer_bits.keys() {
        if !weighted.iter().any(|&i| net.layers()[i].name == *layer) {
            return Err(AppError::Usage(format!(
                "--layer-bits names `{layer}`, which is not a dense or convolution layer"
            )));
        }
    }
    let compressed: Vec<usize> = weighted.iter().copied().filter(|i| !kept.contains(i)).collect();
    if compressed.is_empty() {
        return Err(AppError::Usage("no layer is left to compress; drop --keep-first-last".into()));
    }
    let mut layer_weights = BTreeMap::new();
    for &i in &kept {
        layer_weights.insert(
            net.layers()[i].name.clone(),
            job.keep_first_last.expect("kept only with a spec"),
        );
    }
    let start = std::time::Instant::now();
    match job.method {
        Method::Inq => {
            let mut bits = Vec::new();
            for &i in &compressed {
                let name = &net.layers()[i].name;
                let b = job.layer_bits.get(name).copied().unwrap_or(job.bits);
                compress::check_bits(b)?;
                bits.push((i, b));
                layer_weights.insert(name.clone(), WeightSpec::Pow2 { bits: b });
            }
            let config = InqConfig {
                bits,
                schedule: job.schedule.clone(),
                epochs_per_step: job.epochs_per_step,
                train: job.train.clone(),
            };
            compress::run_inq(&mut net, &data.train, &config, observer)?;
        }
        Method::Binary | Method::Ternary => {
            let levels =
                if job.method == Method::Binary { Levels::Binary } else { Levels::Ternary };
            let params = compressed
                .iter()
                .map(|&layer| model::ParamId { layer, kind: model::ParamKind::Weight })
                .collect();
            let binarizer = Binarizer { params, levels, scale: job.scale };
            let hooks = Hooks { transform: Some(&binarizer), ..Hooks::default() };
            let cfg = TrainConfig { epochs: job.epochs, ..job.train.clone() };
            if job.epochs > 0 {
                train::train(&mut net, &data.train, None, &cfg, &hooks, observer)?;
            }
            let spec = if levels == Levels::Binary {
                WeightSpec::Binary { scale: job.scale }
            } else {
                WeightSpec::Ternary { scale: job.scale }
            };
            for &i in &compressed {
                layer_weights.insert(net.layers()[i].name.clone(), spec);
            }
        }
    }
    let train_seconds = start.elapsed().as_secs_f64();
    let config = QuantizeConfig {
        weights: WeightSpec::Fixed { bits: 8 },
        layer_weights,
        act_bits: job.act_bits,
        input_bits: job.input_bits,
    };
    if job.calibration == 0 {
        return Err(AppError::Usage("--calibration must be at least 1 sample".into()));
    }
    let q = quant::quantize(&net, data.train.head(job.calibration).x.view(), &config)?;
    let integer_accuracy = sim::accuracy(&q, &data.test)?;
    let layers = compress_rows(&q);
    let weight_bits: u64 = q
        .layers()
        .iter()
        .filter_map(|l| l.op.weighted())
        .map(|w| w.kind.code_bits() as u64 * w.weights.len() as u64)
        .sum();
    let biases: u64 =
        q.layers().iter().filter_map(|l| l.op.weighted()).map(|w| w.bias.len() as u64).sum();
    let scales: u64 = q
        .layers()
        .iter()
        .filter_map(|l| l.op.weighted()?.scale.as_ref())
        .map(|s| s.multipliers.len() as u64 * quant::SCALE_BITS as u64)
        .sum();
    let params: u64 = q
        .layers()
        .iter()
        .filter_map(|l| l.op.weighted())
        .map(|w| (w.weights.len() + w.bias.len()) as u64)
        .sum();
    let bytes = (weight_bits + 32 * biases + scales).div_ceil(8);
    file.provenance.dataset.get_or_insert_with(|| name.to_string());
    file.provenance
        .steps
        .push(format!("compress: {:?}, integer accuracy {integer_accuracy:.4}", job.method));
    file.float = net;
    quant::write_integer(&q, &mut file.rest);
    model::save(&job.output, &file)?;
    Ok(CompressOutcome {
        output: job.output.clone(),
        dataset: name.to_string(),
        method: job.method,
        layers,
        float_accuracy,
        integer_accuracy,
        weight_bits,
        bytes,
        float_bytes: params * 4,
        train_seconds,
    })
}

fn compress_rows(net: &IntNetwork) -> Vec<CompressLayerRow> {
    net.layers()
        .iter()
        .filter_map(|l| {
            let w = l.op.weighted()?;
            let distinct: BTreeSet<i32> = w.weights.iter().copied().collect();
            let zeros = w.weights.iter().filter(|&&v| v == 0).count();
            Some(CompressLayerRow {
                name: l.name.clone(),
                weights: w.kind.to_string(),
                code_bits: w.kind.code_bits(),
                params: w.weights.len(),
                distinct: distinct.len(),
                sparsity: zeros as f64 / w.weights.len() as f64,
            })
        })
        .collect()
}

impl CompressOutcome {
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:<10} {:<22} {:>5} {:>9} {:>9} {:>9}",
            "layer", "weights", "bits", "params", "distinct", "sparsity"
        );
        for l in &self.layers {
            let _ = writeln!(
                s,
                "{:<10} {:<22} {:>5} {:>9} {:>9} {:>8.1}%",
                l.name,
                l.weights,
                l.code_bits,
                l.params,
                l.distinct,
                l.sparsity * 100.0
            );
        }
        let _ = writeln!(
            s,
            "{} test accuracy: float {:.2}%, integer {:.2}% ({:+.2} points); {} bytes vs {} at \
             float32 ({:.1}x); {:.1}s of training; written to {}",
            self.dataset,
            self.float_accuracy * 100.0,
            self.integer_accuracy * 100.0,
            (self.integer_accuracy - self.float_accuracy) * 100.0,
            self.bytes,
            self.float_bytes,
            self.float_bytes as f64 / self.bytes as f64,
            self.train_seconds,
            self.output.display()
        );
        s
    }
}
