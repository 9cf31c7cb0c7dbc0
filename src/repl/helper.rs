//! rustyline's helper for the prompt: completion (commands, Rhai functions and session
//! variables, file paths after `/run` and `!`), hints for commands, and multi-line
//! entries while Rhai brackets are open or a chat line ends in `\`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Cmd, ConditionalEventHandler, Context, Event, EventContext, Helper, RepeatCount};

use super::commands::COMMANDS;
use super::line::{Mode, needs_more};

/// What completion can offer, updated by the REPL as the session goes.
#[derive(Default)]
pub(crate) struct Vocabulary {
    pub functions: Vec<String>,
    /// Skills a person can run as `/name`.
    pub skills: Vec<SkillHint>,
    pub variables: Vec<String>,
    pub mode: Option<Mode>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct SkillHint {
    pub name: String,
    pub usage: String,
    pub description: String,
}

pub(crate) struct PromptHelper {
    pub vocabulary: Arc<Mutex<Vocabulary>>,
    files: FilenameCompleter,
    /// Set by Ctrl-C at the prompt ([`InterruptKey`]): the line it ends is dropped.
    pub interrupted: Arc<AtomicBool>,
}

impl PromptHelper {
    pub fn new(vocabulary: Arc<Mutex<Vocabulary>>) -> PromptHelper {
        PromptHelper {
            vocabulary,
            files: FilenameCompleter::new(),
            interrupted: Arc::new(AtomicBool::new(false)),
        }
    }

    fn mode(&self) -> Mode {
        self.vocabulary
            .lock()
            .ok()
            .and_then(|v| v.mode)
            .unwrap_or(Mode::Chat)
    }
}

impl Completer for PromptHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = line.get(..pos).unwrap_or(line);
        if let Some(rest) = before.strip_prefix('/')
            && !rest.contains(char::is_whitespace)
        {
            let mut pairs: Vec<Pair> = COMMANDS
                .iter()
                .filter(|c| c.name.starts_with(rest))
                .map(|c| Pair {
                    display: format!("/{} {}", c.name, c.args),
                    replacement: format!("{} ", c.name),
                })
                .collect();
            if let Ok(vocabulary) = self.vocabulary.lock() {
                pairs.extend(
                    vocabulary
                        .skills
                        .iter()
                        .filter(|s| {
                            s.name.starts_with(rest) && super::commands::find(&s.name).is_none()
                        })
                        .map(|s| Pair {
                            display: format!("/{} (skill)", s.name),
                            replacement: format!("{} ", s.name),
                        }),
                );
            }
            return Ok((1, pairs));
        }
        if before.starts_with("/run ") || before.starts_with('!') {
            return self.files.complete(line, pos, ctx);
        }
        let is_rhai = before.starts_with(':') && !before.starts_with("::")
            || (self.mode() == Mode::Script && !before.starts_with("::"));
        if !is_rhai {
            return Ok((pos, Vec::new()));
        }
        let start = before
            .char_indices()
            .rev()
            .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
            .map_or(0, |(i, c)| i + c.len_utf8());
        let word = before.get(start..).unwrap_or_default();
        if word.is_empty() {
            return Ok((pos, Vec::new()));
        }
        let vocabulary = match self.vocabulary.lock() {
            Ok(vocabulary) => vocabulary,
            Err(_) => return Ok((pos, Vec::new())),
        };
        let mut names: Vec<&String> = vocabulary
            .functions
            .iter()
            .chain(vocabulary.variables.iter())
            .filter(|name| name.starts_with(word))
            .collect();
        names.sort();
        names.dedup();
        let pairs = names
            .into_iter()
            .map(|name| Pair {
                display: name.clone(),
                replacement: name.clone(),
            })
            .collect();
        Ok((start, pairs))
    }
}

impl Hinter for PromptHelper {
    type Hint = String;

    fn hint(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> Option<String> {
        if pos < line.len() {
            return None;
        }
        let typed = line.strip_prefix('/')?;
        if typed.is_empty() || typed.contains(char::is_whitespace) {
            return None;
        }
        if let Some(command) = COMMANDS.iter().find(|c| c.name.starts_with(typed)) {
            let rest = command.name.get(typed.len()..).unwrap_or_default();
            return Some(format!("{rest} {}  — {}", command.args, command.help));
        }
        let vocabulary = self.vocabulary.lock().ok()?;
        let skill = vocabulary
            .skills
            .iter()
            .find(|s| s.name.starts_with(typed))?;
        let rest = skill.name.get(typed.len()..).unwrap_or_default();
        let usage = skill
            .usage
            .strip_prefix(&format!("/{}", skill.name))
            .unwrap_or(&skill.usage)
            .trim();
        let about = crate::truncate::ellipsize(&skill.description, 60);
        Some(format!("{rest} {usage}  — {about}"))
    }
}

impl Highlighter for PromptHelper {
    fn highlight_hint<'h>(&self, hint: &'h str) -> std::borrow::Cow<'h, str> {
        std::borrow::Cow::Owned(format!("\x1b[2m{hint}\x1b[0m"))
    }
}

impl Validator for PromptHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        if !self.interrupted.load(Ordering::Relaxed) && needs_more(ctx.input(), self.mode()) {
            Ok(ValidationResult::Incomplete)
        } else {
            Ok(ValidationResult::Valid(None))
        }
    }
}

impl Helper for PromptHelper {}

/// Ctrl-C at the prompt: the line ends as if accepted, marked interrupted, and the REPL
/// drops it. rustyline's own interrupt returns an error, which drops the keys read with
/// the Ctrl-C but not yet handled: what a person typed right after it would be lost.
pub(crate) struct InterruptKey(pub Arc<AtomicBool>);

impl ConditionalEventHandler for InterruptKey {
    fn handle(&self, _: &Event, _: RepeatCount, _: bool, _: &EventContext) -> Option<Cmd> {
        self.0.store(true, Ordering::Relaxed);
        Some(Cmd::AcceptLine)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustyline::history::DefaultHistory;

    fn complete(helper: &PromptHelper, line: &str) -> Vec<String> {
        let history = DefaultHistory::new();
        let context = Context::new(&history);
        let (_, pairs) = helper.complete(line, line.len(), &context).unwrap();
        pairs.into_iter().map(|p| p.replacement).collect()
    }

    #[test]
    fn completes_commands_rhai_names_and_hints_commands() {
        let vocabulary = Arc::new(Mutex::new(Vocabulary {
            functions: vec!["memory_search".into(), "memory_add".into(), "sh".into()],
            skills: vec![SkillHint {
                name: "commit".into(),
                usage: "/commit [--all]".into(),
                description: "Commits.".into(),
            }],
            variables: vec!["memo".into()],
            mode: Some(Mode::Chat),
        }));
        let helper = PromptHelper::new(vocabulary.clone());
        assert_eq!(complete(&helper, "/mo"), ["model ", "mode "]);
        assert_eq!(complete(&helper, "/com"), ["compact ", "commit "]);
        assert_eq!(
            complete(&helper, ":let x = mem"),
            ["memo", "memory_add", "memory_search"]
        );
        assert!(
            complete(&helper, "mem").is_empty(),
            "plain chat is not completed"
        );
        if let Ok(mut v) = vocabulary.lock() {
            v.mode = Some(Mode::Script);
        }
        assert_eq!(complete(&helper, "s"), ["sh"]);
        let history = DefaultHistory::new();
        let hint = helper.hint("/rem", 4, &Context::new(&history)).unwrap();
        assert!(hint.starts_with("ember TEXT"), "{hint}");
    }
}
