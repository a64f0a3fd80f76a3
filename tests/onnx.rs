//! ONNX import: fixtures exported from PyTorch with both exporters
//! (scripts/make_onnx_fixtures.py) reproduce PyTorch's outputs; damaged and
//! unsupported files are errors, never panics.

use ndarray::Array2;
use proptest::prelude::*;

use shiftkit::model::onnx::import_onnx;
use shiftkit::model::Shape;
use shiftkit::quant::{self, QuantizeConfig, WeightSpec};
use shiftkit::sim;
use shiftkit::train::engine::predict;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/onnx");

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{DIR}/{name}.onnx")).unwrap()
}

/// Inputs and PyTorch's outputs saved beside the fixtures.
fn reference(model: &str) -> (Vec<usize>, Array2<f32>, Array2<f32>) {
    let text = std::fs::read_to_string(format!("{DIR}/{model}_io.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let rows = |key: &str| -> Array2<f32> {
        let rows: Vec<Vec<f32>> = serde_json::from_value(v[key].clone()).unwrap();
        let (n, m) = (rows.len(), rows[0].len());
        Array2::from_shape_vec((n, m), rows.concat()).unwrap()
    };
    (serde_json::from_value(v["input_shape"].clone()).unwrap(), rows("inputs"), rows("outputs"))
}

#[test]
fn imported_fixtures_reproduce_pytorch() {
    for model in ["mlp", "lenet5", "pool_relu"] {
        let (shape, x, want) = reference(model);
        for exporter in ["torchscript", "dynamo"] {
            let (net, info) = import_onnx(&fixture(&format!("{model}_{exporter}"))).unwrap();
            assert_eq!(net.input(), Shape::from_dims(&shape).unwrap());
            assert!(info.opset >= 13);
            let got = predict(&net, x.view());
            for (g, w) in got.rows().into_iter().zip(want.rows()) {
                let scale = w.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
                let err = g.iter().zip(w.iter()).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
                assert!(
                    err / scale <= 1e-5,
                    "{model} ({exporter}): relative error {}",
                    err / scale
                );
            }
        }
    }
}

#[test]
fn both_exporters_give_the_same_function() {
    let (_, x, _) = reference("lenet5");
    let (a, _) = import_onnx(&fixture("lenet5_torchscript")).unwrap();
    let (b, _) = import_onnx(&fixture("lenet5_dynamo")).unwrap();
    let (ya, yb) = (predict(&a, x.view()), predict(&b, x.view()));
    for (p, q) in ya.iter().zip(yb.iter()) {
        assert!((p - q).abs() <= 1e-4 * (1.0 + q.abs()), "{p} vs {q}");
    }
}

#[test]
fn an_unsupported_operator_is_named_with_the_supported_list() {
    let mut bytes = fixture("mlp_torchscript");
    // The op_type field (tag 4, length 4) of the Relu node.
    let at = bytes.windows(6).position(|w| w == b"\x22\x04Relu").expect("a Relu node");
    bytes[at + 2..at + 6].copy_from_slice(b"Tanh");
    let e = import_onnx(&bytes).unwrap_err().to_string();
    assert!(e.contains("Tanh") && e.contains("not supported") && e.contains("Gemm"), "{e}");
}

#[test]
fn a_foreign_file_is_not_an_onnx_model() {
    let e = import_onnx(b"definitely not protobuf \xff\xff\xff").unwrap_err().to_string();
    assert!(
        e.contains("not an ONNX model") || e.contains("no graph") || e.contains("opset"),
        "{e}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn mutated_fixtures_never_panic(flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6), which in 0usize..2) {
        let mut bytes = fixture(["mlp_torchscript", "mlp_dynamo"][which]);
        for (i, v) in flips {
            let at = i.index(bytes.len());
            bytes[at] ^= v | 1;
        }
        let _ = import_onnx(&bytes);
    }

    #[test]
    fn truncated_fixtures_never_panic(cut in 0usize..1503) {
        let bytes = fixture("mlp_torchscript");
        let _ = import_onnx(&bytes[..cut.min(bytes.len())]);
    }
}

#[test]
fn import_export_import_gives_the_identical_network() {
    for name in ["mlp_torchscript", "mlp_dynamo", "lenet5_torchscript", "lenet5_dynamo"] {
        let (a, _) = import_onnx(&fixture(name)).unwrap();
        let bytes = shiftkit::model::onnx::export_onnx(&a);
        let (b, info) = import_onnx(&bytes).unwrap();
        assert_eq!(a, b, "{name}");
        assert_eq!((info.producer.as_str(), info.opset), ("shiftkit", 13));
        // And the same bytes again.
        assert_eq!(shiftkit::model::onnx::export_onnx(&b), bytes);
    }
}

#[test]
fn a_quantized_model_exports_its_dequantized_weights() {
    use shiftkit::quant::{quantize, QuantizeConfig, WeightSpec};
    let (net, _) = import_onnx(&fixture("mlp_dynamo")).unwrap();
    let (_, x, _) = reference("mlp");
    let q =
        quantize(&net, x.view(), &QuantizeConfig::new(WeightSpec::Pow2 { bits: 5 }, 8, 8)).unwrap();
    let float = q.to_float().unwrap();
    let (back, _) = import_onnx(&shiftkit::model::onnx::export_onnx(&float)).unwrap();
    assert_eq!(back, float);
    // Every dequantized weight is a power of two (or zero) times the layer's unit.
    let shiftkit::model::Op::Dense(d) = &back.layers()[0].op else { panic!("fc1 is dense") };
    assert!(d.weight.iter().all(|&w| w == 0.0 || w.abs().log2().fract() == 0.0));
    // The dequantized network follows the integer simulator up to activation rounding.
    let yq = shiftkit::sim::run(&q, shiftkit::sim::quantize_input(&q, x.view()).view()).unwrap();
    let yf = predict(&back, x.view());
    let f = q.output_format();
    for (a, b) in yq.iter().zip(yf.iter()) {
        assert!((f.to_real(*a) - *b as f64).abs() < 0.25, "{} vs {b}", f.to_real(*a));
    }
}

/// The classic PyTorch MNIST ordering, conv -> maxpool -> relu -> flatten ->
/// linear, imported from ONNX: the ReLU after the pool is an integer layer of
/// its own (it was once dropped), and the integer network follows PyTorch.
#[test]
fn a_relu_after_a_pool_survives_import_and_quantization() {
    use rand::{Rng, SeedableRng};
    let (_, x, want) = reference("pool_relu");
    for exporter in ["torchscript", "dynamo"] {
        let (net, _) = import_onnx(&fixture(&format!("pool_relu_{exporter}"))).unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let calibration = Array2::from_shape_simple_fn((300, 64), || rng.gen_range(0.0f32..1.0));
        let cfg = QuantizeConfig::new(WeightSpec::Fixed { bits: 8 }, 8, 8);
        let q = quant::quantize(&net, calibration.view(), &cfg).unwrap();
        let ops: Vec<&str> = q.layers().iter().map(|l| l.op.as_str()).collect();
        assert_eq!(ops, ["conv2d", "maxpool2d", "relu", "flatten", "dense"], "{exporter}");
        let y = sim::run(&q, sim::quantize_input(&q, x.view()).view()).unwrap();
        let f = q.output_format();
        for (g, w) in y.rows().into_iter().zip(want.rows()) {
            let scale = w.iter().fold(0f32, |m, v| m.max(v.abs())) as f64;
            let err = g
                .iter()
                .zip(w.iter())
                .fold(0f64, |m, (&a, &b)| m.max((f.to_real(a) - b as f64).abs()));
            assert!(err <= 0.05 * scale, "{exporter}: error {err} against outputs up to {scale}");
        }
    }
}
