//! The folder a model is staged in (`models/.NAME.installing`) before it replaces the
//! installed one. It is removed on every way out of an install — an error, a panic (the
//! guard's `drop`) — and what an abort, a kill or a power cut left behind is swept at the
//! next install: a staging folder names the process that made it, and one whose process
//! is gone is removed, while one still being filled by another process is left alone.

use std::path::{Path, PathBuf};

use super::ModelError;

const SUFFIX: &str = ".installing";
const OWNER_FILE: &str = ".owner";

/// A staging folder that removes itself unless [`Staging::finish`] moved it in place.
pub(crate) struct Staging {
    path: PathBuf,
    done: bool,
}

impl Staging {
    /// A fresh `.NAME.installing` in `models`, owned by this process.
    pub fn new(models: &Path, name: &str) -> Result<Staging, ModelError> {
        let path = models.join(format!(".{name}{SUFFIX}"));
        let write_error = |source| ModelError::Write {
            path: path.clone(),
            source,
        };
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).map_err(write_error)?;
        std::fs::write(path.join(OWNER_FILE), std::process::id().to_string())
            .map_err(write_error)?;
        Ok(Staging { path, done: false })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Moves the staged model to `target` (which must not exist).
    pub fn finish(mut self, target: &Path) -> Result<(), ModelError> {
        let _ = std::fs::remove_file(self.path.join(OWNER_FILE));
        std::fs::rename(&self.path, target).map_err(|source| ModelError::Write {
            path: target.to_path_buf(),
            source,
        })?;
        self.done = true;
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Removes the staging folders in `models` whose installing process is gone.
pub fn sweep(models: &Path) {
    let Ok(entries) = std::fs::read_dir(models) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with('.') && name.ends_with(SUFFIX)) {
            continue;
        }
        let owner = std::fs::read_to_string(entry.path().join(OWNER_FILE))
            .ok()
            .and_then(|text| text.trim().parse::<i32>().ok());
        if owner.is_some_and(is_alive) {
            continue;
        }
        match std::fs::remove_dir_all(entry.path()) {
            Ok(()) => tracing::info!("removed {name}, left by an install that did not finish"),
            Err(err) => tracing::warn!("cannot remove {name}: {err}"),
        }
    }
}

fn is_alive(pid: i32) -> bool {
    pid == i32::try_from(std::process::id()).unwrap_or(0)
        || (pid > 0 && Path::new(&format!("/proc/{pid}")).exists())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staging_goes_on_error_and_panic_and_leftovers_of_dead_installs_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        let models = dir.path();
        {
            let staging = Staging::new(models, "m").unwrap();
            std::fs::write(staging.path().join("model.gguf"), "x").unwrap();
        }
        assert!(!models.join(".m.installing").exists());
        let panicked = std::panic::catch_unwind(|| {
            let _staging = Staging::new(models, "p").unwrap();
            panic!("mid-install");
        });
        assert!(panicked.is_err());
        assert!(!models.join(".p.installing").exists());
        // An abort leaves one behind: swept when its process is gone, kept while it lives.
        for (name, owner) in [("dead", "2147483646"), ("alive", "1"), ("unowned", "")] {
            std::fs::create_dir_all(models.join(format!(".{name}.installing"))).unwrap();
            std::fs::write(models.join(format!(".{name}.installing/.owner")), owner).unwrap();
        }
        sweep(models);
        assert!(!models.join(".dead.installing").exists());
        assert!(!models.join(".unowned.installing").exists());
        assert!(models.join(".alive.installing").exists());
        let staging = Staging::new(models, "ok").unwrap();
        staging.finish(&models.join("ok")).unwrap();
        assert!(models.join("ok").is_dir() && !models.join("ok/.owner").exists());
    }
}
