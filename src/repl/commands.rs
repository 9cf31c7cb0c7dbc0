//! The REPL's `/commands`, as one table: name, arguments, help, and the function that
//! runs it. `/help`, completion and hints all read this table.

use anyhow::Result;

use super::Repl;

/// What the loop does after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Quit,
}

pub struct ReplCommand {
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
        name: "tools",
        aliases: &[],
        args: "",
        help: "the tools the model can use",
        run: Repl::cmd_tools,
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

/// The command nearest to a mistyped one, if any is close.
pub fn nearest(name: &str) -> Option<&'static str> {
    COMMANDS
        .iter()
        .map(|command| (strsim::jaro_winkler(name, command.name), command.name))
        .filter(|(score, _)| *score >= 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, name)| name)
}

/// The capability a command waits for, for commands that later issues wire.
pub fn arrives_with(name: &str) -> &'static str {
    match name {
        "compact" => "automatic context compaction",
        _ => "session transcripts (listing and resuming)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_found_by_name_or_alias_and_typos_get_a_suggestion() {
        assert_eq!(find("exit").map(|c| c.name), Some("quit"));
        assert_eq!(find("model").map(|c| c.name), Some("model"));
        assert!(find("nope").is_none());
        assert_eq!(nearest("modell"), Some("model"));
        assert_eq!(nearest("statsu"), Some("status"));
        assert_eq!(nearest("zzzzzz"), None);
    }
}
