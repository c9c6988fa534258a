//! The shape of the code, kept by tests that read the sources: dependencies point one way (no
//! cycle between modules, nor between the files of one module), domain modules never reach the
//! command line nor print to stdout, and commands stay thin.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module path (`deploy::state`, `artifacts` for `artifacts/mod.rs`) → its source before any
/// `#[cfg(test)]`.
fn modules() -> BTreeMap<String, String> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).expect("src is readable") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path
                    .strip_prefix(root)
                    .expect("under src")
                    .with_extension("");
                let mut parts: Vec<String> = rel
                    .iter()
                    .map(|p| p.to_string_lossy().into_owned())
                    .collect();
                if parts.last().is_some_and(|p| p == "mod") {
                    parts.pop();
                }
                let text = std::fs::read_to_string(&path).expect("a source file");
                let code = text.split("#[cfg(test)]").next().unwrap_or("").to_string();
                out.insert(parts.join("::"), code);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    walk(&root, &root, &mut out);
    out
}

/// The paths that follow `prefix` in `code` (`crate::deploy::state::inspect` → that path).
fn paths_after<'a>(code: &'a str, prefix: &str) -> Vec<&'a str> {
    code.match_indices(prefix)
        .filter(|(i, _)| {
            // A whole word: not `my_crate::`.
            code[..*i]
                .chars()
                .last()
                .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
        })
        .map(|(i, _)| {
            let rest = &code[i + prefix.len()..];
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            rest[..end].trim_end_matches(':')
        })
        .collect()
}

/// The longest module `path` names (`deploy::state::inspect` → `deploy::state`).
fn module_of(path: &str, known: &BTreeMap<String, String>) -> Option<String> {
    let parts: Vec<&str> = path.split("::").collect();
    (1..=parts.len())
        .rev()
        .map(|n| parts[..n].join("::"))
        .find(|m| known.contains_key(m))
}

/// File-level edges: each module → the modules it names (not itself, not its own parents).
fn file_edges(known: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, code) in known {
        let parent = module.rsplit_once("::").map_or("", |(p, _)| p);
        let mut targets: Vec<String> = paths_after(code, "crate::")
            .into_iter()
            .filter_map(|p| module_of(p, known))
            .collect();
        targets.extend(paths_after(code, "super::").into_iter().filter_map(|p| {
            let full = if parent.is_empty() {
                p.to_string()
            } else {
                format!("{parent}::{p}")
            };
            module_of(&full, known).filter(|m| m != parent)
        }));
        for target in targets {
            let ancestor = module.starts_with(&format!("{target}::"));
            if &target != module && !ancestor && target != "lib" && target != "main" {
                edges.entry(module.clone()).or_default().insert(target);
            }
        }
    }
    edges
}

/// A cycle through `edges`, as the path that closes it.
fn cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut found = path[start..].to_vec();
            found.push(node.to_string());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, edges, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|n| visit(n, edges, &mut Vec::new(), &mut done))
}

fn top(module: &str) -> &str {
    module.split("::").next().unwrap_or(module)
}

/// The command-line face: the only modules that may print results or know the commands.
const FACE: [&str; 5] = ["main", "lib", "cli", "commands", "output"];

#[test]
fn no_module_depends_on_itself_through_others() {
    let known = modules();
    let edges = file_edges(&known);
    assert!(
        edges.contains_key("workflow::apply"),
        "the walk finds modules"
    );
    if let Some(c) = cycle(&edges) {
        panic!("files depend on each other in a cycle: {}", c.join(" -> "));
    }
    let mut tops: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, to) in &edges {
        for t in to.iter().filter(|t| top(t) != top(from)) {
            tops.entry(top(from).to_string())
                .or_default()
                .insert(top(t).to_string());
        }
    }
    if let Some(c) = cycle(&tops) {
        panic!(
            "modules depend on each other in a cycle: {}",
            c.join(" -> ")
        );
    }
}

#[test]
fn the_cycle_finder_finds_a_cycle() {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    edges.entry("a".into()).or_default().insert("b".into());
    edges.entry("b".into()).or_default().insert("c".into());
    assert_eq!(cycle(&edges), None);
    edges.entry("c".into()).or_default().insert("a".into());
    assert_eq!(
        cycle(&edges).map(|c| c.join(" -> ")),
        Some("a -> b -> c -> a".to_string())
    );
}

#[test]
fn domain_modules_never_reach_the_command_line_nor_print_results() {
    let known = modules();
    let mut wrong = Vec::new();
    for (module, code) in known.iter().filter(|(m, _)| !FACE.contains(&top(m))) {
        for path in paths_after(code, "crate::") {
            if matches!(top(path), "cli" | "commands") {
                wrong.push(format!("{module} uses crate::{path}"));
            }
        }
        let prints = code.matches("println!(").count() - code.matches("eprintln!(").count()
            + code.matches(" print!(").count();
        if prints > 0 {
            wrong.push(format!("{module} prints to stdout ({prints} times)"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The lines of each `fn` in `code`: (name, lines).
fn function_lengths(code: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = code.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim_start();
        let name = [
            "pub fn ",
            "fn ",
            "pub async fn ",
            "async fn ",
            "pub(crate) fn ",
        ]
        .iter()
        .find_map(|p| line.strip_prefix(p))
        .map(|rest| rest.split(['(', '<']).next().unwrap_or("").to_string());
        let Some(name) = name else {
            i += 1;
            continue;
        };
        let (mut depth, mut opened, mut j) = (0i32, false, i);
        while j < lines.len() {
            for c in lines[j].chars() {
                match c {
                    '{' => {
                        depth += 1;
                        opened = true
                    }
                    '}' => depth -= 1,
                    _ => {}
                }
            }
            if (opened && depth == 0) || (!opened && lines[j].trim_end().ends_with(';')) {
                break;
            }
            j += 1;
        }
        if opened {
            out.push((name, j - i + 1));
        }
        i = j + 1;
    }
    out
}

#[test]
fn commands_stay_thin() {
    let known = modules();
    let long: Vec<String> = known
        .iter()
        .filter(|(m, _)| top(m) == "commands")
        .flat_map(|(m, code)| {
            function_lengths(code)
                .into_iter()
                .filter(|(_, n)| *n > 80)
                .map(move |(f, n)| format!("{m}::{f}: {n} lines"))
        })
        .collect();
    assert!(long.is_empty(), "over 80 lines:\n{}", long.join("\n"));
    let sample = "fn a() {\n    b();\n}\n\npub async fn c(x: u8) -> u8 {\n    if x > 0 {\n        x\n    } else {\n        0\n    }\n}\n";
    assert_eq!(
        function_lengths(sample),
        vec![("a".to_string(), 3), ("c".to_string(), 7)]
    );
}
