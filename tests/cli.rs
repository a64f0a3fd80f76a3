//! The `shiftkit` binary end to end: train, info and eval on the embedded
//! digits, and the errors a user sees.

use std::path::Path;
use std::process::{Command, Output};

fn shiftkit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shiftkit")).args(args).output().expect("binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn train_info_eval_round_trip_on_digits() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("d.skm");
    let m = model.to_str().unwrap();
    let o = shiftkit(&["train", "--arch", "mlp:64-16-10", "--epochs", "3", "-o", m, "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let outcome: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(outcome["epochs"].as_array().unwrap().len(), 3);
    let trained_acc = outcome["test_accuracy"].as_f64().unwrap();
    assert!(trained_acc > 0.5, "{trained_acc}");

    let o = shiftkit(&["info", m]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("fc1") && text.contains("1210"), "{text}");

    // eval defaults to the dataset the model was trained on, and agrees with train.
    let o = shiftkit(&["eval", m, "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let e: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(e["dataset"], "digits");
    assert_eq!(e["samples"], 359);
    assert_eq!(e["float_accuracy"].as_f64().unwrap(), trained_acc);
}

#[test]
fn same_seed_gives_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.skm"), dir.path().join("b.skm"));
    for p in [&a, &b] {
        let o = shiftkit(&[
            "train",
            "--arch",
            "mlp:64-8-10",
            "--epochs",
            "1",
            "-o",
            p.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    assert_eq!(std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
}

#[test]
fn a_bad_architecture_fails_with_a_message_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("x.skm");
    let o = shiftkit(&["train", "--arch", "mlp:64-0-10", "-o", model.to_str().unwrap()]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.starts_with("error: ") && err.contains("mlp:64-0-10"), "{err}");
    assert!(!model.exists());
}

#[test]
fn an_architecture_that_does_not_fit_the_data_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("x.skm");
    let o = shiftkit(&[
        "train",
        "--arch",
        "mlp:784-10",
        "--data",
        "digits",
        "-o",
        model.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("input 784"), "{}", stderr(&o));
}

#[test]
fn a_damaged_model_file_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.skm");
    std::fs::write(&bad, b"this is not a model").unwrap();
    for cmd in ["info", "eval"] {
        let o = shiftkit(&[cmd, bad.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(1), "{cmd}");
        assert!(stderr(&o).contains("bad.skm"), "{}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"));
    }
}

#[test]
fn an_unknown_dataset_lists_the_known_ones() {
    let o = shiftkit(&["train", "--arch", "lenet5", "--data", "cifar10", "-o", "/tmp/never.skm"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("fashion-mnist"), "{}", stderr(&o));
    assert!(!Path::new("/tmp/never.skm").exists());
}
