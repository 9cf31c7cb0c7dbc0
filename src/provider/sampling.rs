//! What a caller may ask of the model beyond the conversation — token limit, stop
//! sequences, seed, nucleus sampling, penalties, JSON output, which tool to call — and
//! which provider can honour which. A field a provider cannot honour is refused by name
//! before anything is sent ([`Sampling::unsupported_by`]), never silently dropped.

use serde_json::{Value, json};

use crate::config::ProviderKind;

/// How the model must shape its answer.
#[derive(Debug, Clone, PartialEq)]
pub enum ResponseFormat {
    /// Any JSON object (OpenAI's "JSON mode").
    JsonObject,
    /// JSON following a schema.
    JsonSchema {
        name: String,
        schema: Value,
        strict: bool,
    },
}

/// Which tool the model must call, if any.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolChoice {
    Auto,
    None,
    Required,
    Named(String),
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sampling {
    /// The caller's limit on the answer's tokens (else `agent.max_tokens`).
    pub max_tokens: Option<u32>,
    pub stop: Vec<String>,
    pub seed: Option<i64>,
    pub top_p: Option<f32>,
    pub frequency_penalty: Option<f32>,
    pub presence_penalty: Option<f32>,
    pub response_format: Option<ResponseFormat>,
    /// The agent sends it with the first request of a turn only: once the model has
    /// called what it was told to, the rounds after are its own choice.
    pub tool_choice: Option<ToolChoice>,
    pub parallel_tool_calls: Option<bool>,
}

impl Sampling {
    /// The first field set here that a provider of `kind` has no way to honour, in the
    /// name OpenAI's API gives it.
    pub(crate) fn unsupported_by(&self, kind: ProviderKind) -> Option<&'static str> {
        let set = [
            ("max_tokens", self.max_tokens.is_some()),
            ("stop", !self.stop.is_empty()),
            ("seed", self.seed.is_some()),
            ("top_p", self.top_p.is_some()),
            ("frequency_penalty", self.frequency_penalty.is_some()),
            ("presence_penalty", self.presence_penalty.is_some()),
            ("response_format", self.response_format.is_some()),
            (
                "tool_choice",
                self.tool_choice
                    .as_ref()
                    .is_some_and(|choice| *choice != ToolChoice::Auto),
            ),
            ("parallel_tool_calls", self.parallel_tool_calls.is_some()),
        ];
        let supported: &[&str] = match kind {
            ProviderKind::OpenAi => &[
                "max_tokens",
                "stop",
                "seed",
                "top_p",
                "frequency_penalty",
                "presence_penalty",
                "response_format",
                "tool_choice",
                "parallel_tool_calls",
            ],
            // Messages has no seed, penalties or JSON mode.
            ProviderKind::Anthropic => &[
                "max_tokens",
                "stop",
                "top_p",
                "tool_choice",
                "parallel_tool_calls",
            ],
            // /api/chat has no tool_choice; it calls tools as it sees fit.
            ProviderKind::Ollama => &[
                "max_tokens",
                "stop",
                "seed",
                "top_p",
                "frequency_penalty",
                "presence_penalty",
                "response_format",
            ],
            // Calls and JSON answers are held to their schemas while decoding.
            ProviderKind::Local => &[
                "max_tokens",
                "seed",
                "top_p",
                "response_format",
                "tool_choice",
            ],
            ProviderKind::ClaudeCli => &[],
        };
        set.into_iter()
            .find(|(name, is_set)| *is_set && !supported.contains(name))
            .map(|(name, _)| name)
    }

    /// The fields in OpenAI's Chat Completions shape, added to `body`.
    pub(crate) fn apply_openai(&self, body: &mut Value) {
        if let Some(max) = self.max_tokens {
            body["max_completion_tokens"] = json!(max);
        }
        if !self.stop.is_empty() {
            body["stop"] = json!(self.stop);
        }
        set(body, "seed", self.seed.map(Value::from));
        set(body, "top_p", self.top_p.map(Value::from));
        set(
            body,
            "frequency_penalty",
            self.frequency_penalty.map(Value::from),
        );
        set(
            body,
            "presence_penalty",
            self.presence_penalty.map(Value::from),
        );
        match &self.response_format {
            Some(ResponseFormat::JsonObject) => {
                body["response_format"] = json!({"type": "json_object"});
            }
            Some(ResponseFormat::JsonSchema {
                name,
                schema,
                strict,
            }) => {
                body["response_format"] = json!({"type": "json_schema",
                    "json_schema": {"name": name, "schema": schema, "strict": strict}});
            }
            None => {}
        }
        if body.get("tools").is_some() {
            if let Some(choice) = &self.tool_choice {
                body["tool_choice"] = match choice {
                    ToolChoice::Auto => json!("auto"),
                    ToolChoice::None => json!("none"),
                    ToolChoice::Required => json!("required"),
                    ToolChoice::Named(name) => {
                        json!({"type": "function", "function": {"name": name}})
                    }
                };
            }
            set(
                body,
                "parallel_tool_calls",
                self.parallel_tool_calls.map(Value::from),
            );
        }
    }

    /// The fields in Anthropic's Messages shape.
    pub(crate) fn apply_anthropic(&self, body: &mut Value) {
        if let Some(max) = self.max_tokens {
            body["max_tokens"] = json!(max);
        }
        if !self.stop.is_empty() {
            body["stop_sequences"] = json!(self.stop);
        }
        set(body, "top_p", self.top_p.map(Value::from));
        if body.get("tools").is_some() {
            let mut choice = match &self.tool_choice {
                Some(ToolChoice::None) => json!({"type": "none"}),
                Some(ToolChoice::Required) => json!({"type": "any"}),
                Some(ToolChoice::Named(name)) => json!({"type": "tool", "name": name}),
                Some(ToolChoice::Auto) | None => json!({"type": "auto"}),
            };
            if self.parallel_tool_calls == Some(false) && choice["type"] != "none" {
                choice["disable_parallel_tool_use"] = json!(true);
            }
            if choice != json!({"type": "auto"}) {
                body["tool_choice"] = choice;
            }
        }
    }

    /// The fields in Ollama's `/api/chat` shape: most go into `options`.
    pub(crate) fn apply_ollama(&self, body: &mut Value) {
        let mut options = body["options"].as_object().cloned().unwrap_or_default();
        let mut put = |name: &str, value: Option<Value>| {
            if let Some(value) = value {
                options.insert(name.to_string(), value);
            }
        };
        put("num_predict", self.max_tokens.map(Value::from));
        put("stop", (!self.stop.is_empty()).then(|| json!(self.stop)));
        put("seed", self.seed.map(Value::from));
        put("top_p", self.top_p.map(Value::from));
        put("frequency_penalty", self.frequency_penalty.map(Value::from));
        put("presence_penalty", self.presence_penalty.map(Value::from));
        if !options.is_empty() {
            body["options"] = Value::Object(options);
        }
        match &self.response_format {
            Some(ResponseFormat::JsonObject) => body["format"] = json!("json"),
            Some(ResponseFormat::JsonSchema { schema, .. }) => body["format"] = schema.clone(),
            None => {}
        }
    }
}

fn set(body: &mut Value, name: &str, value: Option<Value>) {
    if let Some(value) = value {
        body[name] = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_provider_names_the_first_field_it_cannot_honour() {
        let json = Sampling {
            response_format: Some(ResponseFormat::JsonObject),
            ..Sampling::default()
        };
        assert_eq!(json.unsupported_by(ProviderKind::OpenAi), None);
        assert_eq!(json.unsupported_by(ProviderKind::Ollama), None);
        assert_eq!(
            json.unsupported_by(ProviderKind::Anthropic),
            Some("response_format")
        );
        let named = Sampling {
            tool_choice: Some(ToolChoice::Named("get_weather".into())),
            ..Sampling::default()
        };
        assert_eq!(
            named.unsupported_by(ProviderKind::Ollama),
            Some("tool_choice")
        );
        let auto = Sampling {
            tool_choice: Some(ToolChoice::Auto),
            ..Sampling::default()
        };
        assert_eq!(auto.unsupported_by(ProviderKind::Ollama), None);
    }

    #[test]
    fn fields_are_mapped_into_each_wire_format() {
        let sampling = Sampling {
            max_tokens: Some(50),
            stop: vec!["END".into()],
            seed: Some(7),
            response_format: Some(ResponseFormat::JsonObject),
            tool_choice: Some(ToolChoice::Named("f".into())),
            parallel_tool_calls: Some(false),
            ..Sampling::default()
        };
        let mut openai = json!({"tools": []});
        sampling.apply_openai(&mut openai);
        assert_eq!(openai["max_completion_tokens"], 50);
        assert_eq!(openai["response_format"]["type"], "json_object");
        assert_eq!(openai["tool_choice"]["function"]["name"], "f");
        assert_eq!(openai["parallel_tool_calls"], false);

        let mut anthropic = json!({"tools": [], "max_tokens": 4096});
        sampling.apply_anthropic(&mut anthropic);
        assert_eq!(anthropic["max_tokens"], 50);
        assert_eq!(anthropic["stop_sequences"], json!(["END"]));
        assert_eq!(
            anthropic["tool_choice"],
            json!({"type": "tool", "name": "f", "disable_parallel_tool_use": true})
        );

        let mut ollama = json!({"options": {"temperature": 0.5}});
        sampling.apply_ollama(&mut ollama);
        assert_eq!(ollama["options"]["num_predict"], 50);
        assert_eq!(ollama["options"]["temperature"], 0.5);
        assert_eq!(ollama["options"]["seed"], 7);
        assert_eq!(ollama["format"], "json");
    }
}
