//! Where the store's key comes from: the OS keyring, which holds a random key for this
//! home folder's store, or a passphrase stretched by Argon2id with the file's salt.
//! A new store takes the passphrase when [`PASSPHRASE_ENV`] is set (an explicit choice),
//! else the keyring when there is one, else a passphrase asked for on a terminal.

use std::io::IsTerminal;
use std::path::Path;

use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use super::SecretsError;
use super::sealed::Sealed;

/// The passphrase of a store locked with one, for unattended runs (the daemon) and tests.
pub const PASSPHRASE_ENV: &str = "LOCALGPT_SECRETS_PASSPHRASE";
/// The keyring's service name; the entry's user is the store's path, so two home folders
/// keep two keys.
const KEYRING_SERVICE: &str = "localgpt";

/// A 256-bit key, wiped from memory when dropped.
pub(super) struct Key([u8; 32]);

impl Key {
    pub(super) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// Argon2id's costs, kept in the file so a later LocalGPT that raises its defaults still
/// opens an older store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PassphraseCost {
    pub(super) memory_kib: u32,
    pub(super) iterations: u32,
    pub(super) parallelism: u32,
}

impl PassphraseCost {
    /// OWASP's recommended Argon2id setting: 19 MiB, two passes, one lane.
    const DEFAULT: PassphraseCost = PassphraseCost {
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };
}

/// Where a store's key comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeySource {
    Keyring,
    Passphrase {
        salt: [u8; 16],
        cost: PassphraseCost,
    },
}

impl std::fmt::Display for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Keyring => f.write_str("its key is kept in the OS keyring"),
            KeySource::Passphrase { .. } => {
                write!(
                    f,
                    "locked with a passphrase (Argon2id; {PASSPHRASE_ENV} or asked)"
                )
            }
        }
    }
}

/// A key for a new store at `path`, and where it comes from: `given` is the passphrase
/// the person chose ([`PASSPHRASE_ENV`]).
pub(super) fn for_new(path: &Path, given: Option<&str>) -> Result<(Key, KeySource), SecretsError> {
    if let Some(passphrase) = given {
        return with_new_salt(passphrase);
    }
    let keyring_problem = match new_keyring_key(path) {
        Ok(key) => return Ok((key, KeySource::Keyring)),
        Err(problem) => problem,
    };
    if !std::io::stdin().is_terminal() {
        return Err(SecretsError::NoKeySource {
            reason: keyring_problem,
        });
    }
    let first = ask("No OS keyring here; choose a passphrase for the secrets store: ")?;
    let again = ask("The same passphrase again: ")?;
    if first != again {
        return Err(SecretsError::PassphrasesDiffer);
    }
    with_new_salt(&first)
}

/// The key of the store `sealed`, read from `path`, with the passphrase `given` if it is
/// locked with one.
pub(super) fn for_existing(
    sealed: &Sealed,
    path: &Path,
    given: Option<&str>,
) -> Result<Key, SecretsError> {
    match sealed.source() {
        KeySource::Keyring => keyring_key(path),
        KeySource::Passphrase { salt, cost } => {
            let passphrase = match given {
                Some(passphrase) => Zeroizing::new(passphrase.to_string()),
                None if std::io::stdin().is_terminal() => ask("Passphrase of the secrets store: ")?,
                None => {
                    return Err(SecretsError::NeedPassphrase {
                        path: path.to_path_buf(),
                    });
                }
            };
            derive(&passphrase, &salt, cost)
        }
    }
}

fn ask(prompt: &str) -> Result<Zeroizing<String>, SecretsError> {
    let answer = rpassword::prompt_password(prompt).map_err(|source| SecretsError::Io {
        action: "read a passphrase from",
        path: "the terminal".into(),
        source,
    })?;
    if answer.is_empty() {
        return Err(SecretsError::EmptyPassphrase);
    }
    Ok(Zeroizing::new(answer))
}

fn with_new_salt(passphrase: &str) -> Result<(Key, KeySource), SecretsError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|err| SecretsError::NoKeySource {
        reason: format!("no randomness for a salt: {err}"),
    })?;
    let cost = PassphraseCost::DEFAULT;
    Ok((
        derive(passphrase, &salt, cost)?,
        KeySource::Passphrase { salt, cost },
    ))
}

fn derive(passphrase: &str, salt: &[u8; 16], cost: PassphraseCost) -> Result<Key, SecretsError> {
    let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, Some(32))
        .map_err(|err| SecretsError::NoKeySource {
            reason: format!("Argon2id costs {cost:?}: {err}"),
        })?;
    let mut key = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase.as_bytes(), salt, &mut key)
        .map_err(|err| SecretsError::NoKeySource {
            reason: format!("Argon2id: {err}"),
        })?;
    Ok(Key(key))
}

fn keyring_entry(path: &Path) -> Result<keyring::Entry, String> {
    keyring::Entry::new(KEYRING_SERVICE, &format!("secrets-key:{}", path.display()))
        .map_err(|err| err.to_string())
}

/// A random key, stored in the keyring and read back (a keyring that takes a key but
/// cannot return it is no keyring).
fn new_keyring_key(path: &Path) -> Result<Key, String> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|err| err.to_string())?;
    let encoded = Zeroizing::new(BASE64.encode(key));
    let entry = keyring_entry(path)?;
    entry
        .set_password(&encoded)
        .map_err(|err| err.to_string())?;
    let read = Zeroizing::new(entry.get_password().map_err(|err| err.to_string())?);
    if *read != *encoded {
        return Err("the keyring returned another key than it was given".into());
    }
    Ok(Key(key))
}

fn keyring_key(path: &Path) -> Result<Key, SecretsError> {
    let failed = |reason: String| SecretsError::Keyring {
        path: path.to_path_buf(),
        reason,
    };
    let entry = keyring_entry(path).map_err(failed)?;
    let encoded = Zeroizing::new(
        entry
            .get_password()
            .map_err(|err| failed(err.to_string()))?,
    );
    let bytes = Zeroizing::new(
        BASE64
            .decode(encoded.as_bytes())
            .map_err(|_| failed("its entry is not a key".into()))?,
    );
    let key: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| failed("its entry is not a 256-bit key".into()))?;
    Ok(Key(key))
}
