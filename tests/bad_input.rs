//! Bad input through the real binary: every case must fail with exit code 1
//! (or clap's 2), print no panic, name the thing at fault, and leave its
//! working directory exactly as it was: no new, replaced or half-written file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Models every case may read (never written by a case).
struct Fixture {
    _dir: tempfile::TempDir,
    float: String,
    q: String,
    other: String,
    nan: String,
}

fn shiftkit(args: &[&str], cwd: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_shiftkit")).current_dir(cwd).args(args).output().unwrap()
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
        let run = |args: &[&str]| {
            let o = shiftkit(args, dir.path());
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        };
        run(&["train", "--arch", "mlp:64-16-10", "--epochs", "2", "-q", "-o", &p("f.skm")]);
        run(&["quantize", &p("f.skm"), "-o", &p("q.skm")]);
        let onnx =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/onnx/lenet5_dynamo.onnx");
        run(&["import", onnx.to_str().unwrap(), "-o", &p("other.skm")]);
        // A float weight made NaN, written as the file format lays it out.
        let path = Path::new(&p("f.skm")).to_path_buf();
        let mut c = shiftkit::model::Container::load(&path).unwrap();
        let mut w = match c.tensor("float.fc1.weight").unwrap() {
            shiftkit::model::TensorData::F32(a) => a.clone(),
            _ => panic!("float weights"),
        };
        w[[0, 3]] = f32::NAN;
        c.insert_tensor("float.fc1.weight".into(), shiftkit::model::TensorData::F32(w));
        std::fs::write(p("nan.skm"), c.to_bytes()).unwrap();
        Fixture {
            float: p("f.skm"),
            q: p("q.skm"),
            other: p("other.skm"),
            nan: p("nan.skm"),
            _dir: dir,
        }
    })
}

/// Every file under `dir` with its bytes (links by their target).
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let path = e.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let content = if meta.file_type().is_symlink() {
                std::fs::read_link(&path).unwrap().to_string_lossy().as_bytes().to_vec()
            } else if meta.is_dir() {
                stack.push(path.clone());
                b"<dir>".to_vec()
            } else if meta.is_file() {
                std::fs::read(&path).unwrap()
            } else {
                b"<special>".to_vec()
            };
            out.insert(path, content);
        }
    }
    out
}

/// Runs `args` (`{f}`, `{q}`, `{other}`, `{nan}` the fixture's models, `{w}`
/// the case's own directory, prepared by `setup`) and checks the failure.
fn case(args: &[&str], needle: &str, setup: impl FnOnce(&Path)) {
    let fx = fixture();
    let work = tempfile::tempdir().unwrap();
    let w = work.path().to_str().unwrap();
    setup(work.path());
    let args: Vec<String> = args
        .iter()
        .map(|a| {
            a.replace("{f}", &fx.float)
                .replace("{q}", &fx.q)
                .replace("{other}", &fx.other)
                .replace("{nan}", &fx.nan)
                .replace("{w}", w)
        })
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let before = snapshot(work.path());
    let o = shiftkit(&args, work.path());
    let err = String::from_utf8_lossy(&o.stderr);
    let code = o.status.code();
    assert!(matches!(code, Some(1) | Some(2)), "{args:?}: exit {code:?}\n{err}");
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    assert!(err.contains(needle), "{args:?}: `{needle}` not in\n{err}");
    assert_eq!(snapshot(work.path()), before, "{args:?} changed its directory");
}

fn none(_: &Path) {}

#[test]
fn sizes_beyond_memory_and_limits_are_refused_before_any_work() {
    case(
        &["train", "--arch", "mlp:64-18446744073709551615-10", "-o", "{w}/a.skm"],
        "parameters",
        none,
    );
    case(&["train", "--arch", "mlp:64-99999999-10", "-o", "{w}/a.skm"], "parameters", none);
    case(
        &["train", "--arch", "mlp:64-8-10", "--epochs", "1000000000", "-o", "{w}/a.skm"],
        "epochs",
        none,
    );
    case(
        &["compress", "{f}", "--method", "binary", "--epochs", "1000000000", "-o", "{w}/a.skm"],
        "epochs",
        none,
    );
    case(
        &["compress", "{f}", "--method", "binary", "--batch", "0", "-o", "{w}/a.skm"],
        "batch",
        none,
    );
    case(&["train", "--arch", "mlp:64-8-10", "--epochs", "0", "-o", "{w}/a.skm"], "--epochs", none);
    case(&["train", "--arch", "mlp:64-0-10", "-o", "{w}/a.skm"], "at least 1", none);
    case(&["train", "--arch", "mlp:", "-o", "{w}/a.skm"], "architecture spec", none);
    case(&["train", "--arch", "mlp:64-8-10", "--epochs", "-3", "-o", "{w}/a.skm"], "-3", none);
    case(
        &["compress", "{f}", "--method", "inq", "--inq-range", "mean", "-o", "{w}/a.skm"],
        "`max` (the INQ paper's) or `min-error`",
        none,
    );
    case(&["eval", "{f}", "--split", "holdout"], "holdout", none);
}

#[test]
fn numbers_that_cannot_work_are_refused() {
    let train = ["train", "--arch", "mlp:64-8-10", "--epochs", "1", "-o", "{w}/a.skm"];
    for (flag, needle) in [
        ("--momentum=5", "momentum"),
        ("--momentum=-1", "momentum"),
        ("--momentum=nan", "momentum"),
        ("--weight-decay=-1", "weight decay"),
        ("--weight-decay=inf", "weight decay"),
        ("--lr=nan", "learning rate"),
        ("--lr=0", "learning rate"),
        ("--lr=-0.1", "learning rate"),
        ("--batch=0", "batch"),
    ] {
        case(&[&train[..], &[flag]].concat(), needle, none);
    }
    let inq = ["compress", "{f}", "--method", "inq", "-o", "{w}/c.skm"];
    for (extra, needle) in [
        (&["--schedule", "nan,1"][..], "schedule"),
        (&["--schedule", "0.5,0.4,1"], "schedule"),
        (&["--schedule", "x"], "--schedule"),
        (&["--bits", "0"], "INQ bits 0"),
        (&["--bits", "7"], "use 2 to 6"),
        (&["--bits", "8"], "use 2 to 6"),
        (&["--act-bits", "0"], "act_bits"),
        (&["--input-bits", "99"], "input_bits"),
        (&["--calibration", "0"], "calibration"),
        (&["--layer-bits", "fc1"], "LAYER=BITS"),
        (&["--layer-bits", "fc1=9"], "INQ bits"),
        (&["--keep-first-last", "int8"], "weight spec"),
    ] {
        case(&[&inq[..], extra].concat(), needle, none);
    }
    case(&["quantize", "{f}", "--weights", "inq7", "-o", "{w}/q.skm"], "inqN (N 2..=6)", none);
    case(&["quantize", "{f}", "--act-bits", "1", "-o", "{w}/q.skm"], "act_bits", none);
    case(&["quantize", "{f}", "--output-bits", "17", "-o", "{w}/q.skm"], "output_bits", none);
    case(&["hdl", "{q}", "--levels-per-stage", "0", "-o", "{w}/h"], "levels_per_stage", none);
    case(&["hdl", "{q}", "--top", "module", "-o", "{w}/h"], "Verilog keyword", none);
    case(&["hdl", "{q}", "--top", "1top", "-o", "{w}/h"], "Verilog identifier", none);
    case(
        &["hdl", "{q}", "--form", "streaming", "--fold", "fc1=7x3", "-o", "{w}/h"],
        "does not divide",
        none,
    );
    let stream = ["hdl", "{q}", "--form", "streaming", "-o", "{w}/h"];
    for (extra, needle) in [
        (&["--spram", "relu1"][..], "`relu1` (spram) is not a dense or convolution layer"),
        (&["--spram", "fc9"], "its weighted layers are"),
        (&["--spram", "fc1", "--device", "ice40-hx8k"], "has no single-port RAM (SPRAM)"),
        (&["--spram", "fc1", "--fold", "fc1=16x64"], "`fc1` (spram) is unrolled"),
    ] {
        case(&[&stream[..], extra].concat(), needle, none);
    }
    case(&["verify", "{q}", "{w}", "--vectors", "1"], "manifest.json", none);
    let sens = ["sensitivity", "{f}", "-o", "{w}/s.json"];
    for (extra, needle) in [
        (&["--sparsities", "1.5"][..], "sparsity"),
        (&["--sparsities", "nan"], "sparsity"),
        (&["--inq-bits", "9"], "INQ bits"),
        (&["--ranks", "0"], "rank fractions"),
        (&["--ranks", "2"], "rank fractions"),
    ] {
        case(&[&sens[..], extra].concat(), needle, none);
    }
    case(&["report", "{q}", "--sensitivity", "{w}/s.json"], "s.json", |w: &Path| {
        std::fs::write(w.join("s.json"), "{\"model\": 3}").unwrap()
    });
    case(&["report", "{q}", "--sensitivity", "{w}/none.json"], "none.json", none);
}

#[test]
fn recipes_with_mistakes_name_the_step() {
    let recipe =
        |text: &'static str| move |w: &Path| std::fs::write(w.join("r.toml"), text).unwrap();
    let run = ["compress", "{f}", "--recipe", "{w}/r.toml", "-o", "{w}/c.skm"];
    case(
        &run,
        "names no layer",
        recipe("[[step]]\nmethod = \"prune\"\nsparsity = 0.5\nlayers = []\n"),
    );
    case(
        &run,
        "no layer `fc9`",
        recipe("[[step]]\nmethod = \"prune\"\nsparsity = 0.5\nlayers = [\"fc9\"]\n"),
    );
    case(
        &run,
        "layer_bits",
        recipe("[[step]]\nmethod = \"inq\"\nbits = 4\nlayer_bits = { fc9 = 3 }\n"),
    );
    case(&run, "step 1", recipe("[[step]]\nmethod = \"svd\"\nenergy = 2.0\n"));
    case(
        &run,
        "momentum",
        recipe("[train]\nmomentum = 1.5\n[[step]]\nmethod = \"finetune\"\nepochs = 1\n"),
    );
    case(&run, "r.toml", recipe("[[step]\n"));
    case(&run, "r.toml", |_: &Path| {});
}

#[test]
fn damaged_and_foreign_files_say_what_they_are() {
    case(&["eval", "{nan}"], "holds NaN", none);
    case(&["info", "{w}/t.skm"], "truncated", |w: &Path| {
        let bytes = std::fs::read(&fixture().q).unwrap();
        std::fs::write(w.join("t.skm"), &bytes[..bytes.len() / 2]).unwrap();
    });
    case(&["info", "{w}/h.skm"], "truncated", |w: &Path| {
        let bytes = std::fs::read(&fixture().q).unwrap();
        std::fs::write(w.join("h.skm"), &bytes[..40]).unwrap();
    });
    case(&["info", "{w}/e.skm"], "empty", |w: &Path| std::fs::write(w.join("e.skm"), b"").unwrap());
    case(&["info", "{w}/missing.skm"], "missing.skm", none);
    case(&["info", "{w}"], "", none);
    case(&["import", "{w}/e.onnx", "-o", "{w}/e.skm"], "empty", |w: &Path| {
        std::fs::write(w.join("e.onnx"), b"").unwrap()
    });
    case(&["import", "{w}/g.onnx", "-o", "{w}/g.skm"], "not an ONNX model", |w: &Path| {
        std::fs::write(w.join("g.onnx"), b"\xff\xff\xff garbage").unwrap()
    });
    case(&["report", "{q}", "--reference", "{other}"], "reference", none);
    case(&["report", "{f}"], "shiftkit quantize", none);
    case(
        &["sim", "{f}", "--input", "{w}/in.txt", "--output", "{w}/o.txt"],
        "line 1",
        |w: &Path| std::fs::write(w.join("in.txt"), "0.5 x\n").unwrap(),
    );
    case(
        &["eval", "{f}", "--data", "fashion-mnist", "--data-dir", "{w}/none"],
        "Fashion-MNIST not found",
        none,
    );
    case(&["eval", "{f}", "--data", "cifar"], "digits", none);
    case(&["dump", "{f}"], "shiftkit quantize", none);
    case(&["build", "{q}", "-o", "{w}/b", "--target", "{w}/dev.toml"], "dev.toml", |w: &Path| {
        std::fs::write(w.join("dev.toml"), "name = \"x\"\nfamily = \"ice40\"\nluts = -1\n").unwrap()
    });
    case(&["verify", "{q}", "{w}/h"], "not a shiftkit manifest", |w: &Path| {
        std::fs::create_dir(w.join("h")).unwrap();
        std::fs::write(w.join("h/manifest.json"), "{\"top\": 3}").unwrap();
    });
    case(&["export", "{q}", "-o", "{w}/d"], "is a directory", |w: &Path| {
        std::fs::create_dir(w.join("d")).unwrap()
    });
    case(&["build", "{f}", "-o", "{w}/b", "--target", "ice40-up5k"], "shiftkit quantize", none);
}

#[test]
fn simulator_input_errors_are_said_once() {
    let fx = fixture();
    let work = tempfile::tempdir().unwrap();
    let row: Vec<String> = (0..63).map(|i| (i % 7).to_string()).collect();
    std::fs::write(work.path().join("in.txt"), row.join(" ") + "\n").unwrap();
    let o = shiftkit(&["sim", &fx.q, "--input", "in.txt", "--output", "o.txt"], work.path());
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.matches("63 values").count(), 1, "{err}");
    assert!(!work.path().join("o.txt").exists());
}

#[test]
fn outputs_are_regular_files_in_directories_that_exist() {
    let train = |out: &'static str| ["train", "--arch", "mlp:64-8-10", "--epochs", "1", "-o", out];
    case(&train("-"), "`-`", none);
    case(&train("{w}/nodir/a.skm"), "does not exist", none);
    case(&train("{w}/d"), "is a directory", |w: &Path| std::fs::create_dir(w.join("d")).unwrap());
    case(&train("{w}/link.skm"), "symbolic link", |w: &Path| {
        std::fs::write(w.join("target.skm"), b"mine").unwrap();
        std::os::unix::fs::symlink(w.join("target.skm"), w.join("link.skm")).unwrap();
    });
    case(&train("{w}/fifo"), "not a regular file", |w: &Path| {
        let ok = Command::new("mkfifo").arg(w.join("fifo")).status().unwrap().success();
        assert!(ok, "mkfifo");
    });
    case(&["compress", "{f}", "--method", "inq", "-o", "{w}/x/c.skm"], "does not exist", none);
    case(
        &["compress", "{f}", "--method", "inq", "-o", "{w}/c.skm", "--report", "{w}/r/x.md"],
        "does not exist",
        none,
    );
    case(&["hdl", "{q}", "-o", "{w}/mine"], "not a shiftkit design", |w: &Path| {
        std::fs::create_dir(w.join("mine")).unwrap();
        std::fs::write(w.join("mine/notes.txt"), b"keep me").unwrap();
    });
    case(&["hdl", "{q}", "-o", "{w}/file"], "not a directory", |w: &Path| {
        std::fs::write(w.join("file"), b"x").unwrap()
    });
    case(&["flow", "--bits", "0", "-o", "{w}/fl"], "INQ bits 0", none);
    case(&["flow", "--arch", "lenet5", "-o", "{w}/fl"], "1x28x28", none);
    // A device's settings are checked before training, by name, like build's.
    let up5k = ["flow", "--target", "ice40-up5k", "-o", "{w}/fl", "--max-util"];
    case(&[&up5k[..], &["1.5"]].concat(), "max_util: 1.5: give a share", none);
    case(&[&up5k[..], &["0"]].concat(), "max_util: 0: give a share", none);
    case(&["flow", "--target", "ice40-up5k", "--clock", "0", "-o", "{w}/fl"], "clock: 0 MHz", none);
    case(&["build", "{q}", "-o", "{w}/b", "--target", "ice40-up9k"], "unknown device", none);
    // Boards: a name shiftkit does not know, a device that disagrees, a baud
    // rate the clock cannot make, a baud rate without a board, no target.
    let b = ["build", "{q}", "-o", "{w}/b"];
    case(&[&b[..], &["--board", "icebraker"]].concat(), "unknown board `icebraker`", none);
    let both = ["--board", "icebreaker", "--target", "xc7a35t"];
    case(&[&b[..], &both].concat(), "carries the ice40-up5k", none);
    let baud = ["--board", "icebreaker", "--baud", "7000000"];
    case(&[&b[..], &baud].concat(), "baud 7000000 cannot be made from 12 MHz", none);
    let lone = ["--target", "ice40-up5k", "--baud", "115200"];
    case(&[&b[..], &lone].concat(), "--baud sets a board's UART", none);
    case(&b, "give the device (--target DEVICE) or a board (--board BOARD)", none);
    // Weights in SPRAM: a layer that is not there, a device without SPRAM.
    let spram = ["--target", "ice40-up5k", "--spram", "fc9"];
    case(&[&b[..], &spram].concat(), "its weighted layers are", none);
    let spram = ["--target", "ice40-hx8k", "--spram", "fc1"];
    case(&[&b[..], &spram].concat(), "has no single-port RAM (SPRAM)", none);
    // Running on a board: no board, a port that is not there or is no
    // port, a directory that is no board build, a timeout of no time.
    case(&["run", "{q}"], "--port <PORT>", none);
    case(&["run", "{q}", "--port", "/dev/ttyNOPE"], "/dev/ttyNOPE does not exist", none);
    case(&["run", "{q}", "--port", "{q}"], "is not a serial port", none);
    case(&["run", "{q}", "--sim", "{w}"], "is not a board build", none);
    case(&["run", "{q}", "--port", "/dev/null", "--timeout", "0"], "timeout: 0 s", none);
    case(&["run", "{w}/none.skm", "--sim", "{w}"], "none.skm", none);
    // A read-only directory (root writes anyway, so only as another user).
    let probe = tempfile::tempdir().unwrap();
    let ro = probe.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    std::fs::set_permissions(&ro, std::os::unix::fs::PermissionsExt::from_mode(0o555)).unwrap();
    if std::fs::write(ro.join("x"), b"").is_err() {
        case(&train("{w}/ro/a.skm"), "cannot write", |w: &Path| {
            std::fs::create_dir(w.join("ro")).unwrap();
            std::fs::set_permissions(
                w.join("ro"),
                std::os::unix::fs::PermissionsExt::from_mode(0o555),
            )
            .unwrap();
        });
    }
}

#[test]
fn force_replaces_a_link_and_a_regenerated_design_leaves_nothing_stale() {
    let fx = fixture();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    std::fs::write(w.join("target.skm"), b"mine").unwrap();
    std::os::unix::fs::symlink(w.join("target.skm"), w.join("link.skm")).unwrap();
    let o = shiftkit(&["quantize", &fx.float, "-o", "link.skm", "--force"], w);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(std::fs::symlink_metadata(w.join("link.skm")).unwrap().is_file());
    assert_eq!(
        std::fs::read(w.join("target.skm")).unwrap(),
        b"mine",
        "the link's target is untouched"
    );
    // A streaming design, then an unrolled one in the same directory: the
    // streaming form's files are gone, a file of the user's stays.
    let o = shiftkit(&["hdl", &fx.q, "--form", "streaming", "-o", "h"], w);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let streamed: Vec<_> =
        std::fs::read_dir(w.join("h")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(streamed.iter().any(|n| n.to_string_lossy().ends_with(".hex")));
    let o = shiftkit(&["hdl", &fx.q, "--form", "unrolled", "-o", "h"], w);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(w.join("h/manifest.json")).unwrap()).unwrap();
    let mut want: Vec<String> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_string())
        .collect();
    want.extend(["files.f", "graph.json", "manifest.json"].map(String::from));
    want.sort();
    let mut got: Vec<String> = std::fs::read_dir(w.join("h"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    got.sort();
    assert_eq!(got, want);
    // `-` is standard output for the simulator's outputs.
    std::fs::write(w.join("in.txt"), vec!["1"; 64].join(" ") + "\n").unwrap();
    let o = shiftkit(&["sim", &fx.q, "--input", "in.txt", "--output", "-"], w);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout).split_whitespace().count(), 10);
    assert!(!w.join("-").exists());
}

/// Every numeric flag of the quick commands at 0, -1, NaN, 1e30 and the
/// largest u64: never a panic or an abort, and a failure changes nothing.
#[test]
fn numeric_flags_at_their_extremes_never_panic() {
    let fx = fixture();
    let matrix = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/data/dense64x32_pow2.txt");
    let commands: [(&[&str], &[&str]); 9] = [
        (
            &["train", "--arch", "mlp:64-8-10", "--epochs", "1", "-o", "{w}/a.skm"],
            &["--epochs", "--batch", "--lr", "--momentum", "--weight-decay", "--seed"],
        ),
        (
            &["compress", "{f}", "--method", "inq", "--epochs-per-step", "0", "-o", "{w}/c.skm"],
            &[
                "--bits",
                "--epochs-per-step",
                "--act-bits",
                "--input-bits",
                "--calibration",
                "--batch",
            ],
        ),
        (
            &["compress", "{f}", "--method", "ternary", "--epochs", "0", "-o", "{w}/c.skm"],
            &["--epochs", "--lr"],
        ),
        (&["quantize", "{f}", "-o", "{w}/q.skm"], &["--act-bits", "--input-bits", "--calibration"]),
        (
            &["hdl", "{q}", "--form", "streaming", "-o", "{w}/h"],
            &["--levels-per-stage", "--cycles", "--input-lanes", "--output-lanes", "--share-depth"],
        ),
        (
            &["cmvm", matrix],
            &["--input-bits", "--levels-per-stage", "--share-depth", "--share-tries"],
        ),
        (&["verify", "{q}", "{w}/none", "--sim", "icarus"], &["--vectors", "--seed"]),
        // Valid values run whole builds and flows (seconds each on the digits).
        (
            &["build", "{q}", "-o", "{w}/b", "--target", "ice40-up5k"],
            &["--clock", "--max-util", "--pnr-seed"],
        ),
        (
            &["flow", "--arch", "mlp:64-8-10", "-q", "-o", "{w}/fl"],
            &["--bits", "--vectors", "--seed"],
        ),
    ];
    for (base, flags) in commands {
        for flag in flags {
            for value in ["0", "-1", "nan", "1e30", "18446744073709551615"] {
                let work = tempfile::tempdir().unwrap();
                let w = work.path().to_str().unwrap();
                let args: Vec<String> = base
                    .iter()
                    .map(|a| a.replace("{f}", &fx.float).replace("{q}", &fx.q).replace("{w}", w))
                    .chain([format!("{flag}={value}")])
                    .collect();
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let o = shiftkit(&args, work.path());
                let err = String::from_utf8_lossy(&o.stderr);
                assert!(matches!(o.status.code(), Some(0..=2)), "{args:?}: {:?}\n{err}", o.status);
                assert!(!err.contains("panicked"), "{args:?}: {err}");
                if !o.status.success() {
                    assert!(err.contains("error"), "{args:?}: {err}");
                    assert!(snapshot(work.path()).is_empty(), "{args:?} failed but wrote");
                }
            }
        }
    }
}

#[test]
fn constant_matrices_that_cannot_be_solved_say_why() {
    let write = |name: &'static str, text: &'static str| {
        move |w: &Path| std::fs::write(w.join(name), text).unwrap()
    };
    let m = ["cmvm", "{w}/m.txt", "-o", "{w}/c.v"];
    case(&m, "m.txt", none);
    case(&m, "line 2 has 3 entries", write("m.txt", "1 2\n3 4 5\n"));
    case(&m, "`x` is not a finite number", write("m.txt", "1 x\n"));
    case(&m, "`inf` is not a finite number", write("m.txt", "1 inf\n"));
    case(&m, "holds no entries", write("m.txt", "# nothing\n\n"));
    case(&m, "dyadic", write("m.txt", "0.1 1\n"));
    case(&m, "does not fit 32 bits", write("m.txt", "1 4294967296\n"));
    let ok = write("m.txt", "1 -3\n5 0.5\n");
    case(&["cmvm", "{w}/m.txt", "--share-depth", "17"], "share_depth", ok);
    case(&["cmvm", "{w}/m.txt", "--share-tries", "4097"], "share_tries", ok);
    case(&["cmvm", "{w}/m.txt", "--input-bits", "0"], "input_bits", ok);
    case(&["cmvm", "{w}/m.txt", "--levels-per-stage", "0"], "levels_per_stage", ok);
    case(&["cmvm", "{w}/m.txt", "--top", "wire", "-o", "{w}/c.v"], "Verilog keyword", ok);
    case(&["cmvm", "{w}/m.txt", "-o", "{w}/no/c.v"], "does not exist", ok);
}

#[test]
fn a_constant_matrix_solves_to_a_lint_clean_module() {
    let w = tempfile::tempdir().unwrap();
    let rows = "3 5 -7\n3 5 7\n-1 0.25 2\n6 10 0\n";
    std::fs::write(w.path().join("m.txt"), rows).unwrap();
    let run = |extra: &[&str]| {
        let o = shiftkit(&[&["cmvm", "m.txt", "--json"], extra].concat(), w.path());
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    let shared = run(&["-o", "cmvm.v"]);
    let plain = run(&["--no-share"]);
    assert_eq!((shared["inputs"].as_u64(), shared["outputs"].as_u64()), (Some(4), Some(3)));
    assert_eq!(shared["scale_bits"].as_u64(), Some(2), "0.25 needs two fraction bits");
    assert!(shared["adders"].as_u64() < plain["adders"].as_u64(), "{shared} {plain}");
    let text = std::fs::read_to_string(w.path().join("cmvm.v")).unwrap();
    assert!(text.contains("module cmvm ("), "{text}");
    if Command::new("verilator").arg("--version").output().is_ok() {
        let o = Command::new("verilator")
            .current_dir(w.path())
            .args(["--lint-only", "-Wall", "cmvm.v"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
}
