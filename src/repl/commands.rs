//! The REPL's `/commands`, as one table: name, arguments, help, and the function that
//! runs it. `/help`, completion and hints all read this table.

use std::io::{self, Write};
use std::sync::Arc;

use anyhow::{Context as _, Result};

use super::Repl;
use super::line::Mode;
use crate::memory::{self, Freshness, Memory};
use crate::provider::Usage;
use crate::script::{Script, ScriptHost};

/// What the loop does after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    Continue,
    Quit,
}

pub(crate) struct ReplCommand {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    /// Shown after the name in help and hints, e.g. `[NAME]`.
    pub args: &'static str,
    pub help: &'static str,
    pub run: fn(&mut Repl, &str) -> Result<Flow>,
}

pub const COMMANDS: &[ReplCommand] = &[
    ReplCommand {
        name: "help",
        aliases: &["?"],
        args: "",
        help: "this list",
        run: Repl::cmd_help,
    },
    ReplCommand {
        name: "quit",
        aliases: &["exit", "q"],
        args: "",
        help: "leave (Ctrl-D works too)",
        run: Repl::cmd_quit,
    },
    ReplCommand {
        name: "new",
        aliases: &[],
        args: "",
        help: "start a new conversation",
        run: Repl::cmd_new,
    },
    ReplCommand {
        name: "model",
        aliases: &[],
        args: "[NAME]",
        help: "show the model, or switch to NAME",
        run: Repl::cmd_model,
    },
    ReplCommand {
        name: "mode",
        aliases: &[],
        args: "chat|script",
        help: "what plain lines are: chat turns, or Rhai (then `::` or /chat sends chat)",
        run: Repl::cmd_mode,
    },
    ReplCommand {
        name: "chat",
        aliases: &[],
        args: "TEXT",
        help: "send TEXT as a chat turn in any mode",
        run: Repl::cmd_chat,
    },
    ReplCommand {
        name: "memory",
        aliases: &["search"],
        args: "QUERY",
        help: "search memory",
        run: Repl::cmd_memory,
    },
    ReplCommand {
        name: "remember",
        aliases: &[],
        args: "TEXT",
        help: "file TEXT in MEMORY.md",
        run: Repl::cmd_remember,
    },
    ReplCommand {
        name: "run",
        aliases: &[],
        args: "FILE [ARGS]",
        help: "run a Rhai script",
        run: Repl::cmd_run,
    },
    ReplCommand {
        name: "skills",
        aliases: &[],
        args: "",
        help: "the skills you can run as /NAME",
        run: Repl::cmd_skills,
    },
    ReplCommand {
        name: "tools",
        aliases: &[],
        args: "",
        help: "the tools the model can use",
        run: Repl::cmd_tools,
    },
    ReplCommand {
        name: "mcp",
        aliases: &[],
        args: "[tools [SERVER] | read SERVER URI]",
        help: "MCP servers; their tools; attach a resource to your next message",
        run: Repl::cmd_mcp,
    },
    ReplCommand {
        name: "status",
        aliases: &[],
        args: "",
        help: "model, mode, session and tokens used",
        run: Repl::cmd_status,
    },
    ReplCommand {
        name: "clear",
        aliases: &[],
        args: "",
        help: "clear the screen",
        run: Repl::cmd_clear,
    },
    ReplCommand {
        name: "sessions",
        aliases: &[],
        args: "",
        help: "saved conversations",
        run: Repl::cmd_sessions,
    },
    ReplCommand {
        name: "resume",
        aliases: &[],
        args: "ID",
        help: "continue a saved conversation",
        run: Repl::cmd_resume,
    },
    ReplCommand {
        name: "compact",
        aliases: &[],
        args: "",
        help: "summarise the conversation to free context",
        run: Repl::cmd_compact,
    },
];

pub fn find(name: &str) -> Option<&'static ReplCommand> {
    COMMANDS
        .iter()
        .find(|command| command.name == name || command.aliases.contains(&name))
}

impl Repl {
    fn cmd_help(&mut self, _args: &str) -> Result<Flow> {
        let mut text = String::from(
            "Plain lines chat with the model (end a line with \\ to go on). `:code` runs Rhai, `!cmd` the shell.\n",
        );
        for command in COMMANDS {
            let usage = format!("/{} {}", command.name, command.args);
            text.push_str(&format!("  {usage:<22} {}\n", command.help));
        }
        self.say(text.trim_end());
        Ok(Flow::Continue)
    }

    fn cmd_quit(&mut self, _args: &str) -> Result<Flow> {
        Ok(Flow::Quit)
    }

    fn cmd_new(&mut self, _args: &str) -> Result<Flow> {
        self.leave_trace();
        if let Some(agent) = self.agent.as_mut() {
            agent.restart_trace();
        }
        self.trace_floor = 0;
        self.session = None;
        self.usage = Usage::default();
        self.say("new conversation");
        Ok(Flow::Continue)
    }

    fn cmd_model(&mut self, args: &str) -> Result<Flow> {
        if args.is_empty() {
            let route = crate::provider::resolve_model(&self.model, &self.settings.config);
            self.say(&format!("{} (via {})", self.model, route.provider));
            return Ok(Flow::Continue);
        }
        self.model = args.to_string();
        // The next chat builds the agent for the new model; the conversation goes on.
        self.agent = None;
        self.say(&format!("model: {}", self.model));
        Ok(Flow::Continue)
    }

    fn cmd_mode(&mut self, args: &str) -> Result<Flow> {
        self.mode = match args {
            "chat" => Mode::Chat,
            "script" | "rhai" => Mode::Script,
            "" => {
                self.say(match self.mode {
                    Mode::Chat => "chat",
                    Mode::Script => "script",
                });
                return Ok(Flow::Continue);
            }
            other => anyhow::bail!("there is no mode `{other}`; use /mode chat or /mode script"),
        };
        Ok(Flow::Continue)
    }

    fn cmd_chat(&mut self, args: &str) -> Result<Flow> {
        self.chat(args)?;
        Ok(Flow::Continue)
    }

    fn cmd_memory(&mut self, args: &str) -> Result<Flow> {
        if args.is_empty() {
            anyhow::bail!("what to search for? /memory QUERY");
        }
        // The same search as every other door: by meaning too, when the model is there.
        let embedder = self.embedder.get(&self.home, &self.settings.config);
        let memory = self.memory_mut()?;
        let hits = memory.search_best(args, 8, Freshness::Quick, embedder.as_deref())?;
        for notice in memory.take_notices() {
            self.say_error(&notice);
        }
        if hits.is_empty() {
            self.say(&format!("nothing in memory matches {args:?}"));
        }
        for hit in hits {
            self.say(&format!(
                "{}  {}\n    {}",
                self.style
                    .bold(&format!("{}:{}-{}", hit.path, hit.start_line, hit.end_line)),
                self.style.dim(&hit.heading),
                hit.snippet_marked("**", "**").replace('\n', "\n    ")
            ));
        }
        Ok(Flow::Continue)
    }

    /// The memory index, opened on first use.
    fn memory_mut(&mut self) -> Result<&mut Memory> {
        if self.memory.is_none() {
            self.memory = Some(Memory::open(
                &self.home,
                &self.settings.config.memory,
                memory::today(),
            )?);
        }
        self.memory
            .as_mut()
            .context("the memory index could not be opened")
    }

    /// Indexes (and embeds) a note just written; the note is saved whatever happens here.
    fn index_written(&mut self, path: &std::path::Path) {
        let embedder = self.embedder.get(&self.home, &self.settings.config);
        let indexed = self
            .memory_mut()
            .and_then(|memory| Ok(memory.note_written(path, embedder.as_deref())?));
        if let Err(err) = indexed {
            tracing::warn!("{} was saved but not indexed yet: {err:#}", path.display());
        }
    }

    fn cmd_remember(&mut self, args: &str) -> Result<Flow> {
        if args.is_empty() {
            anyhow::bail!("what to remember? /remember TEXT");
        }
        memory::append_to_memory(&self.home, "Notes", &format!("- {args}"))
            .context("cannot write MEMORY.md")?;
        let file = self.home.memory_file();
        self.index_written(&file);
        self.say("saved to MEMORY.md");
        Ok(Flow::Continue)
    }

    fn cmd_run(&mut self, args: &str) -> Result<Flow> {
        let mut words = args.split_whitespace();
        let Some(file) = words.next() else {
            anyhow::bail!("which script? /run FILE [ARGS]");
        };
        let path = std::path::PathBuf::from(file);
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {file}"))?;
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .map_or_else(
                || std::path::PathBuf::from("."),
                std::path::Path::to_path_buf,
            );
        let run = self.run_context(dir)?;
        self.cancel.reset();
        let script = Script {
            name: file.to_string(),
            text,
            args: words.map(String::from).collect(),
        };
        if let Err(err) = ScriptHost::shared().run(&run, &script) {
            self.say_error(&err.message);
        }
        Ok(Flow::Continue)
    }

    fn cmd_tools(&mut self, _args: &str) -> Result<Flow> {
        for spec in crate::agent::tools::Registry::builtin().specs() {
            self.say(&format!("{:<14} {}", spec.name, spec.description));
        }
        if !self.settings.config.mcp.servers.is_empty() {
            self.say("and the MCP servers' tools: /mcp tools");
        }
        self.say(&format!("approval: {:?}", self.settings.config.tools.approval).to_lowercase());
        Ok(Flow::Continue)
    }

    fn cmd_mcp(&mut self, args: &str) -> Result<Flow> {
        let hub = crate::mcp::Hub::global(&self.settings.config);
        let words: Vec<&str> = args.split_whitespace().collect();
        match words.as_slice() {
            [] => {
                if hub.servers().is_empty() {
                    self.say("no MCP servers are configured ([mcp.servers.NAME] in config.toml)");
                }
                let opened = self.runtime.block_on(hub.connect_all());
                for server in hub.servers() {
                    let state = match opened.iter().find(|(s, _)| Arc::ptr_eq(s, server)) {
                        None => self.style.dim("disabled"),
                        Some((_, Ok(connection))) => format!(
                            "{} tools, {} prompts, {} resources",
                            connection.tools.len(),
                            connection.prompts.len(),
                            connection.resources.len()
                        ),
                        Some((_, Err(reason))) => self.style.error(reason),
                    };
                    self.say(&format!("{}  {state}", self.style.bold(&server.name)));
                }
            }
            ["tools", rest @ ..] => {
                let only = rest.first().copied();
                let opened = self.runtime.block_on(hub.connect_all());
                let mut running = Vec::new();
                for (server, opened) in opened {
                    match opened {
                        Ok(connection) => running.push((server, connection)),
                        Err(reason) => self.say_error(&reason),
                    }
                }
                for tool in crate::mcp::client::offered(&running) {
                    if only.is_some_and(|name| name != tool.server.name) {
                        continue;
                    }
                    let description = tool.entry().tool.description.clone().unwrap_or_default();
                    let first = description.lines().next().unwrap_or_default().to_string();
                    self.say(&format!(
                        "{}  {}",
                        self.style.bold(&tool.name),
                        crate::truncate::ellipsize(first.trim(), 90)
                    ));
                }
            }
            ["read", server, uri] => {
                let result = self
                    .runtime
                    .block_on(hub.read(server, uri))
                    .map_err(|err| anyhow::anyhow!(err))?;
                let text: Vec<String> = result
                    .contents
                    .iter()
                    .map(crate::mcp::client::render::resource)
                    .collect();
                let text = text.join("\n");
                self.say(&format!(
                    "attached {uri} from {server} ({} characters); it goes with your next message",
                    text.chars().count()
                ));
                self.attached.push(format!(
                    "Here is {uri} from the MCP server `{server}`, which I attached:\n\n{text}"
                ));
            }
            _ => anyhow::bail!("/mcp, /mcp tools [SERVER] or /mcp read SERVER URI"),
        }
        Ok(Flow::Continue)
    }

    fn cmd_status(&mut self, _args: &str) -> Result<Flow> {
        let messages = self.session.as_ref().map_or(&[][..], |s| s.messages());
        let session = self
            .session
            .as_ref()
            .and_then(|s| s.id())
            .unwrap_or("(none yet)");
        let route = crate::provider::resolve_model(&self.model, &self.settings.config);
        let window =
            crate::agent::context::context_window(&self.settings.config, &self.model, &route.model);
        let context = crate::agent::context::estimate_messages(messages);
        self.say(&format!(
            "model    {}\nmode     {}\nsession  {session}\nmessages {}\ncontext  ~{context} of {window} tokens ({:.0}%)\ntokens   {} in, {} out",
            self.model,
            match self.mode {
                Mode::Chat => "chat",
                Mode::Script => "script",
            },
            messages.len(),
            context as f64 * 100.0 / window as f64,
            self.usage.input_tokens,
            self.usage.output_tokens
        ));
        Ok(Flow::Continue)
    }

    fn cmd_clear(&mut self, _args: &str) -> Result<Flow> {
        if self.interactive {
            print!("\x1b[2J\x1b[H");
            io::stdout().flush()?;
        }
        Ok(Flow::Continue)
    }

    fn cmd_sessions(&mut self, _args: &str) -> Result<Flow> {
        let listed = crate::session::Sessions::new(&self.home).list(10)?;
        if listed.is_empty() {
            self.say("no saved sessions yet");
        }
        for (entry, loaded) in listed {
            self.say(&format!(
                "{}  {:>3} turns  {}",
                entry.id, loaded.turns, loaded.title
            ));
        }
        Ok(Flow::Continue)
    }

    fn cmd_resume(&mut self, args: &str) -> Result<Flow> {
        if args.is_empty() {
            anyhow::bail!("which session? /resume ID (any unique prefix, or `last`)");
        }
        self.resume(args)?;
        Ok(Flow::Continue)
    }

    fn cmd_compact(&mut self, _args: &str) -> Result<Flow> {
        self.ensure_agent()?;
        let Some(agent) = self.agent.as_mut() else {
            return Ok(Flow::Continue);
        };
        let Some(session) = self.session.as_mut() else {
            self.say("nothing to compact yet");
            return Ok(Flow::Continue);
        };
        let outcome = self.runtime.block_on(agent.compact(session));
        self.say(&match outcome {
            crate::agent::Compacted::Nothing => "nothing to compact yet".to_string(),
            crate::agent::Compacted::Summarised { replaced } => {
                format!("compacted: {replaced} earlier messages are now a summary")
            }
            crate::agent::Compacted::Dropped { dropped, reason } => {
                format!("could not summarise ({reason}); dropped the {dropped} oldest messages")
            }
        });
        Ok(Flow::Continue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_found_by_name_or_alias() {
        assert_eq!(find("exit").map(|c| c.name), Some("quit"));
        assert_eq!(find("model").map(|c| c.name), Some("model"));
        assert!(find("nope").is_none());
    }
}
