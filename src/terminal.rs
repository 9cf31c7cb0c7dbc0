//! How a turn shows in a terminal: the answer streamed to stdout as it arrives, tool
//! activity as compact dimmed lines on stderr, approval questions asked inline. Used by
//! `localgpt ask` and the REPL.

use std::io::{self, Write};

use async_trait::async_trait;

use crate::agent::tools::ToolOutput;
use crate::agent::{Approval, Observer};
use crate::provider::ToolCall;
use crate::style::Style;
use crate::truncate::ellipsize;

pub struct TerminalObserver {
    /// Print nothing while streaming (`ask --json` prints one object at the end).
    json: bool,
    err_style: Style,
    /// Whether a person is there to answer approval prompts.
    can_ask: bool,
    wrote_text: bool,
    ends_with_newline: bool,
    /// The text of the current turn so far, kept when the turn is interrupted.
    pub streamed: String,
}

impl TerminalObserver {
    pub fn new(json: bool, err_style: Style, can_ask: bool) -> TerminalObserver {
        TerminalObserver {
            json,
            err_style,
            can_ask,
            wrote_text: false,
            ends_with_newline: true,
            streamed: String::new(),
        }
    }

    /// Ends the answer's last line, if it is open.
    pub fn finish_line(&mut self) {
        if self.wrote_text && !self.ends_with_newline {
            let _ = writeln!(io::stdout().lock());
            self.ends_with_newline = true;
        }
    }

    /// Forgets the previous turn's text.
    pub fn start_turn(&mut self) {
        self.streamed.clear();
        self.wrote_text = false;
        self.ends_with_newline = true;
    }
}

#[async_trait]
impl Observer for TerminalObserver {
    fn text(&mut self, delta: &str) {
        self.streamed.push_str(delta);
        if self.json || delta.is_empty() {
            return;
        }
        let mut out = io::stdout().lock();
        // A closed stdout (`| head`) must not abort the turn; the answer is still recorded.
        let _ = out.write_all(delta.as_bytes()).and_then(|()| out.flush());
        self.wrote_text = true;
        self.ends_with_newline = delta.ends_with('\n');
    }

    fn tool_call(&mut self, call: &ToolCall) {
        if self.json {
            return;
        }
        if self.wrote_text && !self.ends_with_newline {
            let _ = writeln!(io::stdout().lock());
            self.ends_with_newline = true;
        }
        let summary = summarize_arguments(&call.arguments);
        let _ = writeln!(
            io::stderr().lock(),
            "{}",
            self.err_style.dim(&format!("⚙ {}: {summary}", call.name))
        );
    }

    fn tool_result(&mut self, _call: &ToolCall, output: &ToolOutput) {
        if self.json {
            return;
        }
        let first_line = output.content.lines().next().unwrap_or_default();
        let line = if output.is_error {
            format!("  ✗ {}", ellipsize(first_line, 160))
        } else {
            format!("  ✓ {} lines", output.content.lines().count())
        };
        let _ = writeln!(io::stderr().lock(), "{}", self.err_style.dim(&line));
    }

    async fn approve(&mut self, request: &str) -> Option<Approval> {
        if !self.can_ask {
            return None;
        }
        let question = format!("{request}? [y]es / [n]o / [a]lways for this session ");
        let style = self.err_style;
        let answer = tokio::task::spawn_blocking(move || {
            let mut err = io::stderr().lock();
            let _ = write!(err, "{}", style.bold(&question));
            let _ = err.flush();
            let mut line = String::new();
            io::stdin().read_line(&mut line).ok().map(|_| line)
        })
        .await
        .ok()
        .flatten()?;
        Some(match answer.trim().to_ascii_lowercase().as_str() {
            "y" | "yes" => Approval::Yes,
            "a" | "always" => Approval::Always,
            _ => Approval::No,
        })
    }

    fn notice(&mut self, text: &str) {
        let _ = writeln!(
            io::stderr().lock(),
            "{} {text}",
            self.err_style.warning("note:")
        );
    }
}

/// A short view of a call's arguments: the command or path, else the JSON, cut short.
fn summarize_arguments(arguments: &serde_json::Value) -> String {
    let main = ["command", "path", "query", "url", "text"]
        .iter()
        .find_map(|key| arguments.get(key).and_then(|v| v.as_str()))
        .map(String::from)
        .unwrap_or_else(|| arguments.to_string());
    ellipsize(main.lines().next().unwrap_or_default(), 100)
}
