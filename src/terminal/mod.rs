//! How a turn shows in a terminal: the answer streamed to stdout as it arrives, tool
//! activity as compact dimmed lines on stderr, approval questions asked inline with a
//! one-key answer. Used by `localgpt ask` and the REPL.
//!
//! - [`keypress`]: one-key questions that discard typed-ahead text and give up on Ctrl-C.

pub(crate) mod keypress;

use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::cancel::Cancel;

use async_trait::async_trait;

use crate::agent::tools::ToolOutput;
use crate::agent::{Approval, Observer};
use crate::conversation::ToolCall;
use crate::style::Style;
use crate::truncate::ellipsize;

pub(crate) struct TerminalObserver {
    /// Print nothing while streaming (`ask --json` prints one object at the end).
    json: bool,
    err_style: Style,
    /// Whether a person is there to answer approval prompts.
    can_ask: bool,
    wrote_text: bool,
    ends_with_newline: bool,
    /// The text of the current turn so far, kept when the turn is interrupted.
    pub streamed: String,
    /// Spinners and Markdown re-rendering: only for a person at a colour terminal.
    animate: bool,
    spinner: Option<Spinner>,
    /// Whether tool lines were printed among the streamed text (then it is not redrawn).
    saw_tools: bool,
    /// The turn's cancel signal: Ctrl-C at an approval question stops the turn at once.
    cancel: Cancel,
    /// Whether to say which notes were recalled from memory (the prompt does; `ask`
    /// with `-v`).
    show_recalled: bool,
}

impl TerminalObserver {
    pub fn new(json: bool, err_style: Style, can_ask: bool) -> TerminalObserver {
        use std::io::IsTerminal;
        let animate =
            !json && err_style.color && io::stdout().is_terminal() && io::stderr().is_terminal();
        let mut observer = TerminalObserver {
            json,
            err_style,
            can_ask,
            wrote_text: false,
            ends_with_newline: true,
            streamed: String::new(),
            animate,
            spinner: None,
            saw_tools: false,
            cancel: Cancel::new(),
            show_recalled: true,
        };
        observer.spin("thinking");
        observer
    }

    /// Says (or not) which notes were recalled from memory into each request.
    pub(crate) fn showing_recalled(mut self, show: bool) -> TerminalObserver {
        self.show_recalled = show;
        self
    }

    /// Watches `cancel` while waiting for a person's answer.
    pub(crate) fn with_cancel(mut self, cancel: Cancel) -> TerminalObserver {
        self.cancel = cancel;
        self
    }

    fn spin(&mut self, label: &str) {
        self.stop_spinner();
        if self.animate {
            self.spinner = Some(Spinner::start(label.to_string()));
        }
    }

    fn stop_spinner(&mut self) {
        if let Some(spinner) = self.spinner.take() {
            spinner.stop();
        }
    }

    /// Ends the answer's last line, if it is open.
    pub(crate) fn finish_line(&mut self) {
        self.stop_spinner();
        if self.wrote_text && !self.ends_with_newline {
            let _ = writeln!(io::stdout().lock());
            self.ends_with_newline = true;
        }
    }

    /// Ends the turn: on a colour terminal, the streamed answer is redrawn in place as
    /// styled Markdown when it has markup and still fits on the screen (an answer that
    /// has scrolled away is left as it streamed, rather than printed twice).
    pub(crate) fn finish_turn(&mut self) {
        self.finish_line();
        if !self.animate || self.saw_tools || !crate::markdown::has_markup(&self.streamed) {
            return;
        }
        let Some((width, height)) = screen_size() else {
            return;
        };
        let text = self.streamed.trim_end_matches('\n');
        let rows = screen_rows(text, width);
        if rows == 0 || rows >= height {
            return;
        }
        let mut out = io::stdout().lock();
        // Up to the first streamed row, clear to the end of the screen, draw again.
        let _ = writeln!(out, "\x1b[{rows}F\x1b[J{}", crate::markdown::render(text));
        let _ = out.flush();
    }
}

#[async_trait]
impl Observer for TerminalObserver {
    fn text(&mut self, delta: &str) {
        self.streamed.push_str(delta);
        if self.json || delta.is_empty() {
            return;
        }
        self.stop_spinner();
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
        self.stop_spinner();
        self.saw_tools = true;
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
        self.spin("thinking");
    }

    async fn approve(&mut self, request: &str) -> Option<Approval> {
        self.stop_spinner();
        if !self.can_ask {
            return None;
        }
        let question = self.err_style.bold(&format!(
            "{request}? [y]es / [n]o / [a]lways for this session "
        ));
        let cancel = self.cancel.clone();
        let abandoned = Arc::new(AtomicBool::new(false));
        let _abandon_when_dropped = keypress::AbandonOnDrop(abandoned.clone());
        let key = tokio::task::spawn_blocking(move || {
            keypress::ask(&question, &['y', 'n', 'a'], 'n', &cancel, &abandoned)
        })
        .await
        .ok()
        .flatten()?;
        Some(match key {
            'y' => Approval::Yes,
            'a' => Approval::Always,
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

    fn recalled(&mut self, notes: &[crate::memory::recall::Recalled]) {
        if !self.show_recalled || self.json {
            return;
        }
        let sources: Vec<String> = notes
            .iter()
            .map(|note| match &note.date {
                Some(date) => format!("{}:{} ({date})", note.path, note.line),
                None => format!("{}:{}", note.path, note.line),
            })
            .collect();
        self.finish_line();
        let line = format!("recalled {}", sources.join(" · "));
        let _ = writeln!(io::stderr().lock(), "{}", self.err_style.dim(&line));
        self.spin("thinking");
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

/// Columns and rows of the terminal; `COLUMNS`/`LINES` when the terminal does not say.
fn screen_size() -> Option<(usize, usize)> {
    match terminal_size::terminal_size() {
        Some((terminal_size::Width(w), terminal_size::Height(h))) if w > 0 && h > 0 => {
            Some((usize::from(w), usize::from(h)))
        }
        _ => {
            let read = |name: &str| {
                std::env::var(name)
                    .ok()?
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n > 0)
            };
            Some((read("COLUMNS")?, read("LINES")?))
        }
    }
}

/// How many screen rows `text` takes on a terminal `width` columns wide.
fn screen_rows(text: &str, width: usize) -> usize {
    let width = width.max(1);
    text.split('\n')
        .map(|line| {
            unicode_width::UnicodeWidthStr::width(line)
                .div_ceil(width)
                .max(1)
        })
        .sum()
}

/// A braille spinner on stderr while the first token or a tool is pending.
struct Spinner {
    stop: Arc<AtomicBool>,
    /// Whether a frame was drawn (and so a line needs clearing).
    drew: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Spinner {
    const FRAMES: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

    fn start(label: String) -> Spinner {
        let stop = Arc::new(AtomicBool::new(false));
        let drew = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let drawn = drew.clone();
        let thread = std::thread::spawn(move || {
            let mut frame = 0;
            // A short wait first: quick answers never show a spinner at all.
            std::thread::sleep(Duration::from_millis(150));
            while !flag.load(Ordering::Relaxed) {
                drawn.store(true, Ordering::Relaxed);
                let _ = write!(
                    io::stderr().lock(),
                    "\r\x1b[2m{} {label}\x1b[0m\x1b[K",
                    Spinner::FRAMES[frame]
                );
                frame = (frame + 1) % Spinner::FRAMES.len();
                std::thread::sleep(Duration::from_millis(80));
            }
        });
        Spinner {
            stop,
            drew,
            thread: Some(thread),
        }
    }

    fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        if self.drew.load(Ordering::Relaxed) {
            let _ = write!(io::stderr().lock(), "\r\x1b[K");
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_count_wrapped_and_wide_lines() {
        assert_eq!(screen_rows("short\nline", 80), 2);
        assert_eq!(screen_rows(&"x".repeat(100), 40), 3);
        assert_eq!(screen_rows("日本語", 4), 2);
        assert_eq!(screen_rows("", 80), 1);
    }
}
