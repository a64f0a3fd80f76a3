//! Generated Verilog: lint, synthesis, a snapshot, and the RTL against the
//! simulator on Icarus and Verilator (random networks, back-pressure, a
//! corrupted design, the digits INQ-5 MLP).
//!
//! Tests that need a tool skip, loudly, when it is not installed; .ci/run
//! installs verilator, iverilog and yosys.

use std::path::Path;
use std::process::Command;

use ndarray::{ArrayD, IxDyn};
use proptest::prelude::*;

use shiftkit::app::{self, VerifyJob};
use shiftkit::codegen::{self, HdlConfig};
use shiftkit::data::DatasetName;
use shiftkit::model::{self, ArchSpec, ModelFile, Provenance, Shape};
use shiftkit::quant::{
    self, FixedFormat, IntLayerSpec, IntNetwork, IntOp, QuantizeConfig, WeightKind, WeightSpec,
    Weighted,
};
use shiftkit::sim;
use shiftkit::verify::{self, Simulator, Traffic};

mod common;
use common::{random_dense_network, vectors};

fn have(tool: &str, test: &str) -> bool {
    let found = Command::new(tool).arg("--version").output().is_ok();
    if !found {
        eprintln!("SKIPPED {test}: {tool} is not installed");
    }
    found
}

fn config(argmax: bool, levels: u32) -> HdlConfig {
    HdlConfig {
        levels_per_stage: levels,
        argmax,
        ..HdlConfig::new("shiftkit_top", codegen::Form::Unrolled)
    }
}

fn generate(net: &IntNetwork, cfg: &HdlConfig, dir: &Path) -> codegen::Design {
    let design = codegen::generate(net, cfg).unwrap();
    codegen::write_design(&design, dir).unwrap();
    design
}

fn lint(dir: &Path, design: &codegen::Design) {
    let files: Vec<String> = design.files.iter().map(|(n, _)| n.clone()).collect();
    let out = Command::new("verilator")
        .current_dir(dir)
        .args(["--lint-only", "-Wall", "--top-module", &design.manifest.top])
        .args(&files)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && text.trim().is_empty(), "verilator -Wall:\n{text}");
}

/// A trained, quantized digits MLP with the given weights.
fn digits_model(spec: WeightSpec) -> IntNetwork {
    let (net, d) = common::trained_digits("mlp:64-12-10", 8, 2);
    quant::quantize(&net, d.train.x.view(), &QuantizeConfig::new(spec, 8, 8)).unwrap()
}

#[test]
fn generated_designs_are_lint_clean() {
    if !have("verilator", "generated_designs_are_lint_clean") {
        return;
    }
    let specs = [
        WeightSpec::Pow2 { bits: 5 },
        WeightSpec::Binary { scale: true },
        WeightSpec::Ternary { scale: false },
        WeightSpec::Fixed { bits: 8 },
    ];
    let mut nets: Vec<IntNetwork> = specs.into_iter().map(digits_model).collect();
    nets.extend((0..6).map(random_dense_network));
    for (i, net) in nets.iter().enumerate() {
        for argmax in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let design = generate(net, &config(argmax, 1 + i as u32 % 3), dir.path());
            lint(dir.path(), &design);
            let long = design.files.iter().flat_map(|(_, t)| t.lines()).find(|l| l.len() > 100);
            assert_eq!(long, None, "lines stay within 100 columns");
            assert!(design.files.iter().all(|(_, t)| t.is_ascii() && !t.contains('\t')));
        }
    }
}

#[test]
fn a_design_synthesizes_with_yosys() {
    if !have("yosys", "a_design_synthesizes_with_yosys") {
        return;
    }
    let net = digits_model(WeightSpec::Pow2 { bits: 5 });
    let dir = tempfile::tempdir().unwrap();
    let design = generate(&net, &config(true, 3), dir.path());
    let files: Vec<String> = design.files.iter().map(|(n, _)| n.clone()).collect();
    let script = format!("read_verilog {}; synth -top shiftkit_top; stat", files.join(" "));
    let out =
        Command::new("yosys").current_dir(dir.path()).args(["-q", "-p", &script]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn the_same_network_gives_the_same_bytes() {
    let net = random_dense_network(7);
    let a = codegen::generate(&net, &config(true, 2)).unwrap();
    let b = codegen::generate(&net, &config(true, 2)).unwrap();
    assert_eq!(a.files, b.files);
    assert_eq!(a.manifest, b.manifest);
}

/// Two inputs, two neurons, fixed4 weights: small enough to read.
fn tiny() -> IntNetwork {
    let w = Weighted {
        kind: WeightKind::Fixed { bits: 4 },
        exponent: -2,
        weights: ArrayD::from_shape_vec(IxDyn(&[2, 3]), vec![3, -1, 0, 0, 4, -7]).unwrap(),
        bias: vec![5, -2],
        scale: None,
        relu: true,
    };
    let specs = vec![IntLayerSpec {
        name: "fc1".into(),
        op: IntOp::Dense(w),
        format: Some(FixedFormat::new(false, 4, 1).unwrap()),
    }];
    IntNetwork::new(Shape::Flat(3), FixedFormat::new(false, 4, 2).unwrap(), specs).unwrap()
}

#[test]
fn tiny_network_verilog_snapshot() {
    let design = codegen::generate(&tiny(), &config(false, 1)).unwrap();
    for (name, text) in &design.files {
        insta::assert_snapshot!(name.clone(), text);
    }
}

#[test]
fn convolutions_are_refused_with_a_clear_error() {
    let spec: ArchSpec = serde_json::from_str(
        r#"{"input": [1, 4, 4], "layers": [{"op": "conv2d", "out_channels": 2, "kernel": 3},
            {"op": "flatten"}, {"op": "dense", "out": 3}]}"#,
    )
    .unwrap();
    let net = spec.build(1).unwrap();
    let x = ndarray::Array2::from_elem((4, 16), 0.5f32);
    let q =
        quant::quantize(&net, x.view(), &QuantizeConfig::new(WeightSpec::Fixed { bits: 8 }, 8, 8))
            .unwrap();
    let e = codegen::generate(&q, &config(false, 3)).unwrap_err().to_string();
    assert!(e.contains("conv1") && e.contains("streaming form"), "{e}");
    let bad = HdlConfig { top: "1top".into(), ..config(false, 3) };
    assert!(codegen::generate(&tiny(), &bad).unwrap_err().to_string().contains("identifier"));
}

/// Builds, runs and compares one random network on one simulator.
fn check_random(sim_kind: Simulator, seed: u64, count: usize) -> Result<(), String> {
    let net = random_dense_network(seed);
    let argmax = seed.is_multiple_of(2);
    let mut cfg = config(argmax, 1 + (seed % 3) as u32);
    if seed % 5 < 2 {
        // Registers placed for a clock by the UP5K's timing model (some
        // before the requantization, where only that makes it fit; the
        // argmax's tree registered every few levels where whole it does
        // not fit).
        cfg.device = Some(shiftkit::device::Device::resolve("ice40-up5k").unwrap());
        cfg.clock_mhz = Some(15.0 + (seed % 47) as f64);
    }
    check_design(sim_kind, &net, &cfg, seed, count)
}

/// Builds, runs and compares `net`'s design under `cfg` on one simulator,
/// without and with gaps and back-pressure, every beat at the timing
/// model's cycle.
fn check_design(
    sim_kind: Simulator,
    net: &IntNetwork,
    cfg: &HdlConfig,
    seed: u64,
    count: usize,
) -> Result<(), String> {
    let (net, cfg) = (net.clone(), cfg.clone());
    let dir = tempfile::tempdir().unwrap();
    let design = generate(&net, &cfg, dir.path());
    let built =
        verify::build(sim_kind, dir.path(), &design.manifest, &dir.path().join("build"), count)
            .map_err(|e| e.to_string())?;
    let x = vectors(&net, seed, count);
    let expected = sim::run(&net, x.view()).unwrap();
    // No gaps, then gaps and back-pressure: every beat at the cycle the
    // timing model says (one pipeline of the manifest's latency).
    let contract = verify::Contract::of(&design.manifest);
    for traffic in [Traffic::new(seed as u32, 16, 16), Traffic::new(seed as u32 + 1, 9, 7)] {
        let model = contract.timeline(count, traffic).map_err(|e| e.to_string())?;
        let (log, _) = verify::run(&built, &x, traffic).map_err(|e| e.to_string())?;
        verify::compare(&design.manifest, &expected, &log, Some(&model))
            .map_err(|m| format!("seed {seed}, {traffic:?}: {m}"))?;
        if traffic.valid == 16 {
            let t = log.timeline(1);
            let latency = design.manifest.latency as u64;
            assert!(t.starts.iter().zip(&t.ends).all(|(s, e)| e - s == latency), "{t:?}");
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn icarus_agrees_with_the_simulator_on_random_networks(seed in 0u64..1_000_000) {
        if Simulator::Icarus.available() {
            check_random(Simulator::Icarus, seed, 150).map_err(TestCaseError::fail)?;
        } else {
            eprintln!("SKIPPED: iverilog is not installed");
        }
    }
}

/// The argmax of an unrolled top whose comparator tree is too slow for the
/// clock whole is registered every few levels (`sk_argmax_pipe`), the
/// logits delayed alike; the design computes what the simulator does, index
/// included, at the latency its manifest states.
#[test]
fn an_argmax_too_slow_for_the_clock_is_pipelined_and_exact() {
    if !have("iverilog", "an_argmax_too_slow_for_the_clock_is_pipelined_and_exact") {
        return;
    }
    // A network of five outputs or more: three comparator levels.
    let (seed, net) = (0..)
        .map(|seed| (seed, random_dense_network(seed)))
        .find(|(_, net)| net.output().numel() >= 5)
        .unwrap();
    let mut cfg = config(true, 3);
    let device = shiftkit::device::Device::resolve("ice40-up5k").unwrap();
    let delays = device.delays.unwrap();
    cfg.device = Some(device);
    cfg.clock_mhz = Some(40.0);
    let design = codegen::generate(&net, &cfg).unwrap();
    let top = &design.files.last().unwrap().1;
    assert!(top.contains("sk_argmax_pipe #("), "{top}");
    // Whole, its tree would not fit 40 MHz; registered, every stage does.
    let stated = design.manifest.model_mhz.unwrap();
    assert!(stated >= 40.0, "{stated} MHz");
    let graphs_ns = design.graphs.iter().map(|g| g.slowest_stage_ns(&delays)).fold(0.0, f64::max);
    assert!(1000.0 / stated >= graphs_ns - 1e-9);
    // Without a clock: the tree in one stage, one cycle.
    let plain = codegen::generate(&net, &config(true, 3)).unwrap();
    assert!(!plain.files.last().unwrap().1.contains("sk_argmax_pipe"));
    assert!(design.manifest.latency > plain.manifest.latency);
    if Command::new("verilator").arg("--version").output().is_ok() {
        let dir = tempfile::tempdir().unwrap();
        lint(dir.path(), &generate(&net, &cfg, dir.path()));
    }
    check_design(Simulator::Icarus, &net, &cfg, seed, 200).unwrap();
}

#[test]
fn verilator_agrees_with_the_simulator_on_random_networks() {
    if !have("verilator", "verilator_agrees_with_the_simulator_on_random_networks") {
        return;
    }
    for seed in [11, 24] {
        check_random(Simulator::Verilator, seed, 1500).unwrap();
    }
}

/// Trains the digits MLP, compresses it with INQ-5 and writes model and design.
fn digits_inq5(dir: &Path) -> std::path::PathBuf {
    let (net, _, q) = common::digits_inq5(30, 1);
    let mut file =
        ModelFile::new(net, Provenance { dataset: Some("digits".into()), ..Provenance::default() });
    quant::write_integer(&q, &mut file.rest);
    let path = dir.join("q.skm");
    model::save(&path, &file).unwrap();
    generate(&q, &config(true, 3), &dir.join("hdl"));
    path
}

#[test]
fn digits_inq5_mlp_verifies_on_verilator_with_the_test_split_and_10000_random_vectors() {
    if !have("verilator", "digits_inq5_mlp_verifies_on_verilator") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let model = digits_inq5(dir.path());
    let job = VerifyJob {
        model,
        dir: dir.path().join("hdl"),
        simulators: vec![Simulator::Verilator],
        vectors: 10_000,
        dataset: Some(DatasetName::Digits),
        data_dir: None,
        seed: 5,
    };
    let mut told = Vec::new();
    let outcome = app::run_verify(&job, &mut |m| told.push(m.to_string())).unwrap();
    // 3 extremes + 10,000 random + the 359 test images.
    assert_eq!(outcome.vectors, 3 + 10_000 + 359);
    assert!(outcome.passed, "{}", outcome.to_text());
    // Progress: the compile, then each run counted from 0 to at most its total.
    assert_eq!(told[0], "verilator: compiling the design");
    let total = "/10362 vectors, random gaps and back-pressure";
    let counts: Vec<usize> = told
        .iter()
        .filter_map(|m| m.split_once(total).map(|(head, _)| head.rsplit(' ').next().unwrap()))
        .map(|n| n.parse().unwrap())
        .collect();
    assert_eq!(counts.first(), Some(&0), "{told:?}");
    assert!(counts.windows(2).all(|p| p[0] <= p[1]) && counts.iter().all(|&c| c <= 10_362));
}

#[test]
fn a_corrupted_weight_shift_is_caught() {
    if !have("iverilog", "a_corrupted_weight_shift_is_caught") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let model = digits_inq5(dir.path());
    let hdl = dir.path().join("hdl");
    // Double one weight: `{1'b0, x7, 3'b0}` (x7 * 8) becomes `{x7, 4'b0}` (x7 * 16).
    let layer = hdl.join("shiftkit_top_fc1.v");
    let text = std::fs::read_to_string(&layer).unwrap();
    let term = text
        .match_indices("{1'b0, x")
        .map(|(start, _)| &text[start..=start + text[start..].find('}').unwrap()])
        .find(|t| t.matches(", ").count() == 2)
        .expect("a shifted unsigned input term");
    let parts: Vec<&str> = term.trim_matches(|c| c == '{' || c == '}').split(", ").collect();
    let shift: u32 = parts[2].trim_end_matches("'b0").parse().unwrap();
    let corrupted = format!("{{{}, {}'b0}}", parts[1], shift + 1);
    std::fs::write(&layer, text.replacen(term, &corrupted, 1)).unwrap();
    let job = VerifyJob {
        model,
        dir: hdl,
        simulators: vec![Simulator::Icarus],
        vectors: 500,
        dataset: Some(DatasetName::Digits),
        data_dir: None,
        seed: 3,
    };
    let outcome = app::run_verify(&job, &mut |_| {}).unwrap();
    assert!(!outcome.passed, "the corruption {term} -> {corrupted} went unnoticed");
    let text = outcome.to_text();
    assert!(text.contains("MISMATCH: image") && text.contains(", output "), "{text}");
    assert!(text.contains("first differing layer: `fc1`"), "{text}");
}

#[test]
fn layer_traces_match_the_simulator_layer_by_layer() {
    if !have("iverilog", "layer_traces_match_the_simulator_layer_by_layer") {
        return;
    }
    for seed in [3, 8, 21] {
        let net = random_dense_network(seed);
        let dir = tempfile::tempdir().unwrap();
        let design = generate(&net, &config(seed == 8, 2), dir.path());
        let built = verify::build(
            Simulator::Icarus,
            dir.path(),
            &design.manifest,
            &dir.path().join("b"),
            4,
        )
        .unwrap();
        let x = vectors(&net, seed, 4);
        for row in x.rows() {
            let traces = verify::trace_layers(&built, &row.to_vec(), &net).unwrap();
            let one = ndarray::Array2::from_shape_vec((1, row.len()), row.to_vec()).unwrap();
            let expected = sim::run_traced(&net, one.view()).unwrap();
            assert_eq!(traces.len(), design.manifest.layers.len());
            for (name, got) in traces {
                let k = net.layers().iter().position(|l| l.name == name).unwrap();
                assert_eq!(got, expected[k].row(0).to_vec(), "seed {seed}, layer {name}");
            }
        }
    }
}

/// Seed 637363 makes neurons whose weights are all zero: constant outputs that
/// saturate. The generator once referenced such a constant as an undeclared
/// wire, and Icarus refused the design.
#[test]
fn constant_neurons_generate_and_verify() {
    if !have("iverilog", "constant_neurons_generate_and_verify") {
        return;
    }
    check_random(Simulator::Icarus, 637_363, 150).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let design = generate(&random_dense_network(637_363), &config(false, 2), dir.path());
    if have("verilator", "constant_neurons_generate_and_verify") {
        lint(dir.path(), &design);
    }
}
