use super::*;

use serde_json::json;

fn weather() -> Value {
    json!([{"type": "function", "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "maxLength": 40},
            "days": {"type": "integer"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "hourly": {"type": "boolean"},
            "stops": {"type": "array", "items": {"type": "number"}},
            "extra": {"type": "object"}
        }, "required": ["city", "unit"]}}},
        {"type": "function", "function": {"name": "now", "parameters": {"type": "object", "properties": {}}}}])
}

fn calls(format: CallFormat) -> Automaton {
    Automaton::calls(Arc::new(tools_of(&weather())), format)
}

/// How far `text` gets: `None` when all of it is taken, else the character refused.
fn refused_at(mut automaton: Automaton, text: &str) -> Option<usize> {
    text.chars().position(|c| !automaton.feed(c))
}

#[test]
fn calls_that_fit_their_schema_are_taken_whole() {
    for text in [
        "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Porto\", \"unit\": \"celsius\"}}\n</tool_call>",
        "<tool_call>{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Lisbon \\\"old\\\" town\",\"days\":-3,\"unit\":\"fahrenheit\",\"hourly\":true,\"stops\":[1.5, -0.25e3, 0],\"extra\":{\"a\": [null, {\"b\": false}]}}}</tool_call>",
        "<tool_call>\n{\"name\": \"now\", \"arguments\": {}}\n</tool_call>\n<tool_call>\n{\"name\": \"now\", \"arguments\": {}}\n</tool_call>",
    ] {
        let mut automaton = calls(CallFormat::Tagged);
        assert!(automaton.feed_str(text), "{text}");
        assert!(automaton.complete(), "{text}");
        // Not complete one character short.
        let mut short = calls(CallFormat::Tagged);
        let cut: String = text.chars().take(text.chars().count() - 1).collect();
        assert!(short.feed_str(&cut) && !short.complete(), "{cut}");
    }
    let mut json = calls(CallFormat::Json);
    assert!(json.feed_str("{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Faro\", \"days\": 2, \"unit\": \"celsius\"}}"));
    assert!(json.complete());
    assert!(!json.feed(' '), "nothing after Llama's one call");
}

#[test]
fn what_breaks_a_call_is_refused_where_it_breaks() {
    let start = "<tool_call>\n{\"name\": ";
    let weather = format!("{start}\"get_weather\", \"arguments\": {{");
    // What is taken, then what is refused at its first character.
    let cases = [
        // A tool that was not offered.
        (format!("{start}\""), "rm_rf\""),
        // A property the schema does not have, or written twice.
        (format!("{weather}\""), "town\""),
        (format!("{weather}\"city\": \"x\", \""), "city\""),
        // A required property left out: the object cannot close.
        (format!("{weather}\"city\": \"x\""), "}"),
        // A value of the wrong type, an enum value not listed.
        (format!("{weather}\"city\": "), "3"),
        (
            format!("{weather}\"city\": \"x\", \"unit\": \""),
            "kelvin\"",
        ),
        // An integer with a fraction; a string too long for maxLength.
        (format!("{weather}\"city\": \"x\", \"days\": 1"), "."),
        (format!("{weather}\"city\": \"{}", "a".repeat(40)), "a"),
        // The closing tag inside a string would end the call where it is read.
        (format!("{weather}\"city\": \"a</tool_call"), ">"),
        // Padding beyond one space; prose after the calls.
        (start.to_string(), " "),
        (
            "<tool_call>\n{\"name\": \"now\", \"arguments\": {}}\n</tool_call>".to_string(),
            " and then",
        ),
    ];
    for (taken, refused) in cases {
        let text = format!("{taken}{refused}");
        assert_eq!(
            refused_at(calls(CallFormat::Tagged), &text),
            Some(taken.chars().count()),
            "{text}"
        );
    }
}

#[test]
fn schemas_of_unknown_shape_take_any_json_within_bounds() {
    let any = Node::of_schema(&json!({"anyOf": [{"type": "string"}, {"type": "integer"}]}));
    for text in [
        "\"x\"",
        "12",
        "[1, \"a\", {\"k\": null}]",
        "{\"a\": {\"b\": true}}",
    ] {
        let mut automaton = Automaton::value(&any);
        assert!(automaton.feed_str(text), "{text}");
    }
    // Nesting stops at its depth.
    let deep = format!("{}1", "[".repeat(ANY_DEPTH + 1));
    assert!(refused_at(Automaton::value(&any), &deep).is_some());
    // A string's control characters and bad escapes are refused.
    assert_eq!(refused_at(Automaton::value(&any), "\"a\nb\""), Some(2));
    assert_eq!(refused_at(Automaton::value(&any), "\"\\q\""), Some(2));
    assert!(Automaton::value(&any).feed_str("\"\\u00e9\""));
}
