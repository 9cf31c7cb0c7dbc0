//! The integration-test harness: the real `localgpt` binary, run against a throwaway home
//! folder with a clean environment, so a test reads as a short story:
//!
//! ```ignore
//! let t = Test::new();
//! t.run(["config", "set", "server.port", "8080"]).success();
//! assert!(t.read("config.toml").contains("port = 8080"));
//! ```
//!
//! [`fake_provider`] is an LLM provider on a loopback port, as strict as the real ones.

#![allow(dead_code)] // Each test file uses a different part of the harness.

pub mod fake_provider;
pub mod fake_telegram;
pub mod loopback;
pub mod strict;

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use assert_cmd::assert::Assert;
use tempfile::TempDir;

pub struct Test {
    /// Holds the temporary folder alive; it is removed when the test ends. Commands run
    /// in it.
    dir: TempDir,
    /// The person's home folder (`$HOME`): a folder of its own, so that the current
    /// folder is a project folder, writable — unless [`Test::started_in_home`].
    user_home: TempDir,
    /// Extra environment for every command of this test.
    env: Vec<(String, String)>,
}

impl Test {
    pub fn new() -> Test {
        Test {
            dir: tempfile::tempdir().expect("create a temporary folder"),
            user_home: tempfile::tempdir().expect("create a temporary folder"),
            env: Vec::new(),
        }
    }

    /// The person started LocalGPT in their home folder: `$HOME` is the folder commands
    /// run in (and holds LocalGPT's home).
    pub fn started_in_home(self) -> Test {
        let home = self.dir.path().display().to_string();
        self.env("HOME", &home)
    }

    /// The person's home folder (`$HOME`).
    pub fn user_home(&self) -> PathBuf {
        self.env
            .iter()
            .rev()
            .find(|(key, _)| key == "HOME")
            .map_or_else(|| self.user_home.path().to_path_buf(), |(_, v)| v.into())
    }

    /// The home folder the binary uses (`$LOCALGPT_HOME`); created by the first command.
    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// A scratch folder beside the home, for files a test needs elsewhere.
    pub fn scratch(&self) -> &Path {
        self.dir.path()
    }

    /// Sets an environment variable for every later command of this test.
    pub fn env(mut self, key: &str, value: &str) -> Test {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// The binary with a clean environment: no real API keys or user settings leak in.
    pub fn command(&self) -> Command {
        Command::from_std(self.std_command())
    }

    /// The same as [`Test::command`], for tests that drive the process by hand.
    pub fn std_command(&self) -> std::process::Command {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_localgpt"));
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.user_home.path())
            .env("LOCALGPT_HOME", self.home())
            // A test never waits on the terminal; `write_stdin` replaces this when needed.
            .stdin(std::process::Stdio::null())
            .current_dir(self.dir.path());
        for (key, value) in &self.env {
            command.env(key, value);
        }
        command
    }

    /// Points the OpenAI, Anthropic and Ollama providers at a fake one, with test keys.
    pub fn with_fake(self, fake: &fake_provider::FakeProvider) -> Test {
        self.env("OPENAI_BASE_URL", &format!("{}/v1", fake.url()))
            .env("OPENAI_API_KEY", "sk-test-openai-0123456789")
            .env("ANTHROPIC_BASE_URL", &fake.url())
            .env("ANTHROPIC_API_KEY", "sk-ant-test-0123456789")
            .env("OLLAMA_HOST", &format!("127.0.0.1:{}", fake.port))
    }

    /// The binary in a pseudo-terminal, as a person at a terminal runs it, with `args`
    /// and the extra environment `env`. rexpect reads the terminal byte by byte as
    /// Latin-1, so expectations stay ASCII.
    #[cfg(unix)]
    pub fn pty(&self, args: &[&str], env: &[(&str, &str)]) -> rexpect::session::PtySession {
        let mut command = self.std_command();
        // rexpect puts the pseudo-terminal on fd 0-2 before exec; inherit keeps it.
        command
            .args(args)
            .stdin(std::process::Stdio::inherit())
            .stdout(std::process::Stdio::inherit())
            .stderr(std::process::Stdio::inherit())
            .env("TERM", "xterm")
            .envs(env.iter().copied());
        rexpect::session::spawn_command(command, Some(15_000)).expect("spawn in a terminal")
    }

    /// The saved sessions' transcripts, newest first, each as its JSON records.
    pub fn transcripts(&self) -> Vec<Vec<serde_json::Value>> {
        let mut files: Vec<PathBuf> = fs::read_dir(self.path("sessions"))
            .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.sort();
        files.reverse();
        files
            .iter()
            .map(|file| {
                fs::read_to_string(file)
                    .expect("read a transcript")
                    .lines()
                    .filter_map(|line| serde_json::from_str(line).ok())
                    .collect()
            })
            .collect()
    }

    pub fn run<I, S>(&self, args: I) -> Assert
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.command().args(args).assert()
    }

    /// What a model download left in `models/.downloads` (nothing, when it finished or
    /// was refused).
    pub fn downloads_left(&self) -> Vec<std::ffi::OsString> {
        fs::read_dir(self.path("models/.downloads"))
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.file_name())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.home().join(relative)
    }

    pub fn read(&self, relative: &str) -> String {
        fs::read_to_string(self.path(relative))
            .unwrap_or_else(|err| panic!("read {relative}: {err}"))
    }

    pub fn write(&self, relative: &str, contents: &str) {
        let path = self.path(relative);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("create parent folder");
        }
        fs::write(path, contents).unwrap_or_else(|err| panic!("write {relative}: {err}"));
    }
}

/// The text of a command's stdout or stderr.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
