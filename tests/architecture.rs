//! The stage order of ARCHITECTURE.md against the code: every `crate::X` a
//! stage names must be a stage above it in the Code Map, and every stage of
//! `src/` must be in the map.

use std::collections::BTreeMap;
use std::path::Path;

/// The stages in the order of ARCHITECTURE.md's `### src/NAME` headings.
fn documented_order(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("### src/"))
        .map(|name| name.trim().to_string())
        .collect()
}

/// The stages each stage's code names (`crate::X`), comments left out.
fn imports_of(sources: &[(String, String)]) -> BTreeMap<String, Vec<String>> {
    let mut imports: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (stage, text) in sources {
        let used = imports.entry(stage.clone()).or_default();
        for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for (at, _) in line.match_indices("crate::") {
                let rest = &line[at + "crate::".len()..];
                let name: String =
                    rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                if !name.is_empty() && name != *stage && !used.contains(&name) {
                    used.push(name);
                }
            }
        }
    }
    imports
}

/// Every import of a stage that is not above it: (stage, import).
fn violations(order: &[String], imports: &BTreeMap<String, Vec<String>>) -> Vec<(String, String)> {
    let rank = |s: &str| order.iter().position(|o| o == s);
    let mut bad = Vec::new();
    for (stage, used) in imports {
        for u in used {
            match (rank(stage), rank(u)) {
                (Some(a), Some(b)) if b < a => {}
                _ => bad.push((stage.clone(), u.clone())),
            }
        }
    }
    bad
}

/// Every `.rs` file under `dir`, by path.
fn sources_under(dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources_under(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(std::fs::read_to_string(&path).unwrap());
        }
    }
}

#[test]
fn stages_import_only_the_stages_above_them() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let order = documented_order(&std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap());
    let mut sources = Vec::new();
    let mut stages = Vec::new();
    for entry in std::fs::read_dir(root.join("src")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        // The binary is no stage: it may use them all.
        if !path.is_dir() || name == "bin" {
            continue;
        }
        let mut files = Vec::new();
        sources_under(&path, &mut files);
        sources.extend(files.into_iter().map(|text| (name.clone(), text)));
        stages.push(name);
    }
    stages.sort();
    let mut documented = order.clone();
    documented.sort();
    assert_eq!(stages, documented, "the stages of src/ and of ARCHITECTURE.md's Code Map");
    let lib = std::fs::read_to_string(root.join("src/lib.rs")).unwrap();
    for s in &stages {
        assert!(lib.contains(&format!("pub mod {s};")), "src/lib.rs declares `{s}`");
    }
    let bad = violations(&order, &imports_of(&sources));
    assert!(bad.is_empty(), "stages importing a stage not above them: {bad:?} (order {order:?})");
}

#[test]
fn the_check_catches_an_upward_import() {
    let order = documented_order("### src/model\ntext\n### src/quant\n### src/compress\n");
    assert_eq!(order, ["model", "quant", "compress"]);
    let sources = [
        ("quant".to_string(), "use crate::model::Shape;\nuse crate::compress::code;".to_string()),
        ("compress".to_string(), "// crate::app in a comment\nuse crate::quant::X;".to_string()),
        ("model".to_string(), "let x = crate::nowhere::f();".to_string()),
    ];
    let bad = violations(&order, &imports_of(&sources));
    assert_eq!(
        bad,
        [("model".into(), "nowhere".into()), ("quant".into(), "compress".into())],
        "an upward import and an unknown stage are caught; a comment is not"
    );
}

/// Files small enough to read whole: none in `src/` over 500 lines.
#[test]
fn no_source_file_is_over_500_lines() {
    fn walk(dir: &Path, long: &mut Vec<(String, usize)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, long);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let lines = std::fs::read_to_string(&path).unwrap().lines().count();
                if lines > 500 {
                    long.push((path.display().to_string(), lines));
                }
            }
        }
    }
    let mut long = Vec::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut long);
    assert!(long.is_empty(), "split these: {long:?}");
}
