//! Checking tool arguments against the small subset of JSON Schema our tools use:
//! an object with typed properties, required names and enums.

use serde_json::Value;

pub fn validate(schema: &Value, args: &Value) -> Result<(), String> {
    let Some(object) = args.as_object() else {
        return Err(format!("expected a JSON object, got {}", kind(args)));
    };
    let properties = schema["properties"].as_object();
    for required in schema["required"].as_array().into_iter().flatten() {
        let Some(name) = required.as_str() else {
            continue;
        };
        if object.get(name).is_none_or(Value::is_null) {
            return Err(format!("`{name}` is required"));
        }
    }
    for (name, value) in object {
        let Some(property) = properties.and_then(|p| p.get(name)) else {
            return Err(format!("unknown argument `{name}`"));
        };
        if value.is_null() {
            continue;
        }
        let expected = property["type"].as_str().unwrap_or("any");
        let fits = match expected {
            "string" => value.is_string(),
            "integer" => value.is_u64() || value.is_i64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "array" => value.is_array(),
            "object" => value.is_object(),
            _ => true,
        };
        if !fits {
            return Err(format!(
                "`{name}` must be a {expected}, not {}",
                kind(value)
            ));
        }
        if let Some(allowed) = property["enum"].as_array()
            && !allowed.contains(value)
        {
            let options: Vec<String> = allowed.iter().map(Value::to_string).collect();
            return Err(format!("`{name}` must be one of {}", options.join(", ")));
        }
        if let (Some(minimum), Some(number)) = (property["minimum"].as_f64(), value.as_f64())
            && number < minimum
        {
            return Err(format!("`{name}` must be at least {minimum}"));
        }
    }
    Ok(())
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn checks_required_types_enums_and_unknowns() {
        let schema = json!({
            "type": "object",
            "properties": {
                "path": {"type": "string"},
                "limit": {"type": "integer", "minimum": 1},
                "target": {"type": "string", "enum": ["daily", "memory"]},
            },
            "required": ["path"],
        });
        assert!(validate(&schema, &json!({"path": "a"})).is_ok());
        assert!(validate(&schema, &json!({"path": "a", "limit": null})).is_ok());
        assert!(
            validate(&schema, &json!({}))
                .unwrap_err()
                .contains("`path` is required")
        );
        assert!(
            validate(&schema, &json!({"path": 3}))
                .unwrap_err()
                .contains("must be a string")
        );
        assert!(
            validate(&schema, &json!({"path": "a", "limit": 0}))
                .unwrap_err()
                .contains("at least")
        );
        assert!(
            validate(&schema, &json!({"path": "a", "target": "x"}))
                .unwrap_err()
                .contains("one of")
        );
        assert!(
            validate(&schema, &json!({"path": "a", "x": 1}))
                .unwrap_err()
                .contains("unknown")
        );
        assert!(validate(&schema, &json!("not an object")).is_err());
    }
}
