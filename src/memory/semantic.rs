//! Vectors for semantic and hybrid search. Chunk vectors live in `chunk_vectors` beside
//! the text index (a chunk that changes gets a new id, so only new chunks are embedded); a
//! search compares the query's vector with every chunk's, which is exact and, for a
//! personal memory, fast. How the similarities are scored and combined with the words is
//! `rank`'s business.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

use super::embed::{self, Embedder};

/// How many chunks are embedded per batch.
pub(crate) const BATCH: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Keyword,
    Semantic,
    Hybrid,
}

impl Mode {
    pub fn parse(text: &str) -> Option<Mode> {
        match text {
            "keyword" => Some(Mode::Keyword),
            "semantic" => Some(Mode::Semantic),
            "hybrid" => Some(Mode::Hybrid),
            _ => None,
        }
    }
}

/// The model whose vectors `chunk_vectors` holds.
pub(super) fn stored_model(conn: &Connection) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT value FROM meta WHERE key = 'embedding_model'",
        [],
        |row| row.get(0),
    )
    .optional()
}

/// Makes `model` the one whose vectors are stored: another model's are dropped, since
/// vectors of two models cannot be compared.
fn adopt_model(conn: &Connection, model: &str) -> rusqlite::Result<()> {
    if stored_model(conn)?.as_deref() == Some(model) {
        return Ok(());
    }
    let tx = conn.unchecked_transaction()?;
    tx.execute("DELETE FROM chunk_vectors", [])?;
    tx.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('embedding_model', ?1)",
        params![model],
    )?;
    tx.commit()
}

/// How many chunks still need a vector from `model`.
pub fn pending(conn: &Connection, model: &str) -> rusqlite::Result<usize> {
    let sql = if stored_model(conn)?.as_deref() == Some(model) {
        "SELECT count(*) FROM chunks c LEFT JOIN chunk_vectors v ON v.chunk_id = c.id
         WHERE v.chunk_id IS NULL"
    } else {
        "SELECT count(*) FROM chunks"
    };
    conn.query_row(sql, [], |row| row.get::<_, i64>(0))
        .map(|n| usize::try_from(n).unwrap_or(0))
}

/// Embeds up to `limit` chunks that have no vector — of the file whose real path is
/// `only`, or of every file; returns how many it did. Each batch commits on its own, so a
/// search in between sees the vectors made so far.
pub fn embed_pending(
    conn: &Connection,
    embedder: &Embedder,
    limit: usize,
    only: Option<&Path>,
    progress: &mut dyn FnMut(usize),
) -> Result<usize, super::MemoryError> {
    adopt_model(conn, embedder.key())?;
    let only = only.map(|path| path.to_string_lossy().into_owned());
    let mut done = 0;
    while done < limit {
        let mut window: Vec<(i64, String)> = {
            let mut statement = conn.prepare_cached(
                "SELECT c.id, c.heading || char(10) || c.text FROM chunks c
                 LEFT JOIN chunk_vectors v ON v.chunk_id = c.id
                 WHERE v.chunk_id IS NULL
                   AND (?2 IS NULL OR c.file_id = (SELECT id FROM files WHERE path = ?2))
                 LIMIT ?1",
            )?;
            let rows = statement.query_map(
                params![(BATCH * 8).min(limit - done) as i64, only.as_deref()],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )?;
            rows.collect::<Result<_, _>>()?
        };
        if window.is_empty() {
            break;
        }
        // A batch is as long as its longest text: texts of like length together waste
        // the least work on padding.
        window.sort_by_key(|(_, text)| text.len());
        for batch in window.chunks(BATCH) {
            let texts: Vec<&str> = batch.iter().map(|(_, text)| text.as_str()).collect();
            let vectors = embedder
                .embed(&texts)
                .map_err(|err| super::MemoryError::Embed(err.to_string()))?;
            let tx = conn.unchecked_transaction()?;
            {
                let mut insert = tx.prepare_cached(
                    "INSERT OR REPLACE INTO chunk_vectors (chunk_id, vector) VALUES (?1, ?2)",
                )?;
                for ((id, _), vector) in batch.iter().zip(&vectors) {
                    insert.execute(params![id, embed::to_bytes(vector)])?;
                }
            }
            tx.commit()?;
            done += batch.len();
            progress(done);
        }
    }
    Ok(done)
}

/// Chunk ids with their cosine similarity to a query.
pub(super) type Similarities = Vec<(i64, f64)>;

/// The vectors nearest `query`, best first, with their similarity; and the similarity of
/// each chunk in `wanted` (found another way), from the same one pass over the vectors.
pub(super) fn nearest_and(
    conn: &Connection,
    query: &[f32],
    limit: usize,
    wanted: &std::collections::HashSet<i64>,
) -> rusqlite::Result<(Similarities, Similarities)> {
    let mut statement = conn.prepare_cached("SELECT chunk_id, vector FROM chunk_vectors")?;
    let mut rows = statement.query([])?;
    let mut best: Vec<(i64, f64)> = Vec::with_capacity(limit + 1);
    let mut known = Vec::with_capacity(wanted.len());
    while let Some(row) = rows.next()? {
        let id: i64 = row.get(0)?;
        let bytes = row.get_ref(1)?.as_blob()?;
        let score = f64::from(embed::similarity_bytes(query, bytes));
        if wanted.contains(&id) {
            known.push((id, score));
        }
        if best.len() < limit || best.last().is_some_and(|(_, worst)| score > *worst) {
            let at = best.partition_point(|(_, s)| *s >= score);
            best.insert(at, (id, score));
            best.truncate(limit);
        }
    }
    Ok((best, known))
}

/// The cosine similarity of two chunks' stored vectors, when both have one.
pub(super) fn similarity(
    conn: &Connection,
    first: i64,
    second: i64,
) -> rusqlite::Result<Option<f64>> {
    let mut statement =
        conn.prepare_cached("SELECT vector FROM chunk_vectors WHERE chunk_id = ?1")?;
    let mut vector_of = |id: i64| -> rusqlite::Result<Option<Vec<u8>>> {
        let mut rows = statement.query([id])?;
        match rows.next()? {
            Some(row) => Ok(Some(row.get(0)?)),
            None => Ok(None),
        }
    };
    let (Some(first), Some(second)) = (vector_of(first)?, vector_of(second)?) else {
        return Ok(None);
    };
    if first.len() != second.len() {
        return Ok(None);
    }
    Ok(Some(f64::from(embed::similarity_bytes(
        &embed::from_bytes(&first),
        &second,
    ))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{Freshness, Memory};

    /// Recall@5 of keyword and hybrid search on the labelled set in
    /// `tests/fixtures/recall.json`: questions in the person's own words.
    #[test]
    #[cfg_attr(
        not(test_wheels),
        ignore = "needs the model wheels (LOCALGPT_TEST_WHEELS)"
    )]
    fn hybrid_search_finds_what_keyword_search_misses() {
        let dir = crate::models::embedding::test_model_dir();
        let embedder = Embedder::load(&dir).unwrap();
        let set: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/fixtures/recall.json")).unwrap();
        let home_dir = tempfile::tempdir().unwrap();
        let home = crate::home::Home::at(home_dir.path());
        home.ensure("").unwrap();
        for (name, text) in set["notes"].as_object().unwrap() {
            std::fs::write(home.daily_log_dir().join(name), text.as_str().unwrap()).unwrap();
        }
        let config = crate::config::schema::MemoryConfig::default();
        let mut memory = Memory::open(&home, &config, crate::memory::today()).unwrap();
        memory.reindex(false, &mut |_, _| {}).unwrap();
        memory
            .embed_pending(&embedder, usize::MAX, &mut |_| {})
            .unwrap();
        assert_eq!(memory.pending_embeddings(embedder.key()).unwrap(), 0);
        let questions = set["questions"].as_array().unwrap();
        let mut found = [0usize; 3];
        for question in questions {
            let q = question["q"].as_str().unwrap();
            let answer = format!("memory/{}", question["answer"].as_str().unwrap());
            for (slot, mode) in [Mode::Keyword, Mode::Semantic, Mode::Hybrid]
                .into_iter()
                .enumerate()
            {
                let hits = memory
                    .search_semantic(q, 5, Freshness::Quick, mode, &embedder)
                    .unwrap();
                if hits.iter().any(|hit| hit.path == answer) {
                    found[slot] += 1;
                }
            }
        }
        let recall = |n: usize| n as f64 / questions.len() as f64;
        eprintln!(
            "recall@5 on {} questions: keyword {:.2}, semantic {:.2}, hybrid {:.2}",
            questions.len(),
            recall(found[0]),
            recall(found[1]),
            recall(found[2])
        );
        assert!(found[2] > found[0], "hybrid must beat keyword: {found:?}");
        assert!(recall(found[2]) >= 0.8, "{found:?}");
    }
}
