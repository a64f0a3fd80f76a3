//! The stage order of ARCHITECTURE.md against the code: every `crate::X` a
//! stage names must be a stage above it in the Code Map, and every stage of
//! `src/` must be in the map. Inside a stage, no import circle between its
//! modules (files).

use std::collections::{BTreeMap, BTreeSet};
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

/// A module of one stage: its path below the stage (`stream/plan.rs` is
/// `["stream", "plan"]`, `stream/mod.rs` is `["stream"]`) and its code, tests
/// left out (a file's `#[cfg(test)]` module comes last).
type Modules = BTreeMap<Vec<String>, String>;

fn modules_under(stage: &Path) -> Modules {
    fn walk(dir: &Path, at: &[String], out: &mut Modules) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_stem().unwrap().to_string_lossy().to_string();
            let mut here = at.to_vec();
            if path.is_dir() {
                here.push(name);
                walk(&path, &here, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                if name != "mod" {
                    here.push(name);
                }
                let text = std::fs::read_to_string(&path).unwrap();
                let code = text.split("#[cfg(test)]").next().unwrap().to_string();
                out.insert(here, code);
            }
        }
    }
    let mut out = Modules::new();
    walk(stage, &[], &mut out);
    out
}

/// The code without comments.
fn code_of(text: &str) -> String {
    text.lines().map(|l| l.split("//").next().unwrap()).collect::<Vec<_>>().join("\n")
}

/// The leaves of every `use` tree in `code`: (path, the name it is bound
/// to, whether the statement is a re-export).
fn use_leaves(code: &str) -> Vec<(Vec<String>, String, bool)> {
    fn expand(
        prefix: &[String],
        tree: &str,
        export: bool,
        out: &mut Vec<(Vec<String>, String, bool)>,
    ) {
        let tree = tree.trim();
        if let Some(open) = tree.find('{') {
            let head: Vec<String> = tree[..open]
                .split("::")
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
            let inner = &tree[open + 1..tree.rfind('}').unwrap()];
            let mut depth = 0;
            let mut start = 0;
            let mut items = Vec::new();
            for (i, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        items.push(&inner[start..i]);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            items.push(&inner[start..]);
            let base: Vec<String> = prefix.iter().cloned().chain(head).collect();
            for item in items.into_iter().filter(|i| !i.trim().is_empty()) {
                expand(&base, item, export, out);
            }
        } else {
            let (path, alias) = match tree.split_once(" as ") {
                Some((p, a)) => (p, Some(a.trim().to_string())),
                None => (tree, None),
            };
            let mut full: Vec<String> = prefix.to_vec();
            full.extend(path.split("::").map(str::trim).map(String::from));
            if full.last().is_some_and(|l| l == "self") {
                full.pop();
            }
            let name = alias.unwrap_or_else(|| full.last().cloned().unwrap_or_default());
            out.push((full, name, export));
        }
    }
    let mut out = Vec::new();
    let mut lines = code.lines();
    while let Some(line) = lines.next() {
        let line = line.trim();
        let Some((export, first)) = ["pub use ", "pub(crate) use ", "pub(super) use ", "use "]
            .iter()
            .find_map(|p| line.strip_prefix(p).map(|rest| (*p != "use ", rest)))
        else {
            continue;
        };
        let mut stmt = first.to_string();
        while !stmt.contains(';') {
            match lines.next() {
                Some(more) => stmt.push_str(more),
                None => break,
            }
        }
        let tree = stmt.split(';').next().unwrap();
        expand(&[], tree, export, &mut out);
    }
    out
}

/// `crate::`, `super::` and `self::` paths named in expressions and types.
fn inline_paths(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for start in ["crate::", "super::", "self::"] {
        for (at, _) in code.match_indices(start) {
            let before = code[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let path: String = code[at..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            out.push(path.split("::").filter(|s| !s.is_empty()).map(String::from).collect());
        }
    }
    out
}

/// A path named in module `at` as a path below the stage, when it leads
/// into the stage.
fn absolute(stage: &str, modules: &Modules, at: &[String], path: &[String]) -> Option<Vec<String>> {
    let mut base = at.to_vec();
    let mut rest = path;
    match path.first()?.as_str() {
        "crate" => {
            if path.get(1)? != stage {
                return None;
            }
            base.clear();
            rest = &path[2..];
        }
        "self" => rest = &path[1..],
        "super" => {
            while rest.first().is_some_and(|s| s == "super") {
                base.pop()?;
                rest = &rest[1..];
            }
        }
        child => {
            let mut m = at.to_vec();
            m.push(child.to_string());
            if !modules.contains_key(&m) {
                return None;
            }
        }
    }
    Some(base.into_iter().chain(rest.iter().cloned()).collect())
}

/// The module a path below the stage leads to: the deepest module on it,
/// followed through that module's re-exports.
fn module_of(stage: &str, modules: &Modules, path: &[String], hops: usize) -> Option<Vec<String>> {
    let depth = (0..=path.len()).rev().find(|&d| modules.contains_key(&path[..d]))?;
    let module = path[..depth].to_vec();
    let Some(item) = path.get(depth) else { return Some(module) };
    let exported = use_leaves(&code_of(&modules[&module]))
        .into_iter()
        .find(|(_, name, export)| *export && name == item);
    match exported {
        Some((target, _, _)) if hops < 8 => {
            let target = absolute(stage, modules, &module, &target)?;
            let full: Vec<String> =
                target.into_iter().chain(path[depth + 1..].iter().cloned()).collect();
            module_of(stage, modules, &full, hops + 1)
        }
        _ => Some(module),
    }
}

/// Which modules of the stage each module uses (re-exports are not uses).
fn module_graph(stage: &str, modules: &Modules) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let mut graph = BTreeMap::new();
    for (at, text) in modules {
        let code = code_of(text);
        let named = use_leaves(&code)
            .into_iter()
            .filter(|(_, _, export)| !export)
            .map(|(p, _, _)| p)
            .chain(inline_paths(&code));
        let used: BTreeSet<Vec<String>> = named
            .filter_map(|p| absolute(stage, modules, at, &p))
            .filter_map(|p| module_of(stage, modules, &p, 0))
            .filter(|m| m != at)
            .collect();
        graph.insert(at.clone(), used);
    }
    graph
}

/// A circle of imports, if the graph has one: the modules on it, in order.
fn circle(graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Option<Vec<String>> {
    // 0: unvisited, 1: on the current path, 2: done.
    fn visit(
        m: &Vec<String>,
        graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        state: &mut BTreeMap<Vec<String>, u8>,
        path: &mut Vec<Vec<String>>,
    ) -> Option<Vec<String>> {
        state.insert(m.clone(), 1);
        path.push(m.clone());
        for next in graph.get(m).into_iter().flatten() {
            match state.get(next).copied().unwrap_or(0) {
                1 => {
                    let from = path.iter().position(|p| p == next).unwrap();
                    let mut names: Vec<String> =
                        path[from..].iter().map(|p| format!("/{}", p.join("/"))).collect();
                    names.push(format!("/{}", next.join("/")));
                    return Some(names);
                }
                0 => {
                    if let Some(c) = visit(next, graph, state, path) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        path.pop();
        state.insert(m.clone(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for m in graph.keys() {
        if state.get(m).copied().unwrap_or(0) == 0 {
            if let Some(c) = visit(m, graph, &mut state, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

/// The stages whose modules import one another in a circle, with the circle.
fn circles() -> Vec<(String, Vec<String>)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let stage = path.file_name().unwrap().to_string_lossy().to_string();
        if !path.is_dir() || stage == "bin" {
            continue;
        }
        let modules = modules_under(&path);
        if let Some(c) = circle(&module_graph(&stage, &modules)) {
            found.push((stage, c));
        }
    }
    found.sort();
    found
}

/// Stages whose modules still import in a circle (not yet untangled): the
/// list only shrinks. Every other stage, `codegen` and `quant` among them,
/// has none.
const CIRCLES_LEFT: [&str; 3] = ["compress", "report", "train"];

#[test]
fn no_stage_imports_in_a_circle() {
    let found = circles();
    let new: Vec<_> = found.iter().filter(|(s, _)| !CIRCLES_LEFT.contains(&s.as_str())).collect();
    assert!(new.is_empty(), "import circles between the modules of a stage: {new:?}");
    let stages: Vec<&str> = found.iter().map(|(s, _)| s.as_str()).collect();
    for s in CIRCLES_LEFT {
        assert!(stages.contains(&s), "`{s}` has no import circle left: take it off CIRCLES_LEFT");
    }
}

#[test]
fn the_circle_check_sees_a_circle_through_a_re_export() {
    let modules: Modules = [
        (vec![], "mod a;\nmod b;\npub use b::Thing;\n"),
        (vec!["a".into()], "use crate::st::Thing;\npub struct A;\n"),
        (vec!["b".into()], "use super::a::{self, A};\npub struct Thing;\n"),
        (vec!["c".into()], "// use super::a::A;\nfn f() { let _ = crate::st::c::g(); }\n"),
    ]
    .into_iter()
    .map(|(k, v): (Vec<String>, &str)| (k, v.to_string()))
    .collect();
    let graph = module_graph("st", &modules);
    assert_eq!(graph[&vec!["a".to_string()]], BTreeSet::from([vec!["b".to_string()]]));
    assert!(graph[&vec!["c".to_string()]].is_empty(), "comments and self-paths are no imports");
    assert!(graph[&vec![]].is_empty(), "re-exports are no imports");
    assert_eq!(circle(&graph), Some(vec!["/a".into(), "/b".into(), "/a".into()]));
    let mut fixed = modules.clone();
    fixed.insert(vec!["b".into()], "pub struct Thing;\n".into());
    assert_eq!(circle(&module_graph("st", &fixed)), None);
}
