//! The REPL: chat turns, Rhai (`:code`), commands (`/cmd`) and the shell (`!cmd`) at one
//! prompt. On a terminal it uses rustyline (history, completion, multi-line entries);
//! otherwise it reads lines from stdin and writes plain text, so it can be scripted:
//! `printf ':1+2\n' | localgpt`.
//!
//! Nothing slow happens before the first prompt: the agent, the script engine and the
//! memory index are created on first use. Ctrl-C cancels the running turn or script
//! (a tokio signal task sets the cancel signal) and returns to the prompt.
//!
//! - [`line`]: what a line means and when an entry is complete.
//! - [`commands`]: the `/command` table.
//! - [`helper`]: completion, hints and multi-line validation for rustyline.
//! - [`skills`]: `/NAME args` for skills, and `/skills`.

mod commands;
mod helper;
pub mod line;
mod skills;

use std::io::{self, BufRead, IsTerminal, Write};
use std::sync::{Arc, Mutex};

use anyhow::{Context as _, Result};

use crate::agent::Agent;
use crate::cancel::Cancel;
use crate::config::Settings;
use crate::home::Home;
use crate::memory::Memory;
use crate::policy::Policy;
use crate::provider::Usage;
use crate::script::{Evaluated, RunContext, ScriptHost, ScriptSession};
use crate::session::Session;
use crate::skills::Skills;
use crate::style::Style;
use crate::terminal::TerminalObserver;
use commands::Flow;
use helper::{PromptHelper, SkillHint, Vocabulary};
use line::{Entry, Mode, classify, needs_more};

pub(crate) struct Repl {
    home: Home,
    settings: Settings,
    model: String,
    mode: Mode,
    style: Style,
    err_style: Style,
    /// A person at a terminal (prompts, colours, approval questions).
    interactive: bool,
    runtime: tokio::runtime::Runtime,
    /// Set by Ctrl-C; reset before each turn or script.
    cancel: Cancel,
    agent: Option<Agent>,
    /// The conversation, started (and its transcript created) by the first chat line.
    session: Option<Session>,
    /// Messages of the session before this index are not traced again (a resumed
    /// session's past).
    trace_floor: usize,
    usage: Usage,
    script: Option<ScriptSession>,
    memory: Option<Memory>,
    /// The embedding model, loaded by the first `/memory` search that can use it.
    embedder: crate::memory::embed::LazyEmbedder,
    vocabulary: Arc<Mutex<Vocabulary>>,
    /// What `/mcp read` attached, sent with the next chat message.
    attached: Vec<String>,
}

impl Repl {
    pub fn new(home: Home, settings: Settings, style: Style, err_style: Style) -> Result<Repl> {
        let interactive = io::stdin().is_terminal();
        // Two workers: the turn streams on one while the signal task waits on the other.
        let (runtime, cancel) =
            crate::cancel::interruptible_runtime(2).context("cannot start the async runtime")?;
        Ok(Repl {
            model: settings.model().to_string(),
            home,
            settings,
            mode: Mode::Chat,
            style: if interactive { style } else { Style::plain() },
            err_style: if interactive {
                err_style
            } else {
                Style::plain()
            },
            interactive,
            runtime,
            cancel,
            agent: None,
            session: None,
            trace_floor: 0,
            usage: Usage::default(),
            script: None,
            memory: None,
            embedder: Default::default(),
            vocabulary: Arc::new(Mutex::new(Vocabulary::default())),
            attached: Vec::new(),
        })
    }

    /// Continues a saved session: its conversation becomes the live context and new
    /// turns are appended to its transcript.
    pub fn resume(&mut self, id: &str) -> Result<()> {
        let sessions = crate::session::Sessions::new(&self.home);
        let entry = sessions.find(id)?;
        let (session, loaded) = Session::resume(&entry, &self.model)
            .with_context(|| format!("cannot read {}", entry.path.display()))?;
        if loaded.torn_last_line {
            self.say_error(
                "the transcript's last line was cut off (a crash while writing?); it was skipped",
            );
        }
        self.trace_floor = session.messages().len();
        self.session = Some(session);
        self.usage = Usage::default();
        self.say(&format!(
            "resumed {}: {} ({} turns)",
            entry.id, loaded.title, loaded.turns
        ));
        Ok(())
    }

    /// Runs until `/quit`, Ctrl-D or the end of stdin.
    pub fn run(&mut self) -> Result<()> {
        let ran = if self.interactive {
            self.run_terminal()
        } else {
            self.run_plain()
        };
        self.leave_trace();
        ran
    }

    /// The conversation so far leaves its trace in the daily log (see
    /// [`Agent::leave_trace`]): when the REPL is left, or a new conversation begins.
    pub(crate) fn leave_trace(&mut self) {
        let (Some(agent), Some(session)) = (self.agent.as_mut(), self.session.as_ref()) else {
            return;
        };
        agent.trace_from(self.trace_floor);
        let written = self.runtime.block_on(agent.leave_trace(session));
        if written > 0 {
            let _ = writeln!(
                io::stderr().lock(),
                "{}",
                self.err_style.dim(&format!(
                    "left {written} lines about this conversation in today's daily log"
                ))
            );
        }
    }

    /// What Ctrl-C at the prompt answers: it drops the line, it does not leave.
    fn how_to_leave(&self) -> io::Result<()> {
        writeln!(
            io::stderr().lock(),
            "{}",
            self.err_style.dim("(Ctrl-D or /quit to leave)")
        )
    }

    fn run_terminal(&mut self) -> Result<()> {
        let config = rustyline::Config::builder()
            // Added by hand: a line Ctrl-C ended is not history.
            .auto_add_history(false)
            .history_ignore_space(true)
            .max_history_size(10_000)
            .context("bad history size")?
            .build();
        let mut editor: rustyline::Editor<PromptHelper, rustyline::history::FileHistory> =
            rustyline::Editor::with_config(config).context("cannot open the terminal")?;
        let helper = PromptHelper::new(self.vocabulary.clone());
        let interrupted = helper.interrupted.clone();
        editor.set_helper(Some(helper));
        editor.bind_sequence(
            rustyline::KeyEvent::ctrl('C'),
            rustyline::EventHandler::Conditional(Box::new(helper::InterruptKey(
                interrupted.clone(),
            ))),
        );
        let history = self.home.history_file();
        let _ = editor.load_history(&history);
        let mut out = io::stdout().lock();
        writeln!(
            out,
            "{}",
            self.style.dim(&format!(
                "LocalGPT {} · {} · /help for commands, :code for Rhai, !cmd for the shell, Ctrl-D to quit",
                env!("CARGO_PKG_VERSION"),
                self.model
            ))
        )?;
        drop(out);
        loop {
            self.update_vocabulary();
            match editor.readline(&self.prompt()) {
                Ok(_) if interrupted.swap(false, std::sync::atomic::Ordering::Relaxed) => {
                    self.how_to_leave()?;
                }
                Ok(entry) => {
                    if let Err(err) = editor.add_history_entry(entry.as_str()) {
                        tracing::debug!("cannot add to the REPL history: {err}");
                    }
                    // Appending keeps what other sessions added meanwhile; the first time
                    // there is no file to append to.
                    let saved = if history.exists() {
                        editor.append_history(&history)
                    } else {
                        editor.save_history(&history)
                    };
                    if let Err(err) = saved {
                        tracing::debug!("cannot save the REPL history: {err}");
                    }
                    if self.handle(&entry)? == Flow::Quit {
                        return Ok(());
                    }
                }
                Err(rustyline::error::ReadlineError::Interrupted) => self.how_to_leave()?,
                Err(rustyline::error::ReadlineError::Eof) => return Ok(()),
                Err(err) => return Err(err).context("cannot read from the terminal"),
            }
        }
    }

    fn run_plain(&mut self) -> Result<()> {
        let stdin = io::stdin();
        let mut pending = String::new();
        for line in stdin.lock().lines() {
            let line = line.context("cannot read stdin")?;
            if !pending.is_empty() {
                pending.push('\n');
            }
            pending.push_str(&line);
            if needs_more(&pending, self.mode) {
                continue;
            }
            let entry = std::mem::take(&mut pending);
            if self.handle(&entry)? == Flow::Quit {
                return Ok(());
            }
        }
        if !pending.trim().is_empty() {
            self.handle(&pending)?;
        }
        Ok(())
    }

    fn prompt(&self) -> String {
        match self.mode {
            Mode::Chat => format!("chat {} › ", self.model),
            Mode::Script => "rhai › ".to_string(),
        }
    }

    fn update_vocabulary(&self) {
        if let Ok(mut vocabulary) = self.vocabulary.lock() {
            vocabulary.mode = Some(self.mode);
            vocabulary.functions = ScriptHost::shared()
                .docs()
                .iter()
                .map(|d| d.name.to_string())
                .collect();
            vocabulary.skills = Skills::discover(&self.home, &self.settings.config)
                .all()
                .iter()
                .filter(|skill| skill.user_invocable)
                .map(|skill| SkillHint {
                    name: skill.name.clone(),
                    usage: skill.usage.clone().unwrap_or_default(),
                    description: skill.description.clone(),
                })
                .collect();
            if let Some(session) = &self.script {
                vocabulary.variables = session.variables();
                vocabulary.functions.extend(session.functions());
            }
        }
    }

    /// Handles one entry; errors of the entry are printed, never end the REPL — nor does a
    /// bug that panics while handling it.
    fn handle(&mut self, text: &str) -> Result<Flow> {
        let handled =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.handle_entry(text)));
        handled.unwrap_or_else(|panic| {
            let what = crate::report::panic_message(panic.as_ref());
            tracing::info!("an entry failed with an internal error: {what}");
            self.say_error(&format!(
                "internal error (a bug in LocalGPT; the log has details): {what}"
            ));
            Ok(Flow::Continue)
        })
    }

    fn handle_entry(&mut self, text: &str) -> Result<Flow> {
        let result = match classify(text, self.mode) {
            Entry::Empty => Ok(Flow::Continue),
            Entry::Chat(message) if message.trim().is_empty() => Ok(Flow::Continue),
            Entry::Chat(message) => self.chat(&message).map(|()| Flow::Continue),
            Entry::Rhai(code) => self.rhai(&code).map(|()| Flow::Continue),
            Entry::Shell(command) => self.shell(&command).map(|()| Flow::Continue),
            Entry::Command { name, args } => match commands::find(&name) {
                Some(command) => (command.run)(self, &args),
                None if self.has_skill(&name) => self.run_skill(&name, &args),
                None => {
                    let hint = self
                        .nearest_command(&name)
                        .map(|n| format!("; did you mean /{n}?"))
                        .unwrap_or_default();
                    self.say_error(&format!(
                        "there is no command or skill /{name}{hint} (/help and /skills list them)"
                    ));
                    Ok(Flow::Continue)
                }
            },
        };
        match result {
            Ok(flow) => Ok(flow),
            Err(err) => {
                self.say_error(&format!("{err:#}"));
                Ok(Flow::Continue)
            }
        }
    }

    fn say_error(&self, message: &str) {
        let _ = writeln!(
            io::stderr().lock(),
            "{} {message}",
            self.err_style.error("error:")
        );
    }

    fn say(&self, message: &str) {
        let _ = writeln!(io::stdout().lock(), "{message}");
    }

    fn policy(&self) -> Result<Policy> {
        let cwd = std::env::current_dir().context("cannot tell the current folder")?;
        Ok(Policy::new(&self.home, &cwd, &self.settings.config.tools))
    }

    /// The agent for the current model, built on first use.
    fn ensure_agent(&mut self) -> Result<()> {
        if self.agent.is_none() {
            let policy = self.policy()?;
            let agent = {
                let _guard = self.runtime.enter();
                Agent::new(&self.home, &self.settings.config, &self.model, policy)?.for_person()
            };
            self.agent = Some(agent);
        }
        Ok(())
    }

    fn chat(&mut self, message: &str) -> Result<()> {
        // The first chat line on a machine with no model to answer it: offer the built-in one.
        if self.agent.is_none()
            && let Some(model) = crate::offer::answerable_model(
                &self.home,
                &self.settings,
                &self.model,
                self.interactive,
            )?
        {
            self.model = model;
        }
        self.ensure_agent()?;
        let Some(agent) = self.agent.as_mut() else {
            return Ok(());
        };
        let session = self
            .session
            .get_or_insert_with(|| Session::start(&self.home, &self.model, "repl"));
        self.cancel.reset();
        let mut observer = TerminalObserver::new(false, self.err_style, self.interactive)
            .with_cancel(self.cancel.clone());
        let auto_chosen =
            self.model == self.settings.model() && self.settings.model_chosen_automatically();
        if let Some(notice) = crate::provider::local::first_use_notice(
            &crate::models::models_dir(&self.home),
            &self.model,
            auto_chosen,
        ) {
            crate::agent::Observer::notice(&mut observer, notice);
        }
        let message = if self.attached.is_empty() {
            message.to_string()
        } else {
            let mut parts = std::mem::take(&mut self.attached);
            parts.push(message.to_string());
            parts.join("\n\n---\n\n")
        };
        let outcome =
            self.runtime
                .block_on(agent.turn(session, &message, &mut observer, &self.cancel));
        match outcome {
            Ok(report) => {
                self.usage.input_tokens += report.usage.input_tokens;
                self.usage.output_tokens += report.usage.output_tokens;
                if report.interrupted {
                    observer.finish_line();
                    writeln!(
                        io::stderr().lock(),
                        "{}",
                        self.err_style.dim(crate::conversation::INTERRUPTED)
                    )?;
                } else {
                    observer.finish_turn();
                }
                Ok(())
            }
            Err(err) => {
                observer.finish_line();
                Err(err.source.into())
            }
        }
    }

    fn run_context(&self, script_dir: std::path::PathBuf) -> Result<Arc<RunContext>> {
        Ok(Arc::new(self.door_context(script_dir)?))
    }

    /// The prompt's context for a script or skill run: the person's own code.
    fn door_context(&self, script_dir: std::path::PathBuf) -> Result<RunContext> {
        Ok(RunContext::new(
            self.home.clone(),
            self.settings.config.clone(),
            self.policy()?.for_own_code(),
            self.runtime.handle().clone(),
        )
        .with_model(self.model.clone())
        .with_cancel(self.cancel.clone())
        .with_script_dir(script_dir)
        .with_output(crate::script::context::stdout_lines())
        .with_stream(crate::script::context::stdout_raw())
        .with_confirm(
            self.interactive
                .then(crate::script::context::terminal_confirmer),
        ))
    }

    fn rhai(&mut self, code: &str) -> Result<()> {
        if self.script.is_none() {
            let cwd = std::env::current_dir().context("cannot tell the current folder")?;
            let run = self.run_context(cwd)?;
            self.script = Some(ScriptSession::new(ScriptHost::shared(), run));
        }
        let Some(session) = self.script.as_mut() else {
            return Ok(());
        };
        match session.eval(code) {
            Ok(Evaluated::Value(value)) if !value.is_unit() => self.say(&value.to_string()),
            Ok(Evaluated::Value(_)) => {}
            Ok(Evaluated::Exit(code)) => self.say(&format!(
                "(exit {code}: ends scripts; /quit leaves the REPL)"
            )),
            Err(err) => self.say_error(&err.message),
        }
        Ok(())
    }

    fn shell(&mut self, command: &str) -> Result<()> {
        let policy = self.policy()?.for_own_code().with_background_jobs();
        let timeout = std::time::Duration::from_secs(self.settings.config.tools.bash_timeout_secs);
        self.cancel.reset();
        let cancel = self.cancel.clone();
        let result = self.runtime.block_on(async {
            tokio::select! {
                result = crate::sandbox::run_command(command, &policy, timeout, true) => Some(result),
                () = cancel.cancelled() => None,
            }
        });
        match result {
            Some(Ok(result)) => {
                let mut out = io::stdout().lock();
                write!(out, "{}", result.stdout)?;
                if result.timed_out {
                    writeln!(
                        io::stderr().lock(),
                        "{}",
                        self.err_style
                            .dim(&format!("[stopped after {} s]", timeout.as_secs()))
                    )?;
                } else if result.status != 0 {
                    writeln!(
                        io::stderr().lock(),
                        "{}",
                        self.err_style.dim(&format!("[exit {}]", result.status))
                    )?;
                }
                Ok(())
            }
            Some(Err(crate::sandbox::CommandError::Refused(refusal))) => {
                Err(anyhow::anyhow!(refusal))
            }
            Some(Err(err)) => Err(anyhow::anyhow!("cannot run `{command}`: {err}")),
            None => {
                writeln!(
                    io::stderr().lock(),
                    "{}",
                    self.err_style.dim("[interrupted]")
                )?;
                Ok(())
            }
        }
    }
}
