//! The float network IR: architecture specs, shape inference, and the errors
//! an invalid network gives.

use shiftkit::model::{summarize, ArchSpec, Layer, MaxPool2d, Network, Op, Shape};

#[test]
fn mlp_spec_builds_dense_layers_with_relu_between() {
    let net = ArchSpec::parse("mlp:64-32-10").unwrap().build(1).unwrap();
    let ops: Vec<_> = net.layers().iter().map(|l| l.op.as_str()).collect();
    assert_eq!(ops, ["dense", "relu", "dense"]);
    assert_eq!(net.input(), Shape::Flat(64));
    assert_eq!(net.output(), Shape::Flat(10));
    assert_eq!(net.param_count(), 64 * 32 + 32 + 32 * 10 + 10);
}

#[test]
fn lenet5_has_the_classic_shapes_and_macs() {
    let net = ArchSpec::parse("lenet5").unwrap().build(1).unwrap();
    let s = summarize(&net);
    let outputs: Vec<_> = s.layers.iter().map(|l| l.output.as_str()).collect();
    assert_eq!(
        outputs,
        [
            "6x28x28", "6x28x28", "6x14x14", "16x10x10", "16x10x10", "16x5x5", "400", "120", "120",
            "84", "84", "10"
        ]
    );
    // conv1 28*28*6*25, conv2 10*10*16*150, fc 400*120 + 120*84 + 84*10.
    assert_eq!(s.macs, 117_600 + 240_000 + 48_000 + 10_080 + 840);
    assert_eq!(s.params, 156 + 2416 + 48_120 + 10_164 + 850);
    assert_eq!(s.bytes, 4 * s.params);
}

#[test]
fn same_seed_gives_the_same_weights_and_another_seed_does_not() {
    let spec = ArchSpec::parse("mlp:8-4-2").unwrap();
    assert_eq!(spec.build(3).unwrap(), spec.build(3).unwrap());
    assert_ne!(spec.build(3).unwrap(), spec.build(4).unwrap());
}

#[test]
fn dense_after_an_image_names_the_layer_and_suggests_flatten() {
    let spec: ArchSpec =
        serde_json::from_str(r#"{"input": [1, 4, 4], "layers": [{"op": "dense", "out": 3}]}"#)
            .unwrap();
    let e = spec.build(1).unwrap_err().to_string();
    assert!(e.contains("fc1") && e.contains("1x4x4") && e.contains("flatten"), "{e}");
}

#[test]
fn a_kernel_larger_than_the_image_is_an_error() {
    let spec: ArchSpec = serde_json::from_str(
        r#"{"input": [1, 3, 3], "layers": [{"op": "conv2d", "out_channels": 2, "kernel": 5}]}"#,
    )
    .unwrap();
    let e = spec.build(1).unwrap_err().to_string();
    assert!(e.contains("conv1") && e.contains("does not fit"), "{e}");
}

#[test]
fn layers_that_do_not_chain_are_an_error_naming_both_shapes() {
    let a = ArchSpec::parse("mlp:4-3").unwrap().build(1).unwrap();
    let b = ArchSpec::parse("mlp:5-2").unwrap().build(1).unwrap();
    let mut layers = a.into_layers();
    let mut second = b.into_layers().remove(0);
    second.name = "fc2".into();
    layers.push(second);
    let e = Network::new(Shape::Flat(4), layers).unwrap_err().to_string();
    assert!(e.contains("fc2") && e.contains("expects 5 inputs") && e.contains("gives 3"), "{e}");
}

#[test]
fn zero_sized_and_malformed_specs_are_errors() {
    for bad in ["mlp:64-0-10", "mlp:64", "mlp:64-x-10", "resnet50", "mlp:"] {
        let e = ArchSpec::parse(bad).map(|s| s.build(1));
        assert!(matches!(e, Err(_) | Ok(Err(_))), "{bad} was accepted");
    }
    let e = ArchSpec::parse("resnet50").unwrap_err().to_string();
    assert!(e.contains("mlp:") && e.contains("lenet5"), "{e}");
}

#[test]
fn json_spec_rejects_unknown_fields() {
    let r: Result<ArchSpec, _> = serde_json::from_str(
        r#"{"input": [4], "layers": [{"op": "dense", "out": 3, "dilation": 2}]}"#,
    );
    assert!(r.is_err());
}

#[test]
fn duplicate_layer_names_are_an_error() {
    let layers =
        vec![Layer { name: "a".into(), op: Op::Relu }, Layer { name: "a".into(), op: Op::Relu }];
    let e = Network::new(Shape::Flat(3), layers).unwrap_err().to_string();
    assert!(e.contains("duplicate"), "{e}");
}

#[test]
fn pooling_a_flat_vector_is_an_error() {
    let layers = vec![Layer {
        name: "p".into(),
        op: Op::MaxPool2d(MaxPool2d { kernel: [2, 2], stride: [2, 2] }),
    }];
    let e = Network::new(Shape::Flat(16), layers).unwrap_err().to_string();
    assert!(e.contains("needs an image"), "{e}");
}

#[test]
fn an_empty_input_is_an_error() {
    let layers = vec![Layer { name: "r".into(), op: Op::Relu }];
    assert!(Network::new(Shape::Flat(0), layers).is_err());
}

#[test]
fn the_fitnets_benchmark_architectures_build_with_the_sizes_their_script_states() {
    // scripts/bench-fitnets.sh and the README quote these parameter counts.
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/data");
    for (file, params, guided) in [
        ("fitnets-teacher.json", 464_714, &["pool1", "relu2", "relu3"][..]),
        ("fitnets-student.json", 21_826, &["relu4", "relu5"]),
        ("fitnets-student-thin.json", 5_614, &["relu4", "relu5"]),
        ("fitnets-student-deep.json", 18_302, &["pool1", "relu8"]),
        ("fitnets-student-19.json", 24_054, &["relu12", "relu20"]),
    ] {
        let net = ArchSpec::parse(&format!("{dir}/{file}")).unwrap().build(1).unwrap();
        assert_eq!(net.param_count(), params, "{file}");
        for name in guided {
            assert!(net.layer_index(name).is_some(), "{file} has no layer {name}");
        }
    }
}
