//! Whether and how to colour what LocalGPT prints.
//!
//! Colour is on only when the stream is a terminal, `--no-color` was not given and
//! `NO_COLOR` is unset (<https://no-color.org>), decided once at start-up.

use anstyle::{AnsiColor, Style as Ansi};

use crate::env::EnvSource;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub color: bool,
}

impl Style {
    pub fn detect(no_color_flag: bool, env: &dyn EnvSource, is_terminal: bool) -> Style {
        let color = is_terminal && !no_color_flag && env.var("NO_COLOR").is_none();
        Style { color }
    }

    pub fn plain() -> Style {
        Style { color: false }
    }

    pub fn error(&self, text: &str) -> String {
        self.paint(
            Ansi::new().bold().fg_color(Some(AnsiColor::Red.into())),
            text,
        )
    }

    pub fn warning(&self, text: &str) -> String {
        self.paint(
            Ansi::new().bold().fg_color(Some(AnsiColor::Yellow.into())),
            text,
        )
    }

    pub fn success(&self, text: &str) -> String {
        self.paint(Ansi::new().fg_color(Some(AnsiColor::Green.into())), text)
    }

    pub fn bold(&self, text: &str) -> String {
        self.paint(Ansi::new().bold(), text)
    }

    pub fn dim(&self, text: &str) -> String {
        self.paint(Ansi::new().dimmed(), text)
    }

    fn paint(&self, style: Ansi, text: &str) -> String {
        if self.color {
            format!("{style}{text}{style:#}")
        } else {
            text.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_needs_a_terminal_and_no_opt_out() {
        let none: [(&str, &str); 0] = [];
        assert!(Style::detect(false, &none, true).color);
        assert!(!Style::detect(false, &none, false).color);
        assert!(!Style::detect(true, &none, true).color);
        assert!(!Style::detect(false, &[("NO_COLOR", "1")], true).color);
        assert_eq!(Style::plain().error("x"), "x");
        assert_ne!(Style { color: true }.error("x"), "x");
    }
}
