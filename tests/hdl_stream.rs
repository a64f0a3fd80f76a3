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
use shiftkit::verify::{self, Simulator, Traffic};

mod common;
use common::{finish_dense, random_format, random_network, random_weighted, vectors};

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

/// Every weighted layer's matrix: (name, outputs M, inputs N).
fn matrices(net: &IntNetwork) -> Vec<(String, usize, usize)> {
    let mut out = Vec::new();
    let mut shape = net.input();
    for l in net.layers() {
        match (&l.op, shape) {
            (IntOp::Dense(w), _) => out.push((l.name.clone(), w.out_channels(), shape.numel())),
            (IntOp::Conv2d { layer, .. }, Shape::Image { c, .. }) => {
                let k = layer.weights.shape();
                out.push((l.name.clone(), k[0], k[2] * k[3] * c));
            }
            _ => {}
        }
        shape = l.output;
    }
    out
}

/// Random foldings for every weighted layer of `net`.
fn random_folds(net: &IntNetwork, rng: &mut ChaCha8Rng) -> Folds {
    let mut folds = Folds::default();
    for (name, m, n) in matrices(net) {
        let (pes, simds) = (divisors(m), divisors(n));
        let fold = Fold {
            pe: pes[rng.gen_range(0..pes.len())],
            simd: simds[rng.gen_range(0..simds.len())],
        };
        folds.0.insert(name, fold);
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
    // A third of the designs pipelined for a clock by the UP5K's timing model.
    let clock_mhz = rng.gen_bool(0.33).then(|| rng.gen_range(20.0..200.0));
    let folds = random_folds(net, &mut rng);
    // A third of the folded units keep their weights in SPRAM.
    let spram = matrices(net)
        .into_iter()
        .filter(|(name, m, n)| folds.0[name] != Fold { pe: *m, simd: *n })
        .filter(|_| rng.gen_bool(0.33))
        .map(|(name, _, _)| name)
        .collect();
    // Half aim at a slow target: the window generators of units that take
    // several beats a window then keep one window register (COMPACT), and
    // converters splitting a beat hold it (HOLD).
    let cycles = rng.gen_bool(0.5).then_some(1 << 20);
    // Half of the flat outputs leave in narrower beats.
    let output_lanes = match net.output() {
        Shape::Flat(n) if rng.gen_bool(0.5) => {
            let d = divisors(n);
            Some(d[rng.gen_range(0..d.len())])
        }
        _ => None,
    };
    HdlConfig {
        argmax,
        cycles,
        output_lanes,
        levels_per_stage: rng.gen_range(1..=3),
        folds,
        input_lanes,
        clock_mhz,
        device: clock_mhz.map(|_| shiftkit::device::Device::resolve("ice40-up5k").unwrap()),
        spram,
        ..HdlConfig::new("stream_top", Form::Streaming)
    }
}

fn generate(net: &IntNetwork, cfg: &HdlConfig, dir: &Path) -> codegen::Design {
    let design = codegen::generate(net, cfg).unwrap();
    codegen::write_design(&design, dir).unwrap();
    design
}

/// A random convolutional network for the streaming form: image size and
/// channels, one or two convolutions (kernels of any shape up to 4, strides up
/// to 3, padding below the kernel), pools of any window and stride, ReLUs in
/// every position, then dense layers; every weight kind and format.
fn random_stream_network(seed: u64) -> IntNetwork {
    use shiftkit::model::MaxPool2d;
    use shiftkit::quant::IntLayerSpec;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let input_format = random_format(&mut rng, 2);
    let (c, h, w) = (rng.gen_range(1..=3), rng.gen_range(3..=9), rng.gen_range(3..=9));
    let input = Shape::Image { c, h, w };
    let mut specs = Vec::new();
    let mut shape = (c, h, w);
    for conv in 1..=rng.gen_range(1..=2) {
        let (c, h, w) = shape;
        let k = [rng.gen_range(1..=4.min(h + 2)), rng.gen_range(1..=4.min(w + 2))];
        let pad = [rng.gen_range(0..k[0]).min(1), rng.gen_range(0..k[1]).min(1)];
        let (hp, wp) = (h + 2 * pad[0], w + 2 * pad[1]);
        if k[0] > hp || k[1] > wp {
            break;
        }
        let stride = [rng.gen_range(1..=3), rng.gen_range(1..=3)];
        let oc = rng.gen_range(1..=4);
        let layer = random_weighted(&mut rng, &[oc, c, k[0], k[1]]);
        specs.push(IntLayerSpec {
            name: format!("conv{conv}"),
            op: IntOp::Conv2d { layer, stride, padding: pad },
            format: Some(random_format(&mut rng, 2)),
        });
        shape = (oc, (hp - k[0]) / stride[0] + 1, (wp - k[1]) / stride[1] + 1);
        if rng.gen_bool(0.3) {
            specs.push(IntLayerSpec {
                name: format!("relu{conv}a"),
                op: IntOp::Relu,
                format: None,
            });
        }
        let (oc, oh, ow) = shape;
        if oh >= 2 && ow >= 2 && rng.gen_bool(0.6) {
            let kernel = [rng.gen_range(1..=oh.min(3)), rng.gen_range(1..=ow.min(3))];
            let stride = [rng.gen_range(1..=3), rng.gen_range(1..=3)];
            specs.push(IntLayerSpec {
                name: format!("pool{conv}"),
                op: IntOp::MaxPool2d(MaxPool2d { kernel, stride }),
                format: None,
            });
            shape = (oc, (oh - kernel[0]) / stride[0] + 1, (ow - kernel[1]) / stride[1] + 1);
            if rng.gen_bool(0.3) {
                specs.push(IntLayerSpec {
                    name: format!("relu{conv}b"),
                    op: IntOp::Relu,
                    format: None,
                });
            }
        }
    }
    specs.push(IntLayerSpec { name: "flatten".into(), op: IntOp::Flatten, format: None });
    if rng.gen_bool(0.3) {
        specs.push(IntLayerSpec { name: "relu_flat".into(), op: IntOp::Relu, format: None });
    }
    let width = shape.0 * shape.1 * shape.2;
    finish_dense(&mut rng, input, input_format, specs, width)
}

/// Builds and runs one random network on Icarus; every output and the whole
/// timeline of both runs must agree.
fn check_random(seed: u64, images: usize) -> Result<(), String> {
    // Half from the streaming generator, half from the shared one (which also
    // makes dense-only networks with flat inputs).
    let net =
        if seed.is_multiple_of(2) { random_stream_network(seed) } else { random_network(seed) };
    let cfg = stream_config(&net, seed);
    let dir = tempfile::tempdir().unwrap();
    let design = generate(&net, &cfg, dir.path());
    let m = &design.manifest;
    let built = verify::build(Simulator::Icarus, dir.path(), m, &dir.path().join("b"), images)
        .map_err(|e| e.to_string())?;
    let x = vectors(&net, seed, images);
    let expected = sim::run(&net, x.view()).unwrap();
    for (valid, ready) in [(16, 16), (9, 7)] {
        let traffic = Traffic::new(seed as u32 + 1, valid, ready);
        let model = verify::Contract::of(m).timeline(images, traffic).map_err(|e| e.to_string())?;
        let (log, _) = verify::run(&built, &x, traffic).map_err(|e| e.to_string())?;
        verify::compare(m, &expected, &log, Some(&model)).map_err(|e| {
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

/// `verilator --lint-only -Wall`: no warning at all.
fn lint(dir: &Path, design: &codegen::Design, what: &str) {
    let mut files: Vec<String> = design.files.iter().map(|(n, _)| n.clone()).collect();
    files.extend(design.manifest.stream.iter().flat_map(|s| s.sim_models.iter().cloned()));
    let out = Command::new("verilator")
        .current_dir(dir)
        .args(["--lint-only", "-Wall", "--top-module", &design.manifest.top])
        .args(&files)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && text.trim().is_empty(), "{what}:\n{text}");
}

#[test]
fn random_streaming_designs_are_lint_clean() {
    if !have("verilator") {
        return;
    }
    let (mut with_spram, mut compact, mut serial, mut dsp, mut hold) = (0, 0, 0, 0, 0);
    for seed in 0..12u64 {
        let net =
            if seed.is_multiple_of(2) { random_stream_network(seed) } else { random_network(seed) };
        let cfg = stream_config(&net, seed);
        let dir = tempfile::tempdir().unwrap();
        let design = generate(&net, &cfg, dir.path());
        lint(dir.path(), &design, &format!("seed {seed}"));
        with_spram += usize::from(design.manifest.stream.as_ref().unwrap().weight_bytes > 0);
        compact += usize::from(design.files.iter().any(|(_, t)| t.contains(".COMPACT(1)")));
        serial += usize::from(design.files.iter().any(|(n, _)| n == "sk_maxpool_serial.v"));
        dsp += usize::from(design.manifest.cost.dsps > 0);
        hold += usize::from(design.files.iter().any(|(_, t)| t.contains(".HOLD(1)")));
        let long = design.files.iter().flat_map(|(_, t)| t.lines()).find(|l| l.len() > 100);
        assert_eq!(long, None, "seed {seed}: lines stay within 100 columns");
        // The library files the plan lists are exactly those the Verilog
        // instantiates (the lint above finds any missing).
        for (name, _) in design.files.iter().filter(|(n, _)| n.starts_with("sk_")) {
            let stem = name.trim_end_matches(".v");
            let (with, without) = (format!("{stem} #("), format!("{stem} u_"));
            let used = design.files.iter().any(|(_, t)| t.contains(&with) || t.contains(&without));
            assert!(used, "seed {seed}: {name} is listed but nothing instantiates it");
        }
    }
    assert!(with_spram > 0, "no design kept its weights in SPRAM");
    assert!(compact > 0, "no design kept one window register");
    assert!(serial > 0, "no design pooled the channels as they arrive");
    assert!(dsp > 0, "no design multiplied on DSP blocks");
    assert!(hold > 0, "no converter held its beat");
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

/// A model file holding `net` (its float network is `float`).
fn save(dir: &Path, float: shiftkit::model::Network, net: &IntNetwork) -> std::path::PathBuf {
    use shiftkit::model::{ModelFile, Provenance};
    let mut file = ModelFile::new(float, Provenance::default());
    shiftkit::quant::write_integer(net, &mut file.rest);
    let path = dir.join("q.skm");
    shiftkit::model::save(&path, &file).unwrap();
    path
}

/// LeNet-5 with its initial weights, quantized on random images: the layer
/// sizes of the real thing, no training needed for bit-exactness.
fn lenet(
    spec: shiftkit::quant::WeightSpec,
    first_last: Option<shiftkit::quant::WeightSpec>,
) -> (shiftkit::model::Network, IntNetwork) {
    use shiftkit::quant::QuantizeConfig;
    let float = shiftkit::model::ArchSpec::lenet5().build(3).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let x = ndarray::Array2::from_shape_simple_fn((64, 784), || rng.gen_range(0.0f32..1.0));
    let mut cfg = QuantizeConfig::new(spec, 8, 8);
    if let Some(fl) = first_last {
        cfg.layer_weights.insert("conv1".into(), fl);
        cfg.layer_weights.insert("fc3".into(), fl);
    }
    let q = shiftkit::quant::quantize(&float, x.view(), &cfg).unwrap();
    (float, q)
}

fn verify_job(
    model: std::path::PathBuf,
    dir: std::path::PathBuf,
    sim: Simulator,
    vectors: usize,
) -> shiftkit::app::VerifyJob {
    shiftkit::app::VerifyJob {
        model,
        dir,
        simulators: vec![sim],
        vectors,
        dataset: None,
        data_dir: None,
        seed: 4,
    }
}

/// LeNet-5 at INQ-5, at binary with the first and last layers fixed8, and at
/// ternary, as streaming designs with the default folding (every layer as fast
/// as the first convolution's window walks its padded image): lint-clean, and
/// on Verilator 300 random images and the extremes, outputs and timelines.
#[test]
fn lenet5_streaming_designs_verify_on_verilator() {
    use shiftkit::quant::WeightSpec;
    if !have("verilator") {
        return;
    }
    let cases = [
        ("inq5", WeightSpec::Pow2 { bits: 5 }, None),
        ("binary", WeightSpec::Binary { scale: true }, Some(WeightSpec::Fixed { bits: 8 })),
        ("ternary", WeightSpec::Ternary { scale: true }, None),
    ];
    for (what, spec, first_last) in cases {
        let (float, net) = lenet(spec, first_last);
        let dir = tempfile::tempdir().unwrap();
        let model = save(dir.path(), float, &net);
        let hdl = dir.path().join("hdl");
        let cfg = HdlConfig { argmax: true, ..HdlConfig::new("lenet", Form::Streaming) };
        let design = generate(&net, &cfg, &hdl);
        lint(&hdl, &design, what);
        let s = design.manifest.stream.as_ref().unwrap();
        assert_eq!(s.input.beats, 784, "{what}: one pixel per beat");
        assert_eq!(s.cycles_per_image, s.target_cycles, "{what}: balanced at the target");
        let outcome = shiftkit::app::run_verify(
            &verify_job(model, hdl, Simulator::Verilator, 300),
            &mut |_| {},
        )
        .unwrap();
        assert!(outcome.passed, "{what}:\n{}", outcome.to_text());
        let plain = &outcome.reports[0].runs[0];
        assert_eq!(plain.cycles_per_image, Some(s.cycles_per_image), "{what}");
        assert_eq!(plain.latency, Some(s.latency), "{what}");
    }
}

/// The ONNX LeNet-5 fixture (PyTorch, with batch norms), imported, quantized
/// to fixed8 (multiplier lanes) and verified as a streaming design.
#[test]
fn the_imported_onnx_lenet5_verifies_as_a_streaming_design() {
    use shiftkit::quant::{QuantizeConfig, WeightSpec};
    if !have("verilator") {
        return;
    }
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/onnx/lenet5_torchscript.onnx"
    ))
    .unwrap();
    let (float, _) = shiftkit::model::onnx::import_onnx(&bytes).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let x = ndarray::Array2::from_shape_simple_fn((64, 784), || rng.gen_range(0.0f32..1.0));
    let net = shiftkit::quant::quantize(
        &float,
        x.view(),
        &QuantizeConfig::new(WeightSpec::Fixed { bits: 8 }, 8, 8),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let model = save(dir.path(), float, &net);
    let hdl = dir.path().join("hdl");
    // Slower than the default: four times the cycles, far fewer lanes.
    let cfg = HdlConfig { cycles: Some(4096), ..HdlConfig::new("onnx_lenet", Form::Streaming) };
    generate(&net, &cfg, &hdl);
    let outcome =
        shiftkit::app::run_verify(&verify_job(model, hdl, Simulator::Verilator, 100), &mut |_| {})
            .unwrap();
    assert!(outcome.passed, "{}", outcome.to_text());
}

/// A small CNN on 8x8 images with folded layers, so that every layer has ROMs.
fn small_cnn() -> (shiftkit::model::Network, IntNetwork) {
    use shiftkit::quant::{QuantizeConfig, WeightSpec};
    let spec: shiftkit::model::ArchSpec = serde_json::from_str(
        r#"{"input":[1,8,8],"layers":[{"op":"conv2d","out_channels":4,"kernel":3,"padding":1},
            {"op":"relu"},{"op":"maxpool2d","kernel":2},{"op":"flatten"},{"op":"dense","out":10}]}"#,
    )
    .unwrap();
    let float = spec.build(5).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let x = ndarray::Array2::from_shape_simple_fn((64, 64), || rng.gen_range(0.0f32..1.0));
    let q = shiftkit::quant::quantize(
        &float,
        x.view(),
        &QuantizeConfig::new(WeightSpec::Pow2 { bits: 5 }, 8, 8),
    )
    .unwrap();
    (float, q)
}

fn small_cnn_config() -> HdlConfig {
    HdlConfig {
        folds: "conv1=2x3,fc1=2x8".parse().unwrap(),
        ..HdlConfig::new("cnn", Form::Streaming)
    }
}

/// A padded 3x3 convolution factored into 3x1 (rows padded) and 1x3 (columns
/// padded) convolutions with a map between them that is signed (no ReLU):
/// quantized, streamed and run on Icarus, outputs and timelines agree.
#[test]
fn a_convolution_factored_into_kx1_and_1xk_streams_exactly() {
    use shiftkit::compress::{svd_layer, Rank};
    use shiftkit::quant::{QuantizeConfig, WeightSpec};
    if !have("iverilog") {
        return;
    }
    let (float, _) = small_cnn();
    let (factored, _, k) = svd_layer(&float, 0, Rank::Fixed(2)).unwrap();
    assert_eq!(k, 2);
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let x = ndarray::Array2::from_shape_simple_fn((64, 64), || rng.gen_range(0.0f32..1.0));
    let cfg = QuantizeConfig::new(WeightSpec::Pow2 { bits: 5 }, 8, 8);
    let net = shiftkit::quant::quantize(&factored, x.view(), &cfg).unwrap();
    let IntOp::Conv2d { padding, .. } = &net.layers()[0].op else { panic!() };
    assert_eq!(*padding, [1, 0]);
    assert!(net.layers()[0].format.signed(), "the map between the factors is signed");
    let dir = tempfile::tempdir().unwrap();
    let model = save(dir.path(), factored, &net);
    let hdl = dir.path().join("hdl");
    generate(&net, &HdlConfig::new("cnn", Form::Streaming), &hdl);
    let outcome =
        shiftkit::app::run_verify(&verify_job(model, hdl, Simulator::Icarus, 30), &mut |_| {})
            .unwrap();
    assert!(outcome.passed, "{}", outcome.to_text());
}

/// One flipped bit in a weight ROM: verification fails and names the layer.
#[test]
fn a_corrupted_weight_rom_is_caught_naming_the_layer() {
    if !have("iverilog") {
        return;
    }
    let (float, net) = small_cnn();
    let dir = tempfile::tempdir().unwrap();
    let model = save(dir.path(), float, &net);
    let hdl = dir.path().join("hdl");
    generate(&net, &small_cnn_config(), &hdl);
    // Flip the lowest bit of the first word that has a nonzero digit.
    let rom = hdl.join("cnn_conv1_w.hex");
    let text = std::fs::read_to_string(&rom).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let last = lines[0].pop().unwrap();
    lines[0].push(std::char::from_digit(last.to_digit(16).unwrap() ^ 1, 16).unwrap());
    std::fs::write(&rom, lines.join("\n") + "\n").unwrap();
    let outcome =
        shiftkit::app::run_verify(&verify_job(model, hdl, Simulator::Icarus, 20), &mut |_| {})
            .unwrap();
    let text = outcome.to_text();
    assert!(!outcome.passed, "the corrupted ROM went unnoticed:\n{text}");
    assert!(text.contains("first differing layer: `conv1`"), "{text}");
}

/// A FIFO where the generator put a skid buffer: the outputs stay right, but
/// the images leave at other cycles than the timing model says, and the place
/// where the handshakes first leave its schedule is named.
#[test]
fn a_design_off_the_timing_models_schedule_is_caught_naming_the_layer() {
    if !have("iverilog") {
        return;
    }
    let (float, net) = small_cnn();
    let dir = tempfile::tempdir().unwrap();
    let model = save(dir.path(), float, &net);
    let hdl = dir.path().join("hdl");
    let design = generate(&net, &small_cnn_config(), &hdl);
    // Replace the skid buffer after conv1 by a FIFO: the same beats, later.
    let top = hdl.join("cnn.v");
    let mut text = std::fs::read_to_string(&top).unwrap();
    let end = text.find(") u_conv1_skid (").unwrap();
    let start = text[..end].rfind("sk_skid #(").unwrap();
    let params = text[start + "sk_skid #(".len()..end].trim_end().to_string();
    let fifo = format!("sk_fifo #({params},\n        .DEPTH(2)\n    ) u_conv1_skid (");
    text.replace_range(start..end + ") u_conv1_skid (".len(), &fifo);
    std::fs::write(&top, text).unwrap();
    let mut manifest = design.manifest.clone();
    manifest.files.insert(0, "sk_fifo.v".into());
    std::fs::write(hdl.join("sk_fifo.v"), codegen::library_file("sk_fifo.v").unwrap()).unwrap();
    std::fs::write(hdl.join("manifest.json"), serde_json::to_string(&manifest).unwrap()).unwrap();
    let outcome =
        shiftkit::app::run_verify(&verify_job(model, hdl, Simulator::Icarus, 6), &mut |_| {})
            .unwrap();
    let text = outcome.to_text();
    assert!(!outcome.passed, "the slower design went unnoticed:\n{text}");
    assert!(text.contains("timing model says"), "{text}");
    // conv1's own handshakes are on time; the beats leave pool1 late.
    assert!(text.contains("off the timing model's schedule: `pool1`"), "{text}");
    assert!(text.contains("between the output of `conv1` and its output"), "{text}");
}

/// Yosys maps a streaming design with ROMs, windows and FIFOs for iCE40 and
/// Xilinx parts.
#[test]
fn a_streaming_design_synthesizes_with_yosys() {
    if !have("yosys") {
        return;
    }
    let (_, net) = small_cnn();
    let dir = tempfile::tempdir().unwrap();
    let design = generate(&net, &small_cnn_config(), dir.path());
    let files: Vec<String> = design.files.iter().map(|(n, _)| n.clone()).collect();
    for synth in ["synth_ice40", "synth_xilinx -nodsp"] {
        let script = format!("read_verilog {}; {synth} -top cnn; stat", files.join(" "));
        let out =
            Command::new("yosys").current_dir(dir.path()).args(["-p", &script]).output().unwrap();
        let log = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{synth}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(log.contains("Number of cells"), "{synth}: no statistics");
    }
}

/// Every lane kind of the matrix-vector unit, with and without channel
/// scales, with adder-tree registers every 1, 2 or 3 levels or where the
/// UP5K's timing model puts them for 40 MHz and for 500 MHz (beyond it: the
/// fastest it knows), with neuron and synapse folds: a
/// dense layer of 24 inputs and 6 outputs folded 2 x 8 (3 x 3 folds), then a
/// second one folded 1 x 2, on Icarus.
#[test]
fn every_lane_kind_folds_and_pipelines_exactly() {
    use shiftkit::quant::{ChannelScale, FixedFormat, IntLayerSpec, WeightKind};
    if !have("iverilog") {
        return;
    }
    let kinds = [
        WeightKind::Pow2 { max_shift: 5 },
        WeightKind::Binary,
        WeightKind::Ternary,
        WeightKind::Fixed { bits: 6 },
        WeightKind::Shared { index_bits: 2, bits: 7 },
    ];
    for (k, &kind) in kinds.iter().enumerate() {
        for scaled in [false, true] {
            for levels in 1..=5 {
                let seed = (k * 10 + scaled as usize * 5 + levels as usize) as u64;
                // 4 and 5: pipelined for a clock.
                let clock_mhz = [None, None, None, Some(40.0), Some(500.0)][levels as usize - 1];
                let device =
                    clock_mhz.map(|_| shiftkit::device::Device::resolve("ice40-up5k").unwrap());
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                let layer = |rng: &mut ChaCha8Rng, out: usize, inp: usize, kind| {
                    let mut w = random_weighted(rng, &[out, inp]);
                    w.kind = kind;
                    w.weights =
                        ndarray::ArrayD::from_shape_simple_fn(ndarray::IxDyn(&[out, inp]), || {
                            common::random_weight(rng, kind)
                        });
                    w.scale = scaled.then(|| ChannelScale {
                        multipliers: (0..out).map(|_| rng.gen_range(-9..=9)).collect(),
                        frac: 2,
                    });
                    w
                };
                let fc1 = layer(&mut rng, 6, 24, kind);
                let fc2 = layer(&mut rng, 4, 6, kind);
                let specs = vec![
                    IntLayerSpec {
                        name: "fc1".into(),
                        op: IntOp::Dense(fc1),
                        format: Some(FixedFormat::new(true, 8, 2).unwrap()),
                    },
                    IntLayerSpec {
                        name: "fc2".into(),
                        op: IntOp::Dense(fc2),
                        format: Some(FixedFormat::new(true, 9, 1).unwrap()),
                    },
                ];
                let input = FixedFormat::new(k % 2 == 0, 6, 3).unwrap();
                let net = IntNetwork::new(Shape::Flat(24), input, specs).unwrap();
                let cfg = HdlConfig {
                    levels_per_stage: levels.min(3),
                    clock_mhz,
                    device,
                    folds: "fc1=2x8,fc2=1x2".parse().unwrap(),
                    input_lanes: Some(4),
                    ..HdlConfig::new("mvu", Form::Streaming)
                };
                let dir = tempfile::tempdir().unwrap();
                let design = generate(&net, &cfg, dir.path());
                let m = &design.manifest;
                let fc1 = std::fs::read_to_string(dir.path().join("mvu_fc1.v")).unwrap();
                if levels == 5 {
                    assert!(fc1.contains("placed for 500.0 MHz by the timing model"), "{fc1}");
                }
                // On the UP5K, fixed-point lanes take its eight DSP blocks,
                // the first layer's first: fc1's 16 lanes get all of them.
                let dsp = matches!(kind, WeightKind::Fixed { .. }) && clock_mhz.is_some();
                assert_eq!(fc1.contains(".DSP(8)"), dsp, "{fc1}");
                assert_eq!(m.cost.dsps, if dsp { 8 } else { 0 });
                assert_eq!(m.files.iter().any(|f| f == "sk_mul16.v"), dsp);
                // The scale's multiplier cut in two only for a clock, and
                // always for one it cannot make whole (500 MHz).
                let split = fc1.contains(".SCALED(2)");
                assert!(!split || (scaled && clock_mhz.is_some()), "{fc1}");
                assert!(split || !(scaled && levels == 5), "{fc1}");
                let built =
                    verify::build(Simulator::Icarus, dir.path(), m, &dir.path().join("b"), 12)
                        .unwrap();
                let x = vectors(&net, seed, 12);
                let expected = sim::run(&net, x.view()).unwrap();
                let traffic = Traffic::new(3, 12, 10);
                let model = verify::Contract::of(m).timeline(12, traffic).unwrap();
                let (log, _) = verify::run(&built, &x, traffic).unwrap();
                verify::compare(m, &expected, &log, Some(&model))
                    .unwrap_or_else(|e| panic!("{kind:?}, scaled {scaled}, levels {levels}: {e}"));
            }
        }
    }
}

/// The stream contract's hole, closed: a convolution whose padding is at
/// least its kernel (`Conv(1->2, 1x1, pads 1) + Relu` on 1x8x8, ending on
/// its 2x10x10 image) once sent windows of padding before any input. Now no
/// beat of an image leaves before its first beat enters: after a silent
/// start and between images trickling in, the beats out are exactly 100 an
/// image, tlast on each image's last, and every handshake is where the
/// timing model puts it.
#[test]
fn padding_at_least_the_kernel_sends_nothing_before_its_image() {
    use shiftkit::quant::{FixedFormat, IntLayerSpec};
    if !have("iverilog") {
        return;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut conv = random_weighted(&mut rng, &[2, 1, 1, 1]);
    conv.relu = false;
    let specs = vec![
        IntLayerSpec {
            name: "conv".into(),
            op: IntOp::Conv2d { layer: conv, stride: [1, 1], padding: [1, 1] },
            format: Some(FixedFormat::new(true, 8, 2).unwrap()),
        },
        IntLayerSpec { name: "relu".into(), op: IntOp::Relu, format: None },
    ];
    let input = FixedFormat::new(false, 8, 4).unwrap();
    let net = IntNetwork::new(Shape::Image { c: 1, h: 8, w: 8 }, input, specs).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let design = generate(&net, &HdlConfig::new("pad", Form::Streaming), dir.path());
    let m = &design.manifest;
    let built = verify::build(Simulator::Icarus, dir.path(), m, &dir.path().join("b"), 3).unwrap();
    let x = vectors(&net, 5, 3);
    let expected = sim::run(&net, x.view()).unwrap();
    let contract = verify::Contract::of(m);
    for traffic in [
        Traffic { warmup: 500, ..Traffic::new(2, 1, 16) },
        Traffic { warmup: 40, ..Traffic::new(3, 16, 16) },
        Traffic::new(4, 5, 9),
    ] {
        let (log, _) = verify::run(&built, &x, traffic).unwrap();
        assert_eq!(log.beats.len(), 3 * 100, "{traffic:?}");
        assert!(log.beats[0].cycle > log.starts[0], "{traffic:?}: a beat before any input");
        let model = contract.timeline(3, traffic).unwrap();
        verify::compare(m, &expected, &log, Some(&model))
            .unwrap_or_else(|e| panic!("{traffic:?}: {e}"));
    }
    // The whole check, with its silent and trickling run, passes too.
    let outcome =
        verify::check_design(&net, dir.path(), m, &x, &[Simulator::Icarus], 7, &mut |_| {})
            .unwrap();
    assert!(outcome.passed, "{}", outcome.to_text());
    assert!(outcome.to_text().contains("silent cycles"), "{}", outcome.to_text());
}
