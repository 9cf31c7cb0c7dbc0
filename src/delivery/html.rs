//! An answer's Markdown as the HTML Telegram renders (`parse_mode: "HTML"`): bold, italic,
//! strike-through, inline code, code blocks with their language, links, block quotes;
//! headings in bold, list items with bullets or numbers, tables and raw HTML as text.
//! Every tag is written from a parser event, so tags are always balanced — also for the
//! half-written answer of a message still being edited — and every piece of text is
//! escaped, so nothing the model writes can be read as markup it did not mean.

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};

/// `markdown` as Telegram HTML.
pub fn to_html(markdown: &str) -> String {
    let mut out = String::with_capacity(markdown.len() + markdown.len() / 8);
    // Ordered lists' next numbers (None: bullets), innermost last.
    let mut lists: Vec<Option<u64>> = Vec::new();
    let options = Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES;
    for event in Parser::new_ext(markdown, options) {
        match event {
            Event::Start(tag) => match tag {
                Tag::Strong => out.push_str("<b>"),
                Tag::Emphasis => out.push_str("<i>"),
                Tag::Strikethrough => out.push_str("<s>"),
                Tag::Heading { .. } => out.push_str("<b>"),
                Tag::BlockQuote(_) => out.push_str("<blockquote>"),
                Tag::CodeBlock(kind) => match kind {
                    CodeBlockKind::Fenced(language) if !language.trim().is_empty() => {
                        let language: String = language
                            .chars()
                            .take_while(|c| {
                                c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '_' | '#')
                            })
                            .collect();
                        out.push_str(&format!("<pre><code class=\"language-{language}\">"));
                    }
                    _ => out.push_str("<pre><code>"),
                },
                Tag::Link { dest_url, .. } => {
                    out.push_str("<a href=\"");
                    out.push_str(&escape(&dest_url, true));
                    out.push_str("\">");
                }
                Tag::List(first) => lists.push(first),
                Tag::Item => {
                    let depth = lists.len().saturating_sub(1);
                    out.push_str(&"  ".repeat(depth));
                    match lists.last_mut() {
                        Some(Some(number)) => {
                            out.push_str(&format!("{number}. "));
                            *number += 1;
                        }
                        _ => out.push_str("• "),
                    }
                }
                _ => {}
            },
            Event::End(tag) => match tag {
                TagEnd::Strong => out.push_str("</b>"),
                TagEnd::Emphasis => out.push_str("</i>"),
                TagEnd::Strikethrough => out.push_str("</s>"),
                TagEnd::Heading(_) => out.push_str("</b>\n\n"),
                TagEnd::BlockQuote(_) => out.push_str("</blockquote>\n"),
                TagEnd::CodeBlock => out.push_str("</code></pre>\n\n"),
                TagEnd::Link => out.push_str("</a>"),
                TagEnd::Paragraph => out.push_str(if lists.is_empty() { "\n\n" } else { "\n" }),
                TagEnd::List(_) => {
                    lists.pop();
                    if lists.is_empty() {
                        out.push('\n');
                    }
                }
                TagEnd::Item if !out.ends_with('\n') => out.push('\n'),
                TagEnd::TableCell => out.push_str(" | "),
                TagEnd::TableRow | TagEnd::TableHead => out.push('\n'),
                _ => {}
            },
            Event::Text(text) => out.push_str(&escape(&text, false)),
            Event::Code(code) => {
                out.push_str("<code>");
                out.push_str(&escape(&code, false));
                out.push_str("</code>");
            }
            Event::Html(html) | Event::InlineHtml(html) => out.push_str(&escape(&html, false)),
            Event::SoftBreak | Event::HardBreak => out.push('\n'),
            Event::Rule => out.push_str("——————\n\n"),
            Event::TaskListMarker(done) => out.push_str(if done { "☑ " } else { "☐ " }),
            _ => {}
        }
    }
    out.trim_end().to_string()
}

/// `&`, `<` and `>` as entities (and `"` in an attribute), as the Bot API asks.
fn escape(text: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_becomes_telegrams_html_and_text_is_escaped() {
        assert_eq!(
            to_html("**Bold**, *it*, ~~gone~~ and `a<b && c`"),
            "<b>Bold</b>, <i>it</i>, <s>gone</s> and <code>a&lt;b &amp;&amp; c</code>"
        );
        assert_eq!(
            to_html("# Plan\n\n- one\n- two\n\n1. first\n2. second"),
            "<b>Plan</b>\n\n• one\n• two\n\n1. first\n2. second"
        );
        assert_eq!(
            to_html("```rust\nfn main() { a < b }\n```"),
            "<pre><code class=\"language-rust\">fn main() { a &lt; b }\n</code></pre>"
        );
        assert_eq!(
            to_html("[site](https://x.org/?a=1&b=\"2\")"),
            "<a href=\"https://x.org/?a=1&amp;b=&quot;2&quot;\">site</a>"
        );
        // What a model writes as HTML is shown, not obeyed.
        assert_eq!(
            to_html("<script>x</script> 1 < 2"),
            "&lt;script&gt;x&lt;/script&gt; 1 &lt; 2"
        );
        // Half an answer, as a message being edited shows it: still balanced.
        let half = to_html("Some **bold that is not clo");
        assert_eq!(half.matches("<b>").count(), half.matches("</b>").count());
        assert_eq!(
            to_html("```py\nprint(1)"),
            "<pre><code class=\"language-py\">print(1)</code></pre>"
        );
    }
}
