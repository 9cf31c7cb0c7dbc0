//! An MCP tool's input schema made into one every provider accepts: an object schema at
//! the root, with `properties`. Providers refuse a root that is not `type: object` or
//! that combines schemas (`anyOf`, `oneOf`, `allOf`, `not`, `enum`), and some refuse
//! `$schema` and `$id` there; the properties themselves are passed on as the server wrote
//! them.

use serde_json::{Map, Value};

/// The schema to offer the model, or why the tool cannot be offered.
pub(crate) fn normalise(schema: &Map<String, Value>) -> Result<Value, String> {
    match schema.get("type") {
        None => {}
        Some(Value::String(kind)) if kind == "object" => {}
        Some(other) => {
            return Err(format!(
                "its input schema is not an object schema (type {other})"
            ));
        }
    }
    let mut root = schema.clone();
    for refused in ["$schema", "$id", "anyOf", "oneOf", "allOf", "not", "enum"] {
        root.remove(refused);
    }
    root.insert("type".into(), Value::String("object".into()));
    match root.get("properties") {
        Some(Value::Object(_)) => {}
        None => {
            root.insert("properties".into(), Value::Object(Map::new()));
        }
        Some(_) => return Err("its input schema's `properties` is not an object".to_string()),
    }
    if let Some(required) = root.get("required")
        && !required
            .as_array()
            .is_some_and(|names| names.iter().all(Value::is_string))
    {
        root.remove("required");
    }
    Ok(Value::Object(root))
}

/// The check LocalGPT makes before sending a call: the arguments are an object and hold
/// the required properties. The server checks the rest against its own schema.
pub(crate) fn check_required(schema: &Value, args: &Value) -> Result<(), String> {
    let Some(object) = args.as_object() else {
        return Err("the arguments must be a JSON object".to_string());
    };
    for name in schema["required"].as_array().into_iter().flatten() {
        if let Some(name) = name.as_str()
            && object.get(name).is_none_or(Value::is_null)
        {
            return Err(format!("`{name}` is required"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn roots_become_plain_object_schemas() {
        let schema = object(json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {"q": {"type": "string"}},
            "required": ["q"],
            "anyOf": [{"required": ["q"]}],
            "additionalProperties": false
        }));
        let normal = normalise(&schema).unwrap();
        assert_eq!(
            normal,
            json!({"type": "object", "properties": {"q": {"type": "string"}},
                   "required": ["q"], "additionalProperties": false})
        );
        assert_eq!(
            normalise(&object(json!({}))).unwrap(),
            json!({"type": "object", "properties": {}})
        );
        assert!(normalise(&object(json!({"type": "string"}))).is_err());
        assert!(normalise(&object(json!({"type": "object", "properties": 3}))).is_err());
        let bad_required = normalise(&object(json!({"required": "q"}))).unwrap();
        assert!(bad_required.get("required").is_none());
    }

    #[test]
    fn required_arguments_are_checked_and_the_rest_left_to_the_server() {
        let schema = json!({"type": "object", "properties": {}, "required": ["path"]});
        assert!(check_required(&schema, &json!({"path": "a", "extra": 1})).is_ok());
        assert!(check_required(&schema, &json!({})).is_err());
        assert!(check_required(&schema, &json!([1])).is_err());
    }
}
