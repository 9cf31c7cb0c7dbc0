//! The `//!` header of a Rhai file: `//! key: value` lines at the top (after an optional
//! shebang), the same format for skills (`name`, `description`, `usage`, `requires`) and
//! scheduled tasks (`schedule`, `timeout`). A line without a key continues the value
//! before it, so a long description may wrap; before any key, such lines are free text
//! (scripts/*.rhai describe themselves that way).

/// The parsed header, keys lowercased, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    pub fields: Vec<Field>,
    /// Lines before the first key, joined by spaces.
    pub preamble: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub key: String,
    pub value: String,
    /// 1-based line of the key in the file.
    pub line: usize,
}

impl Header {
    /// The value of `key`, if the header has it (the last one wins).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .rev()
            .find(|field| field.key == key)
            .map(|field| field.value.as_str())
    }

    pub fn field(&self, key: &str) -> Option<&Field> {
        self.fields.iter().rev().find(|field| field.key == key)
    }
}

/// Reads the header; never fails — what a key's value means is the caller's business.
pub fn parse(text: &str) -> Header {
    let mut header = Header::default();
    for (index, line) in text.lines().enumerate() {
        let line_number = index + 1;
        if index == 0 && line.starts_with("#!") {
            continue;
        }
        let Some(content) = line.trim_start().strip_prefix("//!") else {
            if line.trim().is_empty() && header.fields.is_empty() && header.preamble.is_empty() {
                continue;
            }
            break;
        };
        let content = content.trim();
        match split_key(content) {
            Some((key, value)) => header.fields.push(Field {
                key,
                value: value.to_string(),
                line: line_number,
            }),
            None if content.is_empty() => {}
            None => match header.fields.last_mut() {
                Some(field) => {
                    if !field.value.is_empty() {
                        field.value.push(' ');
                    }
                    field.value.push_str(content);
                }
                None => {
                    if !header.preamble.is_empty() {
                        header.preamble.push(' ');
                    }
                    header.preamble.push_str(content);
                }
            },
        }
    }
    header
}

/// `key: value` where the key is one word of letters, digits, `-` and `_`.
fn split_key(content: &str) -> Option<(String, &str)> {
    let (key, value) = content.split_once(':')?;
    let valid = !key.is_empty()
        && key.len() <= 40
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    valid.then(|| (key.to_ascii_lowercase(), value.trim()))
}

/// `true`/`false` (and yes/no, on/off) for a boolean header or front-matter field.
pub(crate) fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" => Some(true),
        "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_values_continuations_and_the_end_of_the_header() {
        let text = "#!/usr/bin/env -S localgpt run\n\
                    //! name: commit\n\
                    //! description: Writes a commit message\n\
                    //!   for the staged changes.\n\
                    //! Usage: /commit [--all]\n\
                    //!\n\
                    //! requires: git\n\
                    let x = 1; //! name: not-a-header\n";
        let header = parse(text);
        assert_eq!(header.get("name"), Some("commit"));
        assert_eq!(
            header.get("description"),
            Some("Writes a commit message for the staged changes.")
        );
        assert_eq!(header.get("usage"), Some("/commit [--all]"));
        assert_eq!(header.field("requires").map(|f| f.line), Some(7));
        assert_eq!(header.fields.len(), 4);
    }

    #[test]
    fn free_text_before_any_key_is_the_preamble() {
        let header = parse("//! Summarise a file.\n//! More words.\n//! usage: x FILE\n");
        assert_eq!(header.preamble, "Summarise a file. More words.");
        assert_eq!(header.get("usage"), Some("x FILE"));
        // A URL in free text is not a key.
        let header = parse("//! See https://example.com for more.\n");
        assert!(header.fields.is_empty());
    }

    #[test]
    fn no_header_is_an_empty_header() {
        assert_eq!(parse("print(1);\n"), Header::default());
        assert_eq!(parse(""), Header::default());
    }

    #[test]
    fn booleans() {
        assert_eq!(parse_bool(" Yes "), Some(true));
        assert_eq!(parse_bool("off"), Some(false));
        assert_eq!(parse_bool("maybe"), None);
    }
}
