//! What a line typed at the prompt means, and whether it is finished.
//!
//! In chat mode: `:code` is Rhai, `/cmd` a command, `!cmd` the shell, anything else a chat
//! turn. In script mode plain lines are Rhai and `::text` is chat. An entry continues on
//! the next line while Rhai brackets or strings are open, or a chat line ends in `\`.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Chat,
    Script,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Chat(String),
    Rhai(String),
    Command { name: String, args: String },
    Shell(String),
    Empty,
}

pub(crate) fn classify(text: &str, mode: Mode) -> Entry {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Entry::Empty;
    }
    if let Some(rest) = trimmed.strip_prefix('/') {
        let (name, args) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        return Entry::Command {
            name: name.to_string(),
            args: args.trim().to_string(),
        };
    }
    if let Some(rest) = trimmed.strip_prefix('!') {
        return Entry::Shell(rest.trim().to_string());
    }
    if let Some(rest) = trimmed.strip_prefix("::") {
        return Entry::Chat(rest.trim().to_string());
    }
    if let Some(rest) = text.trim_start().strip_prefix(':') {
        return Entry::Rhai(rest.to_string());
    }
    match mode {
        Mode::Chat => Entry::Chat(join_continuations(trimmed)),
        Mode::Script => Entry::Rhai(text.to_string()),
    }
}

/// Whether the entry so far needs another line before it can run.
pub(crate) fn needs_more(text: &str, mode: Mode) -> bool {
    match classify(text, mode) {
        Entry::Rhai(code) => rhai_is_open(&code),
        Entry::Chat(_) => text.trim_end().ends_with('\\'),
        _ => false,
    }
}

/// A chat entry typed over several lines with trailing backslashes, as one text.
fn join_continuations(text: &str) -> String {
    text.lines()
        .map(|line| line.strip_suffix('\\').unwrap_or(line))
        .collect::<Vec<_>>()
        .join("\n")
}

/// True while a bracket, brace or parenthesis, a string or a block comment is open.
fn rhai_is_open(code: &str) -> bool {
    let mut depth: i64 = 0;
    let mut chars = code.chars().peekable();
    let mut quote: Option<char> = None;
    let mut in_block_comment = false;
    while let Some(c) = chars.next() {
        if in_block_comment {
            if c == '*' && chars.peek() == Some(&'/') {
                chars.next();
                in_block_comment = false;
            }
            continue;
        }
        if let Some(open) = quote {
            if c == '\\' {
                chars.next();
            } else if c == open {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '`' => quote = Some(c),
            '\'' => {
                // A character literal: skip it whole.
                if chars.next() == Some('\\') {
                    chars.next();
                }
                chars.next();
            }
            '/' if chars.peek() == Some(&'/') => {
                while chars.peek().is_some_and(|c| *c != '\n') {
                    chars.next();
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                in_block_comment = true;
            }
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            _ => {}
        }
    }
    depth > 0 || quote.is_some() || in_block_comment
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_classified_by_their_first_character_and_the_mode() {
        assert_eq!(
            classify("hello there", Mode::Chat),
            Entry::Chat("hello there".into())
        );
        assert_eq!(
            classify(":let x = 1", Mode::Chat),
            Entry::Rhai("let x = 1".into())
        );
        assert_eq!(
            classify("let x = 1", Mode::Script),
            Entry::Rhai("let x = 1".into())
        );
        assert_eq!(classify(":: hi", Mode::Script), Entry::Chat("hi".into()));
        assert_eq!(
            classify("!ls -la", Mode::Chat),
            Entry::Shell("ls -la".into())
        );
        assert_eq!(
            classify("/model gpt-4o", Mode::Script),
            Entry::Command {
                name: "model".into(),
                args: "gpt-4o".into()
            }
        );
        assert_eq!(classify("   ", Mode::Chat), Entry::Empty);
    }

    #[test]
    fn rhai_continues_while_something_is_open() {
        assert!(needs_more(":fn f(x) {", Mode::Chat));
        assert!(needs_more(":fn f(x) {\n  x * 2", Mode::Chat));
        assert!(!needs_more(":fn f(x) {\n  x * 2\n}", Mode::Chat));
        assert!(needs_more("let s = \"open", Mode::Script));
        assert!(!needs_more("let s = \"{\";", Mode::Script));
        assert!(!needs_more("let c = '{';", Mode::Script));
        assert!(!needs_more("let x = 1; // {", Mode::Script));
        assert!(needs_more("let x = /* comment", Mode::Script));
        assert!(!needs_more("let x = [1, 2];", Mode::Script));
    }

    #[test]
    fn chat_continues_after_a_backslash() {
        assert!(needs_more("first line \\", Mode::Chat));
        assert!(!needs_more("first line", Mode::Chat));
        assert_eq!(
            classify("first \\\nsecond", Mode::Chat),
            Entry::Chat("first \nsecond".into())
        );
        assert!(!needs_more("unbalanced ( in chat", Mode::Chat));
    }
}
