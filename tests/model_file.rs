//! The `.skm` model file: exact round trips, stable bytes, and errors (never
//! panics) on damaged or foreign files.

use std::path::Path;

use proptest::prelude::*;
use shiftkit::model::{self, ArchSpec, Container, ModelFile, Provenance, Record, TensorData};

fn sample_model() -> ModelFile {
    let spec: ArchSpec = serde_json::from_str(
        r#"{"input": [1, 8, 8], "layers": [
            {"op": "conv2d", "out_channels": 3, "kernel": 3, "padding": 1},
            {"op": "batchnorm"}, {"op": "relu"}, {"op": "maxpool2d", "kernel": 2},
            {"op": "flatten"}, {"op": "dense", "out": 10}
        ]}"#,
    )
    .unwrap();
    let provenance = Provenance {
        arch: Some("test".into()),
        dataset: Some("digits".into()),
        steps: vec![Record::new(
            "compress",
            Some("built by a test".into()),
            &serde_json::json!({ "lr": 0.5 }),
            &serde_json::json!({ "integer_accuracy": 0.25 }),
        )],
    };
    ModelFile::new(spec.build(7).unwrap(), provenance)
}

fn sample_bytes() -> Vec<u8> {
    sample_model().into_container().to_bytes()
}

#[test]
fn provenance_of_format_1_reads_as_records() {
    let mut c = sample_model().into_container();
    c.set_section(
        "provenance",
        serde_json::json!({ "steps": [
            "train: 10 epochs, batch 64; test accuracy 0.9",
            "compress: prune 90% global -> inq 5-bit; integer accuracy 0.8800"
        ]}),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.skm");
    std::fs::write(&path, c.to_bytes_as(1)).unwrap();
    let steps = model::load(&path).unwrap().provenance.steps;
    assert_eq!(steps[0].command, "train");
    assert_eq!(steps[0].method, None);
    assert_eq!(steps[1].command, "compress");
    assert_eq!(steps[1].method.as_deref(), Some("prune 90% global -> inq 5-bit"));
    // The line is kept, and printed as it was.
    assert_eq!(
        steps[1].to_string(),
        "compress: prune 90% global -> inq 5-bit; integer accuracy 0.8800"
    );
    // Format 2 writes records, and reads them back the same.
    model::save(
        &path,
        &ModelFile { provenance: Provenance { steps, ..Default::default() }, ..sample_model() },
    )
    .unwrap();
    let again = model::load(&path).unwrap().provenance.steps;
    assert_eq!(again[1].method.as_deref(), Some("prune 90% global -> inq 5-bit"));
}

#[test]
fn save_then_load_gives_the_identical_model() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.skm");
    let m = sample_model();
    model::save(&path, &m).unwrap();
    let back = model::load(&path).unwrap();
    assert_eq!(back.float, m.float);
    assert_eq!(back.provenance, m.provenance);
}

#[test]
fn the_same_model_always_gives_the_same_bytes() {
    assert_eq!(sample_bytes(), sample_bytes());
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.skm"), dir.path().join("b.skm"));
    model::save(&a, &sample_model()).unwrap();
    model::save(&b, &model::load(&a).unwrap()).unwrap();
    assert_eq!(std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
}

#[test]
fn unknown_sections_survive_a_load_save_cycle() {
    let mut c = sample_model().into_container();
    c.set_section("integer", serde_json::json!({"layers": []}));
    c.insert_tensor("integer.fc1.w".into(), TensorData::I32(ndarray::ArrayD::zeros(vec![2, 2])));
    let path = Path::new("mem.skm");
    let m = ModelFile::from_container(Container::from_bytes(&c.to_bytes(), path).unwrap(), path)
        .unwrap();
    let again = m.into_container();
    assert!(again.section("integer").is_some());
    assert!(again.tensor("integer.fc1.w").is_some());
}

#[test]
fn a_foreign_safetensors_file_is_refused_with_a_hint() {
    let data = vec![0u8; 8];
    let view =
        safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![2], &data).unwrap();
    let bytes = safetensors::serialize([("w", view)], &None).unwrap();
    let e = Container::from_bytes(&bytes, Path::new("x.safetensors")).unwrap_err().to_string();
    assert!(e.contains("not a shiftkit model"), "{e}");
}

#[test]
fn a_newer_format_version_is_refused() {
    let mut bytes = sample_bytes();
    let needle = format!(r#"\"version\":{}"#, model::FORMAT_VERSION).into_bytes();
    let at = bytes.windows(needle.len()).position(|w| *w == needle[..]).expect("version in header");
    bytes[at + needle.len() - 1] = b'9';
    let e = Container::from_bytes(&bytes, Path::new("new.skm")).unwrap_err().to_string();
    assert!(e.contains("version 9"), "{e}");
}

#[test]
fn a_missing_tensor_is_named() {
    let mut c = Container::from_bytes(&sample_bytes(), Path::new("a.skm")).unwrap();
    assert!(c.remove_tensor("float.bn1.running_mean").is_some());
    let e = ModelFile::from_container(c, Path::new("a.skm")).unwrap_err().to_string();
    assert!(e.contains("float.bn1.running_mean") && e.contains("missing"), "{e}");
}

#[test]
fn a_tensor_of_the_wrong_shape_is_an_invalid_network() {
    let mut c = Container::from_bytes(&sample_bytes(), Path::new("a.skm")).unwrap();
    c.insert_tensor("float.fc1.bias".into(), TensorData::F32(ndarray::ArrayD::zeros(vec![3])));
    let e = ModelFile::from_container(c, Path::new("a.skm")).unwrap_err().to_string();
    assert!(e.contains("fc1") && e.contains("bias has 3 values"), "{e}");
}

#[test]
fn loading_a_missing_file_names_it() {
    let e = model::load(Path::new("/nonexistent/dir/m.skm")).unwrap_err().to_string();
    assert!(e.contains("/nonexistent/dir/m.skm"), "{e}");
}

#[test]
fn a_failed_save_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    // The target is an existing directory: the rename fails.
    let target = dir.path().join("taken");
    std::fs::create_dir(&target).unwrap();
    assert!(model::save(&target, &sample_model()).is_err());
    let left: Vec<_> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, vec![std::ffi::OsString::from("taken")]);
}

#[test]
fn every_truncation_is_an_error() {
    let bytes = sample_bytes();
    let path = Path::new("t.skm");
    for len in (0..bytes.len()).step_by(7) {
        let r = Container::from_bytes(&bytes[..len], path)
            .and_then(|c| ModelFile::from_container(c, path));
        assert!(r.is_err(), "truncated to {len} bytes yet loaded");
    }
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let path = Path::new("r.skm");
        let r = Container::from_bytes(&bytes, path).and_then(|c| ModelFile::from_container(c, path));
        prop_assert!(r.is_err());
    }

    #[test]
    fn flipped_bytes_never_panic(flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let mut bytes = sample_bytes();
        for (i, v) in flips {
            let at = i.index(bytes.len());
            bytes[at] ^= v | 1;
        }
        let path = Path::new("f.skm");
        // Either an error or a model that passed validation; never a panic.
        if let Ok(m) = Container::from_bytes(&bytes, path).and_then(|c| ModelFile::from_container(c, path)) {
            prop_assert!(m.float.layers().len() == 6);
        }
    }
}
