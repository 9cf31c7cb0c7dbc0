//! The one place that decides what the tools, scripts and skills may touch: every path
//! check of every front door goes through [`Policy::resolve`] or [`Policy::resolve_read`].
//!
//! Paths are resolved against the current folder, canonicalised (so `..` and symlinks
//! are followed to where they really lead) and must land under an allowed root: the
//! workspace, the current folder, or a `tools.allowed_paths` entry — and never in a
//! [`protected`] place (LocalGPT's own files, credential stores), whatever the roots.
//! Commands and writes follow `tools.approval`.
//!
//! - [`protected`]: what is never opened.
//! - [`environment`]: what a command's environment never holds.
//! - [`env_files`]: the `.env` files the kernel sandbox must keep closed.
//! - [`network`]: what web requests may reach.

pub mod env_files;
pub mod environment;
pub mod network;
pub mod protected;

use std::path::{Path, PathBuf};

use crate::config::{ApprovalMode, SandboxMode, ToolsConfig};
use crate::home::{Home, expand_home};
pub(crate) use protected::Protected;

#[derive(Debug, Clone)]
pub struct Policy {
    /// Canonical allowed roots.
    roots: Vec<PathBuf>,
    /// Canonical roots that may be read but not written (skill folders elsewhere; the
    /// current folder when it holds the person's home).
    read_roots: Vec<PathBuf>,
    /// Whether the current folder is the person's home or above it, and so read-only.
    cwd_holds_home: bool,
    /// The current folder, canonical (as given when it cannot be resolved).
    real_cwd: PathBuf,
    /// What is never opened, whatever the roots.
    protected: Protected,
    cwd: PathBuf,
    pub approval: ApprovalMode,
    /// Whether shell commands may run at all (the daemon's `heartbeat.allow_bash`).
    pub commands_allowed: bool,
    /// Variables passed to commands although they look like credentials.
    pub env_allow: Vec<String>,
    /// The kernel sandbox commands run in (`tools.sandbox`).
    pub sandbox: SandboxMode,
    /// Whether commands may use the network (`tools.bash_network`).
    pub network: bool,
    /// Whether a command's background jobs may outlive it: only for the person's own `!`
    /// lines, never for what a model or a task runs.
    pub background_jobs: bool,
    /// The commands' private temporary folder (not created until a command needs it).
    temp_dir: PathBuf,
}

impl Policy {
    pub fn new(home: &Home, cwd: &Path, tools: &ToolsConfig) -> Policy {
        let listed: Vec<PathBuf> = tools
            .allowed_paths
            .iter()
            .filter_map(|path| expand_home(path).canonicalize().ok())
            .collect();
        let user_home = dirs::home_dir().and_then(|home| home.canonicalize().ok());
        let real_cwd = cwd.canonicalize().ok();
        // Started in the home folder (or above it), the current folder is read, never
        // written: a command could otherwise plant a foothold in `~/.bashrc`, `~/.profile`
        // or `~/.config/autostart/` that runs unconfined at the next login.
        let cwd_holds_home = matches!(
            (&real_cwd, &user_home),
            (Some(cwd), Some(home)) if home.starts_with(cwd)
        );
        let mut roots: Vec<PathBuf> = home.workspace().canonicalize().ok().into_iter().collect();
        let mut read_roots = Vec::new();
        match &real_cwd {
            Some(cwd) if cwd_holds_home => read_roots.push(cwd.clone()),
            Some(cwd) => roots.push(cwd.clone()),
            None => {}
        }
        roots.extend(listed.iter().cloned());
        let protected = Protected::new(
            home.root(),
            &[home.workspace(), home.commands_temp_dir()],
            dirs::home_dir().as_deref(),
            &listed,
        );
        Policy {
            roots,
            read_roots,
            cwd_holds_home,
            real_cwd: real_cwd.unwrap_or_else(|| cwd.to_path_buf()),
            protected,
            cwd: cwd.to_path_buf(),
            approval: tools.approval,
            commands_allowed: true,
            env_allow: tools.env_allow.clone(),
            sandbox: tools.sandbox,
            network: tools.bash_network,
            background_jobs: false,
            temp_dir: home.commands_temp_dir(),
        }
    }

    /// For work nobody watches (a heartbeat task, a skill a client runs over MCP): no
    /// one can answer a question, so what the policy does not allow is refused, and shell
    /// commands run only with `heartbeat.allow_bash`.
    pub(crate) fn unattended(home: &Home, config: &crate::config::Config) -> Policy {
        Policy::new(home, &home.workspace(), &config.tools)
            .for_own_code()
            .with_commands(config.heartbeat.allow_bash)
    }

    /// The commands' private temporary folder.
    pub(crate) fn temp_dir(&self) -> &Path {
        &self.temp_dir
    }

    /// What is never opened (for the kernel sandbox, which enforces the same).
    pub fn protected(&self) -> &Protected {
        &self.protected
    }

    /// The `.env` files a command must not read: those found in the allowed roots, the
    /// current folder and the person's home folder (see [`env_files`]).
    pub(crate) fn env_files(&self) -> Vec<PathBuf> {
        let mut roots = self.roots.clone();
        roots.push(self.real_cwd.clone());
        roots.sort();
        roots.dedup();
        env_files::find(&self.protected, &roots, dirs::home_dir().as_deref())
    }

    /// The folders writes may go to: the allowed roots.
    pub(crate) fn writable_roots(&self) -> &[PathBuf] {
        &self.roots
    }

    /// Whether the current folder was left read-only because it holds the person's home
    /// folder (where login scripts live).
    pub(crate) fn cwd_holds_home(&self) -> bool {
        self.cwd_holds_home
    }

    pub(crate) fn with_approval(mut self, approval: ApprovalMode) -> Policy {
        self.approval = approval;
        self
    }

    /// The policy for code the person runs themselves (`localgpt run`, `:code`, `/run`,
    /// `!cmd`, a skill they start): no question per command or write — but an explicit
    /// `deny` still holds.
    pub(crate) fn for_own_code(self) -> Policy {
        let approval = match self.approval {
            ApprovalMode::Deny => ApprovalMode::Deny,
            _ => ApprovalMode::Auto,
        };
        self.with_approval(approval)
    }

    /// For the person's own `!` lines: what they start in the background may outlive
    /// the line (its process group is still stopped at the time limit).
    pub(crate) fn with_background_jobs(mut self) -> Policy {
        self.background_jobs = true;
        self
    }

    pub(crate) fn with_commands(mut self, allowed: bool) -> Policy {
        self.commands_allowed = allowed;
        self
    }

    /// Why a shell command may not run under this policy, if it may not.
    pub(crate) fn refuse_command(&self, command: &str) -> Option<String> {
        if self.approval == ApprovalMode::Deny {
            return Some(format!(
                "not allowed: `{command}` (tools.approval is \"deny\")"
            ));
        }
        (!self.commands_allowed).then(|| {
            format!(
                "not allowed: `{command}`: shell commands are off where nobody can approve \
                 them (set heartbeat.allow_bash = true to allow them)"
            )
        })
    }

    /// Lets reads (never writes) reach these folders too.
    pub(crate) fn with_read_roots(mut self, folders: &[String]) -> Policy {
        self.read_roots.extend(
            folders
                .iter()
                .filter_map(|folder| expand_home(folder).canonicalize().ok()),
        );
        self
    }

    pub fn cwd(&self) -> &Path {
        &self.cwd
    }

    /// Where `raw` really points, if that is inside an allowed root.
    pub(crate) fn resolve(&self, raw: &str) -> Result<PathBuf, String> {
        self.resolve_within(raw, &[])
    }

    /// [`Policy::resolve`] for reading: the read-only roots count too.
    pub(crate) fn resolve_read(&self, raw: &str) -> Result<PathBuf, String> {
        self.resolve_within(raw, &self.read_roots)
    }

    /// [`Policy::resolve_read`] with more roots a caller may read for its own purpose
    /// (memory's indexed folders, for `memory_get`).
    pub(crate) fn resolve_read_in(
        &self,
        raw: &str,
        more_roots: &[PathBuf],
    ) -> Result<PathBuf, String> {
        let mut roots = self.read_roots.clone();
        roots.extend(
            more_roots
                .iter()
                .filter_map(|root| root.canonicalize().ok()),
        );
        self.resolve_within(raw, &roots)
    }

    /// Whether a walk (a glob, a listing) may show what is at `path` (canonical).
    pub(crate) fn may_show(&self, path: &Path) -> bool {
        self.protected.refusal(path).is_none()
    }

    fn resolve_within(&self, raw: &str, more_roots: &[PathBuf]) -> Result<PathBuf, String> {
        if raw.trim().is_empty() {
            return Err("the path is empty".to_string());
        }
        if raw.contains('\0') {
            return Err("the path contains a NUL byte".to_string());
        }
        let joined = self.cwd.join(expand_home(raw));
        let resolved =
            crate::home::real_path(&joined).map_err(|reason| format!("{raw}: {reason}"))?;
        if let Some(refusal) = self.protected.refusal(&resolved) {
            return Err(refusal);
        }
        if self
            .roots
            .iter()
            .chain(more_roots)
            .any(|root| resolved.starts_with(root))
        {
            Ok(resolved)
        } else if self.cwd_holds_home && resolved.starts_with(&self.real_cwd) {
            Err(format!(
                "{raw}: LocalGPT was started in your home folder (or above it), which tools \
                 and commands may read but not write — login scripts there would run \
                 unconfined; start it in a project folder, or add the folder to \
                 tools.allowed_paths"
            ))
        } else {
            Err(format!(
                "{raw} is outside the folders LocalGPT may use ({}); add its folder to \
                 tools.allowed_paths to allow it",
                self.roots
                    .iter()
                    .map(|root| root.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn setup() -> (tempfile::TempDir, Policy) {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path().join("home"));
        home.ensure("").unwrap();
        let project = dir.path().join("project");
        fs::create_dir_all(project.join("src")).unwrap();
        fs::create_dir_all(dir.path().join("outside")).unwrap();
        fs::write(dir.path().join("outside/secret.txt"), "x").unwrap();
        let policy = Policy::new(&home, &project, &ToolsConfig::default());
        (dir, policy)
    }

    #[test]
    fn paths_inside_the_roots_resolve() {
        let (dir, policy) = setup();
        let project = dir.path().join("project").canonicalize().unwrap();
        assert_eq!(policy.resolve("src").unwrap(), project.join("src"));
        assert_eq!(
            policy.resolve("src/new.rs").unwrap(),
            project.join("src/new.rs")
        );
        assert_eq!(
            policy.resolve("src/../README.md").unwrap(),
            project.join("README.md")
        );
        let workspace = dir.path().join("home/workspace/MEMORY.md");
        assert!(policy.resolve(workspace.to_str().unwrap()).is_ok());
    }

    #[test]
    fn escapes_are_refused() {
        let (dir, policy) = setup();
        let outside = dir.path().join("outside/secret.txt");
        for hostile in [
            "../outside/secret.txt",
            "src/../../outside/secret.txt",
            outside.to_str().unwrap(),
            "/etc/passwd",
            "new/../../outside/x",
            "",
            "a\0b",
        ] {
            assert!(policy.resolve(hostile).is_err(), "{hostile:?} allowed");
        }
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_out_of_the_roots_are_refused() {
        let (dir, policy) = setup();
        let project = dir.path().join("project");
        std::os::unix::fs::symlink(dir.path().join("outside"), project.join("link")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("outside/secret.txt"), project.join("file"))
            .unwrap();
        assert!(policy.resolve("link/secret.txt").is_err());
        assert!(policy.resolve("link/new.txt").is_err());
        assert!(policy.resolve("file").is_err());
    }

    #[test]
    fn localgpts_own_files_are_refused_even_from_the_home_folder() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path().join(".localgpt"));
        home.ensure("").unwrap();
        std::fs::write(
            home.config_file(),
            "[providers.openai]\napi_key = \"sk-x\"\n",
        )
        .unwrap();
        // Run from the folder that holds the home: the current folder is allowed…
        let policy = Policy::new(&home, dir.path(), &ToolsConfig::default());
        assert!(policy.resolve_read(".localgpt/config.toml").is_err());
        assert!(policy.resolve_read(".localgpt/api-token").is_err());
        assert!(policy.resolve(".localgpt/config.toml.bak").is_err());
        // …and a link to it from an allowed folder leads nowhere either.
        std::os::unix::fs::symlink(home.config_file(), dir.path().join("c.toml")).unwrap();
        assert!(policy.resolve_read("c.toml").is_err());
        assert!(policy.resolve_read(".localgpt/workspace/MEMORY.md").is_ok());
    }
}
