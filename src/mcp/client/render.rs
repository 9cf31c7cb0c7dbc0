//! A tool's result as text for the model: text as it came, structured content as JSON
//! when there is no text, and for what a text-only conversation cannot hold (images,
//! audio, binary resources) a line that says what was there.

use rmcp::model::{CallToolResult, ContentBlock, ResourceContents};

/// The text of `result`, and whether the server reported it as an error.
pub fn tool_result(result: &CallToolResult) -> (String, bool) {
    let mut parts: Vec<String> = result.content.iter().map(block).collect();
    if parts.iter().all(String::is_empty)
        && let Some(structured) = &result.structured_content
    {
        parts = vec![serde_json::to_string_pretty(structured).unwrap_or_default()];
    }
    let text = parts
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    (text, result.is_error.unwrap_or(false))
}

fn block(content: &ContentBlock) -> String {
    match content {
        ContentBlock::Text(text) => text.text.clone(),
        ContentBlock::Image(image) => format!(
            "[an image ({}, {}) the tool returned; it cannot be shown here]",
            image.mime_type,
            size_of_base64(&image.data)
        ),
        ContentBlock::Audio(audio) => format!(
            "[audio ({}, {}) the tool returned; it cannot be played here]",
            audio.mime_type,
            size_of_base64(&audio.data)
        ),
        ContentBlock::Resource(embedded) => resource(&embedded.resource),
        ContentBlock::ResourceLink(link) => {
            let mut line = format!("[resource {}", link.uri);
            if !link.name.is_empty() && link.name != link.uri {
                line.push_str(&format!(" \"{}\"", link.name));
            }
            if let Some(description) = &link.description {
                line.push_str(&format!(": {description}"));
            }
            line.push(']');
            line
        }
        _ => "[content of a kind LocalGPT does not know]".to_string(),
    }
}

/// A resource's contents: its text under its address, or what a binary one is.
pub fn resource(contents: &ResourceContents) -> String {
    match contents {
        ResourceContents::TextResourceContents { uri, text, .. } => {
            format!("[resource {uri}]\n{text}")
        }
        ResourceContents::BlobResourceContents {
            uri,
            mime_type,
            blob,
            ..
        } => format!(
            "[resource {uri} ({}, {}): binary, not shown]",
            mime_type.as_deref().unwrap_or("unknown type"),
            size_of_base64(blob)
        ),
        _ => "[a resource of a kind LocalGPT does not know]".to_string(),
    }
}

fn size_of_base64(data: &str) -> String {
    let bytes = data.trim_end_matches('=').len() * 3 / 4;
    if bytes >= 1024 {
        format!("{:.1} KB", bytes as f64 / 1024.0)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_kind_of_content_becomes_text() {
        let result: CallToolResult = serde_json::from_value(json!({
            "content": [
                {"type": "text", "text": "hello"},
                {"type": "image", "data": "aGVsbG8gd29ybGQ=", "mimeType": "image/png"},
                {"type": "resource", "resource": {"uri": "file:///a.txt", "text": "inside"}},
                {"type": "resource", "resource": {"uri": "file:///b.bin", "blob": "AAAA", "mimeType": "application/octet-stream"}},
                {"type": "resource_link", "uri": "file:///c.md", "name": "c"}
            ],
            "isError": false
        }))
        .unwrap();
        let (text, is_error) = tool_result(&result);
        assert!(!is_error);
        for part in [
            "hello",
            "an image (image/png, 11 bytes)",
            "[resource file:///a.txt]\ninside",
            "binary, not shown",
            "[resource file:///c.md \"c\"]",
        ] {
            assert!(text.contains(part), "{part}: {text}");
        }
        let structured: CallToolResult = serde_json::from_value(json!({
            "content": [], "structuredContent": {"sum": 3}, "isError": true
        }))
        .unwrap();
        let (text, is_error) = tool_result(&structured);
        assert!(is_error);
        assert!(text.contains("\"sum\": 3"), "{text}");
    }
}
