//! The layering rules of docs/architecture.md, checked on the source: no import cycle among the
//! top-level modules of any crate (Cargo already forbids cycles between crates), and no source
//! file with over 1,000 lines of code before its tests.
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Each crate's source root.
const ROOTS: [&str; 4] = [
    "src",
    "crates/abi/src",
    "crates/mm/src",
    "crates/aarch64/src",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The code of a file without its comment lines.
fn code(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules of `crate` that `src` names: `crate::m` paths, and `m` in
/// `use crate::{m, ...}` groups.
fn references(src: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    for (i, _) in src.match_indices("crate::") {
        let rest = &src[i + 7..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            // Only the group's first level names top-level modules.
            let mut depth = 0;
            let mut item = String::new();
            for c in group[..end].chars() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.insert(ident(item.trim()));
                        item.clear();
                    }
                    _ if depth == 0 => item.push(c),
                    _ => {}
                }
            }
            out.insert(ident(item.trim()));
        } else {
            out.insert(ident(rest));
        }
    }
    out.retain(|m| modules.contains(m));
    out
}

/// A cycle in `graph`, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_string(), 1);
        path.push(n.to_string());
        for m in graph.get(n).into_iter().flatten() {
            match state.get(m.as_str()).copied().unwrap_or(0) {
                1 => {
                    let at = path.iter().position(|p| p == m).unwrap();
                    let mut cycle = path[at..].to_vec();
                    cycle.push(m.clone());
                    return Some(cycle);
                }
                0 => {
                    if let Some(c) = visit(m, graph, state, path) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        path.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in graph.keys() {
        if state.get(n.as_str()).copied().unwrap_or(0) == 0 {
            if let Some(c) = visit(n, graph, &mut state, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

/// The top-level module a file of `root` belongs to (`None` for the crate root itself).
fn module_of(root: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(root).unwrap();
    let first = rel.components().next()?.as_os_str().to_str()?.to_string();
    let name = first.strip_suffix(".rs").unwrap_or(&first).to_string();
    (!matches!(name.as_str(), "lib" | "main")).then_some(name)
}

#[test]
fn no_crate_has_an_import_cycle_among_its_top_level_modules() {
    let base = Path::new(env!("CARGO_MANIFEST_DIR"));
    for root in ROOTS {
        let root = base.join(root);
        let mut files = Vec::new();
        rust_files(&root, &mut files);
        let modules: BTreeSet<String> = files.iter().filter_map(|f| module_of(&root, f)).collect();
        assert!(
            modules.len() > 2,
            "no modules found under {}",
            root.display()
        );
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for f in &files {
            let Some(m) = module_of(&root, f) else {
                continue;
            };
            let mut refs = references(&code(&fs::read_to_string(f).unwrap()), &modules);
            refs.remove(&m);
            graph.entry(m).or_default().extend(refs);
        }
        if let Some(cycle) = find_cycle(&graph) {
            panic!(
                "import cycle under {}: {}",
                root.display(),
                cycle.join(" -> ")
            );
        }
    }
}

#[test]
fn the_cycle_finder_finds_a_cycle() {
    let modules: BTreeSet<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    let mut graph = BTreeMap::new();
    graph.insert(
        "a".to_string(),
        references("use crate::{b::X, c};", &modules),
    );
    graph.insert("b".to_string(), references("crate::c::f()", &modules));
    assert_eq!(find_cycle(&graph), None);
    graph.insert("c".to_string(), references("crate::a::g()", &modules));
    assert!(find_cycle(&graph).is_some());
}

/// Lines of code before a file's tests: neither blank nor comments, up to `#[cfg(test)]`.
fn lines_of_code(text: &str) -> usize {
    text.lines()
        .take_while(|l| l.trim() != "#[cfg(test)]")
        .filter(|l| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with("//")
        })
        .count()
}

#[test]
fn no_source_file_has_over_1000_lines_of_code_before_its_tests() {
    let base = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut long = Vec::new();
    for root in ROOTS {
        let mut files = Vec::new();
        rust_files(&base.join(root), &mut files);
        for f in files {
            let n = lines_of_code(&fs::read_to_string(&f).unwrap());
            if n > 1000 && f.file_name().is_some_and(|n| n != "tests.rs") {
                long.push(format!("{} ({n})", f.display()));
            }
        }
    }
    assert!(long.is_empty(), "over 1,000 lines of code: {long:?}");
}
