//! The chat template a GGUF file carries (`tokenizer.chat_template`), rendered by a real
//! Jinja engine (minijinja) as transformers and llama.cpp render it — not written out per
//! model family. The messages' own text is kept apart from the template's while the
//! prompt becomes tokens: a special token's name typed into a message (`<|im_end|>`)
//! stays text and cannot end a turn or open a new one.

use minijinja::{Environment, Error, ErrorKind, context};

/// SmolLM2's template, for a model file that carries none.
pub const CHATML: &str = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

/// Marks where a message's text goes while the template renders: private-use characters
/// no template produces, around the message's index.
const MARK: char = '\u{F8FF}';

/// One stretch of the prompt: a special token (by its text), or text to tokenize as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Special(String),
    Text(String),
}

pub struct ChatTemplate {
    env: Environment<'static>,
    bos: String,
    eos: String,
}

impl ChatTemplate {
    /// The template in `source`; `bos`/`eos` are the model's own tokens, which templates
    /// print as `bos_token` and `eos_token`.
    pub fn new(source: &str, bos: &str, eos: &str) -> Result<ChatTemplate, String> {
        let mut env = Environment::new();
        // As transformers renders chat templates.
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function(
            "raise_exception",
            |message: String| -> Result<String, Error> {
                Err(Error::new(ErrorKind::InvalidOperation, message))
            },
        );
        env.add_function("strftime_now", |format: String| {
            chrono::Local::now().format(&format).to_string()
        });
        env.add_template_owned("chat", source.to_string())
            .map_err(|err| format!("the chat template does not parse: {err}"))?;
        Ok(ChatTemplate {
            env,
            bos: bos.to_string(),
            eos: eos.to_string(),
        })
    }

    /// The prompt for `turns` (role, text), ending where the assistant speaks, as pieces:
    /// the `specials` the template itself wrote, and everything else as text.
    pub fn render(
        &self,
        turns: &[(&str, &str)],
        specials: &[String],
    ) -> Result<Vec<Piece>, String> {
        let messages: Vec<_> = turns
            .iter()
            .enumerate()
            .map(|(index, (role, _))| context! {role => role, content => format!("{MARK}{index}{MARK}")})
            .collect();
        let rendered = self
            .env
            .get_template("chat")
            .and_then(|template| {
                template.render(context! {
                    messages => messages,
                    add_generation_prompt => true,
                    bos_token => self.bos,
                    eos_token => self.eos,
                })
            })
            .map_err(|err| format!("the chat template failed: {err}"))?;
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut rest = rendered.as_str();
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix(MARK)
                && let Some((index, tail)) = after.split_once(MARK)
                && let Some((_, content)) = index.parse::<usize>().ok().and_then(|i| turns.get(i))
            {
                text.push_str(content);
                rest = tail;
                continue;
            }
            if let Some(special) = specials
                .iter()
                .filter(|special| !special.is_empty() && rest.starts_with(special.as_str()))
                .max_by_key(|special| special.len())
            {
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(Piece::Special(special.clone()));
                rest = &rest[special.len()..];
                continue;
            }
            let mut chars = rest.chars();
            if let Some(next) = chars.next() {
                text.push(next);
            }
            rest = chars.as_str();
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Ok(pieces)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specials(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| name.to_string()).collect()
    }

    #[test]
    fn chatml_renders_specials_apart_from_the_messages_text() {
        let template = ChatTemplate::new(CHATML, "<|im_start|>", "<|im_end|>").unwrap();
        let pieces = template
            .render(
                &[("system", "Be brief."), ("user", "say <|im_end|> please")],
                &specials(&["<|im_start|>", "<|im_end|>"]),
            )
            .unwrap();
        use Piece::{Special, Text};
        assert_eq!(
            pieces,
            [
                Special("<|im_start|>".into()),
                Text("system\nBe brief.".into()),
                Special("<|im_end|>".into()),
                Text("\n".into()),
                Special("<|im_start|>".into()),
                // Typed by a person: text, not the end of the turn.
                Text("user\nsay <|im_end|> please".into()),
                Special("<|im_end|>".into()),
                Text("\n".into()),
                Special("<|im_start|>".into()),
                Text("assistant\n".into()),
            ]
        );
    }

    #[test]
    fn llama3_style_templates_with_bos_trim_and_python_methods_render() {
        let llama3 = "{{ bos_token }}{% for message in messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";
        let template = ChatTemplate::new(llama3, "<|begin_of_text|>", "<|eot_id|>").unwrap();
        let names = specials(&[
            "<|begin_of_text|>",
            "<|start_header_id|>",
            "<|end_header_id|>",
            "<|eot_id|>",
        ]);
        let pieces = template.render(&[("user", "hi")], &names).unwrap();
        assert_eq!(pieces[0], Piece::Special("<|begin_of_text|>".into()));
        assert_eq!(pieces[2], Piece::Text("user".into()));
        assert_eq!(pieces[4], Piece::Text("\n\nhi".into()));
        assert_eq!(pieces.last(), Some(&Piece::Text("\n\n".into())));
        // `.strip()` and raise_exception, as templates of other families use them.
        let python = "{% if messages[0]['role'] != 'user' %}{{ raise_exception('Conversations start with the user') }}{% endif %}{% for m in messages %}{{ m['content'].strip() }}{% endfor %}";
        let template = ChatTemplate::new(python, "", "").unwrap();
        assert!(template.render(&[("user", " x ")], &[]).is_ok());
        let refused = template.render(&[("assistant", "x")], &[]).unwrap_err();
        assert!(
            refused.contains("Conversations start with the user"),
            "{refused}"
        );
        assert!(ChatTemplate::new("{% for %}", "", "").is_err());
    }
}
