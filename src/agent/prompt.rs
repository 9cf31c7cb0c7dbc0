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
machine. You have a persistent memory of Markdown files: search it with memory_search \
before answering questions about the user, their projects or past conversations, and save \
durable facts, decisions and preferences with memory_save. Use tools when they help; say \
plainly when something failed. Be concise.";

/// `skills` is the rendered skills section (empty when the model has no tools).
pub fn system_prompt(
    home: &Home,
    now: DateTime<Local>,
    tools: &[ToolSpec],
    skills: &str,
) -> String {
    let mut prompt = String::from(IDENTITY);
    prompt.push_str(&format!(
        "\n\nNow: {} (local time, {}).",
        now.format("%A %Y-%m-%d %H:%M"),
        now.format("%Z")
    ));
    for name in PERSONA_FILES {
        push_file(&mut prompt, name, &home.workspace().join(name));
    }
    push_file(
        &mut prompt,
        "MEMORY.md (long-term memory)",
        &home.memory_file(),
    );
    let today = now.date_naive();
    for (label, day) in [
        ("yesterday", today.checked_sub_days(Days::new(1))),
        ("today", Some(today)),
    ] {
        if let Some(day) = day {
            let date = day.format("%Y-%m-%d").to_string();
            let title = format!("memory/{date}.md (daily log, {label})");
            push_file(&mut prompt, &title, &home.daily_log(&date));
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

fn push_file(prompt: &mut String, title: &str, path: &std::path::Path) {
    let Ok(bytes) = std::fs::read(path) else {
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
pub fn cap(text: &str, limit: usize) -> String {
    crate::truncate::cut_chars(text, limit, "\n[… cut here: the file is longer]")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

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
    }
}
