//! What the 512-bit K-quant products ([`super::q4k`], [`super::q6k`]) share: which of
//! them this CPU runs, the loop over rows, and how far ahead a row's bytes are fetched.

/// How far ahead of the block being multiplied the weights are fetched: the hardware
/// prefetcher stops at each 4 KB page.
pub(super) const PREFETCH_AHEAD: usize = 2048;

/// The 512-bit kernels, where the CPU has AVX-512 BW (and VNNI, or not).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Wide {
    Avx512Vnni,
    Avx512,
}

impl Wide {
    pub(super) fn detect() -> Option<Wide> {
        let cpu = crate::kernels::cpu();
        if cpu.avx512bw && cpu.avx512_vnni {
            Some(Wide::Avx512Vnni)
        } else if cpu.avx512bw {
            Some(Wide::Avx512)
        } else {
            None
        }
    }

    /// Every kernel this CPU can run, for the tests that hold each to the portable one.
    #[cfg(test)]
    pub(super) fn all_here() -> Vec<Wide> {
        match Wide::detect() {
            Some(Wide::Avx512Vnni) => vec![Wide::Avx512Vnni, Wide::Avx512],
            Some(Wide::Avx512) => vec![Wide::Avx512],
            None => Vec::new(),
        }
    }
}

/// `out[j · tokens + t] = dot(row j, t)` over the rows of `rows`, `row_bytes` each. A
/// row at a time: rows side by side are streams the hardware prefetcher follows badly
/// (four rows interleaved ran at half the speed).
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
