//! The documentation holds together: a README a newcomer can read through, a contents page
//! that lists every page, and no link to a file that is not there.

use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn pages() -> Vec<PathBuf> {
    let mut pages: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    pages.sort();
    pages
}

/// The targets of the Markdown links in `text` that are files of the repository.
fn local_links(text: &str) -> Vec<String> {
    text.split("](")
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
        .map(|target| target.split('#').next().unwrap_or_default().to_string())
        .filter(|target| !target.is_empty() && !target.contains("://"))
        .collect()
}

#[test]
fn the_readme_is_short_and_every_page_is_on_the_contents_page() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(
        readme.lines().count() <= 400,
        "README.md has {} lines: the reference belongs under docs/",
        readme.lines().count()
    );
    let contents = std::fs::read_to_string(root().join("docs/README.md")).unwrap();
    for page in pages() {
        let name = page.file_name().unwrap().to_string_lossy().to_string();
        if name != "README.md" {
            assert!(
                contents.contains(&format!("]({name})")),
                "docs/README.md does not list {name}"
            );
        }
    }
}

#[test]
fn no_link_leads_to_a_missing_file() {
    let mut documents = pages();
    documents.push(root().join("README.md"));
    for document in documents {
        let text = std::fs::read_to_string(&document).unwrap();
        let folder = document.parent().unwrap();
        for target in local_links(&text) {
            assert!(
                folder.join(&target).exists(),
                "{} links to {target}, which is not there",
                document.display()
            );
        }
    }
}

/// The `localgpt` command lines of the `sh` blocks in the README and `docs/`, each with
/// where it is: synopses are made concrete (`[--force]` left out, `a|b` its first
/// alternative, an upper-case placeholder a `1`), comments and redirections cut.
fn documented_commands() -> Vec<(String, Vec<String>)> {
    let mut documents = pages();
    documents.push(root().join("README.md"));
    let mut commands = Vec::new();
    for document in documents {
        let text = std::fs::read_to_string(&document).unwrap();
        let name = document.file_name().unwrap().to_string_lossy().to_string();
        for block in text.split("```sh\n").skip(1) {
            let block = block.split("```").next().unwrap_or_default();
            for line in block.lines().map(str::trim) {
                if !line.starts_with("localgpt ") {
                    continue;
                }
                let line = line.split("  #").next().unwrap_or_default();
                let line = line.split(" > ").next().unwrap_or_default().trim_end();
                let mut concrete = String::new();
                let mut depth = 0;
                for c in line.chars() {
                    match c {
                        '[' if !concrete.ends_with('\'') => depth += 1,
                        ']' if depth > 0 => depth -= 1,
                        _ if depth == 0 => concrete.push(c),
                        _ => {}
                    }
                }
                let words = shell_words::split(&concrete.replace('…', ""))
                    .unwrap_or_else(|err| panic!("{name}: `{line}`: {err}"));
                let words = words
                    .into_iter()
                    .map(|word| {
                        let first = word.split('|').next().unwrap_or_default().to_string();
                        let placeholder = !first.is_empty()
                            && first.chars().all(|c| c.is_ascii_uppercase() || c == '_');
                        if placeholder { "1".to_string() } else { first }
                    })
                    .collect();
                commands.push((format!("{name}: {line}"), words));
            }
        }
    }
    commands
}

/// Every documented command is one the binary takes: its subcommands, flags and values
/// parse (nothing runs). Other commands in the docs — cargo, curl, python, shell — and
/// output in `text` blocks are examples, not run (docs/README.md says so).
#[test]
fn every_documented_command_is_one_the_binary_takes() {
    use clap::Parser;
    let commands = documented_commands();
    assert!(
        commands.len() > 50,
        "found only {} commands",
        commands.len()
    );
    let refused: Vec<String> = commands
        .iter()
        .filter_map(|(place, words)| {
            localgpt::cli::Cli::try_parse_from(words).err().map(|err| {
                format!(
                    "{place}\n  {}",
                    err.to_string().lines().next().unwrap_or_default()
                )
            })
        })
        .collect();
    assert!(
        refused.is_empty(),
        "documented commands the binary refuses:\n{}",
        refused.join("\n")
    );
}
