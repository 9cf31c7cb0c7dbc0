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
//! same name, which replaces a built-in one. A skill whose header or front matter is broken
//! is still listed, with its problem, and cannot run; discovery itself never fails.
//!
//! - [`header`]: the `//! key: value` header of Rhai files (skills and heartbeat tasks).
//! - [`front_matter`]: SKILL.md's YAML front matter.
//! - [`invoke`]: what running a skill means for each kind.

mod builtin;
pub mod front_matter;
pub mod header;
pub mod invoke;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use crate::config::Config;
use crate::home::Home;
use front_matter::Requirements;

pub use invoke::{prompt_message, split_args};

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
}

impl Skill {
    /// How `skills list` and errors name where it lives.
    pub fn location(&self) -> String {
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
    pub fn syntax_problem(&self) -> Option<String> {
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

    /// `Ok` when the skill can run here; otherwise why not.
    pub fn check_runnable(&self) -> Result<(), SkillError> {
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
            for skill in scan(&folder, &origin) {
                match found.iter().position(|known| known.name == skill.name) {
                    Some(index) => {
                        let replaced = found[index].origin.label();
                        found[index] = Skill {
                            replaces: Some(replaced),
                            ..skill
                        };
                    }
                    None => found.push(skill),
                }
            }
        }
        found.sort_by(|a, b| a.name.cmp(&b.name));
        Skills { list: found }
    }

    /// Records each Rhai skill's syntax error as its problem (see [`Skill::syntax_problem`]).
    pub fn with_syntax_checked(mut self) -> Skills {
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
    pub fn for_model(&self) -> impl Iterator<Item = &Skill> {
        self.list.iter().filter(|skill| {
            skill.model_invocable && skill.problem.is_none() && skill.unavailable.is_none()
        })
    }

    /// The system prompt's list of skills the model may run, within `max_chars`.
    pub fn prompt_section(&self, max_chars: usize) -> String {
        let mut section = String::from(
            "\n\n## Skills\nWhen a request matches a skill's description (or the user types \
             /name), run it with run_skill.\n",
        );
        let available: Vec<&Skill> = self.for_model().collect();
        if available.is_empty() {
            return String::new();
        }
        for (shown, skill) in available.iter().enumerate() {
            let description = crate::truncate::ellipsize(&skill.description, 300);
            let line = format!("- {}: {description}\n", skill.name);
            if section.chars().count() + line.chars().count() > max_chars {
                section.push_str(&format!(
                    "- … and {} more not listed here (skills.prompt_max_chars)\n",
                    available.len() - shown
                ));
                break;
            }
            section.push_str(&line);
        }
        section
    }

    /// Names a person can type after `/`.
    pub fn user_names(&self) -> Vec<String> {
        self.list
            .iter()
            .filter(|skill| skill.user_invocable)
            .map(|skill| skill.name.clone())
            .collect()
    }
}

/// The skills in one folder: `NAME.rhai`, `NAME/skill.rhai`, `NAME/SKILL.md`.
fn scan(folder: &Path, origin: &Origin) -> Vec<Skill> {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    let mut skills = Vec::new();
    for path in paths {
        let Some(file_name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if file_name.starts_with('.') {
            continue;
        }
        let candidate = if path.is_dir() {
            let (rhai, markdown) = (path.join("skill.rhai"), path.join("SKILL.md"));
            if rhai.is_file() {
                Some((rhai, Kind::Rhai, file_name))
            } else if markdown.is_file() {
                Some((markdown, Kind::Prompt, file_name))
            } else {
                None
            }
        } else {
            file_name
                .strip_suffix(".rhai")
                .map(|stem| (path.clone(), Kind::Rhai, stem))
        };
        let Some((file, kind, default_name)) = candidate else {
            continue;
        };
        let stamp = std::fs::metadata(&file)
            .ok()
            .map(|meta| (meta.len(), meta.modified().ok()));
        if let Some(known) = cached(&file, stamp, origin) {
            skills.push(known);
            continue;
        }
        let source = match std::fs::read(&file) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => Ok(text),
                Err(_) => Err("the file is not UTF-8 text".to_string()),
            },
            Err(err) => Err(format!("cannot read it: {err}")),
        };
        let mut skill = match source {
            Ok(text) => describe(default_name, kind, origin.clone(), text),
            Err(problem) => Skill {
                problem: Some(problem),
                ..describe(default_name, kind, origin.clone(), String::new())
            },
        };
        skill.path = Some(file.clone());
        remember(file, stamp, &skill);
        skills.push(skill);
    }
    skills
}

/// A file's size and modification time: when both are unchanged, so is the skill.
type Stamp = Option<(u64, Option<std::time::SystemTime>)>;

/// Skills already read in this process, by file. Discovery runs before every prompt and
/// every turn; with the cache it costs a `stat` per skill instead of a parse.
fn cache() -> &'static Mutex<HashMap<PathBuf, (Stamp, Skill)>> {
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, (Stamp, Skill)>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

fn cached(file: &Path, stamp: Stamp, origin: &Origin) -> Option<Skill> {
    stamp?;
    let cache = cache().lock().ok()?;
    let (known, skill) = cache.get(file)?;
    (*known == stamp && skill.origin == *origin).then(|| skill.clone())
}

fn remember(file: PathBuf, stamp: Stamp, skill: &Skill) {
    if stamp.is_none() {
        return;
    }
    if let Ok(mut cache) = cache().lock() {
        cache.insert(file, (stamp, skill.clone()));
    }
}

/// A skill from its file's text: the header or front matter read, problems recorded.
pub(crate) fn describe(default_name: &str, kind: Kind, origin: Origin, source: String) -> Skill {
    let mut skill = Skill {
        name: default_name.to_string(),
        kind,
        origin,
        path: None,
        description: String::new(),
        usage: None,
        user_invocable: true,
        model_invocable: true,
        body: String::new(),
        source,
        problem: None,
        unavailable: None,
        replaces: None,
    };
    let mut requirements = Requirements::default();
    let parsed = match kind {
        Kind::Rhai => read_rhai_header(&mut skill, &mut requirements),
        Kind::Prompt => read_front_matter(&mut skill, &mut requirements),
    };
    if let Err(problem) = parsed {
        skill.problem = Some(problem);
    } else if let Err(problem) = check_name(&skill.name) {
        // Listed under its file's name, so that the person can find it to fix it.
        skill.name = default_name.to_string();
        skill.problem = Some(problem);
    }
    skill.unavailable = unmet(&requirements);
    skill
}

fn read_rhai_header(skill: &mut Skill, requirements: &mut Requirements) -> Result<(), String> {
    let header = header::parse(&skill.source);
    if let Some(name) = header.get("name").filter(|name| !name.is_empty()) {
        skill.name = name.to_string();
    }
    skill.description = header
        .get("description")
        .map(str::to_string)
        .unwrap_or_else(|| header.preamble.clone());
    skill.usage = header.get("usage").map(str::to_string);
    for (key, slot) in [
        ("user-invocable", &mut skill.user_invocable),
        ("disable-model-invocation", &mut skill.model_invocable),
    ] {
        if let Some(field) = header.field(key) {
            let value = header::parse_bool(&field.value).ok_or_else(|| {
                format!(
                    "line {}: `{key}` must be true or false, not \"{}\"",
                    field.line, field.value
                )
            })?;
            *slot = if key == "disable-model-invocation" {
                !value
            } else {
                value
            };
        }
    }
    if let Some(requires) = header.get("requires") {
        requirements.bins = requires
            .split([',', ' '])
            .filter(|bin| !bin.is_empty())
            .map(str::to_string)
            .collect();
    }
    Ok(())
}

fn read_front_matter(skill: &mut Skill, requirements: &mut Requirements) -> Result<(), String> {
    let (front, body) = front_matter::parse(&skill.source)?;
    if let Some(name) = front.name.filter(|name| !name.is_empty()) {
        skill.name = name;
    }
    skill.description = front.description.unwrap_or_default();
    skill.usage = front.usage;
    skill.user_invocable = front.user_invocable;
    skill.model_invocable = front.model_invocable;
    skill.body = body;
    *requirements = front.requires;
    Ok(())
}

pub fn check_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "the name `{name}` must be 1-64 letters, digits, `-` or `_`"
        ))
    }
}

/// What the machine lacks for these requirements, if anything.
fn unmet(requirements: &Requirements) -> Option<String> {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        "windows" => "win32",
        other => other,
    };
    if !requirements.os.is_empty() && !requirements.os.iter().any(|o| o == os) {
        return Some(format!("it runs on {}", requirements.os.join(", ")));
    }
    let missing: Vec<&str> = requirements
        .bins
        .iter()
        .filter(|bin| !on_path(bin))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Some(format!("needs {} on PATH", missing.join(", ")));
    }
    if !requirements.any_bins.is_empty() && !requirements.any_bins.iter().any(|b| on_path(b)) {
        return Some(format!(
            "needs one of {} on PATH",
            requirements.any_bins.join(", ")
        ));
    }
    let unset: Vec<&str> = requirements
        .env
        .iter()
        .filter(|var| std::env::var_os(var).is_none_or(|v| v.is_empty()))
        .map(String::as_str)
        .collect();
    (!unset.is_empty()).then(|| format!("needs the environment variable {}", unset.join(", ")))
}

/// Whether an executable of this name is in a PATH folder.
fn on_path(program: &str) -> bool {
    if program.contains('/') {
        return is_executable(Path::new(program));
    }
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| is_executable(&dir.join(program)))
    })
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        path.metadata()
            .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

#[cfg(test)]
mod tests;
