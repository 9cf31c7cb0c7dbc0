//! The system prompt: who the assistant is, the date and time, the workspace's persona
//! files (SOUL.md, USER.md, IDENTITY.md, AGENTS.md, TOOLS.md, as OpenClaw workspaces have
//! them), MEMORY.md, today's and yesterday's daily logs, and the tools. Each part is
//! capped, cut on a character boundary, so one huge file cannot crowd out the rest.

use chrono::{DateTime, Days, Local};

use crate::home::Home;
use crate::provider::ToolSpec;

/// The most of one file that goes into the prompt, in characters.
const PART_LIMIT: usize = 12_000;

const PERSONA_FILES: [&str; 5] = ["SOUL.md", "IDENTITY.md", "USER.md", "AGENTS.md", "TOOLS.md"];

const IDENTITY: &str = "You are LocalGPT, a personal assistant that runs on the user's own \
machine. You have a persistent memory of Markdown files; what matters most of it is below.";

/// Said only to a model that has the memory tools: one without them (the Claude CLI,
/// `ask --no-tools`) must not be told to call tools it does not have.
const MEMORY_TOOLS: &str = " Search your memory with memory_search before answering questions \
about the user, their projects or past conversations, and save durable facts, decisions and \
preferences with memory_save.";

const TOOL_MANNERS: &str = " Use tools when they help; say plainly when something failed.";

/// What a small model without tools (the built-in one) is told.
const SMALL_IDENTITY: &str = "You are LocalGPT, a helpful assistant running offline on the \
user's own computer. Answer briefly and plainly.";

/// Of MEMORY.md, only this much goes to a small model: its whole context is 4,096
/// tokens, and every prompt token costs it time on the CPU.
const SMALL_MEMORY_LIMIT: usize = 1_500;

/// The short prompt for a small local model with no tools: who it is, today's date (no
/// time, so the prompt stays the same all day and the model's cache of it stays
/// valid) and the start of MEMORY.md.
pub(crate) fn small_model_prompt(home: &Home, now: DateTime<Local>) -> String {
    let mut prompt = String::from(SMALL_IDENTITY);
    prompt.push_str(&format!(" Today is {}.", now.format("%A %Y-%m-%d")));
    if let Some(bytes) = home.read_workspace_file("MEMORY.md") {
        // The starter file's own lines (its explanation, empty headings) are no news to
        // the model and cost it time: only what the person added goes in.
        let text = String::from_utf8_lossy(&bytes);
        let starter: std::collections::HashSet<&str> =
            crate::home::STARTER_MEMORY.lines().map(str::trim).collect();
        let added: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !starter.contains(line))
            .collect();
        let text = added.join("\n");
        if !text.is_empty() {
            prompt.push_str("\n\nWhat you know about the user:\n");
            prompt.push_str(&crate::truncate::cut_chars(&text, SMALL_MEMORY_LIMIT, " …"));
        }
    }
    prompt
}

/// `skills` is the rendered skills section (empty when the model has no tools).
pub(crate) fn system_prompt(
    home: &Home,
    now: DateTime<Local>,
    tools: &[ToolSpec],
    skills: &str,
) -> String {
    let mut prompt = String::from(IDENTITY);
    let has = |name: &str| tools.iter().any(|tool| tool.name == name);
    if has("memory_search") && has("memory_save") {
        prompt.push_str(MEMORY_TOOLS);
    }
    if !tools.is_empty() {
        prompt.push_str(TOOL_MANNERS);
    }
    prompt.push_str(" Be concise.");
    prompt.push_str(&format!(
        "\n\nNow: {} (local time, {}).",
        now.format("%A %Y-%m-%d %H:%M"),
        now.format("%Z")
    ));
    for name in PERSONA_FILES {
        push_file(&mut prompt, name, home, name);
    }
    push_file(
        &mut prompt,
        "MEMORY.md (long-term memory)",
        home,
        "MEMORY.md",
    );
    let today = now.date_naive();
    for (label, day) in [
        ("yesterday", today.checked_sub_days(Days::new(1))),
        ("today", Some(today)),
    ] {
        if let Some(day) = day {
            let date = day.format("%Y-%m-%d").to_string();
            let title = format!("memory/{date}.md (daily log, {label})");
            push_file(&mut prompt, &title, home, &format!("memory/{date}.md"));
        }
    }
    if !tools.is_empty() {
        prompt.push_str("\n\n## Tools\n");
        for tool in tools {
            prompt.push_str(&format!("- {}: {}\n", tool.name, tool.description));
        }
    }
    prompt.push_str(skills);
    prompt
}

fn push_file(prompt: &mut String, title: &str, home: &Home, relative: &str) {
    let Some(bytes) = home.read_workspace_file(relative) else {
        return;
    };
    let text = String::from_utf8_lossy(&bytes);
    let text = text.trim();
    if text.is_empty() {
        return;
    }
    prompt.push_str(&format!("\n\n## {title}\n\n{}", cap(text, PART_LIMIT)));
}

/// At most `limit` characters, cut on a character boundary, saying so when cut.
pub(crate) fn cap(text: &str, limit: usize) -> String {
    crate::truncate::cut_chars(text, limit, "\n[… cut here: the file is longer]")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_small_model_prompt_is_short_and_stable_within_a_day() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        home.ensure("").unwrap();
        std::fs::write(
            home.memory_file(),
            format!("I prefer tea.\n{}", "ü".repeat(5_000)),
        )
        .unwrap();
        let morning = Local.with_ymd_and_hms(2026, 11, 24, 9, 30, 0).unwrap();
        let evening = Local.with_ymd_and_hms(2026, 11, 24, 21, 5, 0).unwrap();
        let prompt = small_model_prompt(&home, morning);
        assert_eq!(prompt, small_model_prompt(&home, evening));
        assert!(prompt.contains("Tuesday 2026-11-24"), "{prompt}");
        assert!(prompt.contains("I prefer tea."));
        assert!(!prompt.contains("memory_search"), "no tools to mention");
        assert!(prompt.chars().count() < 1_800, "{}", prompt.chars().count());
        // The untouched starter file adds nothing.
        std::fs::write(home.memory_file(), crate::home::STARTER_MEMORY).unwrap();
        let prompt = small_model_prompt(&home, morning);
        assert!(!prompt.contains("What you know"), "{prompt}");
    }

    #[test]
    fn the_prompt_holds_memory_logs_persona_and_tools() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        home.ensure("").unwrap();
        std::fs::write(home.memory_file(), "I prefer tea.").unwrap();
        std::fs::write(home.workspace().join("SOUL.md"), "Be warm.").unwrap();
        std::fs::write(home.daily_log("2026-11-23"), "yesterday's note").unwrap();
        std::fs::write(home.daily_log("2026-11-24"), "é".repeat(20_000)).unwrap();
        let now = Local.with_ymd_and_hms(2026, 11, 24, 9, 30, 0).unwrap();
        let tools = [ToolSpec {
            name: "bash".into(),
            description: "run".into(),
            parameters: serde_json::json!({}),
        }];
        let prompt = system_prompt(&home, now, &tools, "\n\n## Skills\n- commit: c\n");
        for part in [
            "I prefer tea.",
            "Be warm.",
            "yesterday's note",
            "2026-11-24",
            "- bash: run",
            "- commit: c",
            "cut here",
        ] {
            assert!(prompt.contains(part), "missing {part}");
        }
        assert!(prompt.len() < 60_000);
        assert!(
            !prompt.contains("memory_search"),
            "no memory tools were given"
        );
        // A model without tools is told of none.
        let bare = system_prompt(&home, now, &[], "");
        assert!(
            !bare.contains("memory_s") && !bare.contains("Use tools"),
            "{bare}"
        );
        let memory_tools: Vec<ToolSpec> = ["memory_search", "memory_save"]
            .iter()
            .map(|name| ToolSpec {
                name: name.to_string(),
                description: "m".into(),
                parameters: serde_json::json!({}),
            })
            .collect();
        assert!(system_prompt(&home, now, &memory_tools, "").contains("memory_search before"));
    }
}
