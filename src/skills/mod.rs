//! Skills: named, reusable capabilities a person runs as `/name args`, a script as
//! `skill("name", args)`, and the model through the `run_skill` tool.
//!
//! Two kinds: Rhai skills (`NAME.rhai` or `NAME/skill.rhai` with a `//!` header) are
//! programs over the script bindings; prompt skills (`NAME/SKILL.md`, the Claude and
//! OpenClaw format) are instructions sent to the model with the arguments.
//!
//! Discovery reads the built-in skills (embedded from the repository's `skills/`), the
//! workspace's `skills/`, then each `skills.extra_paths` folder. Precedence is the other way
//! round from specific to general: a workspace skill replaces an extra-path skill of the
//! same name, which replaces a built-in one — unless it cannot run here (a program it needs
//! is missing) and the one it would replace can: then the runnable one stays, and says so.
//! A skill whose header or front matter is broken is still listed, with its problem, and
//! cannot run; discovery itself never fails.
//!
//! Every door runs a skill through one function, [`Skills::invoke`], which owns every
//! rule: which skill a name means, who may run it, whether it can run, and how its
//! arguments are read.
//!
//! - [`discover`]: skill files on disk, parsed once per process.
//! - [`header`]: the `//! key: value` header of Rhai files (skills and heartbeat tasks).
//! - [`front_matter`]: SKILL.md's YAML front matter.
//! - [`invoke`]: the entry point and what running a skill means for each kind.
//! - [`listing`]: the skills section of the model's system prompt.

mod builtin;
mod discover;
pub mod front_matter;
pub mod header;
pub mod invoke;
mod listing;

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::home::Home;

pub(crate) use discover::check_name;
pub(crate) use discover::describe;
pub(crate) use invoke::{Args, Caller, Invocation};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Rhai,
    Prompt,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Rhai => "rhai",
            Kind::Prompt => "prompt",
        }
    }
}

/// Where a skill comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    BuiltIn,
    Workspace,
    /// A `skills.extra_paths` folder.
    Extra,
}

impl Origin {
    pub fn label(&self) -> &'static str {
        match self {
            Origin::BuiltIn => "built-in",
            Origin::Workspace => "workspace",
            Origin::Extra => "extra",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Skill {
    pub name: String,
    pub kind: Kind,
    pub origin: Origin,
    /// The file (`.rhai` or `SKILL.md`); `None` for a built-in.
    pub path: Option<PathBuf>,
    pub description: String,
    pub usage: Option<String>,
    pub user_invocable: bool,
    pub model_invocable: bool,
    /// The whole file.
    pub source: String,
    /// For a prompt skill, the instructions after the front matter.
    pub body: String,
    /// Why it cannot run: a broken header or front matter.
    pub problem: Option<String>,
    /// Why it is not available on this machine (a missing program or variable).
    pub unavailable: Option<String>,
    /// The origin of the skill of the same name this one replaces.
    pub replaces: Option<&'static str>,
    /// A more specific skill of the same name that cannot run here, and why: this one is
    /// used instead.
    pub fallback_for: Option<String>,
}

impl Skill {
    /// How `skills list` and errors name where it lives.
    pub(crate) fn location(&self) -> String {
        match &self.path {
            Some(path) => path.display().to_string(),
            None => format!("built-in skills/{}.rhai", self.name),
        }
    }

    /// The folder a prompt skill's other files are in.
    pub fn folder(&self) -> Option<&Path> {
        self.path.as_deref().and_then(Path::parent)
    }

    /// For a Rhai skill, a syntax error in its code (with the line), if there is one.
    /// Not part of discovery, which runs before every prompt: `skills list` and `show`
    /// ask for it, and a run reports it anyway.
    pub(crate) fn syntax_problem(&self) -> Option<String> {
        if self.kind != Kind::Rhai || self.problem.is_some() {
            return None;
        }
        rhai::Engine::new_raw()
            .compile(&self.source)
            .err()
            .map(|err| {
                let line = err
                    .1
                    .line()
                    .map(|l| format!("line {l}: "))
                    .unwrap_or_default();
                format!("{line}{}", err.0)
            })
    }

    /// Whether it can run here: not broken, nothing missing.
    pub(crate) fn is_runnable(&self) -> bool {
        self.problem.is_none() && self.unavailable.is_none()
    }

    /// `Ok` when the skill can run here; otherwise why not.
    pub(crate) fn check_runnable(&self) -> Result<(), SkillError> {
        if let Some(problem) = &self.problem {
            return Err(SkillError::Broken {
                name: self.name.clone(),
                location: self.location(),
                problem: problem.clone(),
            });
        }
        if let Some(reason) = &self.unavailable {
            return Err(SkillError::Unavailable {
                name: self.name.clone(),
                reason: reason.clone(),
            });
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SkillError {
    #[error("there is no skill named `{name}`{hint} (see `localgpt skills list`)")]
    NotFound { name: String, hint: String },
    #[error("the skill `{name}` ({location}) is broken: {problem}")]
    Broken {
        name: String,
        location: String,
        problem: String,
    },
    #[error("the skill `{name}` is not available here: {reason}")]
    Unavailable { name: String, reason: String },
    #[error("the skill `{name}` is not meant to be run {by}")]
    NotInvocable { name: String, by: &'static str },
    #[error("skills call each other too deeply (more than {0} levels): is one calling itself?")]
    TooDeep(usize),
    #[error("{0}")]
    Failed(String),
}

/// Every skill found, one per name (the one that takes precedence), sorted by name.
#[derive(Debug, Clone, Default)]
pub struct Skills {
    list: Vec<Skill>,
}

impl Skills {
    pub fn discover(home: &Home, config: &Config) -> Skills {
        let mut found: Vec<Skill> = builtin::skills().to_vec();
        let mut folders = vec![(home.workspace().join("skills"), Origin::Workspace)];
        folders.extend(
            config
                .skills
                .extra_paths
                .iter()
                .map(|path| (crate::home::expand_home(path), Origin::Extra)),
        );
        // Most specific last, so that it replaces what came before.
        for (folder, origin) in folders.into_iter().rev() {
            for skill in discover::scan(&folder, &origin) {
                let Some(index) = found.iter().position(|known| known.name == skill.name) else {
                    found.push(skill);
                    continue;
                };
                let general = &mut found[index];
                if let Some(reason) = &skill.unavailable
                    && skill.problem.is_none()
                    && general.is_runnable()
                {
                    // Adding OpenClaw's folder must not hide the built-in `summarize`
                    // behind one that needs a program this machine lacks.
                    general.fallback_for = Some(format!(
                        "{} is not available here ({reason})",
                        skill.location()
                    ));
                    continue;
                }
                *general = Skill {
                    replaces: Some(general.origin.label()),
                    ..skill
                };
            }
        }
        found.sort_by(|a, b| a.name.cmp(&b.name));
        Skills { list: found }
    }

    /// Records each Rhai skill's syntax error as its problem (see [`Skill::syntax_problem`]).
    pub(crate) fn with_syntax_checked(mut self) -> Skills {
        for skill in &mut self.list {
            if let Some(problem) = skill.syntax_problem() {
                skill.problem = Some(problem);
            }
        }
        self
    }

    pub fn all(&self) -> &[Skill] {
        &self.list
    }

    pub fn get(&self, name: &str) -> Option<&Skill> {
        self.list.iter().find(|skill| skill.name == name)
    }

    /// The skill a person or the model asked for, or an error with the nearest name.
    pub fn find(&self, name: &str) -> Result<&Skill, SkillError> {
        self.get(name).ok_or_else(|| {
            let nearest = self
                .list
                .iter()
                .map(|skill| (strsim::jaro_winkler(name, &skill.name), &skill.name))
                .filter(|(score, _)| *score > 0.8)
                .max_by(|a, b| a.0.total_cmp(&b.0));
            SkillError::NotFound {
                name: name.to_string(),
                hint: nearest
                    .map(|(_, near)| format!("; did you mean `{near}`?"))
                    .unwrap_or_default(),
            }
        })
    }

    /// The skills the model may run, for the system prompt.
    pub(crate) fn for_model(&self) -> impl Iterator<Item = &Skill> {
        self.list
            .iter()
            .filter(|skill| skill.model_invocable && skill.is_runnable())
    }

    /// Names a person can type after `/`.
    pub(crate) fn user_names(&self) -> Vec<String> {
        self.list
            .iter()
            .filter(|skill| skill.user_invocable)
            .map(|skill| skill.name.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests;
