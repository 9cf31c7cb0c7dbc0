//! The store's file: a small JSON document — the format's version, where the key comes
//! from (with a passphrase's salt and Argon2id costs), a fresh 24-byte nonce, and the
//! entries sealed with XChaCha20-Poly1305. Everything before the sealed bytes is bound to
//! them as associated data, so a header changed by hand fails to open like a wrong key.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::SecretsError;
use super::key::{Key, KeySource, PassphraseCost};

const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
pub(super) struct Sealed {
    localgpt_secrets: u32,
    /// `keyring` or `passphrase`.
    key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    salt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cost: Option<PassphraseCost>,
    nonce: String,
    sealed: String,
}

impl Sealed {
    pub(super) fn parse(text: &str, path: &Path) -> Result<Sealed, SecretsError> {
        let malformed = |reason: String| SecretsError::Malformed {
            path: path.to_path_buf(),
            reason,
        };
        let sealed: Sealed =
            serde_json::from_str(text).map_err(|err| malformed(err.to_string()))?;
        if sealed.localgpt_secrets != VERSION {
            return Err(malformed(format!(
                "version {} (this LocalGPT reads version {VERSION})",
                sealed.localgpt_secrets
            )));
        }
        match (sealed.key.as_str(), &sealed.salt, &sealed.cost) {
            ("keyring", None, None) => {}
            ("passphrase", Some(salt), Some(_)) => {
                let bytes = BASE64
                    .decode(salt)
                    .map_err(|_| malformed("its salt is not base64".into()))?;
                if bytes.len() != 16 {
                    return Err(malformed("its salt is not 16 bytes".into()));
                }
            }
            (other, _, _) => return Err(malformed(format!("key `{other}`"))),
        }
        Ok(sealed)
    }

    /// Where this file's key comes from.
    pub(super) fn source(&self) -> KeySource {
        match (&self.salt, &self.cost) {
            (Some(salt), Some(cost)) => {
                let mut bytes = [0u8; 16];
                if let Ok(decoded) = BASE64.decode(salt) {
                    // `parse` checked the length.
                    bytes.copy_from_slice(&decoded[..16.min(decoded.len())]);
                }
                KeySource::Passphrase {
                    salt: bytes,
                    cost: *cost,
                }
            }
            _ => KeySource::Keyring,
        }
    }

    pub(super) fn seal(
        key: &Key,
        source: KeySource,
        entries: &BTreeMap<String, String>,
    ) -> Result<Sealed, SecretsError> {
        let (name, salt, cost) = match source {
            KeySource::Keyring => ("keyring", None, None),
            KeySource::Passphrase { salt, cost } => {
                ("passphrase", Some(BASE64.encode(salt)), Some(cost))
            }
        };
        let mut nonce = [0u8; 24];
        getrandom::fill(&mut nonce).map_err(|err| SecretsError::NoKeySource {
            reason: format!("no randomness for a nonce: {err}"),
        })?;
        let mut sealed = Sealed {
            localgpt_secrets: VERSION,
            key: name.to_string(),
            salt,
            cost,
            nonce: BASE64.encode(nonce),
            sealed: String::new(),
        };
        let plain = Zeroizing::new(serde_json::to_vec(entries).unwrap_or_default());
        let cipher = XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(key.bytes()));
        let bytes = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &plain,
                    aad: sealed.header().as_bytes(),
                },
            )
            .map_err(|_| SecretsError::NoKeySource {
                reason: "sealing failed".into(),
            })?;
        sealed.sealed = BASE64.encode(bytes);
        Ok(sealed)
    }

    pub(super) fn open(
        &self,
        key: &Key,
        path: &Path,
    ) -> Result<BTreeMap<String, String>, SecretsError> {
        let malformed = |reason: &str| SecretsError::Malformed {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        };
        let nonce = BASE64
            .decode(&self.nonce)
            .ok()
            .filter(|nonce| nonce.len() == 24)
            .ok_or_else(|| malformed("its nonce is not 24 bytes of base64"))?;
        let bytes = BASE64
            .decode(&self.sealed)
            .map_err(|_| malformed("its sealed part is not base64"))?;
        let cipher = XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(key.bytes()));
        let plain = cipher
            .decrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &bytes,
                    aad: self.header().as_bytes(),
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| SecretsError::WrongKey {
                path: path.to_path_buf(),
            })?;
        serde_json::from_slice(&plain).map_err(|_| malformed("its entries are not a table"))
    }

    /// Everything but the sealed bytes, in a fixed order: the associated data.
    fn header(&self) -> String {
        let cost = self
            .cost
            .map(|cost| {
                format!(
                    "{}/{}/{}",
                    cost.memory_kib, cost.iterations, cost.parallelism
                )
            })
            .unwrap_or_default();
        format!(
            "localgpt-secrets/{} key={} salt={} cost={} nonce={}",
            self.localgpt_secrets,
            self.key,
            self.salt.as_deref().unwrap_or_default(),
            cost,
            self.nonce
        )
    }

    pub(super) fn to_text(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }
}
