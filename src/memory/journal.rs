//! Writing to memory: timestamped entries in today's daily log, and notes filed under a
//! heading in MEMORY.md. These are the only functions that ever change a Markdown file,
//! and both go through the home folder's locked writers so the prompt, scripts and the
//! daemon can write at once without losing anything.

use std::io;
use std::path::PathBuf;

use chrono::{DateTime, Local};

use super::chunk::{Fence, atx_heading};
use crate::home::{Home, append_locked_with, update_locked};

/// Appends `text` to the daily log of `now`'s date under a `## HH:MM` heading, creating
/// the file with a `# YYYY-MM-DD` title. Returns the file's path.
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// use chrono::{Local, TimeZone};
/// let home = localgpt::home::Home::at(dir.path());
/// # std::fs::create_dir_all(home.daily_log_dir())?;
/// let now = Local.with_ymd_and_hms(2026, 11, 24, 9, 30, 0).unwrap();
/// let path = localgpt::memory::append_daily(&home, now, "Launch moved to Friday.")?;
/// assert_eq!(
///     std::fs::read_to_string(path)?,
///     "# 2026-11-24\n\n## 09:30\nLaunch moved to Friday.\n"
/// );
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn append_daily(home: &Home, now: DateTime<Local>, text: &str) -> io::Result<PathBuf> {
    let date = now.format("%Y-%m-%d").to_string();
    let time = now.format("%H:%M");
    let path = workspace_file(home, &format!("memory/{date}.md"))?;
    let body = text.trim_end();
    append_locked_with(&path, |empty| {
        if empty {
            format!("# {date}\n\n## {time}\n{body}\n")
        } else {
            format!("\n## {time}\n{body}\n")
        }
    })?;
    Ok(path)
}

/// Files `text` in MEMORY.md at the end of the section titled `heading` (any level,
/// compared without regard to case), creating a `## heading` section at the end when
/// there is none.
pub(crate) fn append_to_memory(home: &Home, heading: &str, text: &str) -> io::Result<()> {
    update_locked(&workspace_file(home, "MEMORY.md")?, |old| {
        insert_under_heading(old, heading, text)
    })
}

/// Files `line` in MEMORY.md under `heading` unless the file already holds `key` (the
/// same fact, said again); returns whether it was written.
pub(crate) fn append_to_memory_once(
    home: &Home,
    heading: &str,
    line: &str,
    key: &str,
) -> io::Result<bool> {
    let mut written = false;
    update_locked(&workspace_file(home, "MEMORY.md")?, |old| {
        if old.contains(key) {
            return old.to_string();
        }
        written = true;
        insert_under_heading(old, heading, line)
    })?;
    Ok(written)
}

/// Appends `lines` (as list items) to the daily log of `now`'s date under a
/// `## HH:MM · label` heading — those not already in it; returns the log's path and how
/// many were new. The check and the write hold the file's lock.
pub(crate) fn append_daily_once(
    home: &Home,
    now: DateTime<Local>,
    label: &str,
    lines: &[String],
) -> io::Result<(PathBuf, usize)> {
    let date = now.format("%Y-%m-%d").to_string();
    let path = workspace_file(home, &format!("memory/{date}.md"))?;
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder)?;
    }
    let mut new = 0;
    update_locked(&path, |old| {
        let fresh: Vec<&String> = lines
            .iter()
            .filter(|line| {
                !old.lines()
                    .any(|kept| kept.trim_start_matches("- ") == line.as_str())
            })
            .collect();
        new = fresh.len();
        if fresh.is_empty() {
            return old.to_string();
        }
        let mut text = if old.is_empty() {
            format!("# {date}\n")
        } else {
            old.trim_end_matches('\n').to_string() + "\n"
        };
        text.push_str(&format!("\n## {} · {label}\n", now.format("%H:%M")));
        for line in fresh {
            text.push_str(&format!("- {line}\n"));
        }
        text
    })?;
    Ok((path, new))
}

/// Where a memory file really is: never through a link that leads out of the workspace
/// (an appended note would land in `~/.bashrc`).
fn workspace_file(home: &Home, relative: &str) -> io::Result<PathBuf> {
    home.workspace_file(relative)
        .map_err(|err| io::Error::new(io::ErrorKind::InvalidInput, err.to_string()))
}

pub(super) fn insert_under_heading(document: &str, heading: &str, text: &str) -> String {
    let lines: Vec<&str> = document.lines().collect();
    let wanted = heading.trim();
    let mut fence: Option<Fence> = None;
    let mut section: Option<(usize, usize)> = None; // (level, index of heading line)
    let mut end = lines.len();
    for (index, line) in lines.iter().enumerate() {
        if let Some(open) = &fence {
            if open.is_closed_by(line) {
                fence = None;
            }
            continue;
        }
        if let Some(open) = Fence::opening(line) {
            fence = Some(open);
            continue;
        }
        let Some((level, title)) = atx_heading(line) else {
            continue;
        };
        match section {
            None if title.eq_ignore_ascii_case(wanted) => section = Some((level, index)),
            Some((open_level, _)) if level <= open_level => {
                end = index;
                break;
            }
            _ => {}
        }
    }
    let body = text.trim_end();
    let Some(_) = section else {
        let mut out = document.trim_end().to_string();
        if !out.is_empty() {
            out.push_str("\n\n");
        }
        out.push_str(&format!("## {wanted}\n\n{body}\n"));
        return out;
    };
    // Insert after the section's last non-blank line, keeping one blank line before the
    // next heading.
    let mut insert_at = end;
    while insert_at > 0 && lines[insert_at - 1].trim().is_empty() {
        insert_at -= 1;
    }
    let mut out: Vec<&str> = Vec::with_capacity(lines.len() + 3);
    out.extend(&lines[..insert_at]);
    out.push(body);
    if end < lines.len() {
        out.push("");
        out.extend(&lines[end..]);
    }
    let mut joined = out.join("\n");
    joined.push('\n');
    joined
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn daily_entries_share_one_title() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        std::fs::create_dir_all(home.daily_log_dir()).unwrap();
        let at = |h, m| Local.with_ymd_and_hms(2026, 11, 24, h, m, 0).unwrap();
        append_daily(&home, at(9, 5), "first\n").unwrap();
        let path = append_daily(&home, at(17, 45), "second").unwrap();
        assert_eq!(
            std::fs::read_to_string(path).unwrap(),
            "# 2026-11-24\n\n## 09:05\nfirst\n\n## 17:45\nsecond\n"
        );
    }

    #[test]
    fn files_a_note_at_the_end_of_its_section() {
        let doc = "# Memory\n\n## Preferences\n- tea\n\n## Projects\n- localgpt\n";
        let out = insert_under_heading(doc, "preferences", "- short answers");
        assert_eq!(
            out,
            "# Memory\n\n## Preferences\n- tea\n- short answers\n\n## Projects\n- localgpt\n"
        );
    }

    #[test]
    fn subsections_stay_inside_their_section() {
        let doc = "## Projects\n- a\n### Ideas\n- b\n## Other\n";
        let out = insert_under_heading(doc, "Projects", "- c");
        assert_eq!(out, "## Projects\n- a\n### Ideas\n- b\n- c\n\n## Other\n");
    }

    #[test]
    fn a_missing_section_is_added_at_the_end() {
        assert_eq!(
            insert_under_heading("", "Facts", "- x"),
            "## Facts\n\n- x\n"
        );
        assert_eq!(
            insert_under_heading("# Memory\n", "Facts", "- x"),
            "# Memory\n\n## Facts\n\n- x\n"
        );
    }

    #[test]
    fn headings_inside_code_blocks_are_ignored() {
        let doc = "```\n## Facts\n```\n";
        let out = insert_under_heading(doc, "Facts", "- x");
        assert_eq!(out, "```\n## Facts\n```\n\n## Facts\n\n- x\n");
    }
}
