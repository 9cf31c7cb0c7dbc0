//! Running a skill: [`Skills::invoke`] is the one function every door calls — the prompt's
//! `/name`, `localgpt skills run`, the API, a script's `skill()` and the model's
//! `run_skill` — and it owns every rule:
//!
//! - which skill a name means (see [`Skills::discover`] for precedence and fallbacks);
//! - who may run it: a person, a script or an API client needs `user-invocable` (on by
//!   default), the model needs it not to have `disable-model-invocation`;
//! - whether it can run here: not broken (front matter, header or Rhai syntax), nothing
//!   missing;
//! - how the arguments are read: as the person typed them. A prompt skill gets the text
//!   verbatim (`$ARGUMENTS`), a Rhai skill the words, split like a shell when the quotes
//!   pair up and at spaces when they do not ("what's it like" is three words, not an
//!   error).
//!
//! What comes back says what to do: a prompt skill is a message for the model (a chat turn
//! at the door, or instructions returned to the model), a Rhai skill a script to run in
//! the door's own context (its output streamed or captured).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Kind, Skill, SkillError, Skills};
use crate::script::context::MAX_SKILL_DEPTH;
use crate::script::{Outcome, RunContext, Script, ScriptHost};

/// Who asks for a skill to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// A person: `/name` at the prompt, `localgpt skills run`.
    User,
    /// The model, through the `run_skill` tool.
    Model,
    /// A script's `skill()`.
    Script,
    /// A program, through `POST /api/skills/NAME/run`.
    Api,
}

/// A skill's arguments as they arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Args {
    /// One line of text, as typed after `/name` or sent by the model.
    Typed(String),
    /// Words already apart: a command line's arguments, a script's array.
    Words(Vec<String>),
}

impl Args {
    pub fn none() -> Args {
        Args::Words(Vec::new())
    }

    /// The arguments as one text, as the person wrote them.
    pub fn text(&self) -> String {
        match self {
            Args::Typed(text) => text.trim().to_string(),
            Args::Words(words) => words.join(" "),
        }
    }

    /// The arguments as words: split like a shell does (quotes group words) when the
    /// quotes pair up, else at spaces — an apostrophe is text, not an error.
    pub fn words(&self) -> Vec<String> {
        match self {
            Args::Words(words) => words.clone(),
            Args::Typed(text) => shell_words::split(text)
                .unwrap_or_else(|_| text.split_whitespace().map(str::to_string).collect()),
        }
    }
}

/// What running a skill means, decided by [`Skills::invoke`].
#[derive(Debug, Clone)]
pub enum Invocation {
    /// A prompt skill: this message goes to the model.
    Prompt { skill: Skill, message: String },
    /// A Rhai skill: run `skill` with these `args`.
    Rhai { skill: Skill, args: Vec<String> },
}

impl Invocation {
    pub fn skill(&self) -> &Skill {
        match self {
            Invocation::Prompt { skill, .. } | Invocation::Rhai { skill, .. } => skill,
        }
    }
}

impl Skills {
    /// The one entry point: whether `caller` may run the skill `name` with `args` here,
    /// and if so what running it means.
    pub fn invoke(
        &self,
        name: &str,
        args: &Args,
        caller: Caller,
    ) -> Result<Invocation, SkillError> {
        let skill = self.find(name)?;
        match caller {
            Caller::Model if !skill.model_invocable => {
                return Err(SkillError::NotInvocable {
                    name: name.to_string(),
                    by: "by the model (disable-model-invocation)",
                });
            }
            Caller::User | Caller::Script | Caller::Api if !skill.user_invocable => {
                return Err(SkillError::NotInvocable {
                    name: name.to_string(),
                    by: "by hand (user-invocable: false)",
                });
            }
            _ => {}
        }
        skill.check_runnable()?;
        if let Some(problem) = skill.syntax_problem() {
            return Err(SkillError::Broken {
                name: skill.name.clone(),
                location: skill.location(),
                problem,
            });
        }
        Ok(match skill.kind {
            Kind::Prompt => Invocation::Prompt {
                message: prompt_message(skill, args),
                skill: skill.clone(),
            },
            Kind::Rhai => Invocation::Rhai {
                args: args.words(),
                skill: skill.clone(),
            },
        })
    }
}

/// The chat message that invokes a prompt skill: its instructions (placeholders filled
/// in), where its files are, and the arguments — in place of `$ARGUMENTS` when the
/// instructions have it, as in Claude's format, else after them.
pub(crate) fn prompt_message(skill: &Skill, args: &Args) -> String {
    let text = args.text();
    let mut message = format!("Use the skill `{}`", skill.name);
    let folder = skill.folder().map(|folder| folder.display().to_string());
    if let Some(folder) = &folder {
        message.push_str(&format!(
            " (from {folder}; the files it mentions are in that folder — read them with read_file)"
        ));
    }
    message.push_str(". Its instructions:\n\n");
    let mut body = skill.body.trim().to_string();
    if let Some(folder) = &folder {
        // OpenClaw's and Claude's names for the skill's own folder.
        for placeholder in ["{baseDir}", "${CLAUDE_SKILL_DIR}"] {
            body = body.replace(placeholder, folder);
        }
    }
    if body.contains("$ARGUMENTS") {
        let words = args.words();
        // `$ARGUMENTS[1]` before `$ARGUMENTS`, which it starts with.
        for (index, word) in words.iter().enumerate().rev() {
            body = body.replace(&format!("$ARGUMENTS[{index}]"), word);
        }
        message.push_str(&body.replace("$ARGUMENTS", &text));
    } else {
        message.push_str(&body);
        if text.is_empty() {
            message.push_str("\n\n(The user gave no arguments.)");
        } else {
            message.push_str(&format!("\n\nArguments: {text}"));
        }
    }
    message
}

/// The folder a Rhai skill's relative imports start from.
pub fn script_dir(skill: &Skill, fallback: &Path) -> PathBuf {
    skill
        .path
        .as_deref()
        .and_then(Path::parent)
        .map_or_else(|| fallback.to_path_buf(), Path::to_path_buf)
}

/// Runs a Rhai skill: the one runner every door uses. `door` is the door's context (its
/// policy, output, cancel signal, confirmations; its script folder is the fallback for a
/// skill that has no file); the skill's own folder is where its imports start.
pub(crate) fn run_rhai(
    skill: &Skill,
    door: RunContext,
    args: Vec<String>,
) -> Result<Outcome, crate::script::ScriptError> {
    debug_assert_eq!(skill.kind, Kind::Rhai);
    let dir = script_dir(skill, &door.script_dir);
    let run = Arc::new(door.with_script_dir(dir));
    ScriptHost::shared().run(
        &run,
        &Script {
            name: skill.location(),
            text: skill.source.clone(),
            args,
        },
    )
}

/// How a Rhai skill's run failed, if it did: `exit N`, or the script's error. The one
/// reading of a run's end that every door shares.
pub fn failure(outcome: &Result<Outcome, crate::script::ScriptError>) -> Option<String> {
    match outcome {
        Ok(Outcome::Finished(_) | Outcome::Exit(0)) => None,
        Ok(Outcome::Exit(code)) => Some(format!("exit {code}")),
        Err(err) => Some(err.message.clone()),
    }
}

/// Runs a Rhai skill inside another run (a script's `skill()`, the model's `run_skill`)
/// and returns what it printed. `parent` lends its settings, policy, runtime and cancel
/// signal; the output is captured instead of shown.
pub(crate) fn run_rhai_captured(
    skill: &Skill,
    parent: &RunContext,
    args: Vec<String>,
) -> Result<String, SkillError> {
    if parent.skill_depth >= MAX_SKILL_DEPTH {
        return Err(SkillError::TooDeep(MAX_SKILL_DEPTH));
    }
    let captured = crate::script::Captured::new();
    let output = captured.sink(None);
    let nested = parent
        .nested(parent.script_dir.clone(), output)
        .with_confirm(parent.confirm.clone());
    let outcome = run_rhai(skill, nested, args);
    let printed = captured.text().trim_end().to_string();
    match outcome {
        Ok(Outcome::Finished(value)) if printed.is_empty() && !value.is_unit() => {
            Ok(value.to_string())
        }
        Ok(Outcome::Finished(_)) | Ok(Outcome::Exit(0)) => Ok(printed),
        Ok(Outcome::Exit(code)) => Err(SkillError::Failed(format!(
            "the skill `{}` ended with exit code {code}{}",
            skill.name,
            if printed.is_empty() {
                String::new()
            } else {
                format!(":\n{printed}")
            }
        ))),
        Err(err) => Err(SkillError::Failed(format!(
            "the skill `{}` failed: {}",
            skill.name, err.message
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::skills::{Origin, describe};

    fn prompt_skill(body: &str) -> Skill {
        let text = format!("---\nname: greet\ndescription: Greets.\n---\n{body}");
        let mut skill = describe("greet", Kind::Prompt, Origin::Workspace, text);
        skill.path = Some(PathBuf::from("/skills/greet/SKILL.md"));
        skill
    }

    #[test]
    fn arguments_follow_the_instructions_or_replace_the_placeholder() {
        let args = Args::Words(vec!["Ada Lovelace".to_string(), "x".to_string()]);
        let message = prompt_message(&prompt_skill("Say hello."), &args);
        assert!(message.contains("Say hello."));
        assert!(message.ends_with("Arguments: Ada Lovelace x"), "{message}");
        assert!(message.contains("/skills/greet"));
        let message = prompt_message(&prompt_skill("Greet $ARGUMENTS warmly."), &args);
        assert!(
            message.contains("Greet Ada Lovelace x warmly."),
            "{message}"
        );
        assert!(!message.contains("Arguments:"));
        let message = prompt_message(&prompt_skill("Say hello."), &Args::none());
        assert!(message.contains("no arguments"));
    }

    #[test]
    fn typed_arguments_reach_the_skill_as_typed() {
        let typed = Args::Typed("what's it like in Berlin".to_string());
        let message = prompt_message(&prompt_skill("Weather: $ARGUMENTS"), &typed);
        assert!(
            message.ends_with("Weather: what's it like in Berlin"),
            "{message}"
        );
        assert_eq!(typed.words(), ["what's", "it", "like", "in", "Berlin"]);
        assert_eq!(
            Args::Typed(r#"src/main.rs "two words" 'it''s'"#.into()).words(),
            ["src/main.rs", "two words", "its"]
        );
        let message = prompt_message(
            &prompt_skill("First $ARGUMENTS[0], then $ARGUMENTS[1]."),
            &Args::Typed("a 'b c'".into()),
        );
        assert!(message.ends_with("First a, then b c."), "{message}");
    }

    #[test]
    fn the_skill_folder_placeholders_are_filled_in() {
        let message = prompt_message(
            &prompt_skill("Run {baseDir}/run.sh, then read ${CLAUDE_SKILL_DIR}/notes.md."),
            &Args::none(),
        );
        assert!(
            message.contains("Run /skills/greet/run.sh, then read /skills/greet/notes.md."),
            "{message}"
        );
    }
}
