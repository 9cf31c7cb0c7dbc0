//! Strings that must never be printed whole: API keys, and base URLs that may carry a
//! password (`http://user:PASS@host/v1`).
//!
//! `Debug`, `Display` and `Serialize` all show a masked form, so a key cannot reach a log
//! line, `config show` or an error message by accident. Code that needs the real value
//! (an HTTP header, the address to connect to) asks for it by name: `reveal` for a key
//! (which looks a `secret:NAME` reference up in the secrets store), `expose` for a URL.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::sync::Arc;

use crate::secrets::{self, SecretsError, Vault};

/// A key as a setting gives it: the key itself, or a reference to one in the secrets
/// store (`secret:NAME`), which [`Secret::reveal`] looks up.
///
/// ```
/// use localgpt::config::Secret;
///
/// let key = Secret::new("sk-proj-0123456789abcdef");
/// assert_eq!(format!("{key} {key:?}"), "****cdef Secret(****cdef)");
/// assert_eq!(key.reveal()?, "sk-proj-0123456789abcdef");
/// // A reference is no secret: it shows as written.
/// assert_eq!(Secret::new("secret:openai").to_string(), "secret:openai");
/// # Ok::<(), localgpt::secrets::SecretsError>(())
/// ```
#[derive(Clone)]
pub struct Secret {
    value: String,
    /// The store a reference is looked up in (attached when the settings are loaded).
    vault: Option<Arc<Vault>>,
}

impl PartialEq for Secret {
    fn eq(&self, other: &Secret) -> bool {
        self.value == other.value
    }
}

impl Eq for Secret {}

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret {
            value: value.into(),
            vault: None,
        }
    }

    /// The real value, for the one place that sends it: the key itself, or the stored
    /// secret a `secret:NAME` reference names.
    pub fn reveal(&self) -> Result<String, SecretsError> {
        let Some(name) = secrets::reference(&self.value) else {
            return Ok(self.value.clone());
        };
        match &self.vault {
            Some(vault) => vault.get(name),
            None => Err(SecretsError::NoStore {
                path: secrets::STORE_FILE.into(),
            }),
        }
    }

    /// The value as the setting wrote it: a key, or a `secret:NAME` reference.
    #[cfg(test)]
    pub(crate) fn as_written(&self) -> &str {
        &self.value
    }

    /// The stored secret's name, when this is a reference.
    pub(crate) fn reference(&self) -> Option<&str> {
        secrets::reference(&self.value)
    }

    /// Looks references up in `vault` from now on.
    pub(crate) fn attach(&mut self, vault: &Arc<Vault>) {
        if self.reference().is_some() {
            self.vault = Some(Arc::clone(vault));
        }
    }

    /// Shows enough to tell two keys apart (the last four characters of a long key) and
    /// nothing that would help anyone use it; a reference shows as written.
    pub(crate) fn masked(&self) -> String {
        if self.reference().is_some() {
            return self.value.clone();
        }
        let chars: Vec<char> = self.value.chars().collect();
        if chars.len() >= 16 {
            let tail: String = chars[chars.len() - 4..].iter().collect();
            format!("****{tail}")
        } else {
            "****".to_string()
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({})", self.masked())
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.masked())
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Secret, D::Error> {
        String::deserialize(deserializer).map(Secret::new)
    }
}

/// A provider's base URL; shown with its password (if any) masked.
///
/// ```
/// use localgpt::config::BaseUrl;
///
/// let url = BaseUrl::new("http://me:hunter2@proxy.lan:8080/v1");
/// assert_eq!(url.to_string(), "http://me:****@proxy.lan:8080/v1");
/// assert_eq!(url.expose(), "http://me:hunter2@proxy.lan:8080/v1");
/// ```
#[derive(Clone, PartialEq, Eq, Default)]
pub struct BaseUrl(String);

impl BaseUrl {
    pub fn new(value: impl Into<String>) -> BaseUrl {
        BaseUrl(value.into())
    }

    /// The real value, for the provider that connects to it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// `url` with the password in its user information replaced by `****`; with a scheme
/// (`https://user:pass@host`) or without (`user:pass@host:11434`, as Ollama's are given).
pub(crate) fn without_password(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (format!("{scheme}://"), rest),
        None => (String::new(), url),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let Some((userinfo, _host)) = authority.rsplit_once('@') else {
        return url.to_string();
    };
    let Some((user, _password)) = userinfo.split_once(':') else {
        return url.to_string();
    };
    let after_userinfo = rest.strip_prefix(userinfo).unwrap_or_default();
    format!("{scheme}{user}:****{after_userinfo}")
}

impl fmt::Debug for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BaseUrl({})", without_password(&self.0))
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&without_password(&self.0))
    }
}

impl Serialize for BaseUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&without_password(&self.0))
    }
}

impl<'de> Deserialize<'de> for BaseUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<BaseUrl, D::Error> {
        String::deserialize(deserializer).map(BaseUrl)
    }
}

/// Name parts that mark a credential anywhere in a name.
const CONTAINS: [&str; 10] = [
    "API_KEY",
    "APIKEY",
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "CREDENTIAL",
    "PRIVATE_KEY",
    "AUTH_KEY",
];

/// Name endings that do.
const ENDS: [&str; 4] = ["_KEY", "_PAT", "_AUTH", "_PWD"];

/// Name beginnings that do: cloud providers' whole families.
const STARTS: [&str; 3] = ["AWS_", "AZURE_", "ARM_CLIENT"];

/// Whether a variable named `name` looks like a credential.
pub(crate) fn is_secret_var(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    CONTAINS.iter().any(|part| upper.contains(part))
        || ENDS.iter().any(|end| upper.ends_with(end))
        || STARTS.iter().any(|start| upper.starts_with(start))
}

/// Whether `value` is a URL carrying a password (`postgres://me:hunter2@db/app`).
pub(crate) fn has_url_password(value: &str) -> bool {
    reqwest::Url::parse(value).is_ok_and(|url| url.password().is_some())
}

/// Serialises an environment table with the values of credential-like names masked, for
/// `config show` (`GITHUB_TOKEN = "****abcd"`, `GIT_AUTHOR_NAME = "me"`).
pub(crate) fn serialize_env<S: Serializer>(
    env: &std::collections::BTreeMap<String, String>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = serializer.serialize_map(Some(env.len()))?;
    for (name, value) in env {
        if is_secret_var(name) || has_url_password(value) {
            map.serialize_entry(name, &Secret::new(value.clone()).masked())?;
        } else {
            map.serialize_entry(name, value)?;
        }
    }
    map.end()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_masked() {
        for (url, shown) in [
            ("https://u:p@h/v1", "https://u:****@h/v1"),
            ("http://user:pa:ss@host:8080", "http://user:****@host:8080"),
            ("u:secret@localhost:11434", "u:****@localhost:11434"),
            ("https://token@host/v1", "https://token@host/v1"),
            ("https://host/v1?x=a@b", "https://host/v1?x=a@b"),
            ("http://u:p%40x@host/", "http://u:****@host/"),
            ("https://api.openai.com/v1", "https://api.openai.com/v1"),
            ("http://ключ:пароль@хост/", "http://ключ:****@хост/"),
        ] {
            assert_eq!(without_password(url), shown, "{url}");
        }
    }

    #[test]
    fn never_shows_the_key() {
        let key = Secret::new("sk-proj-abcdefghijklmnop1234");
        assert_eq!(key.to_string(), "****1234");
        assert_eq!(format!("{key:?}"), "Secret(****1234)");
        assert_eq!(Secret::new("short").to_string(), "****");
        assert_eq!(Secret::new("ключ-ключ-ключ-ключ").masked(), "****ключ");
    }
}
