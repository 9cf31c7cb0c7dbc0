//! LocalGPT's own tool-call format, for models whose chat template has none (Gemma 3,
//! Phi-3, Mistral's older templates): the tools are described at the end of the system
//! prompt, and calls are written as Qwen's and Hermes' are —
//!
//! ```text
//! <tool_call>
//! {"name": "memory_search", "arguments": {"query": "sister"}}
//! </tool_call>
//! ```
//!
//! — which guided decoding holds to each tool's schema, and which the answer reader
//! already takes as calls.

use serde_json::Value;

/// Adds the tools and how to call them to the system turn (made if there is none).
pub(super) fn explain_tools(turns: &mut Vec<(String, String)>, tools: &Value) {
    let mut text = String::from(
        "# Tools\n\nYou may call these tools. To call one, answer with nothing but the call:\n\
         <tool_call>\n{\"name\": \"TOOL\", \"arguments\": {…}}\n</tool_call>\n\
         Several calls may follow one another. Each result comes back in the next message; \
         then answer the person. The tools, each with the JSON schema of its arguments:\n",
    );
    for tool in tools.as_array().into_iter().flatten() {
        let function = tool.get("function").unwrap_or(tool);
        let line = serde_json::json!({
            "name": function.get("name"),
            "description": function.get("description"),
            "arguments": function.get("parameters"),
        });
        text.push_str(&format!("{line}\n"));
    }
    match turns.first_mut() {
        Some((role, content)) if role == "system" => {
            content.push_str("\n\n");
            content.push_str(&text);
        }
        _ => turns.insert(0, ("system".to_string(), text)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tools_go_at_the_end_of_the_system_turn_or_make_one() {
        let tools = serde_json::json!([{"type": "function", "function": {"name": "now",
            "description": "The time.", "parameters": {"type": "object"}}}]);
        let mut turns = vec![("user".to_string(), "hi".to_string())];
        explain_tools(&mut turns, &tools);
        assert_eq!(turns[0].0, "system");
        assert!(turns[0].1.contains("<tool_call>") && turns[0].1.contains("\"name\":\"now\""));
        let mut turns = vec![
            ("system".to_string(), "Be brief.".to_string()),
            ("user".to_string(), "hi".to_string()),
        ];
        explain_tools(&mut turns, &tools);
        assert!(turns[0].1.starts_with("Be brief.\n\n# Tools"));
        assert_eq!(turns.len(), 2);
    }
}
