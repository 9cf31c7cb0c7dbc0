//! Mapping between setting names and places in the config file's text, so every error
//! and warning can name both the line and the key.

use std::ops::Range;

use toml_edit::{Document, Item, TableLike};

/// The byte span to point at for a key: its value when present, else the key itself
/// (or the table header), walking down as far as the file goes.
pub(crate) fn span_of_key(doc: &Document<&str>, parts: &[String]) -> Option<Range<usize>> {
    let mut table: &dyn TableLike = doc.as_table();
    let mut best = None;
    for (depth, part) in parts.iter().enumerate() {
        let Some((key, item)) = table.get_key_value(part) else {
            return best;
        };
        best = item_span(item).or_else(|| key.span()).or(best);
        if depth + 1 == parts.len() {
            return best;
        }
        match item.as_table_like() {
            Some(inner) => table = inner,
            None => return best,
        }
    }
    best
}

/// The dotted path of the innermost value whose span holds `offset`.
pub(crate) fn key_at_offset(doc: &Document<&str>, offset: usize) -> Option<Vec<String>> {
    let mut path = Vec::new();
    find_in_table(doc.as_table(), offset, &mut path).then_some(path)
}

fn find_in_table(table: &dyn TableLike, offset: usize, path: &mut Vec<String>) -> bool {
    for (key, item) in table.iter() {
        path.push(key.to_string());
        let key_hit = table
            .key(key)
            .and_then(|k| k.span())
            .is_some_and(|span| span.contains(&offset));
        let found = match item {
            Item::ArrayOfTables(array) => {
                array.iter().any(|inner| find_in_table(inner, offset, path))
            }
            // Tables (headers and inline) may hold the offset in one of their entries, or
            // in their own span when the error is about the table as a whole.
            _ => {
                item.as_table_like()
                    .is_some_and(|inner| find_in_table(inner, offset, path))
                    || item.span().is_some_and(|span| span.contains(&offset))
            }
        };
        if found || key_hit {
            return true;
        }
        path.pop();
    }
    false
}

fn item_span(item: &Item) -> Option<Range<usize>> {
    match item {
        // A table's own span is its header line; pointing there is right for "this
        // section is missing something".
        Item::Table(table) => table.span(),
        other => other.span(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "[server]\nport = -1\n\n[providers.local]\nbase_url = \"x\"\n";

    fn parts(key: &str) -> Vec<String> {
        key.split('.').map(String::from).collect()
    }

    #[test]
    fn finds_the_value_of_a_key() {
        let doc = Document::parse(TEXT).unwrap();
        let span = span_of_key(&doc, &parts("server.port")).unwrap();
        assert_eq!(&TEXT[span], "-1");
    }

    #[test]
    fn falls_back_to_the_nearest_existing_parent() {
        let doc = Document::parse(TEXT).unwrap();
        let span = span_of_key(&doc, &parts("providers.local.kind")).unwrap();
        assert!(TEXT[span].contains("providers.local"));
    }

    #[test]
    fn names_the_key_under_an_offset() {
        let doc = Document::parse(TEXT).unwrap();
        let offset = TEXT.find("\"x\"").unwrap() + 1;
        assert_eq!(
            key_at_offset(&doc, offset).unwrap(),
            parts("providers.local.base_url")
        );
    }
}
