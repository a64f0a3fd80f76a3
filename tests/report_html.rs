//! The HTML report: well-formed (an XML parser reads it), every plot holds
//! as many points or bars as its data, and the same inputs give the same
//! bytes; for a report of 20 models.

mod common;

use std::path::PathBuf;

use shiftkit::app::{run_report, ReportJob};
use shiftkit::data::DatasetName;
use shiftkit::model::{self, ModelFile, Provenance};
use shiftkit::quant::{self, QuantizeConfig, WeightSpec};
use shiftkit::report::html::{code_histogram, FLOAT_BINS};

/// Twenty quantizations (weight spec, activation bits): every kind
/// quantization makes alone, at several widths (wide fixed-point layers are
/// left out: their shared adder graphs take seconds to solve in a test build).
const SPECS: [(&str, u32); 20] = [
    ("fixed2", 8),
    ("fixed3", 8),
    ("fixed4", 8),
    ("fixed5", 8),
    ("fixed6", 8),
    ("fixed8", 8),
    ("fixed8", 6),
    ("fixed8", 4),
    ("inq2", 8),
    ("inq3", 8),
    ("inq4", 8),
    ("inq5", 8),
    ("inq6", 8),
    ("inq5", 6),
    ("inq5", 4),
    ("binary", 8),
    ("binary-noscale", 8),
    ("ternary", 8),
    ("ternary-noscale", 8),
    ("ternary", 4),
];

/// A digits MLP quantized 20 ways, saved in `dir`.
fn twenty_models(dir: &std::path::Path) -> (PathBuf, Vec<PathBuf>) {
    let (net, d) = common::trained_digits("mlp:64-16-10", 3, 1);
    let provenance = Provenance {
        arch: Some("mlp:64-16-10".into()),
        dataset: Some("digits".into()),
        steps: vec![],
    };
    let float = dir.join("float.skm");
    model::save(&float, &ModelFile::new(net.clone(), provenance.clone())).unwrap();
    let paths = SPECS
        .iter()
        .map(|&(spec, act_bits)| {
            let config = QuantizeConfig::new(spec.parse::<WeightSpec>().unwrap(), act_bits, 8);
            let q = quant::quantize(&net, d.val.x.view(), &config).unwrap();
            let mut file = ModelFile::new(net.clone(), provenance.clone());
            quant::write_integer(&q, &mut file.rest);
            let path = dir.join(format!("{spec}_a{act_bits}.skm"));
            model::save(&path, &file).unwrap();
            path
        })
        .collect();
    (float, paths)
}

fn class_of<'a>(n: &roxmltree::Node<'a, '_>) -> &'a str {
    n.attribute("class").unwrap_or("")
}

#[test]
fn twenty_models_make_a_well_formed_page_with_every_point_and_bar() {
    let dir = tempfile::tempdir().unwrap();
    let (float, models) = twenty_models(dir.path());
    let job = |html: PathBuf| ReportJob {
        models: models.clone(),
        reference: Some(float.clone()),
        dataset: Some(DatasetName::Digits),
        data_dir: None,
        output: None,
        html: Some(html),
        sensitivity: Vec::new(),
    };
    let (a, b) = (dir.path().join("a.html"), dir.path().join("b.html"));
    let start = std::time::Instant::now();
    let outcome = run_report(&job(a.clone())).unwrap();
    eprintln!("20-model report in {:.2} s", start.elapsed().as_secs_f64());
    run_report(&job(b.clone())).unwrap();
    let text = std::fs::read_to_string(&a).unwrap();
    assert_eq!(text.as_bytes(), std::fs::read(&b).unwrap(), "same inputs, same bytes");
    assert!(text.len() < 4 << 20, "a 20-model page of {} bytes", text.len());
    assert!(!text.contains("<script"), "no scripts");
    assert!(!text.contains("src=\"http"), "nothing fetched");

    // Well-formed: an XML parser reads the whole page.
    let xml = text.trim_start_matches("<!DOCTYPE html>\n");
    let doc = roxmltree::Document::parse(xml).expect("the page is well-formed XML");
    let svgs: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("svg") && class_of(n).contains("plot"))
        .collect();

    // The scatter: one point per model, one for the (shared) float original.
    let scatter = svgs.iter().find(|n| class_of(n).contains("scatter")).unwrap();
    let points = scatter
        .descendants()
        .filter(|n| n.has_tag_name("circle") && class_of(n).starts_with("point"))
        .count();
    assert_eq!(points, SPECS.len() + 1);
    assert_eq!(outcome.rows.len(), SPECS.len());

    // Per model: per layer the code histogram's bars and the float one's,
    // then the LUTs of each layer of its default design (unrolled here).
    let bars: Vec<usize> = svgs
        .iter()
        .filter(|n| class_of(n).contains("bars"))
        .map(|n| {
            n.descendants()
                .filter(|r| r.has_tag_name("rect") && class_of(r).starts_with("bar"))
                .count()
        })
        .collect();
    let mut expected = Vec::new();
    for path in &models {
        let (_, net) = shiftkit::app::load_integer(path).unwrap();
        for w in net.layers().iter().filter_map(|l| l.op.weighted()) {
            expected.push(code_histogram(w).1.len());
            expected.push(FLOAT_BINS);
        }
        let design = shiftkit::app::default_design(&net).expect("a design");
        assert!(design.stream.is_none());
        expected.push(design.layers.len());
    }
    assert_eq!(bars, expected);
    // Every plot names its axes.
    for svg in &svgs {
        let labels = svg.descendants().filter(|n| class_of(n) == "label").count();
        assert_eq!(labels, 2, "{:?}", svg.attribute("aria-label"));
    }
}
