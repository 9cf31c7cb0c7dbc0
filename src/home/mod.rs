//! The home folder: every file LocalGPT owns lives under one root, laid out as DESIGN.md
//! describes. This module knows where each file is, creates what is missing on first use
//! (never overwriting), and confines relative paths to the folder.
//!
//! ```text
//! config.toml            workspace/MEMORY.md          sessions/ID.jsonl
//! index.sqlite           workspace/HEARTBEAT.md       logs/agent.YYYY-MM-DD.log
//! history.txt            workspace/memory/            daemon.pid, api-token
//!                        workspace/skills/, heartbeat/
//! ```

mod atomic;
mod confine;
mod locked;

pub(crate) use atomic::{replace_real, write_atomic, write_atomic_with_mode};
pub use confine::resolve_beneath;
pub(crate) use confine::{read_real, read_real_to_string, real_path};
pub use locked::append_locked;
pub(crate) use locked::{append_locked_with, try_update_locked, update_locked};

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};

use crate::env::EnvSource;

/// The variable that chooses the home folder when `--home` is not given.
pub(crate) const HOME_ENV: &str = "LOCALGPT_HOME";

pub(crate) const STARTER_MEMORY: &str = include_str!("starter/MEMORY.md");
const STARTER_HEARTBEAT: &str = include_str!("starter/HEARTBEAT.md");

/// Errors about the home folder itself; each names the path and what to do.
#[derive(Debug, thiserror::Error)]
pub enum HomeError {
    #[error(
        "cannot use {path} as the LocalGPT home folder: it is a file, not a folder. \
         Pass --home with a folder path, or set {HOME_ENV} to one."
    )]
    NotAFolder { path: PathBuf },
    #[error(
        "cannot create {path} in the LocalGPT home folder: {source}. \
         Check that the folder is writable, or choose another with --home or {HOME_ENV}."
    )]
    Create { path: PathBuf, source: io::Error },
    #[error(
        "cannot find your home directory to put ~/.localgpt in. \
         Pass --home with a folder path, or set {HOME_ENV} to one."
    )]
    NoUserHome,
    #[error("the path {path:?} {reason}; paths here must stay inside {root}")]
    Escapes {
        path: String,
        reason: &'static str,
        root: PathBuf,
    },
}

/// Where the home folder came from, for messages that tell people how to change it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HomeSource {
    Flag,
    Env,
    Default,
}

/// The home folder and the paths of everything in it.
#[derive(Debug, Clone)]
pub struct Home {
    root: PathBuf,
    source: HomeSource,
}

/// What [`Home::ensure`] created, so the first run can say so.
#[derive(Debug, Default)]
pub struct Created {
    pub paths: Vec<PathBuf>,
}

impl Created {
    /// True when the folder itself was new, i.e. this is the first run with this home.
    pub(crate) fn first_run(&self) -> bool {
        !self.paths.is_empty()
    }
}

impl Home {
    /// Chooses the home folder: `--home` if given, else `$LOCALGPT_HOME`, else
    /// `~/.localgpt`. The flag wins over the variable, as command-line flags do everywhere,
    /// so that one command can point at another home without unsetting anything.
    pub(crate) fn locate(flag: Option<&Path>, env: &dyn EnvSource) -> Result<Home, HomeError> {
        let (root, source) = if let Some(path) = flag {
            (path.to_path_buf(), HomeSource::Flag)
        } else if let Some(path) = env.var(HOME_ENV) {
            (PathBuf::from(path), HomeSource::Env)
        } else {
            let user_home = dirs::home_dir().ok_or(HomeError::NoUserHome)?;
            (user_home.join(".localgpt"), HomeSource::Default)
        };
        Ok(Home { root, source })
    }

    /// A home at a fixed path, for tests and embedding.
    pub fn at(root: impl Into<PathBuf>) -> Home {
        Home {
            root: root.into(),
            source: HomeSource::Flag,
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn source(&self) -> HomeSource {
        self.source
    }

    pub(crate) fn config_file(&self) -> PathBuf {
        self.root.join("config.toml")
    }

    pub fn workspace(&self) -> PathBuf {
        self.root.join("workspace")
    }

    pub fn memory_file(&self) -> PathBuf {
        self.workspace().join("MEMORY.md")
    }

    pub(crate) fn heartbeat_file(&self) -> PathBuf {
        self.workspace().join("HEARTBEAT.md")
    }

    pub fn daily_log_dir(&self) -> PathBuf {
        self.workspace().join("memory")
    }

    /// The daily log for a date given as `YYYY-MM-DD`.
    pub(crate) fn daily_log(&self, date: &str) -> PathBuf {
        self.daily_log_dir().join(format!("{date}.md"))
    }

    /// A file of the workspace (`MEMORY.md`, `memory/DATE.md`) where it really is;
    /// refused when a link leads it out of the workspace, or nowhere.
    pub(crate) fn workspace_file(&self, relative: &str) -> Result<PathBuf, HomeError> {
        resolve_beneath(&self.workspace(), relative)
    }

    /// The bytes of a workspace file, `None` when it is missing or unreadable — or led
    /// out of the workspace by a link, which is logged: what the prompt and the daemon
    /// read of memory is never a file elsewhere.
    pub(crate) fn read_workspace_file(&self, relative: &str) -> Option<Vec<u8>> {
        let read = self
            .workspace_file(relative)
            .map_err(|err| err.to_string())
            .and_then(|real| read_real(&real).map_err(|err| err.to_string()));
        match read {
            Ok(bytes) => Some(bytes),
            Err(err) => {
                if self.workspace().join(relative).symlink_metadata().is_ok() {
                    tracing::warn!("{relative} not read: {err}");
                }
                None
            }
        }
    }

    pub(crate) fn skills_dir(&self) -> PathBuf {
        self.workspace().join("skills")
    }

    pub(crate) fn heartbeat_dir(&self) -> PathBuf {
        self.workspace().join("heartbeat")
    }

    /// The private temporary folder of the shell commands LocalGPT runs (their `TMPDIR`,
    /// writable in the sandbox; the system's `/tmp` is not).
    pub(crate) fn commands_temp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    pub fn sessions_dir(&self) -> PathBuf {
        self.root.join("sessions")
    }

    pub fn index_db(&self) -> PathBuf {
        self.root.join("index.sqlite")
    }

    pub(crate) fn logs_dir(&self) -> PathBuf {
        self.root.join("logs")
    }

    pub(crate) fn pid_file(&self) -> PathBuf {
        self.root.join("daemon.pid")
    }

    pub(crate) fn api_token_file(&self) -> PathBuf {
        self.root.join("api-token")
    }

    pub(crate) fn history_file(&self) -> PathBuf {
        self.root.join("history.txt")
    }

    /// Creates whatever part of the layout is missing. Existing files are never touched,
    /// even when two processes race to create them (`create_new` decides the winner).
    /// `config_template` is written to `config.toml` if there is none.
    pub fn ensure(&self, config_template: &str) -> Result<Created, HomeError> {
        let mut created = Created::default();
        if self.root.exists() && !self.root.is_dir() {
            return Err(HomeError::NotAFolder {
                path: self.root.clone(),
            });
        }
        for dir in [
            self.root.clone(),
            self.workspace(),
            self.daily_log_dir(),
            self.skills_dir(),
            self.heartbeat_dir(),
            self.sessions_dir(),
            self.logs_dir(),
        ] {
            self.ensure_dir(&dir, &mut created)?;
        }
        self.ensure_file(&self.config_file(), config_template, 0o600, &mut created)?;
        self.ensure_file(&self.memory_file(), STARTER_MEMORY, 0o644, &mut created)?;
        self.ensure_file(
            &self.heartbeat_file(),
            STARTER_HEARTBEAT,
            0o644,
            &mut created,
        )?;
        Ok(created)
    }

    fn ensure_dir(&self, dir: &Path, created: &mut Created) -> Result<(), HomeError> {
        if dir.is_dir() {
            return Ok(());
        }
        if dir.exists() {
            return Err(HomeError::NotAFolder {
                path: dir.to_path_buf(),
            });
        }
        match fs::create_dir_all(dir) {
            Ok(()) => {
                created.paths.push(dir.to_path_buf());
                Ok(())
            }
            Err(source) => Err(HomeError::Create {
                path: dir.to_path_buf(),
                source,
            }),
        }
    }

    fn ensure_file(
        &self,
        path: &Path,
        contents: &str,
        mode: u32,
        created: &mut Created,
    ) -> Result<(), HomeError> {
        if path.exists() {
            return Ok(());
        }
        let create_error = |source| HomeError::Create {
            path: path.to_path_buf(),
            source,
        };
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
        #[cfg(not(unix))]
        let _ = mode;
        match options.open(path) {
            Ok(mut file) => {
                file.write_all(contents.as_bytes())
                    .and_then(|()| file.sync_all())
                    .map_err(create_error)?;
                created.paths.push(path.to_path_buf());
                Ok(())
            }
            // Another process created it between our check and our open: theirs stands.
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => Ok(()),
            Err(err) => Err(create_error(err)),
        }
    }
}

/// `~/x` and `~` mean the user's home directory; anything else is as written.
pub(crate) fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), dirs::home_dir()) {
        (Some(rest), Some(home)) => home.join(rest),
        _ if path == "~" => dirs::home_dir().unwrap_or_else(|| PathBuf::from(path)),
        _ => PathBuf::from(path),
    }
}

/// Joins `relative` onto `root`, refusing paths that would escape `root` lexically.
///
/// ```
/// use std::path::Path;
/// use localgpt::home::resolve_under;
///
/// let root = Path::new("/home/me/.localgpt/workspace");
/// assert_eq!(
///     resolve_under(root, "memory/../MEMORY.md").unwrap(),
///     root.join("MEMORY.md")
/// );
/// assert!(resolve_under(root, "../config.toml").is_err());
/// assert!(resolve_under(root, "/etc/passwd").is_err());
/// ```
pub fn resolve_under(root: &Path, relative: &str) -> Result<PathBuf, HomeError> {
    let escape = |reason| HomeError::Escapes {
        path: relative.to_string(),
        reason,
        root: root.to_path_buf(),
    };
    if relative.contains('\0') {
        return Err(escape("contains a NUL byte"));
    }
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for component in Path::new(relative).components() {
        match component {
            Component::Normal(part) => parts.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                if parts.pop().is_none() {
                    return Err(escape("climbs above the folder with `..`"));
                }
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(escape("is absolute"));
            }
        }
    }
    let mut path = root.to_path_buf();
    path.extend(parts);
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_wins_over_variable_which_wins_over_default() {
        let env = [(HOME_ENV, "/from/env")];
        let home = Home::locate(Some(Path::new("/from/flag")), &env).unwrap();
        assert_eq!(home.root(), Path::new("/from/flag"));
        let home = Home::locate(None, &env).unwrap();
        assert_eq!(home.root(), Path::new("/from/env"));
        assert_eq!(home.source(), HomeSource::Env);
    }

    #[test]
    fn ensure_creates_the_layout_once_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path().join("home"));
        let created = home.ensure("# config\n").unwrap();
        assert!(created.first_run());
        for path in [
            home.config_file(),
            home.memory_file(),
            home.heartbeat_file(),
            home.daily_log_dir(),
            home.skills_dir(),
            home.heartbeat_dir(),
            home.sessions_dir(),
            home.logs_dir(),
        ] {
            assert!(path.exists(), "{} missing", path.display());
        }
        fs::write(home.memory_file(), "mine").unwrap();
        let again = home.ensure("# other\n").unwrap();
        assert!(!again.first_run());
        assert_eq!(fs::read_to_string(home.memory_file()).unwrap(), "mine");
        assert_eq!(
            fs::read_to_string(home.config_file()).unwrap(),
            "# config\n"
        );
    }

    #[test]
    fn a_file_where_the_home_should_be_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        fs::write(&file, "x").unwrap();
        let err = Home::at(&file).ensure("").unwrap_err();
        assert!(matches!(err, HomeError::NotAFolder { .. }), "{err}");
    }

    #[test]
    fn resolve_confines_paths() {
        let root = Path::new("/h");
        assert_eq!(
            resolve_under(root, "a/./b/../c").unwrap(),
            Path::new("/h/a/c")
        );
        assert_eq!(resolve_under(root, "").unwrap(), Path::new("/h"));
        for hostile in ["../x", "a/../../x", "/etc/passwd", "a\0b"] {
            assert!(
                resolve_under(root, hostile).is_err(),
                "{hostile:?} accepted"
            );
        }
    }
}
