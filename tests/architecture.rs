//! The architecture invariants ARCHITECTURE.md states, checked on the
//! source itself so they cannot drift:
//!
//! - the daemon names no vendor outside the registry (`src/registry.rs`),
//!   the demo's story (`src/cli/demo.rs`) and tests: the vendor names are
//!   taken from the registry itself, so a new tool is covered the day it
//!   is registered;
//! - the rooms of `src/` import one way (cli → daemon → {admin, engine →
//!   sla} → {config, state, rules, metrics, report} → calendar, side), with
//!   no circle between rooms.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without its test module and comments: what ships.
fn shipped_code(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]") {
            break;
        }
        if trimmed.starts_with("//") {
            continue;
        }
        let code = match line.find("//") {
            // A `//` inside a string (a URL) is code; only a trailing
            // comment after the last quote is dropped.
            Some(at) if line[..at].matches('"').count() % 2 == 0 => &line[..at],
            _ => line,
        };
        out.push((i + 1, code.to_string()));
    }
    out
}

#[test]
fn no_vendor_is_named_in_the_daemon_outside_the_registry_and_the_demo() {
    let registry = leadbridge::registry::builtin();
    let names: Vec<String> = registry
        .factories()
        .flat_map(|f| [f.kind().to_lowercase(), f.display_name().to_lowercase()])
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert!(names.len() >= 2, "the registry lists its tools: {names:?}");
    let allowed = [src().join("registry.rs"), src().join("cli/demo.rs")];
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut found = Vec::new();
    for file in files {
        if allowed.contains(&file) || file.ends_with("state/tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("read");
        for (line, code) in shipped_code(&text) {
            let lower = code.to_lowercase();
            for name in &names {
                if lower.contains(name.as_str()) {
                    found.push(format!(
                        "{}:{line}: names `{name}`: {}",
                        file.display(),
                        code.trim()
                    ));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "vendor names in the daemon:\n{}",
        found.join("\n")
    );
}

/// The top-level room a file belongs to (`engine` for src/engine/cycle.rs).
fn room_of(file: &Path) -> String {
    let rel = file.strip_prefix(src()).expect("under src");
    let first = rel.components().next().expect("a component");
    first
        .as_os_str()
        .to_string_lossy()
        .trim_end_matches(".rs")
        .to_string()
}

/// The rooms a file's code names through `crate::<room>`.
fn rooms_used(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (_, code) in shipped_code(text) {
        let mut rest = code.as_str();
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.insert(name);
            }
            // `use crate::{a, b}`: each name in the braces.
            if let Some(braced) = rest.strip_prefix('{') {
                let inner = braced.split('}').next().unwrap_or_default();
                for part in inner.split(',') {
                    let name: String = part
                        .trim()
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() {
                        out.insert(name);
                    }
                }
            }
        }
    }
    out
}

fn room_graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let rooms: BTreeSet<String> = files.iter().map(|f| room_of(f)).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let room = room_of(file);
        if room == "lib" || room == "main" {
            continue;
        }
        let text = std::fs::read_to_string(file).expect("read");
        let uses: Vec<String> = rooms_used(&text)
            .into_iter()
            .filter(|r| *r != room && rooms.contains(r))
            .collect();
        graph.entry(room).or_default().extend(uses);
    }
    graph
}

#[test]
fn rooms_import_one_way() {
    let graph = room_graph();
    // Each room's floor: a room may only import rooms on lower floors.
    let floors: BTreeMap<&str, u8> = [
        ("cli", 7),
        ("daemon", 6),
        ("admin", 5),
        ("engine", 4),
        ("report", 3),
        ("sla", 3),
        ("metrics", 2),
        ("config", 2),
        ("state", 1),
        ("rules", 1),
        ("registry", 1),
        ("calendar", 0),
        ("side", 0),
    ]
    .into_iter()
    .collect();
    let mut wrong = Vec::new();
    for (room, uses) in &graph {
        let Some(floor) = floors.get(room.as_str()) else {
            wrong.push(format!("room `{room}` has no floor in this test: place it"));
            continue;
        };
        for used in uses {
            match floors.get(used.as_str()) {
                Some(f) if f < floor => {}
                Some(f) => wrong.push(format!(
                    "`{room}` (floor {floor}) imports `{used}` (floor {f}): imports point down"
                )),
                None => wrong.push(format!("room `{used}` has no floor in this test")),
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_room_graph_has_no_circle() {
    let graph = room_graph();
    // Depth-first search for a back edge.
    fn visit(
        room: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|r| r == room) {
            let mut circle = path[at..].to_vec();
            circle.push(room.to_string());
            return Some(circle);
        }
        if done.contains(room) {
            return None;
        }
        path.push(room.to_string());
        for next in graph.get(room).into_iter().flatten() {
            if let Some(c) = visit(next, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(room.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for room in graph.keys() {
        let circle = visit(room, &graph, &mut Vec::new(), &mut done);
        assert!(
            circle.is_none(),
            "import circle: {}",
            circle.unwrap().join(" → ")
        );
    }
}

#[test]
fn the_checks_see_what_they_check() {
    // The graph is read at all: the engine uses the state store, the
    // daemon the engine; and a vendor name would be seen in code.
    let graph = room_graph();
    assert!(graph["engine"].contains("state"));
    assert!(graph["daemon"].contains("engine"));
    let code = shipped_code("// hubspot in a comment\nlet k = \"hubspot\"; // trailing\n");
    assert_eq!(code.len(), 1);
    assert!(code[0].1.contains("hubspot"));
}
