//! Models Ollama already downloaded: its store (`~/.ollama/models`, or `$OLLAMA_MODELS`)
//! holds a manifest per `name:tag` naming content-addressed blobs, one of them the GGUF
//! file. `localgpt models import ollama:NAME[:TAG]` installs that file as `local/NAME:TAG`
//! — read, never changed: Ollama's files stay as they were.

use std::path::{Path, PathBuf};

use super::ModelError;

const MODEL_LAYER: &str = "application/vnd.ollama.image.model";

/// Ollama's model store.
pub fn store() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("OLLAMA_MODELS").filter(|dir| !dir.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    dirs::home_dir().map(|home| home.join(".ollama").join("models"))
}

/// `NAME[:TAG]` as the manifest's path under `manifests/` and the local name
/// (`qwen2.5:1.5b`): a bare name is Ollama's library, `latest` the default tag.
fn manifest_path(reference: &str) -> Result<(PathBuf, String), ModelError> {
    let bad = || {
        ModelError::Unsupported(format!(
            "`{reference}` is not an Ollama model name (such as `qwen2.5:1.5b` or `llama3.2`)"
        ))
    };
    let (name, tag) = match reference.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, tag),
        _ => (reference, "latest"),
    };
    let parts: Vec<&str> = name.split('/').collect();
    let plain = |part: &str| {
        !part.is_empty()
            && part != "."
            && part != ".."
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    };
    if !parts.iter().all(|part| plain(part)) || !plain(tag) || parts.len() > 3 {
        return Err(bad());
    }
    let mut path = PathBuf::new();
    match parts.as_slice() {
        [model] => path.extend(["registry.ollama.ai", "library", model]),
        [namespace, model] => path.extend(["registry.ollama.ai", namespace, model]),
        [host, namespace, model] => path.extend([host, namespace, model]),
        _ => return Err(bad()),
    }
    path.push(tag);
    let local = format!("{}:{tag}", parts.last().copied().unwrap_or(name));
    Ok((path, local))
}

/// The GGUF blob of `reference` in the store at `root`, and the name it installs as.
pub fn find(root: &Path, reference: &str) -> Result<(PathBuf, String), ModelError> {
    let (relative, local) = manifest_path(reference)?;
    let manifest_file = root.join("manifests").join(&relative);
    let text = std::fs::read_to_string(&manifest_file).map_err(|err| {
        if err.kind() == std::io::ErrorKind::NotFound {
            ModelError::NotFound(format!(
                "ollama:{reference} (no {}; `ollama pull {reference}` downloads it)",
                manifest_file.display()
            ))
        } else {
            ModelError::Read {
                path: manifest_file.clone(),
                source: err,
            }
        }
    })?;
    let manifest: serde_json::Value =
        serde_json::from_str(&text).map_err(|err| ModelError::Invalid {
            path: manifest_file.clone(),
            message: format!("not a manifest: {err}"),
        })?;
    let digest = manifest["layers"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|layer| layer["mediaType"] == MODEL_LAYER)
        .and_then(|layer| layer["digest"].as_str())
        .ok_or_else(|| ModelError::Invalid {
            path: manifest_file.clone(),
            message: "it names no model layer".to_string(),
        })?;
    // `sha256:HEX` is stored as `sha256-HEX`; anything else is not a digest.
    let blob_name = digest.replacen(':', "-", 1);
    let is_digest = blob_name
        .strip_prefix("sha256-")
        .is_some_and(|hex| !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit()));
    if !is_digest {
        return Err(ModelError::Invalid {
            path: manifest_file,
            message: format!("`{digest}` is not a sha256 digest"),
        });
    }
    let blob = root.join("blobs").join(blob_name);
    // Ollama writes its blobs as regular files in its own store: a link (to a GGUF
    // elsewhere, or anything else) is not one of them.
    let invalid = |message: &str| ModelError::Invalid {
        path: blob.clone(),
        message: message.to_string(),
    };
    match std::fs::symlink_metadata(&blob) {
        Ok(meta) if meta.file_type().is_symlink() => {
            return Err(invalid("it is a link, not a blob Ollama wrote"));
        }
        Ok(meta) if !meta.is_file() => return Err(invalid("it is not a regular file")),
        _ => {}
    }
    let real_blobs = root.join("blobs").canonicalize().ok();
    let inside = blob
        .canonicalize()
        .ok()
        .zip(real_blobs)
        .is_none_or(|(real, blobs)| real.starts_with(blobs));
    if !inside {
        return Err(invalid("it lies outside Ollama's store"));
    }
    Ok((blob, local))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_become_manifest_paths_and_local_names() {
        let (path, local) = manifest_path("qwen2.5:1.5b").unwrap();
        assert_eq!(path, Path::new("registry.ollama.ai/library/qwen2.5/1.5b"));
        assert_eq!(local, "qwen2.5:1.5b");
        let (path, local) = manifest_path("llama3.2").unwrap();
        assert_eq!(
            path,
            Path::new("registry.ollama.ai/library/llama3.2/latest")
        );
        assert_eq!(local, "llama3.2:latest");
        let (path, _) = manifest_path("someone/tiny:q8").unwrap();
        assert_eq!(path, Path::new("registry.ollama.ai/someone/tiny/q8"));
        for bad in ["../../etc:passwd", "a/../b", "", ":x", "a:b/c", "a b"] {
            assert!(manifest_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn blobs_must_be_regular_files_in_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("models");
        let manifests = root.join("manifests/registry.ollama.ai/library/tiny");
        std::fs::create_dir_all(&manifests).unwrap();
        std::fs::create_dir_all(root.join("blobs")).unwrap();
        let layer = |hex: &str| {
            format!(r#"{{"layers":[{{"mediaType":"{MODEL_LAYER}","digest":"sha256:{hex}"}}]}}"#)
        };
        std::fs::write(manifests.join("real"), layer("aa")).unwrap();
        std::fs::write(root.join("blobs/sha256-aa"), "GGUF").unwrap();
        assert!(find(&root, "tiny:real").is_ok());
        std::fs::write(dir.path().join("elsewhere.gguf"), "GGUF").unwrap();
        std::fs::write(manifests.join("linked"), layer("bb")).unwrap();
        std::os::unix::fs::symlink(
            dir.path().join("elsewhere.gguf"),
            root.join("blobs/sha256-bb"),
        )
        .unwrap();
        let err = find(&root, "tiny:linked").unwrap_err().to_string();
        assert!(err.contains("is a link"), "{err}");
        std::fs::write(manifests.join("folder"), layer("cc")).unwrap();
        std::fs::create_dir_all(root.join("blobs/sha256-cc")).unwrap();
        let err = find(&root, "tiny:folder").unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");
    }
}
