//! What running a skill means. A Rhai skill is a script run with `args`; a prompt skill
//! becomes a message for the model: its instructions, where its files are, and the
//! arguments (in place of `$ARGUMENTS` when the instructions have it, as in Claude's
//! format, else after them).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::{Kind, Skill, SkillError};
use crate::script::context::MAX_SKILL_DEPTH;
use crate::script::{Outcome, OutputSink, RunContext, Script, ScriptHost};

/// Arguments typed after `/name`, split like a shell does (quotes group words).
pub fn split_args(text: &str) -> Result<Vec<String>, String> {
    shell_words::split(text).map_err(|err| format!("cannot split the arguments: {err}"))
}

/// The chat message that invokes a prompt skill.
pub fn prompt_message(skill: &Skill, args: &[String]) -> String {
    let joined = shell_words::join(args);
    let mut message = format!("Use the skill `{}`", skill.name);
    if let Some(folder) = skill.folder() {
        message.push_str(&format!(
            " (from {}; the files it mentions are in that folder — read them with read_file)",
            folder.display()
        ));
    }
    message.push_str(". Its instructions:\n\n");
    let body = skill.body.trim();
    if body.contains("$ARGUMENTS") {
        message.push_str(&body.replace("$ARGUMENTS", &joined));
    } else {
        message.push_str(body);
        if args.is_empty() {
            message.push_str("\n\n(The user gave no arguments.)");
        } else {
            message.push_str(&format!("\n\nArguments: {joined}"));
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

/// Runs a Rhai skill with `run`'s context.
pub fn run_rhai(
    skill: &Skill,
    run: &Arc<RunContext>,
    args: Vec<String>,
) -> Result<Outcome, crate::script::ScriptError> {
    debug_assert_eq!(skill.kind, Kind::Rhai);
    ScriptHost::shared().run(
        run,
        &Script {
            name: skill.location(),
            text: skill.source.clone(),
            args,
        },
    )
}

/// Runs a Rhai skill inside another run (a script's `skill()`, the model's `run_skill`)
/// and returns what it printed. `parent` lends its settings, policy, runtime and cancel
/// signal; the output is captured instead of shown.
pub fn run_rhai_captured(
    skill: &Skill,
    parent: &RunContext,
    args: Vec<String>,
) -> Result<String, SkillError> {
    if parent.skill_depth >= MAX_SKILL_DEPTH {
        return Err(SkillError::TooDeep(MAX_SKILL_DEPTH));
    }
    let captured = Arc::new(Mutex::new(String::new()));
    let sink = captured.clone();
    let output: OutputSink = Arc::new(move |text: &str| {
        if let Ok(mut all) = sink.lock() {
            all.push_str(text);
            all.push('\n');
        }
    });
    let mut nested = RunContext::new(
        parent.home.clone(),
        parent.config.clone(),
        parent.model.clone(),
        parent.policy.clone(),
        parent.runtime.clone(),
        parent.cancel.clone(),
        script_dir(skill, &parent.script_dir),
        output,
    )
    .with_confirm(parent.confirm.clone());
    nested.skill_depth = parent.skill_depth + 1;
    let outcome = run_rhai(skill, &Arc::new(nested), args);
    let printed = captured
        .lock()
        .map(|text| text.trim_end().to_string())
        .unwrap_or_default();
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
        let args = vec!["Ada Lovelace".to_string(), "x".to_string()];
        let message = prompt_message(&prompt_skill("Say hello."), &args);
        assert!(message.contains("Say hello."));
        assert!(
            message.ends_with("Arguments: 'Ada Lovelace' x"),
            "{message}"
        );
        assert!(message.contains("/skills/greet"));
        let message = prompt_message(&prompt_skill("Greet $ARGUMENTS warmly."), &args);
        assert!(
            message.contains("Greet 'Ada Lovelace' x warmly."),
            "{message}"
        );
        assert!(!message.contains("Arguments:"));
        let message = prompt_message(&prompt_skill("Say hello."), &[]);
        assert!(message.contains("no arguments"));
    }

    #[test]
    fn arguments_split_like_a_shell() {
        assert_eq!(
            split_args(r#"src/main.rs "two words" 'it''s'"#).unwrap(),
            ["src/main.rs", "two words", "its"]
        );
        assert!(split_args("\"unclosed").is_err());
    }
}
