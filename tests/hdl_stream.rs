//! The streaming form end to end: random networks (image sizes, channels,
//! kernels, strides, padding, pools, foldings, weight kinds) generated,
//! compiled on Icarus, and every output compared with the simulator while the
//! timeline of images in and out is held against the timing model, with and
//! without random gaps and back-pressure; lint; a corrupted design caught
//! naming its layer; foldings refused by name.
//!
//! Tests that need a tool skip, loudly, when it is not installed.

use std::path::Path;
use std::process::Command;

use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use shiftkit::codegen::stream::{Fold, Folds};
use shiftkit::codegen::{self, Form, HdlConfig};
use shiftkit::model::Shape;
use shiftkit::quant::{IntNetwork, IntOp};
use shiftkit::sim;
use shiftkit::verify::{self, stream, Simulator, Traffic};

mod common;
use common::{random_network, vectors};

fn have(tool: &str) -> bool {
    let found = Command::new(tool).arg("--version").output().is_ok();
    if !found {
        eprintln!("SKIPPED: {tool} is not installed");
    }
    found
}

fn divisors(n: usize) -> Vec<usize> {
    (1..=n).filter(|d| n.is_multiple_of(*d)).collect()
}

/// Random foldings for every weighted layer of `net`.
fn random_folds(net: &IntNetwork, rng: &mut ChaCha8Rng) -> Folds {
    let mut folds = Folds::default();
    let mut shape = net.input();
    for l in net.layers() {
        let (m, n) = match (&l.op, shape) {
            (IntOp::Dense(w), _) => (w.out_channels(), shape.numel()),
            (IntOp::Conv2d { layer, .. }, Shape::Image { c, .. }) => {
                let k = layer.weights.shape();
                (k[0], k[2] * k[3] * c)
            }
            _ => {
                shape = l.output;
                continue;
            }
        };
        let (pes, simds) = (divisors(m), divisors(n));
        let fold = Fold {
            pe: pes[rng.gen_range(0..pes.len())],
            simd: simds[rng.gen_range(0..simds.len())],
        };
        folds.0.insert(l.name.clone(), fold);
        shape = l.output;
    }
    folds
}

fn stream_config(net: &IntNetwork, seed: u64) -> HdlConfig {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
    let argmax = matches!(net.output(), Shape::Flat(_)) && rng.gen_bool(0.5);
    let input_lanes = match net.input() {
        Shape::Flat(n) => {
            let d = divisors(n);
            Some(d[rng.gen_range(0..d.len())])
        }
        Shape::Image { .. } => None,
    };
    HdlConfig {
        argmax,
        levels_per_stage: rng.gen_range(1..=3),
        folds: random_folds(net, &mut rng),
        input_lanes,
        ..HdlConfig::new("stream_top", Form::Streaming)
    }
}

fn generate(net: &IntNetwork, cfg: &HdlConfig, dir: &Path) -> codegen::Design {
    let design = codegen::generate(net, cfg).unwrap();
    codegen::write_design(&design, dir).unwrap();
    design
}

/// Builds and runs one random network on Icarus; every output and the whole
/// timeline of both runs must agree.
fn check_random(seed: u64, images: usize) -> Result<(), String> {
    let net = random_network(seed);
    let cfg = stream_config(&net, seed);
    let dir = tempfile::tempdir().unwrap();
    let design = generate(&net, &cfg, dir.path());
    let m = &design.manifest;
    let s = m.stream.as_ref().unwrap();
    let built = verify::build(Simulator::Icarus, dir.path(), m, &dir.path().join("b"), images)
        .map_err(|e| e.to_string())?;
    let x = vectors(&net, seed, images);
    let expected = sim::run(&net, x.view()).unwrap();
    for (valid, ready) in [(16, 16), (9, 7)] {
        let traffic = Traffic { seed: seed as u32 + 1, valid, ready };
        let model = s.timeline_with(images, traffic).map_err(|e| e.to_string())?;
        let (log, _) = stream::run(&built, &x, traffic).map_err(|e| e.to_string())?;
        stream::compare(m, &expected, &log, Some(&model)).map_err(|e| {
            format!("seed {seed}, folds {:?}, valid {valid}/16, ready {ready}/16: {e}", cfg.folds)
        })?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn icarus_agrees_with_the_simulator_and_the_timing_model_on_random_streaming_networks(
        seed in 0u64..1_000_000
    ) {
        if Simulator::Icarus.available() {
            check_random(seed, 5).map_err(TestCaseError::fail)?;
        } else {
            eprintln!("SKIPPED: iverilog is not installed");
        }
    }
}

#[test]
fn random_streaming_designs_are_lint_clean() {
    if !have("verilator") {
        return;
    }
    for seed in 0..12 {
        let net = random_network(seed);
        let cfg = stream_config(&net, seed);
        let dir = tempfile::tempdir().unwrap();
        let design = generate(&net, &cfg, dir.path());
        let files: Vec<String> = design.files.iter().map(|(n, _)| n.clone()).collect();
        let out = Command::new("verilator")
            .current_dir(dir.path())
            .args(["--lint-only", "-Wall", "--top-module", "stream_top"])
            .args(&files)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && text.trim().is_empty(), "seed {seed}:\n{text}");
        let long = design.files.iter().flat_map(|(_, t)| t.lines()).find(|l| l.len() > 100);
        assert_eq!(long, None, "seed {seed}: lines stay within 100 columns");
    }
}

#[test]
fn the_same_network_gives_the_same_streaming_bytes() {
    let net = random_network(4);
    let cfg = stream_config(&net, 4);
    let (a, b) = (codegen::generate(&net, &cfg).unwrap(), codegen::generate(&net, &cfg).unwrap());
    assert_eq!(a.files, b.files);
    assert_eq!(a.data, b.data);
    assert_eq!(a.manifest, b.manifest);
}

#[test]
fn impossible_foldings_are_refused_naming_the_layer_and_the_choices() {
    // random_network(1) has a convolution; find a network with fc1 too.
    let net =
        (0..50).map(random_network).find(|n| n.layers().iter().any(|l| l.name == "fc1")).unwrap();
    let fc1 = net.layers().iter().find(|l| l.name == "fc1").unwrap();
    let outputs = fc1.output.numel();
    let mut cfg = HdlConfig::new("stream_top", Form::Streaming);
    cfg.folds = format!("fc1={}x1", outputs + 1).parse().unwrap();
    let e = codegen::generate(&net, &cfg).unwrap_err().to_string();
    assert!(e.contains("fc1") && e.contains("PE") && e.contains("use one of 1"), "{e}");
    cfg.folds = "nosuch=1x1".parse().unwrap();
    let e = codegen::generate(&net, &cfg).unwrap_err().to_string();
    assert!(e.contains("nosuch") && e.contains("fc1"), "{e}");
}
