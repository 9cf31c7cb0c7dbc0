//! A crate's layering, checked: which top-level module may use which. A crate lists its
//! modules in layers from the bottom up; a module may use any module of a lower layer,
//! none of its own or a higher one, except the modules of an admitted circle.
//!
//! [`forbidden_edges`] reads every `crate::` path (and every `super::` that climbs out of
//! its module) outside `#[cfg(test)]` items, doc comments included — a link upward is a
//! dependency of the reader's understanding too — and names the file and line of each use
//! the layers do not allow. Each crate of the workspace calls it from a test of its own.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// A crate's layers, from the bottom up: a name and the top-level modules in it.
pub type Layers<'a> = &'a [(&'a str, &'a [&'a str])];

/// The rules: the layers, and the modules of one layer that may use each other.
pub struct Rules<'a> {
    pub layers: Layers<'a>,
    pub admitted_circle: &'a [&'a str],
}

impl Rules<'_> {
    fn layer_of(&self, module: &str) -> Option<usize> {
        self.layers
            .iter()
            .position(|(_, modules)| modules.contains(&module))
    }

    /// Whether `from` may use `to`.
    fn allowed(&self, from: &str, to: &str) -> bool {
        let (Some(from_layer), Some(to_layer)) = (self.layer_of(from), self.layer_of(to)) else {
            return false;
        };
        to_layer < from_layer
            || (self.admitted_circle.contains(&from) && self.admitted_circle.contains(&to))
    }
}

/// Fails, naming every problem, unless the table fits the crate at `src` (each module in
/// one layer) and every use in it keeps to the table: what each crate's test calls.
pub fn assert_layered(src: &Path, rules: &Rules<'_>) {
    let problems = table_problems(src, rules);
    assert!(problems.is_empty(), "the table of layers: {problems:?}");
    let forbidden = forbidden_edges(src, rules);
    assert!(
        forbidden.is_empty(),
        "uses the layering does not allow (see the crate's src/layers.rs):\n{}",
        forbidden.join("\n")
    );
}

/// What is wrong with the table itself for the crate at `src`: modules with no layer,
/// modules in two, and names of modules that are gone.
pub fn table_problems(src: &Path, rules: &Rules<'_>) -> Vec<String> {
    let modules = top_level_modules(src);
    let mut problems: Vec<String> = modules
        .iter()
        .filter(|module| rules.layer_of(module).is_none())
        .map(|module| format!("{module} has no layer"))
        .collect();
    let mut seen = BTreeSet::new();
    for module in rules.layers.iter().flat_map(|(_, modules)| modules.iter()) {
        if !seen.insert(*module) {
            problems.push(format!("{module} is in two layers"));
        }
        if !modules.contains(*module) {
            problems.push(format!("{module} is listed but no such module exists"));
        }
    }
    problems
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

/// The module path of a file: `["agent", "tools", "web"]` for `agent/tools/web.rs`.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).unwrap();
    let mut path: Vec<String> = relative
        .iter()
        .map(|part| part.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if path.last().is_some_and(|last| last == "mod") {
        path.pop();
    }
    path
}

/// The lines of `text` outside `#[cfg(test)]` items, with their numbers.
fn production_lines(text: &str) -> Vec<(usize, &str)> {
    let mut kept = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((number, line)) = lines.next() {
        if line.trim() != "#[cfg(test)]" {
            kept.push((number + 1, line));
            continue;
        }
        // Skip the item the attribute marks: to its closing brace, or one line.
        let mut depth = 0;
        let mut within = Literal::None;
        for (_, item) in lines.by_ref() {
            depth += braces(item, &mut within);
            let ended = item.trim_end().ends_with('}') || item.trim_end().ends_with(';');
            if depth <= 0 && within == Literal::None && ended {
                break;
            }
        }
    }
    kept
}

/// Where a scan of code stands at the end of a line.
#[derive(Clone, Copy, PartialEq)]
enum Literal {
    None,
    Text,
    /// A raw string, closed by `"` and this many `#`.
    Raw(usize),
}

/// How many more `{` than `}` a line of code opens, outside string and character
/// literals (which may go on over lines: `within` carries where the last line ended).
fn braces(line: &str, within: &mut Literal) -> i32 {
    let chars: Vec<char> = line.chars().collect();
    let mut depth = 0;
    let mut index = 0;
    while index < chars.len() {
        let c = chars[index];
        match *within {
            Literal::Text => match c {
                '\\' => index += 1,
                '"' => *within = Literal::None,
                _ => {}
            },
            Literal::Raw(hashes) => {
                if c == '"'
                    && chars[index + 1..].iter().take_while(|c| **c == '#').count() >= hashes
                {
                    *within = Literal::None;
                    index += hashes;
                }
            }
            Literal::None => match c {
                '"' => *within = Literal::Text,
                'r' if matches!(chars.get(index + 1), Some('"' | '#')) => {
                    let hashes = chars[index + 1..].iter().take_while(|c| **c == '#').count();
                    if chars.get(index + 1 + hashes) == Some(&'"') {
                        *within = Literal::Raw(hashes);
                        index += 1 + hashes;
                    }
                }
                '/' if chars.get(index + 1) == Some(&'/') => break,
                // A character literal ('{', '\''), not a lifetime ('a).
                '\'' if chars.get(index + 2) == Some(&'\'') => index += 2,
                '\'' if chars.get(index + 1) == Some(&'\\') => index += 3,
                '{' => depth += 1,
                '}' => depth -= 1,
                _ => {}
            },
        }
        index += 1;
    }
    depth
}

/// The top-level modules a line names: `crate::NAME` and `super::` chains that climb
/// to the crate's root from `module`.
fn named_modules(line: &str, module: &[String]) -> Vec<String> {
    let mut named = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("crate::") {
        let after = &rest[at + "crate::".len()..];
        let before = rest[..at].chars().next_back();
        // `localgpt_crate::` or `$crate::` are not this crate's root.
        if !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            if let Some(group) = after.strip_prefix('{') {
                let inner = group.split('}').next().unwrap_or_default();
                named.extend(inner.split(',').filter_map(first_segment));
            } else if let Some(name) = first_segment(after) {
                named.push(name);
            }
        }
        rest = after;
    }
    let mut rest = line;
    while let Some(at) = rest.find("super::") {
        let mut after = &rest[at..];
        let mut climbs = 0;
        while let Some(next) = after.strip_prefix("super::") {
            climbs += 1;
            after = next;
        }
        if climbs >= module.len()
            && let Some(name) = first_segment(after)
        {
            named.push(name);
        }
        rest = after;
    }
    named
}

fn first_segment(path: &str) -> Option<String> {
    let name: String = path
        .trim()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty() && name.chars().next().is_some_and(|c| c.is_lowercase())).then_some(name)
}

fn top_level_modules(src: &Path) -> BTreeSet<String> {
    std::fs::read_dir(src)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter_map(|path| {
            let name = path.file_name()?.to_string_lossy().to_string();
            if path.is_dir() {
                Some(name)
            } else {
                let module = name.strip_suffix(".rs")?;
                (module != "lib" && module != "main").then(|| module.to_string())
            }
        })
        .collect()
}

/// Every edge of the crate's module graph the table does not allow, as
/// `file:line: from -> to`.
pub fn forbidden_edges(src: &Path, rules: &Rules<'_>) -> Vec<String> {
    let modules = top_level_modules(src);
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut forbidden = Vec::new();
    for file in files {
        let module = module_path(src, &file);
        let Some(own) = module.first().filter(|own| modules.contains(*own)) else {
            continue;
        };
        let text = std::fs::read_to_string(&file).unwrap();
        for (number, line) in production_lines(&text) {
            for used in named_modules(line, &module) {
                if &used != own && modules.contains(&used) && !rules.allowed(own, &used) {
                    forbidden.push(format!(
                        "{}:{number}: {own} -> {used}",
                        file.strip_prefix(src).unwrap().display()
                    ));
                }
            }
        }
    }
    forbidden
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAYERS: Layers<'static> = &[
        ("bottom", &["config"]),
        ("stores", &["memory"]),
        ("agent", &["agent", "script", "skills"]),
    ];

    const RULES: Rules<'static> = Rules {
        layers: LAYERS,
        admitted_circle: &["agent", "script", "skills"],
    };

    #[test]
    fn a_use_upward_is_found_with_its_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path();
        for module in ["config", "memory", "agent", "script", "skills"] {
            std::fs::create_dir_all(src.join(module)).unwrap();
            std::fs::write(src.join(module).join("mod.rs"), "//! fine\n").unwrap();
        }
        std::fs::write(
            src.join("config").join("load.rs"),
            "use crate::home::Home;\n\n/// See [`crate::memory::search`].\nfn f() {}\n",
        )
        .unwrap();
        std::fs::write(
                src.join("memory").join("deep.rs"),
                "#[cfg(test)]\nmod tests {\n    use crate::agent::Agent;\n    const C: char = '}';\n    \
                 const R: &str = r#\"{\n\"}\"#;\n}\nfn g() { super::super::agent::run(); }\n",
            )
            .unwrap();
        std::fs::write(
            src.join("agent").join("run.rs"),
            "use crate::{script::Script, memory::Memory};\nuse crate::skills::Skills;\n",
        )
        .unwrap();
        assert_eq!(
            forbidden_edges(src, &RULES),
            [
                "config/load.rs:3: config -> memory",
                "memory/deep.rs:8: memory -> agent"
            ]
        );
    }
    #[test]
    fn the_table_names_each_module_once() {
        let dir = tempfile::tempdir().unwrap();
        for module in ["config", "memory", "agent", "script", "extra"] {
            std::fs::create_dir_all(dir.path().join(module)).unwrap();
        }
        assert_eq!(
            table_problems(dir.path(), &RULES),
            [
                "extra has no layer",
                "skills is listed but no such module exists"
            ]
        );
    }
}
