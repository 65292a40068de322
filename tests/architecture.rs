//! The module graph has no cycle: every top-level module of `src/` may use the
//! ones below it, never one that uses it back (STYLE: one module per pipeline
//! stage, pure cores, thin edges).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// `crate::X` references of every top-level module, by module.
fn edges() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|ext| ext != "rs") {
                continue;
            }
            let relative = path.strip_prefix(&src).unwrap();
            let first = relative.components().next().unwrap();
            let module = first
                .as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_owned();
            let text = std::fs::read_to_string(&path).unwrap();
            for (index, _) in text.match_indices("crate::") {
                let used: String = text[index + 7..]
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                if !used.is_empty() && used != module {
                    edges.entry(module.clone()).or_default().insert(used);
                }
            }
        }
    }
    edges
}

fn path_between(
    edges: &BTreeMap<String, BTreeSet<String>>,
    from: &str,
    to: &str,
) -> Option<Vec<String>> {
    let mut stack = vec![vec![from.to_owned()]];
    let mut seen = BTreeSet::new();
    while let Some(path) = stack.pop() {
        let last = path.last().unwrap().clone();
        for next in edges.get(&last).into_iter().flatten() {
            let mut longer = path.clone();
            longer.push(next.clone());
            if next == to {
                return Some(longer);
            }
            if seen.insert(next.clone()) {
                stack.push(longer);
            }
        }
    }
    None
}

#[test]
fn the_module_graph_has_no_cycle() {
    let edges = edges();
    assert!(
        edges.contains_key("app"),
        "the scan found no modules: {edges:?}"
    );
    for (module, used) in &edges {
        for other in used {
            if let Some(back) = path_between(&edges, other, module) {
                panic!("{module} uses {other}, and {} leads back", back.join(" → "));
            }
        }
    }
}

#[test]
fn lib_rs_only_wires() {
    let lib =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    let code_lines = lib
        .lines()
        .filter(|line| {
            let line = line.trim();
            !line.is_empty() && !line.starts_with("//")
        })
        .count();
    assert!(
        code_lines < 60,
        "lib.rs has {code_lines} lines of code: keep it to wiring"
    );
}
