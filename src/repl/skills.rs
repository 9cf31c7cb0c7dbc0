//! Skills at the prompt: `/NAME args` runs one (a REPL command of the same name wins),
//! `/skills` lists them. A Rhai skill runs like `/run`; a prompt skill is a chat turn in
//! the current conversation, so the talk can go on from its answer.

use anyhow::Result;

use super::Repl;
use super::commands::{COMMANDS, Flow};
use crate::skills::{Args, Caller, Invocation, Skills, invoke};

/// The command or one of `skills` nearest to `name`, if any is close.
fn nearest(name: &str, skills: Vec<String>) -> Option<String> {
    COMMANDS
        .iter()
        .map(|command| command.name.to_string())
        .chain(skills)
        .map(|known| (strsim::jaro_winkler(name, &known), known))
        .filter(|(score, _)| *score >= 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, known)| known)
}

impl Repl {
    fn skills(&self) -> Skills {
        Skills::discover(&self.home, &self.settings.config)
    }

    pub(super) fn has_skill(&self, name: &str) -> bool {
        self.skills().get(name).is_some()
    }

    /// The command or skill nearest to a mistyped name, if one is close.
    pub(super) fn nearest_command(&self, name: &str) -> Option<String> {
        nearest(name, self.skills().user_names())
    }

    pub(super) fn run_skill(&mut self, name: &str, args: &str) -> Result<Flow> {
        let typed = Args::Typed(args.to_string());
        match self.skills().invoke(name, &typed, Caller::User)? {
            // A chat turn in this conversation, so the talk can go on from its answer.
            Invocation::Prompt { message, .. } => self.chat(&message)?,
            Invocation::Rhai { skill, args } => {
                let cwd = std::env::current_dir()?;
                let run = self.door_context(cwd)?;
                self.cancel.reset();
                if let Err(err) = invoke::run_rhai(&skill, run, args) {
                    self.say_error(&err.message);
                }
            }
        }
        Ok(Flow::Continue)
    }

    pub(super) fn cmd_skills(&mut self, _args: &str) -> Result<Flow> {
        let skills = self.skills().with_syntax_checked();
        let width = skills
            .all()
            .iter()
            .map(|s| s.name.chars().count() + 1)
            .max()
            .unwrap_or(0);
        for skill in skills.all().iter().filter(|s| s.user_invocable) {
            let about = match (&skill.problem, &skill.unavailable) {
                (Some(problem), _) => self.err_style.error(&format!("broken: {problem}")),
                (None, Some(reason)) => self.err_style.warning(&format!("unavailable: {reason}")),
                (None, None) => crate::truncate::ellipsize(&skill.description, 90),
            };
            let shadowed = if super::commands::find(&skill.name).is_some() {
                " (hidden by the command of the same name; run it with `localgpt skills run`)"
            } else {
                ""
            };
            self.say(&format!(
                "  {:<width$}  {about}{shadowed}",
                format!("/{}", skill.name)
            ));
        }
        self.say(&self.style.dim(
            "Your own go in workspace/skills/ (`localgpt skills new NAME`); details: `localgpt skills show NAME`.",
        ));
        Ok(Flow::Continue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_get_the_nearest_command_or_skill() {
        let skills = vec!["commit".to_string(), "review".to_string()];
        assert_eq!(nearest("modell", skills.clone()).as_deref(), Some("model"));
        assert_eq!(nearest("statsu", skills.clone()).as_deref(), Some("status"));
        assert_eq!(nearest("reveiw", skills.clone()).as_deref(), Some("review"));
        assert_eq!(nearest("zzzzzz", skills), None);
    }
}
