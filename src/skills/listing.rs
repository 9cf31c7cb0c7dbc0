//! The skills section of the model's system prompt. Every skill the model may run is
//! named — a skill it never hears of might as well not exist — and the descriptions share
//! what is left of `skills.prompt_max_chars`, each cut to the same length when they do
//! not all fit.

use super::{Skill, Skills};

const HEADER: &str = "\n\n## Skills\nWhen a request matches a skill's description (or the \
user types /name), run it with run_skill.\n";

/// Descriptions are never longer than this, whatever the budget.
const LONGEST_DESCRIPTION: usize = 300;

impl Skills {
    /// The system prompt's list of skills the model may run, within `max_chars` where the
    /// names allow (they are always all there).
    pub fn prompt_section(&self, max_chars: usize) -> String {
        let available: Vec<&Skill> = self.for_model().collect();
        if available.is_empty() {
            return String::new();
        }
        let width = description_width(&available, max_chars);
        let mut section = String::from(HEADER);
        for skill in available {
            let description = if width == 0 {
                String::new()
            } else {
                crate::truncate::ellipsize(skill.description.trim(), width)
            };
            if description.is_empty() {
                section.push_str(&format!("- {}\n", skill.name));
            } else {
                section.push_str(&format!("- {}: {description}\n", skill.name));
            }
        }
        section
    }
}

/// The longest description (in characters) every skill may have so that the section fits
/// in `max_chars`; 0 when only the names fit.
fn description_width(skills: &[&Skill], max_chars: usize) -> usize {
    let length = |skill: &Skill| skill.description.trim().chars().count();
    let size = |width: usize| -> usize {
        HEADER.chars().count()
            + skills
                .iter()
                .map(|skill| {
                    // A cut description ends in `…`.
                    let whole = length(skill);
                    let shown = match width {
                        0 => 0,
                        _ if whole > width => width + 1,
                        _ => whole,
                    };
                    // "- name\n", plus ": description" when there is one.
                    3 + skill.name.chars().count() + if shown > 0 { 2 + shown } else { 0 }
                })
                .sum::<usize>()
    };
    let (mut low, mut high) = (0, LONGEST_DESCRIPTION);
    if size(high) <= max_chars {
        return high;
    }
    // The widest width that fits: size grows with width.
    while low < high {
        let middle = (low + high).div_ceil(2);
        if size(middle) <= max_chars {
            low = middle;
        } else {
            high = middle - 1;
        }
    }
    // A description cut to a few characters says nothing; names alone say more.
    if low < 12 { 0 } else { low }
}
