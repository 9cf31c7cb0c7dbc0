//! Splitting Markdown into search chunks.
//!
//! A file is cut at its ATX headings (`#` … `######`) into sections, each knowing its
//! heading path ("Projects › LocalGPT › Ideas"). A section longer than the target size is
//! packed paragraph by paragraph into several chunks, the last short paragraph of one
//! repeated at the start of the next so that a thought split across the cut is still found
//! whole. A fenced code block is never cut: it is one unit, however long.
//!
//! A list item is a note of its own — a daily log entry's bullets are often about
//! different things ("paid the rent", "Ana moved to Braga"), and one chunk for all of
//! them would be found, embedded and recalled as a blur of all.

/// About 400 tokens at ~4 characters a token.
pub(crate) const TARGET_CHARS: usize = 1600;
/// The most a chunk repeats of the previous one.
pub(crate) const OVERLAP_CHARS: usize = 320;

/// Separates the levels of a heading path.
pub(crate) const HEADING_SEPARATOR: &str = " › ";

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Chunk {
    /// 1-based, inclusive; the first chunk of a section starts at its heading line.
    pub start_line: usize,
    pub end_line: usize,
    /// The headings above this chunk, outermost first, joined by [`HEADING_SEPARATOR`].
    pub heading: String,
    /// The body, without the heading line itself.
    pub text: String,
}

/// A run of lines that is never split: a paragraph, a list, or a fenced code block.
#[derive(Debug, Clone)]
struct Block {
    start_line: usize,
    end_line: usize,
    text: String,
    is_code: bool,
}

struct Section {
    heading_line: Option<usize>,
    /// The heading's level (1 for `#`); 0 before the first heading.
    level: usize,
    heading: String,
    blocks: Vec<Block>,
}

/// Splits `text` into chunks. Every non-blank line of the file is in at least one chunk,
/// but for the headings of sections that hold only subsections: those are in their
/// subsections' heading paths.
pub(crate) fn chunk_markdown(text: &str) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    let sections = sections(text);
    for (index, section) in sections.iter().enumerate() {
        // A heading whose text is all in subsections (a daily log's `# 2026-11-02` over
        // its `## 09:30` entries) is no note of its own: its title is in their heading
        // paths. Alone, it would be found (and embedded) as if it said something.
        let has_subsections = sections
            .get(index + 1)
            .is_some_and(|next| next.level > section.level);
        if section.blocks.is_empty() && has_subsections {
            continue;
        }
        pack_section(section, &mut chunks);
    }
    chunks
}

fn sections(text: &str) -> Vec<Section> {
    let mut sections = vec![Section {
        heading_line: None,
        level: 0,
        heading: String::new(),
        blocks: Vec::new(),
    }];
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut fence: Option<Fence> = None;
    let mut block: Option<Block> = None;

    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        if let Some(open) = &fence {
            push_line(&mut block, number, line, true);
            if open.is_closed_by(line) {
                fence = None;
                flush(&mut block, &mut sections);
            }
            continue;
        }
        if let Some(open) = Fence::opening(line) {
            flush(&mut block, &mut sections);
            fence = Some(open);
            push_line(&mut block, number, line, true);
            continue;
        }
        if let Some((level, title)) = atx_heading(line) {
            flush(&mut block, &mut sections);
            while stack.last().is_some_and(|(depth, _)| *depth >= level) {
                stack.pop();
            }
            stack.push((level, title));
            let heading = stack
                .iter()
                .map(|(_, title)| title.as_str())
                .filter(|title| !title.is_empty())
                .collect::<Vec<_>>()
                .join(HEADING_SEPARATOR);
            sections.push(Section {
                heading_line: Some(number),
                level,
                heading,
                blocks: Vec::new(),
            });
            continue;
        }
        if line.trim().is_empty() {
            flush(&mut block, &mut sections);
        } else {
            push_line(&mut block, number, line, false);
        }
    }
    // An unclosed fence runs to the end of the file, as CommonMark reads it.
    flush(&mut block, &mut sections);
    sections
}

fn push_line(block: &mut Option<Block>, number: usize, line: &str, is_code: bool) {
    match block {
        Some(open) => {
            open.text.push('\n');
            open.text.push_str(line);
            open.end_line = number;
        }
        None => {
            *block = Some(Block {
                start_line: number,
                end_line: number,
                text: line.to_string(),
                is_code,
            });
        }
    }
}

fn flush(block: &mut Option<Block>, sections: &mut [Section]) {
    if let (Some(done), Some(section)) = (block.take(), sections.last_mut()) {
        section.blocks.push(done);
    }
}

fn pack_section(section: &Section, chunks: &mut Vec<Chunk>) {
    let blocks: Vec<Block> = section.blocks.iter().flat_map(split_oversized).collect();
    if blocks.is_empty() {
        // A heading with nothing under it is still worth finding by its title.
        if let Some(line) = section.heading_line {
            chunks.push(Chunk {
                start_line: line,
                end_line: line,
                heading: section.heading.clone(),
                text: String::new(),
            });
        }
        return;
    }
    let mut current: Vec<&Block> = Vec::new();
    let mut size = 0;
    let mut first = true;
    for block in &blocks {
        if let Some(items) = list_items(block) {
            if !current.is_empty() {
                chunks.push(make_chunk(section, &current, first));
                first = false;
                current.clear();
                size = 0;
            }
            for item in &items {
                chunks.push(make_chunk(section, &[item], first));
                first = false;
            }
            continue;
        }
        let added = block.text.chars().count() + 2;
        if !current.is_empty() && size + added > TARGET_CHARS {
            chunks.push(make_chunk(section, &current, first));
            first = false;
            // Carry the last block over when it is short enough to be context, not bulk.
            let carried = current
                .last()
                .filter(|last| !last.is_code && last.text.chars().count() <= OVERLAP_CHARS)
                .copied();
            current.clear();
            size = 0;
            if let Some(last) = carried {
                size += last.text.chars().count() + 2;
                current.push(last);
            }
        }
        size += added;
        current.push(block);
    }
    if !current.is_empty() {
        chunks.push(make_chunk(section, &current, first));
    }
}

fn make_chunk(section: &Section, blocks: &[&Block], first: bool) -> Chunk {
    let start_line = match (first, section.heading_line) {
        (true, Some(line)) => line,
        _ => blocks.first().map_or(1, |block| block.start_line),
    };
    Chunk {
        start_line,
        end_line: blocks.last().map_or(start_line, |block| block.end_line),
        heading: section.heading.clone(),
        text: blocks
            .iter()
            .map(|block| block.text.as_str())
            .collect::<Vec<_>>()
            .join("\n\n"),
    }
}

/// The items of a block that is a list and nothing else (each item with the lines
/// that continue it), or `None`.
fn list_items(block: &Block) -> Option<Vec<Block>> {
    if block.is_code {
        return None;
    }
    let mut items: Vec<Block> = Vec::new();
    for (offset, line) in block.text.lines().enumerate() {
        let number = block.start_line + offset;
        if is_item_start(line) {
            items.push(Block {
                start_line: number,
                end_line: number,
                text: line.to_string(),
                is_code: false,
            });
        } else {
            // A line before the first item: a paragraph, not a list.
            let open = items.last_mut()?;
            open.text.push('\n');
            open.text.push_str(line);
            open.end_line = number;
        }
    }
    (items.len() > 1).then_some(items)
}

/// `- item`, `* item`, `+ item`, `1. item`, `2) item`, unindented.
fn is_item_start(line: &str) -> bool {
    let mut chars = line.chars();
    match chars.next() {
        Some('-' | '*' | '+') => chars.next() == Some(' '),
        Some(c) if c.is_ascii_digit() => {
            let rest = line.trim_start_matches(|c: char| c.is_ascii_digit());
            rest.starts_with(". ") || rest.starts_with(") ")
        }
        _ => false,
    }
}

/// A prose block longer than a chunk is cut between lines. Code blocks stay whole.
fn split_oversized(block: &Block) -> Vec<Block> {
    if block.is_code || block.text.chars().count() <= TARGET_CHARS {
        return vec![block.clone()];
    }
    let mut pieces: Vec<Block> = Vec::new();
    let mut piece: Option<Block> = None;
    for (offset, line) in block.text.lines().enumerate() {
        let number = block.start_line + offset;
        let too_big = piece.as_ref().is_some_and(|open| {
            open.text.chars().count() + line.chars().count() + 1 > TARGET_CHARS
        });
        if too_big && let Some(done) = piece.take() {
            pieces.push(done);
        }
        push_line(&mut piece, number, line, false);
    }
    pieces.extend(piece);
    pieces
}

/// A CommonMark fence: three or more backticks or tildes, indented at most three spaces.
pub(super) struct Fence {
    marker: char,
    length: usize,
}

impl Fence {
    pub(super) fn opening(line: &str) -> Option<Fence> {
        let trimmed = strip_indent(line)?;
        let marker = trimmed.chars().next().filter(|c| *c == '`' || *c == '~')?;
        let length = trimmed.chars().take_while(|c| *c == marker).count();
        if length < 3 {
            return None;
        }
        // A backtick fence's info string may not contain backticks.
        let info: String = trimmed.chars().skip(length).collect();
        if marker == '`' && info.contains('`') {
            return None;
        }
        Some(Fence { marker, length })
    }

    pub(super) fn is_closed_by(&self, line: &str) -> bool {
        let Some(trimmed) = strip_indent(line) else {
            return false;
        };
        let run = trimmed.chars().take_while(|c| *c == self.marker).count();
        run >= self.length && trimmed.chars().skip(run).all(char::is_whitespace)
    }
}

fn strip_indent(line: &str) -> Option<&str> {
    let indent = line.chars().take_while(|c| *c == ' ').count();
    (indent <= 3).then(|| line.trim_start_matches(' '))
}

/// `## Title ##` → (2, "Title"). A `#` run must be followed by a space or end the line.
pub(super) fn atx_heading(line: &str) -> Option<(usize, String)> {
    let trimmed = strip_indent(line)?;
    let level = trimmed.chars().take_while(|c| *c == '#').count();
    if level == 0 || level > 6 {
        return None;
    }
    let rest: String = trimmed.chars().skip(level).collect();
    if !rest.is_empty() && !rest.starts_with([' ', '\t']) {
        return None;
    }
    let title = rest.trim().trim_end_matches('#').trim_end().to_string();
    Some((level, title))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_give_each_chunk_its_path_and_lines() {
        let text =
            "intro\n\n# Projects\n\n## LocalGPT\n\n### Ideas\nsemantic search\n\n## Other\nx\n";
        let chunks = chunk_markdown(text);
        let summary: Vec<_> = chunks
            .iter()
            .map(|c| {
                (
                    c.heading.as_str(),
                    c.start_line,
                    c.end_line,
                    c.text.as_str(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("", 1, 1, "intro"),
                ("Projects › LocalGPT › Ideas", 7, 8, "semantic search"),
                ("Projects › Other", 10, 11, "x"),
            ]
        );
        // A heading with nothing under it and no subsections is still found by its title.
        let chunks = chunk_markdown(
            "# Ideas

# Empty leaf
",
        );
        assert_eq!(chunks.len(), 2);
        assert_eq!(
            (chunks[1].heading.as_str(), chunks[1].text.as_str()),
            ("Empty leaf", "")
        );
    }

    #[test]
    fn a_daily_logs_date_heads_its_entries_and_is_no_chunk_of_its_own() {
        let text = "# 2026-11-02

## 09:30
Met Ana.

## 14:00 · session 1a2b
- Lunch in Porto.
";
        let chunks = chunk_markdown(text);
        let headings: Vec<&str> = chunks.iter().map(|c| c.heading.as_str()).collect();
        assert_eq!(
            headings,
            ["2026-11-02 › 09:30", "2026-11-02 › 14:00 · session 1a2b"]
        );
    }

    #[test]
    fn a_hash_inside_a_code_fence_is_not_a_heading() {
        let text = "# Real\n```sh\n# not a heading\n\necho hi\n```\nafter\n";
        let chunks = chunk_markdown(text);
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].heading, "Real");
        assert!(chunks[0].text.contains("# not a heading\n\necho hi"));
        assert_eq!((chunks[0].start_line, chunks[0].end_line), (1, 7));
    }

    #[test]
    fn long_sections_split_between_paragraphs_with_overlap() {
        let paragraph = |n: usize| format!("paragraph {n} {}", "word ".repeat(60));
        let body: Vec<String> = (0..12).map(paragraph).collect();
        let text = format!("# Long\n\n{}\n", body.join("\n\n"));
        let chunks = chunk_markdown(&text);
        assert!(chunks.len() >= 3, "{} chunks", chunks.len());
        for chunk in &chunks {
            assert!(chunk.text.chars().count() <= TARGET_CHARS + 2, "too big");
            assert_eq!(chunk.heading, "Long");
        }
        // The last paragraph of one chunk opens the next.
        let first_last = chunks[0].text.split("\n\n").last().unwrap();
        assert!(chunks[1].text.starts_with(first_last));
        assert!(chunks[1].start_line <= chunks[0].end_line);
        // Every paragraph is somewhere.
        for n in 0..12 {
            assert!(
                chunks
                    .iter()
                    .any(|c| c.text.contains(&format!("paragraph {n} ")))
            );
        }
    }

    #[test]
    fn a_long_code_block_is_never_split() {
        let code: Vec<String> = (0..200).map(|n| format!("let x{n} = {n};")).collect();
        let text = format!(
            "# Code\nbefore\n\n```rust\n{}\n```\n\nafter\n",
            code.join("\n")
        );
        let chunks = chunk_markdown(&text);
        let holding: Vec<_> = chunks
            .iter()
            .filter(|c| c.text.contains("let x0 ="))
            .collect();
        assert_eq!(holding.len(), 1);
        assert!(holding[0].text.contains("let x199 = 199;\n```"));
    }

    #[test]
    fn an_unclosed_fence_runs_to_the_end() {
        let chunks = chunk_markdown("```\n# inside\n");
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].heading, "");
    }

    #[test]
    fn a_giant_line_of_multibyte_text_does_not_panic() {
        let text = format!("# Émoji\n{}\n{}\n", "é🙂".repeat(3000), "ü".repeat(5000));
        let chunks = chunk_markdown(&text);
        assert!(chunks.iter().all(|c| c.heading == "Émoji"));
        assert!(chunks.len() >= 2);
    }

    #[test]
    fn heading_syntax_edge_cases() {
        assert_eq!(atx_heading("## Title ##"), Some((2, "Title".to_string())));
        assert_eq!(atx_heading("#hashtag"), None);
        assert_eq!(atx_heading("####### seven"), None);
        assert_eq!(atx_heading("    # indented code"), None);
        assert_eq!(atx_heading("#"), Some((1, String::new())));
    }
}
