//! Secrets at rest: API keys and channel tokens kept out of plain files, in one encrypted
//! store in the home folder (`secrets.enc`) that any setting can refer to as
//! `secret:NAME`.
//!
//! The store is one file sealed with XChaCha20-Poly1305. Its key lives in the OS keyring
//! (Secret Service, macOS Keychain, Windows Credential Manager) where there is one, and is
//! otherwise derived from a passphrase with Argon2id ([`PASSPHRASE_ENV`], or asked for
//! on a terminal); the file says which. One sealed file rather than a keyring entry per
//! secret: it can be listed, backed up and moved with the home folder, and written
//! atomically under a lock, and the keyring guards the one key that opens it.
//!
//! - [`sealed`]: the file's format, sealing and opening.
//! - [`key`]: where the key comes from.

mod key;
mod sealed;

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use zeroize::Zeroizing;

use crate::home::{read_real_to_string, try_update_locked};
pub use key::{KeySource, PASSPHRASE_ENV, PassphraseCost};
use sealed::Sealed;

/// The store's file name in the home folder.
pub const STORE_FILE: &str = "secrets.enc";
/// What a setting's value starts with to name a stored secret.
pub const REFERENCE_PREFIX: &str = "secret:";
/// The store holds the person's keys: readable by them alone.
const STORE_MODE: u32 = 0o600;

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("there is no secret `{name}` in {} (`localgpt secrets set {name}` adds it)", .path.display())]
    Missing { name: String, path: PathBuf },
    #[error(
        "no secrets are stored yet ({} does not exist); `localgpt secrets set NAME` adds one",
        .path.display()
    )]
    NoStore { path: PathBuf },
    #[error("{} cannot be opened: the passphrase is wrong, or the file was changed", .path.display())]
    WrongKey { path: PathBuf },
    #[error(
        "{} is locked with a passphrase: set {PASSPHRASE_ENV}, or run this on a terminal to be asked for it",
        .path.display()
    )]
    NeedPassphrase { path: PathBuf },
    #[error(
        "no key for a new store: there is no OS keyring here ({reason}); set {PASSPHRASE_ENV} \
         to lock it with a passphrase, or run this on a terminal to choose one"
    )]
    NoKeySource { reason: String },
    #[error("the OS keyring gave no key for {}: {reason}", .path.display())]
    Keyring { path: PathBuf, reason: String },
    #[error("{} is not a LocalGPT secrets file: {reason}", .path.display())]
    Malformed { path: PathBuf, reason: String },
    #[error("`{name}` is not a secret name: use letters, digits, `_`, `-` and `.`, up to 64")]
    BadName { name: String },
    #[error("the passphrase cannot be empty")]
    EmptyPassphrase,
    #[error("the two passphrases differ; nothing was stored")]
    PassphrasesDiffer,
    #[error("cannot {action} {}: {source}", .path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

impl From<io::Error> for SecretsError {
    fn from(source: io::Error) -> SecretsError {
        SecretsError::Io {
            action: "write",
            path: PathBuf::new(),
            source,
        }
    }
}

/// Letters, digits, `_`, `-` and `.`, 1 to 64 of them: a name that reads the same in a
/// setting, a command line and a keyring.
pub fn check_name(name: &str) -> Result<(), SecretsError> {
    let fits = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if fits {
        Ok(())
    } else {
        Err(SecretsError::BadName {
            name: name.chars().take(80).collect(),
        })
    }
}

/// The name a setting's value refers to, when it is a reference (`secret:NAME`).
pub fn reference(value: &str) -> Option<&str> {
    value.strip_prefix(REFERENCE_PREFIX)
}

/// The home folder's store. Opening it (which may ask the keyring or for a passphrase)
/// happens once, on first use; what it holds is kept in memory from then on.
pub struct Vault {
    path: PathBuf,
    /// The passphrase for a store locked with one (else asked for on a terminal).
    passphrase: Option<Zeroizing<String>>,
    opened: Mutex<Option<(key::Key, BTreeMap<String, String>)>>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Vault({})", self.path.display())
    }
}

impl Vault {
    /// The store of the home folder at `root`; `passphrase` is [`PASSPHRASE_ENV`]'s
    /// value, for a store locked with one.
    pub fn in_home(root: &Path, passphrase: Option<String>) -> Vault {
        Vault {
            path: root.join(STORE_FILE),
            passphrase: passphrase.filter(|p| !p.is_empty()).map(Zeroizing::new),
            opened: Mutex::new(None),
        }
    }

    /// The store at `path`, locked (or to be locked) with `passphrase`.
    pub fn with_passphrase(path: PathBuf, passphrase: &str) -> Vault {
        Vault {
            path,
            passphrase: Some(Zeroizing::new(passphrase.to_string())),
            opened: Mutex::new(None),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether a store has been written.
    pub fn exists(&self) -> bool {
        std::fs::metadata(&self.path).is_ok_and(|meta| meta.len() > 0)
    }

    /// Where the key comes from, when a store exists.
    pub fn key_source(&self) -> Result<Option<KeySource>, SecretsError> {
        Ok(self.read_sealed()?.map(|sealed| sealed.source()))
    }

    /// The stored names, sorted.
    pub fn names(&self) -> Result<Vec<String>, SecretsError> {
        if !self.exists() {
            return Ok(Vec::new());
        }
        self.with_entries(|entries| entries.keys().cloned().collect())
    }

    /// The secret `name`.
    pub fn get(&self, name: &str) -> Result<String, SecretsError> {
        if !self.exists() {
            return Err(SecretsError::NoStore {
                path: self.path.clone(),
            });
        }
        self.with_entries(|entries| entries.get(name).cloned())?
            .ok_or_else(|| SecretsError::Missing {
                name: name.to_string(),
                path: self.path.clone(),
            })
    }

    /// Stores `value` as `name`, creating the store (and its key) when there is none.
    pub fn set(&self, name: &str, value: &str) -> Result<(), SecretsError> {
        check_name(name)?;
        self.change(|entries| {
            entries
                .insert(name.to_string(), value.to_string())
                .as_deref()
                != Some(value)
        })
    }

    /// Removes `name`; whether it was there.
    pub fn remove(&self, name: &str) -> Result<bool, SecretsError> {
        if !self.exists() {
            return Ok(false);
        }
        let mut removed = false;
        self.change(|entries| {
            removed = entries.remove(name).is_some();
            removed
        })?;
        Ok(removed)
    }

    fn given(&self) -> Option<&str> {
        self.passphrase.as_deref().map(String::as_str)
    }

    fn read_sealed(&self) -> Result<Option<Sealed>, SecretsError> {
        match read_real_to_string(&self.path) {
            Ok(text) if text.trim().is_empty() => Ok(None),
            Ok(text) => Sealed::parse(&text, &self.path).map(Some),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(SecretsError::Io {
                action: "read",
                path: self.path.clone(),
                source,
            }),
        }
    }

    fn with_entries<T>(
        &self,
        read: impl FnOnce(&BTreeMap<String, String>) -> T,
    ) -> Result<T, SecretsError> {
        let mut opened = self
            .opened
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if opened.is_none() {
            let Some(sealed) = self.read_sealed()? else {
                return Err(SecretsError::NoStore {
                    path: self.path.clone(),
                });
            };
            let key = key::for_existing(&sealed, &self.path, self.given())?;
            let entries = sealed.open(&key, &self.path)?;
            *opened = Some((key, entries));
        }
        let (_, entries) = opened.as_ref().ok_or_else(|| SecretsError::NoStore {
            path: self.path.clone(),
        })?;
        Ok(read(entries))
    }

    /// Reads, changes and reseals the store under its lock, so two processes setting a
    /// secret each both keep theirs; the file is replaced atomically, never half-written,
    /// and not at all when `edit` says it changed nothing.
    fn change(
        &self,
        edit: impl FnOnce(&mut BTreeMap<String, String>) -> bool,
    ) -> Result<(), SecretsError> {
        let mut opened = self
            .opened
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let path = self.path.clone();
        let mut result = None;
        try_update_locked(&self.path, Some(STORE_MODE), |text| {
            let (key, mut entries, source) = if text.trim().is_empty() {
                let (key, source) = key::for_new(&path, self.given())?;
                (key, BTreeMap::new(), source)
            } else {
                let sealed = Sealed::parse(text, &path)?;
                let key = key::for_existing(&sealed, &path, self.given())?;
                let entries = sealed.open(&key, &path)?;
                (key, entries, sealed.source())
            };
            let changed = edit(&mut entries);
            let text = if changed {
                Sealed::seal(&key, source, &entries)?.to_text()
            } else {
                text.to_string()
            };
            result = Some((key, entries));
            Ok::<_, SecretsError>(text)
        })
        .map_err(|err| match err {
            SecretsError::Io { action, source, .. } => SecretsError::Io {
                action,
                path: self.path.clone(),
                source,
            },
            other => other,
        })?;
        *opened = result;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
