//! The report as one self-contained HTML page: the survey table, accuracy
//! against size with its Pareto front, per layer the weight codes beside the
//! float weights, the hardware of a generated design, and where every model
//! came from. Inline CSS and SVG only (no script, nothing fetched); it reads
//! offline and in print. The page is well-formed XML (polyglot HTML), and the
//! same inputs give the same bytes.
//!
//! It draws the numbers of [`ModelReport`] and of what the caller measured
//! ([`Hardware`]); it computes nothing of its own beyond binning.

use std::fmt::Write as _;

use super::svg::{escape, number, pareto_front, Axis, Bar, Bars, Point, Scatter};
use super::{ModelReport, Sensitivity};
use crate::quant::{WeightKind, Weighted};

/// Bins of a float weight histogram.
pub const FLOAT_BINS: usize = 32;
/// Fixed-point codes are binned too when they take more values than this.
const MAX_CODE_BARS: usize = 64;

/// One model of a report, with what the page draws beside its table row.
#[derive(Clone, Debug)]
pub struct ModelPage {
    pub report: ModelReport,
    /// Per weighted layer, in order.
    pub layers: Vec<LayerWeights>,
    /// Where the model came from: one line per command it went through.
    pub provenance: Vec<String>,
    /// The integer network's hash.
    pub hash: String,
    /// The generated design, when one was made.
    pub hardware: Option<Hardware>,
}

/// A layer's weight distributions.
#[derive(Clone, Debug)]
pub struct LayerWeights {
    pub name: String,
    /// The weight kind, as `report` prints it.
    pub kind: String,
    /// What the code histogram's categories are.
    pub code_axis: String,
    pub codes: Vec<Bar>,
    /// The float weights the codes came from (the reference model's when one
    /// was given).
    pub float: Vec<Bar>,
}

/// A generated design, as its manifest (and a build or a verification)
/// measured it.
#[derive(Clone, Debug)]
pub struct Hardware {
    /// `unrolled` or `streaming`.
    pub form: String,
    pub latency_cycles: u64,
    pub cycles_per_image: u64,
    pub layers: Vec<HardwareLayer>,
    /// Label and value pairs: totals of the cost model, a device build's
    /// counts, the verification result, tool versions.
    pub facts: Vec<(String, String)>,
}

/// One layer of a design.
#[derive(Clone, Debug)]
pub struct HardwareLayer {
    pub name: String,
    pub adders: u64,
    pub luts: u64,
    pub ffs: u64,
    /// Memory bits (weight codes and buffers).
    pub memory_bits: u64,
    /// PE x SIMD of a folded unit.
    pub folding: Option<(usize, usize)>,
    /// Cycles per image of the layer on its own (streaming form).
    pub cycles: Option<u64>,
}

/// The histogram of a layer's integer weights: power-of-two exponents (of
/// the real weight, `±2^k`), binary or ternary levels, shared values, or
/// fixed-point codes; zeros are their own, marked bar.
pub fn code_histogram(w: &Weighted) -> (String, Vec<Bar>) {
    let count = |pred: &dyn Fn(i32) -> bool| w.weights.iter().filter(|&&v| pred(v)).count() as f64;
    let zeros = count(&|v| v == 0);
    let zero_bar = || Bar { label: "0".into(), value: zeros, marked: true };
    match w.kind {
        WeightKind::Pow2 { max_shift } => {
            // Code ±2^s is the real weight ±2^(s + exponent).
            let mut bars = vec![zero_bar()];
            for shift in 0..=max_shift as i32 {
                let k = shift + w.exponent;
                let n = count(&|v| v != 0 && v.unsigned_abs() == 1u32 << shift);
                bars.push(Bar { label: format!("2^{k}"), value: n, marked: false });
            }
            ("|weight| (power of two)".into(), bars)
        }
        WeightKind::Binary | WeightKind::Ternary => {
            let mut bars =
                vec![Bar { label: "-1".into(), value: count(&|v| v < 0), marked: false }];
            if w.kind == WeightKind::Ternary {
                bars.push(zero_bar());
            }
            bars.push(Bar { label: "+1".into(), value: count(&|v| v > 0), marked: false });
            ("level (times the channel's scale)".into(), bars)
        }
        _ => {
            let mut values: Vec<i32> = w.weights.iter().copied().collect();
            values.sort_unstable();
            values.dedup();
            let scale = (w.exponent as f64).exp2();
            if values.len() <= MAX_CODE_BARS {
                let bars = values
                    .iter()
                    .map(|&c| Bar {
                        label: number(c as f64 * scale),
                        value: count(&|v| v == c),
                        marked: c == 0,
                    })
                    .collect();
                return ("weight value".into(), bars);
            }
            let real: Vec<f32> = w.weights.iter().map(|&v| (v as f64 * scale) as f32).collect();
            ("weight value".into(), float_histogram(&real, FLOAT_BINS))
        }
    }
}

/// `bins` equal bins from the smallest to the largest weight, each labelled
/// by its centre.
pub fn float_histogram(weights: &[f32], bins: usize) -> Vec<Bar> {
    let finite = weights.iter().copied().filter(|v| v.is_finite());
    let (lo, hi) =
        finite.clone().fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), v| (l.min(v), h.max(v)));
    if lo > hi {
        return Vec::new();
    }
    let bins = bins.max(1);
    let width = ((hi - lo) as f64 / bins as f64).max(f64::MIN_POSITIVE);
    let mut counts = vec![0u64; bins];
    for v in finite {
        let i = (((v - lo) as f64 / width) as usize).min(bins - 1);
        counts[i] += 1;
    }
    counts
        .into_iter()
        .enumerate()
        .map(|(i, n)| Bar {
            label: number(lo as f64 + width * (i as f64 + 0.5)),
            value: n as f64,
            marked: false,
        })
        .collect()
}

/// The scatter of integer accuracy against parameter bytes, every model and
/// each distinct float reference.
pub fn accuracy_scatter(models: &[ModelPage]) -> Scatter {
    let mut points = Vec::new();
    let mut coords = Vec::new();
    for (i, m) in models.iter().enumerate() {
        let r = &m.report;
        if let Some(a) = r.accuracy {
            points.push(Point {
                x: r.bytes as f64,
                y: a * 100.0,
                label: format!("{} ({})", r.name, r.method),
                tag: (i + 1).to_string(),
                reference: false,
            });
            coords.push((r.bytes as f64, a * 100.0));
        }
    }
    let front = pareto_front(&coords);
    let mut seen = Vec::new();
    for m in models {
        let r = &m.report;
        if let Some(a) = r.reference_accuracy {
            let key = (r.reference_bytes, (a * 1e6).round() as i64);
            if !seen.contains(&key) {
                seen.push(key);
                points.push(Point {
                    x: r.reference_bytes as f64,
                    y: a * 100.0,
                    label: format!("float original of {}", r.name),
                    tag: "float".into(),
                    reference: true,
                });
            }
        }
    }
    Scatter {
        title: "Top-1 accuracy against parameter bytes".into(),
        x: Axis { label: "parameter bytes (log scale)".into(), log: true },
        y: Axis { label: "top-1 accuracy, test split (%)".into(), log: false },
        points,
        front,
    }
}

const STYLE: &str = "body{font-family:sans-serif;margin:2em;color:#222;max-width:1400px}\
h1{font-size:1.6em}h2{font-size:1.3em;margin-top:1.6em;border-bottom:1px solid #ccc}\
h3{font-size:1.1em}table{border-collapse:collapse;margin:.5em 0;font-size:.9em}\
th,td{border:1px solid #bbb;padding:.2em .5em;text-align:right}\
th{background:#eee}td.text,th.text{text-align:left}\
.plots{display:flex;flex-wrap:wrap;gap:1em}\
svg.plot{background:#fff;font-size:10px;break-inside:avoid}\
svg .title{font-size:13px;font-weight:bold}svg .label{font-size:11px}\
svg .grid{stroke:#e4e4e4}svg .tickmark{stroke:#888}\
svg .frame{fill:none;stroke:#888}svg .bar{fill:#4a78b0}svg .bar.marked{fill:#d9822b}\
svg .point{fill:#4a78b0}svg .point.on-front{fill:#d9822b}\
svg .point.reference{fill:#fff;stroke:#222;stroke-width:1.5}\
svg .tag{font-size:9px;fill:#444}svg .front{fill:none;stroke:#d9822b;stroke-width:1.5;stroke-dasharray:4 3}\
.legend{font-size:.85em;color:#555}code{font-size:.9em}\
@media print{body{margin:0}h2{break-after:avoid}.plots{display:block}}";

/// The page, with the per-layer sensitivity runs after the models.
pub fn page(
    title: &str,
    dataset: Option<&str>,
    models: &[ModelPage],
    sensitivity: &[Sensitivity],
) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\"><head>\
         <meta charset=\"utf-8\"/><title>{t}</title><style>{STYLE}</style></head><body>\
         <h1>{t}</h1>",
        t = escape(title)
    );
    if let Some(d) = dataset {
        let _ = write!(
            s,
            "<p>Dataset <code>{}</code>. Accuracy is the integer network's (bit-exact \
             simulator) top-1 on the test split unless a column says validation.</p>",
            escape(d)
        );
    }
    survey_table(&mut s, models);
    s.push_str("<h2>Accuracy against size</h2><div class=\"plots\">");
    s.push_str(&accuracy_scatter(models).svg());
    s.push_str(
        "</div><p class=\"legend\">Filled: the compressed models, numbered as in the table \
         (where a number fits; hover for every name); orange: on the Pareto front, joined by the \
         dashed line (no other model is both smaller and more accurate). Hollow: the float \
         originals.</p>",
    );
    for m in models {
        model_section(&mut s, m);
    }
    for run in sensitivity {
        s.push_str(&run.html());
    }
    s.push_str("</body></html>\n");
    s
}

fn survey_table(s: &mut String, models: &[ModelPage]) {
    s.push_str(
        "<h2>Models</h2><table><tr><th>#</th><th class=\"text\">model</th>\
         <th class=\"text\">method</th>\
         <th>top-1</th><th>vs original</th><th>top-1, validation</th><th>bytes</th>\
         <th>compression</th><th>MULTs (original)</th><th>adds (shift-add)</th>\
         <th>adders (RTL)</th><th>nonzero MULTs</th></tr>",
    );
    let pct = |v: Option<f64>| v.map_or("-".into(), |v| format!("{:.2}%", v * 100.0));
    for (i, m) in models.iter().enumerate() {
        let r = &m.report;
        let delta = match (r.accuracy, r.reference_accuracy) {
            (Some(a), Some(b)) => format!("{:+.2}", (a - b) * 100.0),
            _ => "-".into(),
        };
        let _ = write!(
            s,
            "<tr><td>{}</td><td class=\"text\">{}</td><td class=\"text\">{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{:.1}x</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            i + 1,
            escape(&r.name),
            escape(&r.method),
            pct(r.accuracy),
            delta,
            pct(r.val_accuracy),
            number(r.bytes as f64),
            r.compression,
            number(r.reference_mults as f64),
            number(r.adds as f64),
            r.rtl_adders.map_or("-".into(), |a| number(a as f64)),
            number(r.nonzero_mults as f64),
        );
    }
    s.push_str("</table>");
}

fn model_section(s: &mut String, m: &ModelPage) {
    let r = &m.report;
    let _ = write!(
        s,
        "<h2>{} ({})</h2><table><tr><th class=\"text\">layer</th><th class=\"text\">weights</th>\
         <th>sparsity</th><th>bits</th><th class=\"text\">format</th><th>weight bits</th>\
         <th>index bits</th><th>table bits</th><th>bias bits</th></tr>",
        escape(&r.name),
        escape(&r.method)
    );
    for l in &r.layers {
        let t = &l.storage;
        let _ = write!(
            s,
            "<tr><td class=\"text\">{}</td><td class=\"text\">{}</td><td>{:.1}%</td><td>{}</td>\
             <td class=\"text\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&l.name),
            escape(&l.weights),
            l.sparsity * 100.0,
            t.code_bits,
            escape(t.format),
            number(t.weight_bits as f64),
            number(t.index_bits as f64),
            number(t.table_bits as f64),
            number(t.bias_bits as f64),
        );
    }
    s.push_str("</table><h3>Weights</h3>");
    for l in &m.layers {
        s.push_str("<div class=\"plots\">");
        let codes = Bars {
            title: format!("{}: {} codes", l.name, l.kind),
            x_label: l.code_axis.clone(),
            y_label: "weights".into(),
            bars: l.codes.clone(),
        };
        let float = Bars {
            title: format!("{}: float weights", l.name),
            x_label: "weight value (bin centre)".into(),
            y_label: "weights".into(),
            bars: l.float.clone(),
        };
        s.push_str(&codes.svg());
        s.push_str(&float.svg());
        s.push_str("</div>");
    }
    if let Some(h) = &m.hardware {
        hardware_section(s, h);
    }
    let _ = write!(
        s,
        "<h3>Provenance</h3><p>Integer network hash <code>{}</code>.</p><ul>",
        escape(&m.hash)
    );
    for line in &m.provenance {
        let _ = write!(s, "<li><code>{}</code></li>", escape(line));
    }
    s.push_str("</ul>");
}

fn hardware_section(s: &mut String, h: &Hardware) {
    let _ = write!(
        s,
        "<h3>Hardware ({} form)</h3><p>Latency {} cycles; a new input every {} cycles.</p>\
         <table><tr><th class=\"text\">layer</th><th>adders</th><th>LUTs (cost model)</th>\
         <th>FFs</th><th>memory bits</th><th>PE x SIMD</th><th>cycles per image</th></tr>",
        escape(&h.form),
        number(h.latency_cycles as f64),
        number(h.cycles_per_image as f64)
    );
    let slowest = h.layers.iter().filter_map(|l| l.cycles).max();
    for l in &h.layers {
        let bottleneck = l.cycles.is_some() && l.cycles == slowest;
        let _ = write!(
            s,
            "<tr><td class=\"text\">{}{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td></tr>",
            escape(&l.name),
            if bottleneck { " (bottleneck)" } else { "" },
            number(l.adders as f64),
            number(l.luts as f64),
            number(l.ffs as f64),
            number(l.memory_bits as f64),
            l.folding.map_or("-".into(), |(p, q)| format!("{p} x {q}")),
            l.cycles.map_or("-".into(), |c| number(c as f64)),
        );
    }
    s.push_str("</table><div class=\"plots\">");
    let bars = |f: &dyn Fn(&HardwareLayer) -> f64, mark: &dyn Fn(&HardwareLayer) -> bool| {
        h.layers
            .iter()
            .map(|l| Bar { label: l.name.clone(), value: f(l), marked: mark(l) })
            .collect::<Vec<_>>()
    };
    let luts = Bars {
        title: "LUTs per layer (cost model)".into(),
        x_label: "layer".into(),
        y_label: "LUTs".into(),
        bars: bars(&|l| l.luts as f64, &|_| false),
    };
    s.push_str(&luts.svg());
    if slowest.is_some() {
        let cycles = Bars {
            title: "Cycles per image per layer (orange: the bottleneck)".into(),
            x_label: "layer".into(),
            y_label: "cycles per image".into(),
            bars: bars(&|l| l.cycles.unwrap_or(0) as f64, &|l| {
                l.cycles.is_some() && l.cycles == slowest
            }),
        };
        s.push_str(&cycles.svg());
    }
    s.push_str("</div>");
    if !h.facts.is_empty() {
        s.push_str("<table>");
        for (k, v) in &h.facts {
            let _ =
                write!(s, "<tr><th class=\"text\">{}</th><td>{}</td></tr>", escape(k), escape(v));
        }
        s.push_str("</table>");
    }
}
