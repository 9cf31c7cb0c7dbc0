//! What a run printed, kept for whoever asked for it (a task's history, an API answer, a
//! skill's result, an MCP client) instead of shown: one sink, one cap, for every runner.

use std::sync::{Arc, Mutex};

use super::OutputSink;

/// The most a capture keeps: enough for any answer a person or a model reads, and a bound
/// on what a script that prints without end can take.
pub(crate) const CAPTURE_CAP: usize = 1024 * 1024;

/// Said at the end of a capture that reached [`CAPTURE_CAP`].
const CUT: &str = "[more output was left out: it passed 1 MiB]";

#[derive(Clone, Default)]
pub struct Captured {
    kept: Arc<Mutex<Kept>>,
}

#[derive(Default)]
struct Kept {
    text: String,
    cut: bool,
}

impl Captured {
    pub fn new() -> Captured {
        Captured::default()
    }

    /// The sink a run prints to: each print is a line; `tee` shows it as well (the
    /// foreground `heartbeat run`).
    pub(crate) fn sink(&self, tee: Option<OutputSink>) -> OutputSink {
        let kept = self.kept.clone();
        Arc::new(move |text: &str| {
            if let Some(tee) = &tee {
                tee(text);
            }
            if let Ok(mut kept) = kept.lock() {
                // Once something was left out, nothing later is kept either: the text
                // stays the start of what was printed, whole.
                if !kept.cut && kept.text.len() + text.len() < CAPTURE_CAP {
                    kept.text.push_str(text);
                    kept.text.push('\n');
                } else {
                    kept.cut = true;
                }
            }
        })
    }

    /// Everything printed so far, and whether some was left out (said at its end).
    pub fn text(&self) -> String {
        let Ok(kept) = self.kept.lock() else {
            return String::new();
        };
        if kept.cut {
            format!("{}{CUT}\n", kept.text)
        } else {
            kept.text.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_are_lines_shown_through_the_tee_and_kept_within_the_cap() {
        let captured = Captured::new();
        let shown = Arc::new(Mutex::new(Vec::new()));
        let seen = shown.clone();
        let tee: OutputSink = Arc::new(move |text: &str| seen.lock().unwrap().push(text.len()));
        let sink = captured.sink(Some(tee));
        sink("one");
        sink("two");
        assert_eq!(captured.text(), "one\ntwo\n");
        let line = "x".repeat(64 * 1024);
        for _ in 0..32 {
            sink(&line);
        }
        let text = captured.text();
        assert!(text.len() <= CAPTURE_CAP + CUT.len() + 1, "{}", text.len());
        assert!(text.ends_with(&format!("{CUT}\n")));
        assert_eq!(shown.lock().unwrap().len(), 34, "the tee sees everything");
        sink("short");
        assert!(!captured.text().contains("short"), "nothing after the cut");
    }
}
