//! The synthetic memory corpus the memory benchmarks share: Markdown notes generated
//! deterministically (same seed, same files) so numbers compare across runs. Words follow
//! a Zipf distribution (as in real text) over a 20,000-word vocabulary whose top ranks are
//! common English words; topic words sit at ranks from 150 to 15,000.

#![allow(dead_code)] // Each benchmark uses part of it.

use std::fmt::Write as _;
use std::path::Path;

pub const FILES: usize = 10_000;
pub const TOTAL_BYTES: usize = 50 * 1024 * 1024;
const FOLDERS: usize = 100;

/// A small, deterministic generator (SplitMix64); the corpus must not change between runs.
pub struct Rng(pub u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A word rank drawn from a Zipf (s = 1) distribution over `n` ranks, as word
    /// frequencies in real text are: rank r is drawn with probability ∝ 1 / (r + 1).
    fn zipf(&mut self, n: usize) -> usize {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        let rank = ((n as f64 + 1.0).ln() * u).exp() - 1.0;
        (rank as usize).min(n - 1)
    }
}

/// The most common English words, the top of any real vocabulary.
const COMMON: &str = "the of and to a in is it that we for on was with he as you at be this \
    have from or one had by but not what all were when your can said there use an each which \
    she do how their if will up other about out many then them these so some her would make \
    like him into time has look two more write go see number no way could people my than first \
    been call who its now find long down day did get come made may part over new after also";

/// Topic words people search for, placed at realistic ranks: common, middling and rare.
pub const TOPICS: [(&str, usize); 15] = [
    ("meeting", 150),
    ("release", 300),
    ("deploy", 500),
    ("budget", 800),
    ("database", 1_200),
    ("kubernetes", 2_000),
    ("migration", 2_500),
    ("invoice", 3_000),
    ("garden", 4_000),
    ("recipe", 5_000),
    ("travel", 6_000),
    ("doctor", 8_000),
    ("password", 10_000),
    ("backup", 12_000),
    ("roadmap", 15_000),
];

pub fn vocabulary(rng: &mut Rng) -> Vec<String> {
    const SYLLABLES: [&str; 24] = [
        "ka", "lo", "mi", "ren", "sto", "val", "dor", "pe", "qui", "tan", "bri", "el", "mon",
        "sar", "ti", "vu", "gra", "hel", "io", "nex", "or", "pla", "ser", "zu",
    ];
    let mut words: Vec<String> = COMMON.split_whitespace().map(String::from).collect();
    while words.len() < 20_000 {
        let parts = 2 + rng.below(3);
        let word: String = (0..parts)
            .map(|_| SYLLABLES[rng.below(SYLLABLES.len())])
            .collect();
        words.push(word);
    }
    for (topic, rank) in TOPICS {
        words[rank] = topic.to_string();
    }
    words
}

fn sentence(rng: &mut Rng, words: &[String], out: &mut String) {
    let length = 6 + rng.below(14);
    for index in 0..length {
        if index > 0 {
            out.push(' ');
        }
        out.push_str(&words[rng.zipf(words.len())]);
    }
    out.push_str(". ");
}

/// The whole corpus: 10,000 files, 50 MB.
pub fn generate(workspace: &Path) {
    generate_files(workspace, FILES);
}

/// The first `files` files of it (each about 5 KB).
pub fn generate_files(workspace: &Path, files: usize) {
    let mut rng = Rng(0x10CA_16B7);
    let words = vocabulary(&mut rng);
    let per_file = TOTAL_BYTES / FILES;
    for folder in 0..FOLDERS {
        std::fs::create_dir_all(workspace.join(format!("memory/{folder:03}"))).unwrap();
    }
    for file in 0..files {
        let mut text = format!("# Notes {file}\n\n");
        let mut section = 0;
        while text.len() < per_file {
            if rng.below(4) == 0 {
                section += 1;
                let topic = &words[100 + rng.zipf(words.len() - 100)];
                let _ = write!(text, "\n## {topic} {section}\n\n");
            }
            if rng.below(12) == 0 {
                text.push_str("```sh\n");
                for _ in 0..(2 + rng.below(6)) {
                    let _ = writeln!(text, "run --{} {}", words[rng.below(500)], rng.below(1000));
                }
                text.push_str("```\n\n");
                continue;
            }
            for _ in 0..(2 + rng.below(5)) {
                sentence(&mut rng, &words, &mut text);
            }
            text.push_str("\n\n");
        }
        let path = workspace.join(format!("memory/{:03}/note-{file:05}.md", file % FOLDERS));
        std::fs::write(path, text).unwrap();
    }
}
