//! Per-layer sensitivity: one row per layer and probe, the compression each
//! probe promises, settings that change nothing measuring what the network
//! measures, and the rows shown by `report` (Markdown and one plot per method).

mod common;

use shiftkit::app::{run_report, run_sensitivity, ReportJob, SensitivityJob};
use shiftkit::compress::{sensitivity, Probes};
use shiftkit::data::DatasetName;
use shiftkit::model::{self, ModelFile, Provenance};
use shiftkit::quant::{self, QuantizeConfig, WeightSpec};
use shiftkit::train::evaluate;

#[test]
fn every_layer_meets_every_probe_and_a_null_probe_changes_nothing() {
    let (net, data) = common::trained_digits("mlp:64-16-12-10", 3, 1);
    let probes = Probes {
        sparsities: vec![0.0, 0.5, 0.75],
        obd: true,
        inq_bits: vec![6, 3],
        rank_fractions: vec![1.0, 0.25],
    };
    let mut calls = Vec::new();
    let s = sensitivity(&net, "mlp", "digits", &data, &probes, &mut |done, total| {
        calls.push((done, total))
    })
    .unwrap();
    // 3 layers x (3 magnitude + 3 OBD + 2 INQ + 2 ranks).
    assert_eq!(s.rows.len(), 3 * 10);
    assert_eq!(calls.last(), Some(&(30, 30)));
    assert!(calls.windows(2).all(|w| w[1].0 == w[0].0 + 1));
    assert_eq!(s.val_accuracy, evaluate(&net, &data.val));
    assert_eq!(s.test_accuracy, evaluate(&net, &data.test));
    for r in &s.rows {
        let same = (r.method.starts_with("prune") && r.setting == "0%")
            || (r.method == "low-rank" && r.setting == "rank/1");
        if same {
            assert!((r.val_accuracy - s.val_accuracy).abs() < 1e-9, "{r:?}");
        }
        match (r.method.as_str(), r.setting.as_str()) {
            ("prune" | "prune-obd", "50%") => assert!((r.compression - 2.0).abs() < 0.01, "{r:?}"),
            ("prune" | "prune-obd", "75%") => assert!((r.compression - 4.0).abs() < 0.02, "{r:?}"),
            ("inq", "3-bit") => assert!((r.compression - 32.0 / 3.0).abs() < 1e-9),
            // fc1 64 -> 16 at rank 4: 64*16 weights against 4*(64+16).
            ("low-rank", "rank/4") if r.layer == "fc1" => {
                assert_eq!(r.rank, Some(4));
                assert!((r.compression - 1024.0 / 320.0).abs() < 1e-9);
                assert_eq!((r.mults_before, r.mults_after), (1024, 320));
            }
            _ => {}
        }
    }
    // Harder settings hurt more, on the whole: 75% loses at least what 0% does.
    let mean = |m: &str, set: &str| {
        let v: Vec<f64> = s
            .rows
            .iter()
            .filter(|r| r.method == m && r.setting == set)
            .map(|r| r.val_accuracy)
            .collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    assert!(mean("prune", "75%") <= mean("prune", "0%"));
    assert!(sensitivity(
        &net,
        "mlp",
        "digits",
        &data,
        &Probes { sparsities: vec![1.0], ..Probes::default() },
        &mut |_, _| {}
    )
    .is_err());
}

#[test]
fn report_shows_a_sensitivity_run_as_tables_and_one_plot_per_method() {
    let (net, data) = common::trained_digits("mlp:64-16-10", 3, 1);
    let dir = tempfile::tempdir().unwrap();
    let provenance = Provenance {
        arch: Some("mlp:64-16-10".into()),
        dataset: Some("digits".into()),
        steps: vec![],
    };
    let float = dir.path().join("float.skm");
    let mut file = ModelFile::new(net.clone(), provenance);
    model::save(&float, &file).unwrap();
    let config = QuantizeConfig::new(WeightSpec::Pow2 { bits: 5 }, 8, 8);
    quant::write_integer(
        &quant::quantize(&net, data.val.x.view(), &config).unwrap(),
        &mut file.rest,
    );
    let q = dir.path().join("q.skm");
    model::save(&q, &file).unwrap();
    let json = dir.path().join("sens.json");
    let job = SensitivityJob {
        model: float,
        dataset: None,
        data_dir: None,
        probes: Probes::default(),
        output: Some(json.clone()),
    };
    let outcome = run_sensitivity(&job, &mut |_, _| {}).unwrap();
    let html = dir.path().join("r.html");
    let report = ReportJob {
        models: vec![q],
        reference: None,
        dataset: Some(DatasetName::Digits),
        data_dir: None,
        output: None,
        html: Some(html.clone()),
        sensitivity: vec![json],
    };
    let r = run_report(&report).unwrap();
    assert!(r.markdown.contains(&outcome.sensitivity.markdown()));
    assert!(r.markdown.contains("| prune-obd | 50% | 75% | 90% |"), "{}", r.markdown);
    let page = std::fs::read_to_string(&html).unwrap();
    let body = page.split_once('\n').unwrap().1;
    let doc = roxmltree::Document::parse(body).unwrap();
    let titles: Vec<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name("svg"))
        .filter_map(|n| n.descendants().find(|c| c.has_tag_name("title")))
        .filter_map(|t| t.text().map(str::to_string))
        .filter(|t| t.ends_with("one layer at a time"))
        .collect();
    assert_eq!(titles.len(), 4, "{titles:?}");
    // The tables are pivoted as the Markdown ones: per method, a header
    // (method and settings) and a row per layer, a cell per setting.
    let tables: Vec<_> = doc.descendants().filter(|n| n.has_tag_name("table")).collect();
    let inq = tables
        .iter()
        .find(|t| t.descendants().any(|c| c.has_tag_name("th") && c.text() == Some("inq")))
        .expect("an INQ table");
    let rows: Vec<Vec<String>> = inq
        .children()
        .filter(|n| n.has_tag_name("tr"))
        .map(|tr| {
            tr.children()
                .filter(|c| c.is_element())
                .map(|c| c.text().unwrap_or("").into())
                .collect()
        })
        .collect();
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(rows[0], ["inq", "5-bit", "4-bit", "3-bit", "2-bit"]);
    assert!(rows[1..].iter().all(|r| r.len() == 5 && r[1].contains(" / ")), "{rows:?}");
    // Each plot holds its method's rows: 2 layers x 3 settings (4 for INQ).
    let points = doc
        .descendants()
        .filter(|n| n.has_tag_name("svg"))
        .filter(|n| {
            n.descendants()
                .any(|c| c.has_tag_name("title") && c.text().is_some_and(|t| t.starts_with("inq")))
        })
        .flat_map(|n| {
            n.descendants().filter(|c| c.attribute("class").is_some_and(|a| a.starts_with("point")))
        })
        .count();
    assert_eq!(points, 8);
}
