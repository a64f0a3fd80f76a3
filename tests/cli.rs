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
    // ...and on the validation split, with what train reported for it.
    let o = shiftkit(&["eval", m, "--split", "val", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let e: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!((e["split"].as_str(), e["samples"].as_u64()), (Some("validation"), Some(179)));
    assert_eq!(e["float_accuracy"], outcome["val_accuracy"]);
    assert_eq!(outcome["epochs"][2]["val_accuracy"], outcome["val_accuracy"]);
}

/// What a user expects of the digits set with nothing but the architecture:
/// 96% (the dataset's defaults are 60 epochs of batch 32).
#[test]
fn digits_defaults_reach_96_percent() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("d.skm");
    let o = shiftkit(&[
        "train",
        "--arch",
        "mlp:64-32-10",
        "--data",
        "digits",
        "-o",
        m.to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let outcome: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(outcome["epochs"].as_array().unwrap().len(), 60);
    let test = outcome["test_accuracy"].as_f64().unwrap();
    assert!(test >= 0.96, "digits test accuracy {test} with the defaults");
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
fn train_samples_limits_training_records_it_and_refuses_impossible_counts() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let (few, compressed, refused) = (path("few.skm"), path("c.skm"), path("x.skm"));
    let json = |o: &Output| -> serde_json::Value {
        assert!(o.status.success(), "{}", stderr(o));
        serde_json::from_str(&stdout(o)).unwrap()
    };
    let train = ["train", "--arch", "mlp:64-16-10", "--epochs", "2", "--json"];
    let t = json(&shiftkit(&[&train[..], &["--train-samples", "30", "-o", &few]].concat()));
    assert_eq!(t["train_samples"], 30);
    let full = json(&shiftkit(&[&train[..], &["-o", &path("full.skm")]].concat()));
    assert_eq!(full["train_samples"], 1259);
    let recipe = dir.path().join("ft.toml");
    std::fs::write(&recipe, "[[step]]\nmethod = \"finetune\"\nepochs = 1\n").unwrap();
    let c = json(&shiftkit(&[
        "compress",
        &few,
        "--recipe",
        recipe.to_str().unwrap(),
        "--train-samples",
        "20",
        "-o",
        &compressed,
        "--json",
    ]));
    assert_eq!(c["train_samples"], 20);
    // Both subsets are in the provenance, beside the settings they ran with.
    let info = json(&shiftkit(&["info", &compressed, "--json"]));
    let steps = &info["provenance"]["steps"];
    assert_eq!(steps[0]["parameters"]["train_samples"], 30);
    assert_eq!(steps[1]["parameters"]["train_samples"], 20);
    assert!(steps[1]["parameters"]["steps"].is_array(), "{}", steps[1]);
    // Settings print as short as their type does: Adam's f32 0.001 stays 0.001.
    assert_eq!(steps[1]["parameters"]["adaptive"]["lr"], 0.001, "{}", steps[1]);
    for n in ["5", "100000"] {
        let o = shiftkit(&[&train[..], &["--train-samples", n, "-o", &refused]].concat());
        let err = stderr(&o);
        assert!(!o.status.success(), "{n}");
        assert!(err.contains(&format!("cannot train on {n} samples")), "{err}");
        assert!(err.contains("from 10 (one of each class) to "), "{err}");
        assert!(!Path::new(&refused).exists());
    }
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

/// Trains and quantizes a small digits model; returns its directory and path.
fn quantized_digits() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let float = dir.path().join("f.skm");
    let q = dir.path().join("q.skm");
    let o = shiftkit(&[
        "train",
        "--arch",
        "mlp:64-16-10",
        "--epochs",
        "5",
        "-o",
        float.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = shiftkit(&[
        "quantize",
        float.to_str().unwrap(),
        "--weights",
        "fixed6",
        "-o",
        q.to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let outcome: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    // The ReLU fuses into fc1: two integer layers.
    assert_eq!(outcome["layers"].as_array().unwrap().len(), 2);
    let q = q.to_str().unwrap().to_string();
    (dir, q)
}

#[test]
fn quantize_then_eval_reports_integer_beside_float_accuracy() {
    let (_dir, q) = quantized_digits();
    let o = shiftkit(&["eval", &q, "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let e: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let (f, i) = (e["float_accuracy"].as_f64().unwrap(), e["integer_accuracy"].as_f64().unwrap());
    assert!(f > 0.8 && (f - i).abs() < 0.05, "float {f}, integer {i}");
}

#[test]
fn dump_prints_weights_formats_and_bounds() {
    let (_dir, q) = quantized_digits();
    let o = shiftkit(&["dump", &q]);
    assert!(o.status.success(), "{}", stderr(&o));
    let d: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let fc1 = &d["layers"][0];
    assert_eq!(fc1["name"], "fc1");
    assert_eq!(fc1["weights"].as_array().unwrap().len(), 64 * 16);
    assert_eq!(fc1["weight_kind"]["kind"], "fixed");
    assert_eq!(fc1["acc_bounds"].as_array().unwrap().len(), 16);
    assert!(fc1["weights"].as_array().unwrap().iter().all(|w| w.as_i64().unwrap().abs() <= 32));
    assert_eq!(d["input_format"]["bits"], 8);
}

#[test]
fn sim_runs_raw_vectors_and_writes_traces() {
    let (dir, q) = quantized_digits();
    let input = dir.path().join("in.txt");
    let output = dir.path().join("out.txt");
    let trace = dir.path().join("trace");
    let zeros = vec!["0"; 64].join(" ");
    let ramp: Vec<String> = (0..64).map(|i| (i * 4).to_string()).collect();
    std::fs::write(&input, format!("# two vectors\n{zeros}\n{}\n", ramp.join(","))).unwrap();
    let o = shiftkit(&[
        "sim",
        &q,
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
        "--trace",
        trace.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = std::fs::read_to_string(&output).unwrap();
    assert_eq!(out.lines().count(), 2);
    assert!(out.lines().all(|l| l.split(' ').count() == 10), "{out}");
    let mut names: Vec<_> = std::fs::read_dir(&trace)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["00_fc1.txt", "01_fc2.txt"]);
    let hidden = std::fs::read_to_string(trace.join("00_fc1.txt")).unwrap();
    assert!(hidden.lines().all(|l| l.split(' ').count() == 16), "{hidden}");
    assert_eq!(std::fs::read_to_string(trace.join("01_fc2.txt")).unwrap(), out);
}

#[test]
fn sim_input_errors_name_the_line() {
    let (dir, q) = quantized_digits();
    let input = dir.path().join("in.txt");
    let output = dir.path().join("out.txt");
    let good = vec!["1"; 64].join(" ");
    let cases = [
        (format!("{good}\n{}\n", vec!["1"; 63].join(" ")), "line 2", "63 values"),
        (
            format!("{good}\n\n{}\n", vec!["999"; 64].join(" ")),
            "line 3",
            "outside the input format",
        ),
        (format!("{}\n", vec!["1.5"; 64].join(" ")), "line 1", "not a decimal integer"),
    ];
    for (text, line, what) in cases {
        std::fs::write(&input, text).unwrap();
        let o = shiftkit(&[
            "sim",
            &q,
            "--input",
            input.to_str().unwrap(),
            "--output",
            output.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(1));
        let err = stderr(&o);
        assert!(err.contains(line) && err.contains(what) && err.contains("in.txt"), "{err}");
        assert!(!output.exists(), "no output is written on error");
    }
}

#[test]
fn sim_on_a_float_model_says_how_to_quantize() {
    let dir = tempfile::tempdir().unwrap();
    let float = dir.path().join("f.skm");
    let o = shiftkit(&[
        "train",
        "--arch",
        "mlp:64-8-10",
        "--epochs",
        "1",
        "-o",
        float.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    let o = shiftkit(&["dump", float.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("shiftkit quantize"), "{}", stderr(&o));
}

#[test]
fn an_imported_pytorch_lenet_compresses_and_evaluates() {
    if !std::path::Path::new(shiftkit::data::FASHION_MNIST_DEFAULT_DIR).exists() {
        eprintln!(
            "SKIPPED: Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let onnx = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/onnx/lenet5_dynamo.onnx");
    let float = dir.path().join("lenet.skm");
    let q = dir.path().join("lenet_inq5.skm");
    let f = float.to_str().unwrap();
    let o = shiftkit(&["import", onnx, "-o", f, "--data", "fashion-mnist"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = shiftkit(&[
        "compress",
        f,
        "--method",
        "inq",
        "--bits",
        "5",
        "--epochs-per-step",
        "0",
        "--calibration",
        "300",
        "-o",
        q.to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let c: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(c["layers"].as_array().unwrap().len(), 5, "two convolutions, three dense layers");
    let o = shiftkit(&["eval", q.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let e: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(e["samples"], 10_000);
    assert!(e["integer_accuracy"].as_f64().is_some());
}

#[test]
fn a_float_model_simulates_real_vectors_and_exports_to_onnx() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/onnx");
    let m = dir.path().join("mlp.skm");
    let o = shiftkit(&[
        "import",
        &format!("{fixtures}/mlp_torchscript.onnx"),
        "-o",
        m.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let io: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{fixtures}/mlp_io.json")).unwrap())
            .unwrap();
    let rows: Vec<Vec<f32>> = serde_json::from_value(io["inputs"].clone()).unwrap();
    let want: Vec<Vec<f32>> = serde_json::from_value(io["outputs"].clone()).unwrap();
    let text: String = rows
        .iter()
        .map(|r| r.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(" ") + "\n")
        .collect();
    let (input, output) = (dir.path().join("in.txt"), dir.path().join("out.txt"));
    std::fs::write(&input, text).unwrap();
    let o = shiftkit(&[
        "sim",
        m.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let got: Vec<Vec<f32>> = std::fs::read_to_string(&output)
        .unwrap()
        .lines()
        .map(|l| l.split(' ').map(|v| v.parse().unwrap()).collect())
        .collect();
    for (g, w) in got.iter().zip(&want) {
        for (a, b) in g.iter().zip(w) {
            assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "{a} vs {b}");
        }
    }
    let onnx = dir.path().join("back.onnx");
    let o = shiftkit(&["export", m.to_str().unwrap(), "-o", onnx.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (back, _) = shiftkit::model::onnx::import_onnx(&std::fs::read(&onnx).unwrap()).unwrap();
    assert_eq!(back, shiftkit::model::load(&m).unwrap().float);
}

/// Regression: `verify` with relative paths looked for the compiled testbench
/// relative to the build directory and failed ("No such file or directory").
#[test]
fn verify_works_with_relative_paths() {
    if Command::new("iverilog").arg("-V").output().is_err() {
        eprintln!("SKIPPED verify_works_with_relative_paths: iverilog is not installed");
        return;
    }
    let (dir, q) = quantized_digits();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_shiftkit"))
            .current_dir(dir.path())
            .args(args)
            .output()
            .unwrap()
    };
    let q = std::path::Path::new(&q).file_name().unwrap().to_str().unwrap().to_string();
    let o = run(&["hdl", &q, "-o", "hdl"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&["verify", &q, "hdl", "--sim", "icarus", "--vectors", "50"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("verified"), "{}", stdout(&o));
}

#[test]
fn a_recipe_reports_every_step_and_the_report_command_tables_the_result() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let o = shiftkit(&["train", "--arch", "mlp:64-32-10", "--epochs", "20", "-o", &p("f.skm")]);
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::write(
        p("r.toml"),
        "[train]\nbatch = 32\n[distill]\nteacher = \"original\"\n\
         [[step]]\nmethod = \"prune\"\nsparsity = 0.75\nscope = \"global\"\nepochs = 2\n\
         [[step]]\nmethod = \"kmeans\"\nbits = 4\nepochs = 1\nlr = 0.001\n",
    )
    .unwrap();
    let o = shiftkit(&[
        "compress",
        &p("f.skm"),
        "--recipe",
        &p("r.toml"),
        "-o",
        &p("c.skm"),
        "--report",
        &p("c.md"),
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let steps = out["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[0]["method"], "prune 75% global +KD");
    assert!(steps[1]["compression"].as_f64().unwrap() > steps[0]["compression"].as_f64().unwrap());
    let md = std::fs::read_to_string(p("c.md")).unwrap();
    assert!(md.contains("| c | prune 75% global +KD -> kmeans 4-bit +KD |"), "{md}");

    // The report command measures accuracy again and agrees with compress.
    let o = shiftkit(&["report", "--reference", &p("f.skm"), &p("c.skm"), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let row = &r["rows"][0];
    assert_eq!(row["accuracy"], out["integer_accuracy"]);
    assert_eq!(row["bytes"], out["bytes"]);
    assert_eq!(row["reference_mults"], 64 * 32 + 32 * 10);
    assert_eq!(row["layers"][0]["format"], "sparse");
    let o = shiftkit(&["report", &p("c.skm")]);
    assert!(stdout(&o).contains("| layer | weights | sparsity |"), "{}", stdout(&o));

    // The compressed network generates Verilog with the adders the report
    // counted, which verifies on Icarus against the simulator.
    let o = shiftkit(&[
        "hdl",
        &p("c.skm"),
        "--form",
        "unrolled",
        "--argmax",
        "-o",
        &p("hdl"),
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let hdl: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(hdl["manifest"]["cost"]["adders"], out["report"]["rtl_adders"]);
    if Command::new("iverilog").arg("-V").output().is_ok() {
        let args = ["verify", &p("c.skm"), &p("hdl"), "--sim", "icarus", "--vectors", "200"];
        let o = shiftkit(&[&args[..], &["--data", "digits", "--json"]].concat());
        assert!(o.status.success(), "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        assert_eq!(v["passed"], true);
    }

    // Epoch lines give a total only when every step trains as long: here
    // 2 epochs of pruning, then 1 of k-means.
    let epoch_lines = |o: &Output| -> Vec<String> {
        stderr(o).lines().filter(|l| l.starts_with("epoch")).map(str::to_string).collect()
    };
    let o = shiftkit(&["compress", &p("f.skm"), "--recipe", &p("r.toml"), "-o", &p("c2.skm")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lines = epoch_lines(&o);
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines[0].starts_with("epoch   1  ") && lines[2].starts_with("epoch   1  "),
        "{lines:?}"
    );
    std::fs::write(p("ft.toml"), "[[step]]\nmethod = \"finetune\"\nepochs = 2\n").unwrap();
    let o = shiftkit(&["compress", &p("f.skm"), "--recipe", &p("ft.toml"), "-o", &p("c3.skm")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lines = epoch_lines(&o);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[1].starts_with("epoch   2/2  "), "{lines:?}");

    // A step that leaves the network at chance says so (SGD at 2 kills
    // every unit of this MLP); one that trains well does not.
    assert!(!stderr(&o).contains("at chance"), "{}", stderr(&o));
    std::fs::write(p("hot.toml"), "[[step]]\nmethod = \"finetune\"\nepochs = 1\nlr = 2\n").unwrap();
    let o = shiftkit(&["compress", &p("f.skm"), "--recipe", &p("hot.toml"), "-o", &p("c4.skm")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let warning = stderr(&o);
    assert!(
        warning.contains("step 1 (finetune) leaves the network at chance")
            && warning.contains("lower `lr`"),
        "{warning}"
    );

    // A hint step tells how well the guided layer came to predict the hint,
    // the same in the text and the JSON; the step after it does not.
    std::fs::write(
        p("hint.toml"),
        "[distill]\nteacher = \"original\"\n[[step]]\nmethod = \"hint\"\nhint = \"relu1\"\n\
         guided = \"relu1\"\nepochs = 2\n[[step]]\nmethod = \"finetune\"\nepochs = 1\n",
    )
    .unwrap();
    let args = ["compress", &p("f.skm"), "--recipe", &p("hint.toml"), "-o", &p("c5.skm")];
    let o = shiftkit(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let line = text.lines().find(|l| l.starts_with("step 1 (FitNets hint relu1 -> relu1)"));
    let share: f64 = line
        .and_then(|l| l.split(" explains ").nth(1))
        .and_then(|l| l.split('%').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no fit line in {text}"));
    // Negative here: 2 short epochs leave the random regressor worse than
    // the hint's mean, and the line says what that means. (The library tests
    // follow the fit as it trains.)
    assert!(share < 0.0 && line.unwrap().ends_with("(worse than predicting each value's mean)"));
    let o = shiftkit(&[&args[..], &["--json"]].concat());
    let out: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let explained = out["steps"][0]["hint_explained"].as_f64().unwrap();
    assert!((explained * 100.0 - share).abs() < 0.051, "{explained} against {share}%");
    assert!(out["steps"][1].get("hint_explained").is_none(), "{}", out["steps"][1]);

    // A bad recipe is an error naming the file, and writes nothing.
    std::fs::write(p("bad.toml"), "[[step]]\nmethod = \"prune\"\n").unwrap();
    let o = shiftkit(&["compress", &p("f.skm"), "--recipe", &p("bad.toml"), "-o", &p("x.skm")]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("bad.toml") && stderr(&o).contains("sparsity"), "{}", stderr(&o));
    assert!(!dir.path().join("x.skm").exists());
    // A model without an integer network cannot be reported.
    let o = shiftkit(&["report", &p("f.skm")]);
    assert!(!o.status.success() && stderr(&o).contains("shiftkit quantize"), "{}", stderr(&o));
}

#[test]
fn train_distills_from_a_teacher() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let o = shiftkit(&["train", "--arch", "mlp:64-32-10", "--epochs", "10", "-o", &p("t.skm")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = shiftkit(&[
        "train",
        "--arch",
        "mlp:64-8-10",
        "--epochs",
        "5",
        "--teacher",
        &p("t.skm"),
        "--temperature",
        "3",
        "--lambda",
        "0.5",
        "--lambda-end",
        "0.25",
        "-o",
        &p("s.skm"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = shiftkit(&["info", &p("s.skm"), "--json"]);
    let info: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let distill = &info["provenance"]["steps"][0]["parameters"]["distill"];
    assert_eq!(distill["lambda"], 0.5, "{info}");
    assert_eq!(distill["lambda_end"], 0.25, "{info}");
    assert!(distill["teacher"].as_str().unwrap().ends_with(".skm"), "{info}");
    // A weight or an annealed end outside [0, 1] is refused before training.
    for (flag, value, named) in [("--lambda", "1.5", "lambda"), ("--lambda-end", "2", "lambda_end")]
    {
        let o = shiftkit(&[
            "train",
            "--arch",
            "mlp:64-8-10",
            "--teacher",
            &p("t.skm"),
            flag,
            value,
            "-o",
            &p("x.skm"),
        ]);
        assert!(!o.status.success() && stderr(&o).contains(named), "{flag}: {}", stderr(&o));
    }
    assert!(!dir.path().join("x.skm").exists());
}

/// A small CNN on the digits through `hdl` in the streaming form, chosen by
/// `--form auto`, a folding by hand, the errors of impossible ones, and
/// `verify` of the design on Icarus.
#[test]
fn hdl_streams_a_cnn_and_refuses_impossible_foldings_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    std::fs::write(
        p("cnn.json"),
        r#"{"input":[1,8,8],"layers":[{"op":"conv2d","out_channels":4,"kernel":3,"padding":1},
            {"op":"relu"},{"op":"maxpool2d","kernel":2},{"op":"flatten"},{"op":"dense","out":10}]}"#,
    )
    .unwrap();
    let o = shiftkit(&["train", "--arch", &p("cnn.json"), "--epochs", "2", "-o", &p("f.skm")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = shiftkit(&["quantize", &p("f.skm"), "--weights", "inq5", "-o", &p("q.skm")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = shiftkit(&["hdl", &p("q.skm"), "-o", &p("auto"), "--argmax"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("(streaming)"), "{}", stdout(&o));
    let o = shiftkit(&["hdl", &p("q.skm"), "-o", &p("hdl"), "--fold", "conv1=2x9,fc1=5x16"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p("hdl/manifest.json")).unwrap()).unwrap();
    let layers = manifest["stream"]["layers"].as_array().unwrap();
    assert_eq!(layers[0]["pe"], 2);
    assert_eq!(layers[0]["simd"], 9);
    assert!(std::path::Path::new(&p("hdl/shiftkit_top_conv1_w.hex")).exists());
    for (fold, want) in [
        ("conv1=3x9", "PE 3 does not divide its 4 output channels; use one of 1, 2, 4"),
        ("conv1=2x7", "SIMD 7 does not divide its 9 window values"),
        ("fc2=1x1", "`fc2` is not a dense or convolution layer"),
        ("conv1=2", "expected LAYER=PExSIMD"),
    ] {
        let o = shiftkit(&["hdl", &p("q.skm"), "-o", &p("bad"), "--fold", fold]);
        // 1: refused; 2: a malformed flag (clap's usage error); never a panic.
        assert!(matches!(o.status.code(), Some(1 | 2)), "{fold}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{fold}: {}", stderr(&o));
    }
    let o = shiftkit(&["hdl", &p("q.skm"), "-o", &p("bad"), "--input-lanes", "2"]);
    assert!(stderr(&o).contains("one pixel"), "{}", stderr(&o));
    let o = shiftkit(&["hdl", &p("q.skm"), "-o", &p("bad"), "--output-lanes", "3"]);
    assert!(
        stderr(&o).contains("must divide the 10 outputs; allowed: 1, 2, 5, 10"),
        "{}",
        stderr(&o)
    );
    let o = shiftkit(&["hdl", &p("q.skm"), "-o", &p("bad"), "--device", "ice40-up9k"]);
    assert!(stderr(&o).contains("unknown device `ice40-up9k`"), "{}", stderr(&o));
    // Placed for a device: every memory says where it goes.
    let o = shiftkit(&[
        "hdl",
        &p("q.skm"),
        "-o",
        &p("dev"),
        "--device",
        "ice40-up5k",
        "--fold",
        "conv1=2x9",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("resource model:"), "{}", stdout(&o));
    let conv1 = std::fs::read_to_string(p("dev/shiftkit_top_conv1.v")).unwrap();
    assert!(conv1.contains(".ROM_STYLE(\"") && conv1.contains(".RAM_STYLE(\""), "{conv1}");
    if Command::new("iverilog").arg("-V").output().is_ok() {
        let o = shiftkit(&["verify", &p("q.skm"), &p("hdl"), "--sim", "icarus", "--vectors", "10"]);
        assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
        assert!(stdout(&o).contains("verified on 13 images"), "{}", stdout(&o));
    }
}

/// The README's first command, on a smaller network and fewer vectors: it
/// trains, compresses, generates, verifies on every installed simulator and
/// leaves its files where it says.
#[test]
fn flow_runs_the_whole_chain() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = shiftkit(&[
        "flow",
        "--arch",
        "mlp:64-16-10",
        "--vectors",
        "100",
        "-o",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let flow: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    for file in ["float.skm", "compressed.skm", "hdl/manifest.json", "hdl/shiftkit_top.v"] {
        assert!(out.join(file).is_file(), "{file}");
    }
    assert_eq!(flow["compress"]["method"], "inq 5-bit");
    let acc = flow["compress"]["integer_accuracy"].as_f64().unwrap();
    assert!(acc > 0.8, "{acc}");
    let installed = ["verilator", "iverilog"]
        .iter()
        .filter(|t| Command::new(t).arg("-V").output().is_ok())
        .count();
    let reports = flow["verify"]["reports"].as_array().map_or(0, Vec::len);
    assert_eq!(reports, installed, "one report per installed simulator");
    if installed > 0 {
        assert_eq!(flow["verify"]["passed"], true);
    }
    // The compressed model records how it was made, and `report` reads it.
    let o = shiftkit(&["report", out.join("compressed.skm").to_str().unwrap()]);
    assert!(stdout(&o).contains("| compressed | inq 5-bit |"), "{}", stdout(&o));
    // The HTML report: well-formed, with the design and its verification.
    assert_eq!(flow["html"].as_str(), out.join("report.html").to_str());
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    let doc = roxmltree::Document::parse(page.trim_start_matches("<!DOCTYPE html>\n")).unwrap();
    let text: String = doc.descendants().filter_map(|n| n.text()).collect();
    assert!(text.contains("Hardware (unrolled form)") && text.contains("inq 5-bit"), "{text}");
    if installed > 0 {
        assert!(text.contains("pass (") && !text.contains("FAIL"), "{text}");
    }
}

/// Whether the open FPGA tools and Verilator (a board build and its
/// simulated board) are installed; says so when not.
fn have_board_tools() -> bool {
    let have = |t: &str| Command::new("which").arg(t).output().is_ok_and(|o| o.status.success());
    let all = ["yosys", "nextpnr-ice40", "icepack", "verilator"].iter().all(|t| have(t));
    if !all {
        eprintln!("the open FPGA tools or verilator are not installed; skipping");
    }
    all
}

/// `flow --board`: the whole chain on a board, ending with the simulated
/// board classifying test images through its terminal, bit-exact.
#[test]
fn flow_on_a_board_ends_with_the_simulated_board() {
    if !have_board_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = shiftkit(&[
        "flow",
        "--arch",
        "mlp:64-16-10",
        "--vectors",
        "20",
        "--board",
        "icebreaker",
        "-o",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let flow: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(flow["build"]["board"]["board"], "icebreaker", "{flow}");
    let run = &flow["board_run"];
    assert_eq!(run["simulated"], true, "{run}");
    let images = run["images"].as_u64().unwrap();
    assert!(images >= 300, "{run}");
    assert_eq!(run["exact"].as_u64(), Some(images), "{run}");
    assert_eq!(run["accuracy"], flow["compress"]["integer_accuracy"], "{flow}");
    assert!(out.join("build/shiftkit_top_board.bin").is_file());
}

/// Weights in SPRAM on a board: `build --board icebreaker --spram fc1` puts
/// a flash reader in the board top, its pins in the constraints and the
/// weights' image beside the bitstream; the simulated board (the board top
/// with a model of its flash holding the image) loads them before it answers
/// anything, then classifies test images bit-exact. Without a flash on the
/// board the same request is refused by name.
#[test]
fn a_board_reads_weights_kept_in_spram_from_its_flash() {
    if !have_board_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let o = shiftkit(&["train", "--arch", "mlp:64-16-10", "--epochs", "3", "-o", &p("f.skm")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o =
        shiftkit(&["compress", &p("f.skm"), "--method", "inq", "--bits", "5", "-o", &p("q.skm")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let build = ["build", &p("q.skm"), "--board", "icebreaker", "--spram", "fc1", "--json"];
    let o = shiftkit(&[&build[..], &["-o", &p("b")]].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    let b: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let bytes = b["weight_bytes"].as_u64().unwrap();
    assert!(bytes > 0, "{b}");
    assert_eq!(b["board"]["weights"]["bytes"].as_u64(), Some(bytes), "{b}");
    let image = std::fs::read(dir.path().join("b/weights.bin")).unwrap();
    assert_eq!(image.len() as u64, bytes);
    let pcf = std::fs::read_to_string(dir.path().join("b/shiftkit_top_board.pcf")).unwrap();
    for pin in ["flash_sck 15", "flash_ss_n 16", "flash_mosi 14", "flash_miso 17"] {
        assert!(pcf.contains(&format!("set_io {pin}")), "{pcf}");
    }
    let o = shiftkit(&["run", &p("q.skm"), "--sim", &p("b"), "--limit", "40", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let run: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(run["images"].as_u64(), Some(40), "{run}");
    assert_eq!(run["exact"].as_u64(), Some(40), "{run}");
    // The UPduino file describes no flash for the design to read.
    let o = shiftkit(
        &[&build[..2], &["--board", "upduino3", "--spram", "fc1", "-o", &p("u")]].concat(),
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("no [spi_flash]"), "{}", stderr(&o));
    assert!(!dir.path().join("u").exists(), "nothing half-written");
}
