//! SKILL.md: YAML front matter between `---` lines, then the instructions — the format of
//! Claude's and OpenClaw's skills. Only the fields that change what LocalGPT does are
//! read; everything else (license, allowed-tools, version, homepage…) is ignored, so
//! skills written for other assistants load unchanged.

use serde_yaml_ng::Value;

/// What the front matter says, already checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FrontMatter {
    pub name: Option<String>,
    pub description: Option<String>,
    /// Claude's `argument-hint`, shown as the usage.
    pub usage: Option<String>,
    pub user_invocable: bool,
    pub model_invocable: bool,
    pub requires: Requirements,
}

/// OpenClaw's `metadata.openclaw.requires` (and `os`): what must be present for the skill
/// to work here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requirements {
    /// Every one of these programs must be on PATH.
    pub bins: Vec<String>,
    /// At least one of these.
    pub any_bins: Vec<String>,
    /// Every one of these environment variables must be set.
    pub env: Vec<String>,
    /// If not empty, the operating systems (`linux`, `darwin`, `win32`) it runs on.
    pub os: Vec<String>,
}

/// Splits a SKILL.md into its parsed front matter and its body. `Err` says what is wrong
/// and on which line of the file.
pub fn parse(text: &str) -> Result<(FrontMatter, String), String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.split_inclusive('\n');
    let first = lines.next().unwrap_or_default();
    if first.trim_end() != "---" {
        return Err(
            "line 1: SKILL.md must start with YAML front matter between `---` lines \
             (name, description)"
                .to_string(),
        );
    }
    let mut yaml = String::new();
    let mut body_start = None;
    let mut offset = first.len();
    for line in lines {
        offset += line.len();
        let trimmed = line.trim_end();
        if trimmed == "---" || trimmed == "..." {
            body_start = Some(offset);
            break;
        }
        yaml.push_str(line);
    }
    let Some(body_start) = body_start else {
        return Err("the front matter is not closed: add a `---` line after it".to_string());
    };
    let body = text.get(body_start..).unwrap_or_default();
    let value: Value = if yaml.trim().is_empty() {
        Value::Null
    } else {
        serde_yaml_ng::from_str(&yaml).map_err(|err| match err.location() {
            // +1 for the opening `---`.
            Some(at) => format!(
                "line {}: {}",
                at.line() + 1,
                first_sentence(&err.to_string())
            ),
            None => format!("front matter: {err}"),
        })?
    };
    let front = match value {
        Value::Null => FrontMatter::default(),
        Value::Mapping(_) => read_fields(&value)?,
        _ => return Err("the front matter must be a mapping of `key: value` lines".to_string()),
    };
    Ok((front, body.trim_start_matches(['\n', '\r']).to_string()))
}

fn read_fields(value: &Value) -> Result<FrontMatter, String> {
    let mut front = FrontMatter {
        name: optional_text(value, "name")?,
        description: optional_text(value, "description")?
            .map(|text| text.split_whitespace().collect::<Vec<_>>().join(" ")),
        usage: optional_text(value, "argument-hint")?,
        user_invocable: optional_bool(value, "user-invocable")?.unwrap_or(true),
        model_invocable: !optional_bool(value, "disable-model-invocation")?.unwrap_or(false),
        requires: Requirements::default(),
    };
    if let Some(metadata) = value.get("metadata") {
        front.requires = requirements(metadata)?;
    }
    Ok(front)
}

fn optional_text(value: &Value, key: &str) -> Result<Option<String>, String> {
    match value.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.trim().to_string())),
        Some(Value::Number(number)) => Ok(Some(number.to_string())),
        Some(Value::Bool(flag)) => Ok(Some(flag.to_string())),
        Some(_) => Err(format!("`{key}` must be text")),
    }
}

fn optional_bool(value: &Value, key: &str) -> Result<Option<bool>, String> {
    match value.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(flag)) => Ok(Some(*flag)),
        Some(Value::String(text)) => super::header::parse_bool(text)
            .map(Some)
            .ok_or_else(|| format!("`{key}` must be true or false, not \"{text}\"")),
        Some(_) => Err(format!("`{key}` must be true or false")),
    }
}

/// OpenClaw writes `metadata` as a YAML mapping or as a JSON string; older skills use the
/// `clawdbot` key for the same thing.
fn requirements(metadata: &Value) -> Result<Requirements, String> {
    let parsed;
    let metadata = match metadata {
        Value::String(json) => {
            parsed = serde_yaml_ng::from_str::<Value>(json)
                .map_err(|err| format!("`metadata` is not valid JSON or YAML: {err}"))?;
            &parsed
        }
        other => other,
    };
    let Some(ours) = ["openclaw", "clawdbot"]
        .iter()
        .find_map(|key| metadata.get(*key))
    else {
        return Ok(Requirements::default());
    };
    let requires = ours.get("requires");
    let list = |parent: Option<&Value>, key: &str, shown: &str| -> Result<Vec<String>, String> {
        match parent.and_then(|p| p.get(key)) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::String(one)) => Ok(vec![one.clone()]),
            Some(Value::Sequence(items)) => items
                .iter()
                .map(|item| {
                    item.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| format!("`{shown}` must be a list of names"))
                })
                .collect(),
            Some(_) => Err(format!("`{shown}` must be a list of names")),
        }
    };
    Ok(Requirements {
        bins: list(requires, "bins", "metadata.openclaw.requires.bins")?,
        any_bins: list(requires, "anyBins", "metadata.openclaw.requires.anyBins")?,
        env: list(requires, "env", "metadata.openclaw.requires.env")?,
        os: list(Some(ours), "os", "metadata.openclaw.os")?,
    })
}

/// serde_yaml's messages repeat the position at the end; the line is given already.
fn first_sentence(message: &str) -> String {
    match message.find(" at line ") {
        Some(at) => message.get(..at).unwrap_or(message).to_string(),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claude_skill_with_extra_fields_and_a_folded_description() {
        let text = "---\nname: pdf-tools\ndescription: >\n  Extract text and tables from PDFs,\n  fill forms. Use when the user mentions PDFs.\nlicense: Apache-2.0\nallowed-tools: Read, Bash(python:*)\nargument-hint: FILE.pdf [pages]\nversion: 1.2\n---\n\n# PDF tools\n\nRun `scripts/extract.py`.\n";
        let (front, body) = parse(text).unwrap();
        assert_eq!(front.name.as_deref(), Some("pdf-tools"));
        assert_eq!(
            front.description.as_deref(),
            Some("Extract text and tables from PDFs, fill forms. Use when the user mentions PDFs.")
        );
        assert_eq!(front.usage.as_deref(), Some("FILE.pdf [pages]"));
        assert!(front.user_invocable && front.model_invocable);
        assert!(body.starts_with("# PDF tools"));
    }

    #[test]
    fn an_openclaw_skill_with_json_metadata() {
        let text = "---\nname: github\ndescription: \"Interact with GitHub using the `gh` CLI.\"\nmetadata: {\"openclaw\": {\"emoji\": \"🐙\", \"requires\": {\"bins\": [\"gh\"], \"env\": [\"GH_TOKEN\"]}, \"os\": [\"linux\", \"darwin\"]}}\ndisable-model-invocation: true\nuser-invocable: \"false\"\n---\nUse gh.\n";
        let (front, body) = parse(text).unwrap();
        assert_eq!(front.requires.bins, ["gh"]);
        assert_eq!(front.requires.env, ["GH_TOKEN"]);
        assert_eq!(front.requires.os, ["linux", "darwin"]);
        assert!(!front.model_invocable && !front.user_invocable);
        assert_eq!(body, "Use gh.\n");
        // The same metadata as a quoted JSON string, under the older key.
        let text = "---\nname: x\nmetadata: '{\"clawdbot\":{\"requires\":{\"anyBins\":[\"rg\",\"grep\"]}}}'\n---\n";
        assert_eq!(parse(text).unwrap().0.requires.any_bins, ["rg", "grep"]);
    }

    #[test]
    fn literal_block_descriptions_become_one_line() {
        let text = "---\ndescription: |\n  First line.\n  Second line.\n---\nbody";
        let (front, _) = parse(text).unwrap();
        assert_eq!(
            front.description.as_deref(),
            Some("First line. Second line.")
        );
    }

    #[test]
    fn broken_front_matter_says_what_and_where() {
        let missing = parse("# Title\n").unwrap_err();
        assert!(missing.contains("line 1"), "{missing}");
        let unclosed = parse("---\nname: x\n").unwrap_err();
        assert!(unclosed.contains("not closed"), "{unclosed}");
        let bad_yaml = parse("---\nname: x\ndescription: [unclosed\n---\n").unwrap_err();
        assert!(bad_yaml.starts_with("line "), "{bad_yaml}");
        let bad_bool = parse("---\nuser-invocable: maybe\n---\n").unwrap_err();
        assert!(bad_bool.contains("user-invocable"), "{bad_bool}");
        let not_map = parse("---\n- a\n- b\n---\n").unwrap_err();
        assert!(not_map.contains("mapping"), "{not_map}");
        let bad_list =
            parse("---\nmetadata: {openclaw: {requires: {bins: [1, {a: b}]}}}\n---\n").unwrap_err();
        assert!(bad_list.contains("requires.bins"), "{bad_list}");
    }

    #[test]
    fn windows_line_endings_and_a_byte_order_mark() {
        let text = "\u{feff}---\r\nname: x\r\ndescription: y\r\n---\r\nbody\r\n";
        let (front, body) = parse(text).unwrap();
        assert_eq!(front.description.as_deref(), Some("y"));
        assert_eq!(body, "body\r\n");
    }
}
