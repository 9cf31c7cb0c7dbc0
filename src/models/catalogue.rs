//! The chat models LocalGPT recommends, from the built-in toy to the 8B models people run
//! on a laptop: where `models pull` gets each, how much it downloads and needs, its
//! licence, and whether it calls tools. The first-run offer and the automatic choice of
//! a local model take the best one this machine's memory holds.

use crate::home::Home;

/// One recommended model.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// The name it installs under: `local/NAME`.
    pub name: &'static str,
    /// What `models pull` (or, for the built-in one, `models install`) takes.
    pub source: &'static str,
    pub download_gb: f64,
    /// Memory it needs running: the mapped file, a conversation's key/value cache, and
    /// the program.
    pub memory_gb: f64,
    pub licence: &'static str,
    /// Whether its chat template writes tool calls (else LocalGPT's fallback format).
    pub tools: bool,
    /// Runs on LocalGPT's own forward pass (else candle's).
    pub own_forward_pass: bool,
}

/// Best last: the order in which a machine with more memory takes a bigger model.
pub const CATALOGUE: [Entry; 7] = [
    Entry {
        name: "smollm2",
        source: "smollm2",
        download_gb: 0.15,
        memory_gb: 0.4,
        licence: "Apache-2.0",
        tools: false,
        own_forward_pass: true,
    },
    Entry {
        name: "qwen2.5-0.5b-instruct-q4_k_m",
        source: "hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M",
        download_gb: 0.40,
        memory_gb: 0.9,
        licence: "Apache-2.0",
        tools: true,
        own_forward_pass: true,
    },
    Entry {
        name: "llama-3.2-1b-instruct-q4_k_m",
        source: "hf:bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M",
        download_gb: 0.81,
        memory_gb: 1.5,
        licence: "Llama 3.2 Community",
        tools: true,
        own_forward_pass: true,
    },
    Entry {
        name: "qwen2.5-1.5b-instruct-q4_k_m",
        source: "hf:Qwen/Qwen2.5-1.5B-Instruct-GGUF:Q4_K_M",
        download_gb: 1.1,
        memory_gb: 2.0,
        licence: "Apache-2.0",
        tools: true,
        own_forward_pass: true,
    },
    Entry {
        name: "llama-3.2-3b-instruct-q4_k_m",
        source: "hf:bartowski/Llama-3.2-3B-Instruct-GGUF:Q4_K_M",
        download_gb: 2.0,
        memory_gb: 3.5,
        licence: "Llama 3.2 Community",
        tools: true,
        own_forward_pass: true,
    },
    Entry {
        name: "qwen3-4b-q4_k_m",
        source: "hf:Qwen/Qwen3-4B-GGUF:Q4_K_M",
        download_gb: 2.5,
        memory_gb: 4.5,
        licence: "Apache-2.0",
        tools: true,
        own_forward_pass: false,
    },
    Entry {
        name: "meta-llama-3.1-8b-instruct-q4_k_m",
        source: "hf:bartowski/Meta-Llama-3.1-8B-Instruct-GGUF:Q4_K_M",
        download_gb: 4.9,
        memory_gb: 7.5,
        licence: "Llama 3.1 Community",
        tools: true,
        own_forward_pass: true,
    },
];

/// A model may take this share of the machine's memory: the rest is the system's, the
/// browser's and everything else a person runs beside it.
const SHARE_OF_MEMORY: f64 = 0.5;

/// The best entry whose memory fits in `total_gb` (the built-in one on a tiny machine, or
/// when the memory is not known).
pub fn best_fit(total_gb: Option<f64>) -> Entry {
    let room = total_gb.unwrap_or(0.0) * SHARE_OF_MEMORY;
    CATALOGUE
        .iter()
        .rev()
        .find(|entry| entry.memory_gb <= room)
        .copied()
        .unwrap_or(CATALOGUE[0])
}

/// Whether `entry` fits in `total_gb`.
pub fn fits(entry: &Entry, total_gb: Option<f64>) -> bool {
    total_gb.is_some_and(|total| entry.memory_gb <= total * SHARE_OF_MEMORY)
}

/// The best installed catalogue model that fits this machine, as `local/NAME`: the one a
/// person gets when no key is set and Ollama is not running.
pub fn best_installed(home: &Home) -> Option<String> {
    let dir = super::models_dir(home);
    let total = total_memory_gb();
    CATALOGUE
        .iter()
        .rev()
        .filter(|entry| entry.name == "smollm2" || fits(entry, total))
        .find(|entry| super::chat::is_installed(&dir.join(entry.name)))
        .map(|entry| format!("{}/{}", super::LOCAL_PROVIDER, entry.name))
}

/// The machine's memory in GB, where the system says.
pub fn total_memory_gb() -> Option<f64> {
    if let Ok(value) = std::env::var("LOCALGPT_MEMORY_GB") {
        // For tests and for a person who wants a smaller model than the machine holds.
        return value.parse().ok();
    }
    #[cfg(target_os = "linux")]
    {
        let info = std::fs::read_to_string("/proc/meminfo").ok()?;
        let line = info.lines().find(|line| line.starts_with("MemTotal:"))?;
        let kilobytes: f64 = line
            .trim_start_matches("MemTotal:")
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kilobytes * 1024.0 / 1e9)
    }
    #[cfg(target_os = "macos")]
    {
        let out = std::process::Command::new("sysctl")
            .args(["-n", "hw.memsize"])
            .output()
            .ok()?;
        let bytes: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
        Some(bytes / 1e9)
    }
    #[cfg(not(any(target_os = "linux", target_os = "macos")))]
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn more_memory_takes_a_bigger_model_and_a_tiny_machine_the_built_in_one() {
        assert_eq!(best_fit(None).name, "smollm2");
        assert_eq!(best_fit(Some(1.0)).name, "smollm2");
        assert_eq!(best_fit(Some(3.5)).name, "llama-3.2-1b-instruct-q4_k_m");
        assert_eq!(best_fit(Some(4.0)).name, "qwen2.5-1.5b-instruct-q4_k_m");
        assert_eq!(best_fit(Some(8.0)).name, "llama-3.2-3b-instruct-q4_k_m");
        assert_eq!(
            best_fit(Some(16.0)).name,
            "meta-llama-3.1-8b-instruct-q4_k_m"
        );
        for entry in CATALOGUE {
            assert!(
                entry.source == "smollm2"
                    || crate::models::pull::Source::parse(entry.source).is_ok(),
                "{}",
                entry.source
            );
            assert!(entry.memory_gb > entry.download_gb, "{}", entry.name);
        }
        let sizes: Vec<f64> = CATALOGUE.iter().map(|entry| entry.memory_gb).collect();
        assert!(sizes.windows(2).all(|pair| pair[0] <= pair[1]), "best last");
    }
}
