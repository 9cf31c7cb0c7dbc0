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
