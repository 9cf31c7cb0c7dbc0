//! `localgpt skills list|show|run|new`.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use super::Context;
use super::ask::{TurnOptions, one_turn};
use super::run::terminal_confirm_if_interactive;
use crate::cancel::interruptible_runtime;
use crate::cli::SkillsCommand;
use crate::policy::Policy;
use crate::report::{EXIT_OK, UsageError};
use crate::script::RunContext;
use crate::script::context::{assume_yes, stdout_lines, stdout_raw};
use crate::skills::{Args, Caller, Invocation, Skill, Skills, invoke};
use crate::style::Style;

pub fn run(command: SkillsCommand, ctx: &mut Context<'_>) -> Result<u8> {
    let settings = ctx
        .settings
        .as_ref()
        .context("internal: skills needs the settings loaded")?;
    let skills = Skills::discover(&ctx.home, &settings.config);
    let skills = match command {
        SkillsCommand::List | SkillsCommand::Show { .. } => skills.with_syntax_checked(),
        _ => skills,
    };
    match command {
        SkillsCommand::List => list(&skills, ctx.style),
        SkillsCommand::Show { name } => show(skills.find(&name)?, ctx.style),
        SkillsCommand::Run { yes, name, args } => {
            let invocation = skills.invoke(&name, &Args::Words(args), Caller::User)?;
            run_skill(ctx, invocation, yes)
        }
        SkillsCommand::New { name, prompt } => new(ctx, &skills, &name, prompt),
    }
}

fn list(skills: &Skills, style: Style) -> Result<u8> {
    let mut out = io::stdout().lock();
    let width = skills
        .all()
        .iter()
        .map(|s| s.name.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    writeln!(
        out,
        "{}",
        style.dim(&format!(
            "{:width$}  {:6}  {:9}  DESCRIPTION",
            "NAME", "KIND", "SOURCE"
        ))
    )?;
    for skill in skills.all() {
        let source = match skill.replaces {
            Some(_) => format!("{}*", skill.origin.label()),
            None => skill.origin.label().to_string(),
        };
        let about = match (&skill.problem, &skill.unavailable) {
            (Some(problem), _) => style.error(&format!("broken: {problem}")),
            (None, Some(reason)) => style.warning(&format!("unavailable: {reason}")),
            (None, None) => crate::truncate::ellipsize(&skill.description, 100),
        };
        writeln!(
            out,
            "{:width$}  {:6}  {:9}  {about}",
            skill.name,
            skill.kind.label(),
            source
        )?;
    }
    if skills.all().iter().any(|s| s.replaces.is_some()) {
        writeln!(
            out,
            "{}",
            style.dim("* replaces a skill of the same name from a more general place")
        )?;
    }
    for skill in skills.all() {
        if let Some(passed_over) = &skill.fallback_for {
            writeln!(
                out,
                "{}",
                style.dim(&format!(
                    "{}: {passed_over}, so the {} one is used",
                    skill.name,
                    skill.origin.label()
                ))
            )?;
        }
    }
    writeln!(
        out,
        "{}",
        style.dim("Run one with /NAME in the prompt or `localgpt skills run NAME ARGS`.")
    )?;
    Ok(EXIT_OK)
}

fn show(skill: &Skill, style: Style) -> Result<u8> {
    let mut out = io::stdout().lock();
    writeln!(
        out,
        "{}  ({} skill, {})",
        style.bold(&skill.name),
        skill.kind.label(),
        skill.origin.label()
    )?;
    if !skill.description.is_empty() {
        writeln!(out, "  {}", skill.description)?;
    }
    if let Some(usage) = &skill.usage {
        writeln!(out, "  usage: {usage}")?;
    }
    writeln!(out, "  file: {}", skill.location())?;
    if let Some(replaced) = skill.replaces {
        writeln!(out, "  replaces: the {replaced} skill of the same name")?;
    }
    if let Some(passed_over) = &skill.fallback_for {
        writeln!(out, "  used instead: {passed_over}")?;
    }
    let who = match (skill.user_invocable, skill.model_invocable) {
        (true, true) => "you and the model",
        (true, false) => "you only (disable-model-invocation)",
        (false, true) => "the model only (user-invocable: false)",
        (false, false) => "nobody (both switched off)",
    };
    writeln!(out, "  run by: {who}")?;
    if let Some(problem) = &skill.problem {
        writeln!(out, "  {}", style.error(&format!("broken: {problem}")))?;
    }
    if let Some(reason) = &skill.unavailable {
        writeln!(
            out,
            "  {}",
            style.warning(&format!("unavailable: {reason}"))
        )?;
    }
    writeln!(out, "\n{}", skill.source.trim_end())?;
    Ok(EXIT_OK)
}

fn run_skill(ctx: &mut Context<'_>, invocation: Invocation, yes: bool) -> Result<u8> {
    let (skill, args) = match invocation {
        Invocation::Prompt { mut message, .. } => {
            if crate::env::stdin_is_data() {
                let mut input = String::new();
                io::Read::read_to_string(&mut io::stdin(), &mut input)
                    .context("cannot read stdin")?;
                if !input.trim().is_empty() {
                    message.push_str(&format!("\n\nInput:\n{}", input.trim_end()));
                }
            }
            let options = TurnOptions {
                yes,
                tools: true,
                json: false,
                kind: "skill",
                verbose: false,
            };
            return one_turn(ctx, &message, &options);
        }
        Invocation::Rhai { skill, args } => (skill, args),
    };
    let settings = ctx
        .settings
        .as_ref()
        .context("internal: skills needs the settings loaded")?;
    let cwd = std::env::current_dir().context("cannot tell the current folder")?;
    let (runtime, cancel) = interruptible_runtime(1).context("cannot start the async runtime")?;
    let confirm = if yes {
        Some(assume_yes())
    } else {
        terminal_confirm_if_interactive()
    };
    let run = RunContext::new(
        ctx.home.clone(),
        settings.config.clone(),
        Policy::new(&ctx.home, &cwd, &settings.config.tools).for_own_code(),
        runtime.handle().clone(),
    )
    .with_cancel(cancel)
    .with_script_dir(cwd)
    .with_output(stdout_lines())
    .with_stream(stdout_raw())
    .with_confirm(confirm);
    let outcome = invoke::run_rhai(&skill, run, args)?;
    runtime.shutdown_background();
    Ok(outcome.exit_status())
}

fn new(ctx: &Context<'_>, skills: &Skills, name: &str, prompt: bool) -> Result<u8> {
    crate::skills::check_name(name).map_err(UsageError)?;
    let folder = ctx.home.workspace().join("skills");
    let (path, text) = if prompt {
        (folder.join(name).join("SKILL.md"), prompt_template(name))
    } else {
        (folder.join(format!("{name}.rhai")), rhai_template(name))
    };
    for taken in [
        folder.join(name),
        folder.join(format!("{name}.rhai")),
        path.clone(),
    ] {
        if taken.exists() {
            return Err(UsageError(format!(
                "{} already exists: edit it, or choose another name",
                taken.display()
            ))
            .into());
        }
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    crate::home::write_atomic(&path, text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    let mut out = io::stdout().lock();
    writeln!(out, "created {}", display(&path))?;
    if let Some(existing) = skills.get(name) {
        writeln!(
            out,
            "it replaces the {} skill `{name}` ({})",
            existing.origin.label(),
            existing.location()
        )?;
    }
    writeln!(
        out,
        "Edit it, then run it with /{name} in the prompt or `localgpt skills run {name}`."
    )?;
    Ok(EXIT_OK)
}

fn display(path: &Path) -> String {
    PathBuf::from(path).display().to_string()
}

fn rhai_template(name: &str) -> String {
    format!(
        r#"//! name: {name}
//! description: Say in one line what {name} does; the model reads this to decide when to use it.
//! usage: /{name} TEXT…
//
// A Rhai skill: `args` holds the arguments (an array of strings). Every binding works
// here (`localgpt run --list-functions`), and so do the modules `import "text" as text;`,
// "md", "git" and "fmt". print() shows output; exit(code) ends early.

import "text" as text;

if args.len() == 0 {{
    print("usage: /{name} TEXT…");
    exit(2);
}}
let input = text::join(args, " ");

// `stream: true` shows the answer as it arrives and still returns it.
let answer = ask(`Reply briefly to: ${{input}}`, #{{ stream: true }});
"#
    )
}

fn prompt_template(name: &str) -> String {
    format!(
        r#"---
name: {name}
description: Say what {name} does and when to use it; the model reads this to decide.
argument-hint: "[TEXT…]"
# Optional: keep the model from running it on its own, or hide it from /{name}.
# disable-model-invocation: true
# user-invocable: false
---

# {name}

Instructions for the assistant, in plain Markdown. They are sent as a chat message with
the arguments, which replace $ARGUMENTS (or follow the instructions when it is absent).
Other files in this folder (examples, templates, scripts) can be mentioned by name: the
assistant reads them with read_file.

Do this with: $ARGUMENTS
"#
    )
}
