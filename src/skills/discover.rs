//! Finding skills on disk: the files of one folder, read once per process (by size and
//! modification time), their header or front matter parsed, their requirements checked.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use super::front_matter::{self, Requirements};
use super::{Kind, Origin, Skill, header};

/// The skills in one folder: `NAME.rhai`, `NAME/skill.rhai`, `NAME/SKILL.md`, and one
/// level deeper, `GROUP/NAME/SKILL.md` (an older public layout: `document-skills/pdf`).
pub(super) fn scan(folder: &Path, origin: &Origin) -> Vec<Skill> {
    let mut skills = Vec::new();
    for (file, kind, default_name) in candidates(folder, true) {
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
            Ok(text) => describe(&default_name, kind, origin.clone(), text),
            Err(problem) => Skill {
                problem: Some(problem),
                ..describe(&default_name, kind, origin.clone(), String::new())
            },
        };
        skill.path = Some(file.clone());
        remember(file, stamp, &skill);
        skills.push(skill);
    }
    skills
}

/// The skill files of a folder, with their kind and the name their place gives them. A
/// folder that is no skill itself is looked into once (`group/name/SKILL.md`).
fn candidates(folder: &Path, look_deeper: bool) -> Vec<(PathBuf, Kind, String)> {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    let mut found = Vec::new();
    for path in paths {
        let Some(file_name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if file_name.starts_with('.') {
            continue;
        }
        if !path.is_dir() {
            // Loose scripts count at the top only: inside a group folder they are its
            // helpers, not skills.
            if look_deeper && let Some(stem) = file_name.strip_suffix(".rhai") {
                found.push((path.clone(), Kind::Rhai, stem.to_string()));
            }
            continue;
        }
        let (rhai, markdown) = (path.join("skill.rhai"), path.join("SKILL.md"));
        if rhai.is_file() {
            found.push((rhai, Kind::Rhai, file_name.to_string()));
        } else if markdown.is_file() {
            found.push((markdown, Kind::Prompt, file_name.to_string()));
        } else if look_deeper {
            found.extend(candidates(&path, false));
        }
    }
    found
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
        fallback_for: None,
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

pub(crate) fn check_name(name: &str) -> Result<(), String> {
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
pub(super) fn unmet(requirements: &Requirements) -> Option<String> {
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
