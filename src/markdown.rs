//! Markdown made readable in a terminal: headings bold, list bullets, inline `code` and
//! **bold** styled, fenced code blocks set off with a bar and coloured. Line-based and
//! forgiving: text that is not Markdown comes out as it went in.

use anstyle::{AnsiColor, Style as Ansi};

const HEADING: Ansi = Ansi::new().bold().underline();
const BOLD: Ansi = Ansi::new().bold();
const CODE: Ansi = Ansi::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Cyan)));
const BLOCK: Ansi = Ansi::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Yellow)));
const FRAME: Ansi = Ansi::new().dimmed();

/// Whether `text` has anything that rendering would change.
pub(crate) fn has_markup(text: &str) -> bool {
    text.contains("```")
        || text.contains("**")
        || text.contains('`')
        || text.lines().any(|line| {
            line.starts_with('#')
                || line.trim_start().starts_with("- ")
                || line.trim_start().starts_with("* ")
        })
}

/// The text with ANSI styling, line for line (the same number of lines, so it can replace
/// what was streamed in place).
pub fn render(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    let mut in_code = false;
    for line in text.split('\n') {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") {
            let language = trimmed.trim_start_matches('`').trim();
            if in_code {
                out.push_str(&paint(FRAME, "╰─"));
            } else {
                out.push_str(&paint(FRAME, &format!("╭─ {language}")));
            }
            in_code = !in_code;
        } else if in_code {
            out.push_str(&paint(FRAME, "│ "));
            out.push_str(&paint(BLOCK, line));
        } else if let Some(title) = heading(trimmed) {
            out.push_str(&paint(HEADING, title));
        } else if let Some(item) = trimmed
            .strip_prefix("- ")
            .or_else(|| trimmed.strip_prefix("* "))
        {
            let indent = line.get(..line.len() - trimmed.len()).unwrap_or_default();
            out.push_str(indent);
            out.push_str("• ");
            out.push_str(&inline(item));
        } else {
            out.push_str(&inline(line));
        }
        out.push('\n');
    }
    out.pop();
    out
}

fn heading(line: &str) -> Option<&str> {
    let hashes = line.chars().take_while(|c| *c == '#').count();
    if (1..=6).contains(&hashes) {
        line.get(hashes..).and_then(|rest| rest.strip_prefix(' '))
    } else {
        None
    }
}

/// `code` and **bold** inside a line.
fn inline(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 16);
    let mut rest = line;
    loop {
        let tick = rest.find('`');
        let stars = rest.find("**");
        match (tick, stars) {
            (Some(t), s) if s.is_none_or(|s| t < s) => {
                let Some(end) = rest.get(t + 1..).and_then(|after| after.find('`')) else {
                    break;
                };
                out.push_str(rest.get(..t).unwrap_or_default());
                out.push_str(&paint(
                    CODE,
                    rest.get(t + 1..t + 1 + end).unwrap_or_default(),
                ));
                rest = rest.get(t + 2 + end..).unwrap_or_default();
            }
            (_, Some(s)) => {
                let Some(end) = rest.get(s + 2..).and_then(|after| after.find("**")) else {
                    break;
                };
                out.push_str(rest.get(..s).unwrap_or_default());
                out.push_str(&paint(
                    BOLD,
                    rest.get(s + 2..s + 2 + end).unwrap_or_default(),
                ));
                rest = rest.get(s + 4 + end..).unwrap_or_default();
            }
            _ => break,
        }
    }
    out.push_str(rest);
    out
}

fn paint(style: Ansi, text: &str) -> String {
    format!("{style}{text}{style:#}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strip(text: &str) -> String {
        let mut out = String::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if c == '\x1b' {
                for c in chars.by_ref() {
                    if c == 'm' {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn keeps_the_lines_and_styles_the_markup() {
        let text = "# Title\nSome **bold** and `code`.\n- item\n```rust\nlet x = 1;\n```\nend";
        let rendered = render(text);
        assert_eq!(rendered.lines().count(), text.lines().count());
        assert_eq!(
            strip(&rendered),
            "Title\nSome bold and code.\n• item\n╭─ rust\n│ let x = 1;\n╰─\nend"
        );
        assert!(has_markup(text));
        assert!(!has_markup("plain words, nothing else"));
    }

    #[test]
    fn unbalanced_markers_and_multibyte_text_are_left_alone() {
        assert_eq!(strip(&render("a `b and **c")), "a `b and **c");
        assert_eq!(strip(&render("é `ü` ö")), "é ü ö");
    }
}
