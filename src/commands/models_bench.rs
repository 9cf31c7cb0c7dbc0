//! `localgpt models bench`: how fast a chat model runs on this machine.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context as _, Result};

use super::Context;
use crate::cli::BenchArgs;
use crate::models::{self, chat::bench};
use crate::report::UsageError;

pub(super) fn run(args: &BenchArgs, ctx: &Context<'_>, out: &mut dyn Write) -> Result<()> {
    let path = model_file(args, ctx)?;
    let threads = args.threads.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        usize::from,
    );
    let settings = bench::BenchSettings {
        threads,
        prompt_tokens: args.prompt_tokens,
        gen_tokens: args.gen_tokens,
        repetitions: usize::from(args.repetitions),
    };
    if !args.json && ctx.verbosity != crate::logging::Verbosity::Quiet {
        eprintln!(
            "measuring {} on {threads} thread(s): {} prompt tokens, {} generated, {} run(s) after a warm-up…",
            path.display(),
            settings.prompt_tokens,
            settings.gen_tokens,
            settings.repetitions
        );
    }
    let report = bench::bench(&path, settings)
        .with_context(|| format!("cannot measure {}", path.display()))?;
    let peak = peak_memory();
    let cpu = format!(
        "{}, kernels for {}",
        cpu_name().unwrap_or_else(|| std::env::consts::ARCH.to_string()),
        localgpt_inference::kernels::cpu().describe()
    );
    if args.json {
        let mut value = serde_json::to_value(&report)?;
        if let Some(object) = value.as_object_mut() {
            object.insert("model".into(), path.display().to_string().into());
            object.insert("peak_memory_bytes".into(), peak.into());
            object.insert("cpu".into(), cpu.into());
        }
        writeln!(out, "{value}")?;
        return Ok(());
    }
    writeln!(
        out,
        "{} {} ({} forward pass), {} thread(s), {}",
        report.architecture, report.quantization, report.forward_pass, report.threads, cpu
    )?;
    writeln!(
        out,
        "  prompt      {:>5} tokens  {:>9.1} tokens/s",
        report.prompt_tokens, report.prompt_tokens_per_s
    )?;
    writeln!(
        out,
        "  generation  {:>5} tokens  {:>9.1} tokens/s",
        report.gen_tokens, report.gen_tokens_per_s
    )?;
    let file_size = std::fs::metadata(&path).map_or(0, |meta| meta.len());
    match peak {
        Some(peak) => writeln!(
            out,
            "  peak memory {:.0} MB (file {:.0} MB), loaded in {:.1} s",
            peak as f64 / 1e6,
            file_size as f64 / 1e6,
            report.load_seconds
        )?,
        None => writeln!(
            out,
            "  peak memory not measured on this system; loaded in {:.1} s",
            report.load_seconds
        )?,
    }
    Ok(())
}

/// The GGUF file `args.model` names: a path, or an installed chat model.
fn model_file(args: &BenchArgs, ctx: &Context<'_>) -> Result<PathBuf> {
    let path = PathBuf::from(&args.model);
    if path.is_file() {
        return Ok(path);
    }
    let name = args.model.strip_prefix("local/").unwrap_or(&args.model);
    let installed = models::list(&ctx.home);
    let found = installed
        .iter()
        .find(|model| model.name == name && model.kind == "chat")
        .map(|model| model.path.join("model.gguf"));
    found.ok_or_else(|| {
        let chat: Vec<&str> = installed
            .iter()
            .filter(|model| model.kind == "chat")
            .map(|model| model.name.as_str())
            .collect();
        UsageError(format!(
            "`{}` is neither a GGUF file nor an installed chat model ({})",
            args.model,
            if chat.is_empty() {
                "none installed".to_string()
            } else {
                chat.join(", ")
            }
        ))
        .into()
    })
}

/// The most memory the process has held (its peak resident set), where the system says.
fn peak_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kilobytes: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kilobytes * 1024)
}

/// The CPU's model name, where the system says ("AMD EPYC 9B14").
fn cpu_name() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    info.lines()
        .find(|line| line.starts_with("model name"))
        .and_then(|line| line.split_once(':'))
        .map(|(_, name)| name.trim().to_string())
}
