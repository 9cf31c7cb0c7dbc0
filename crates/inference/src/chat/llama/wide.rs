//! What LocalGPT's own K-quant products ([`super::q4k`], [`super::q6k`]) share: which of
//! them this CPU runs, the loop over rows, and how far ahead a row's bytes are fetched.

/// How far ahead of the block being multiplied the weights are fetched: the hardware
/// prefetcher stops at each 4 KB page. Two pages ahead covers memory's latency at the
/// rate the kernels now read (AMD EPYC, 1B Q4_K_M, generation at 1 / 2 threads: 2 KB
/// ahead 30.7 / 48.8 tok/s, 4 KB 31.9 / 52.2, 8 KB 34.9 / 54.9, 16 KB 33.5 / 48.0).
pub(super) const PREFETCH_AHEAD: usize = 8192;

/// Fetches the `LINES` cache lines `PREFETCH_AHEAD` bytes past `block` (a prefetch never
/// faults, wherever it points).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(super) fn fetch_ahead<const LINES: usize>(block: *const u8) {
    use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
    let ahead = block.wrapping_add(PREFETCH_AHEAD);
    for line in 0..LINES {
        // SAFETY: a prefetch is a hint: it reads nothing the program sees and never
        // faults; SSE, which has it, is part of every x86_64 CPU.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(64 * line).cast::<i8>()) };
    }
}

/// The sum of a 128-bit register's four floats, where each kernel ends a row.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(super) fn sum_lanes(v: std::arch::x86_64::__m128) -> f32 {
    use std::arch::x86_64::*;
    // SAFETY: register arithmetic in SSE, which every x86_64 CPU has.
    unsafe {
        let v = _mm_add_ps(v, _mm_movehl_ps(v, v));
        _mm_cvtss_f32(_mm_add_ss(v, _mm_shuffle_ps::<0x55>(v, v)))
    }
}

/// LocalGPT's own K-quant kernels: 512-bit where the CPU has AVX-512 BW (and VNNI, or
/// not), 256-bit where it has AVX2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Wide {
    Avx512Vnni,
    Avx512,
    Avx2,
}

impl Wide {
    pub(super) fn detect() -> Option<Wide> {
        let cpu = crate::kernels::cpu();
        if cpu.avx512bw && cpu.avx512_vnni {
            Some(Wide::Avx512Vnni)
        } else if cpu.avx512bw {
            Some(Wide::Avx512)
        } else if cpu.avx2 {
            Some(Wide::Avx2)
        } else {
            None
        }
    }

    /// Every kernel this CPU can run, for the tests that hold each to the portable one.
    #[cfg(test)]
    pub(super) fn all_here() -> Vec<Wide> {
        match Wide::detect() {
            Some(Wide::Avx512Vnni) => vec![Wide::Avx512Vnni, Wide::Avx512, Wide::Avx2],
            Some(Wide::Avx512) => vec![Wide::Avx512, Wide::Avx2],
            Some(Wide::Avx2) => vec![Wide::Avx2],
            None => Vec::new(),
        }
    }
}

/// `out[j · tokens + t] = dot(row j, t)` over the rows of `rows`, `row_bytes` each. A
/// row at a time: rows side by side are streams the hardware prefetcher follows badly
/// (four rows interleaved ran at half the speed).
#[inline(always)]
pub(super) fn rows_times(
    rows: &[u8],
    row_bytes: usize,
    tokens: usize,
    out: &mut [f32],
    dot: impl Fn(&[u8], usize) -> f32,
) {
    assert_eq!(out.len(), rows.len() / row_bytes * tokens);
    for (row, out) in rows
        .chunks_exact(row_bytes)
        .zip(out.chunks_exact_mut(tokens))
    {
        for (t, out) in out.iter_mut().enumerate() {
            *out = dot(row, t);
        }
    }
}
