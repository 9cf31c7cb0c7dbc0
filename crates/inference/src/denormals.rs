//! Denormal floats flushed to zero while a model runs. A product whose result falls
//! below f32's smallest normal value (1.2e-38) takes a slow path on x86 CPUs — on AMD
//! EPYC it made a Q6_K product three times slower per block — and a model's activations
//! can sit there: in the random-weight benchmark files every layer after the first feeds
//! its down projection values near 1e-34, whose products with the blocks' scales are
//! denormal. Flushing them changes results only below 1.2e-38, which no logit feels;
//! PyTorch (`set_flush_denormal`) and ONNX Runtime (`set_denormal_as_zero`) offer the
//! same for inference.
//!
//! On x86 the switch is two bits of MXCSR, the SSE/AVX control register, which is per
//! thread: each forward pass sets them on the thread it runs on and puts them back
//! after; the products' own pool threads keep them set. Elsewhere nothing changes.
//! `LOCALGPT_KEEP_DENORMALS=1` keeps them, to measure what flushing gains.

/// While alive, float results and inputs below the normal range are zero on this
/// thread; dropping it restores the control register as it was.
pub(crate) struct DenormalsFlushed {
    #[cfg(target_arch = "x86_64")]
    saved: u32,
}

#[cfg(target_arch = "x86_64")]
mod mxcsr {
    use std::arch::asm;

    /// Flush-to-zero (results, bit 15) and denormals-are-zero (inputs, bit 6).
    pub(super) const FLUSH: u32 = 1 << 15 | 1 << 6;

    pub(super) fn read() -> u32 {
        let mut value = 0u32;
        // SAFETY: `stmxcsr` stores the 4-byte register into `value`, which is 4 bytes and
        // writable; SSE, which has it, is part of every x86_64 CPU.
        unsafe {
            asm!("stmxcsr [{}]", in(reg) &mut value, options(nostack, preserves_flags));
        }
        value
    }

    pub(super) fn write(value: u32) {
        // SAFETY: `ldmxcsr` loads the register from `value`, a readable 4 bytes. The
        // values written are ones read from the register with at most FTZ and DAZ
        // added, which only make denormal floats zero: no exception is unmasked, the
        // rounding mode is kept, and no code here depends on denormal results.
        unsafe {
            asm!("ldmxcsr [{}]", in(reg) &value, options(nostack, readonly, preserves_flags));
        }
    }
}

/// Whether to flush: yes, unless `LOCALGPT_KEEP_DENORMALS=1` asks to measure without
/// (read once per process).
#[cfg(target_arch = "x86_64")]
fn wanted() -> bool {
    static WANTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *WANTED.get_or_init(|| std::env::var_os("LOCALGPT_KEEP_DENORMALS").is_none_or(|v| v != "1"))
}

impl DenormalsFlushed {
    pub(crate) fn new() -> DenormalsFlushed {
        #[cfg(target_arch = "x86_64")]
        {
            let saved = mxcsr::read();
            if wanted() {
                mxcsr::write(saved | mxcsr::FLUSH);
            }
            DenormalsFlushed { saved }
        }
        #[cfg(not(target_arch = "x86_64"))]
        DenormalsFlushed {}
    }

    /// For threads that only ever run a model's products: flushed for their lifetime.
    pub(crate) fn for_this_thread() {
        std::mem::forget(DenormalsFlushed::new());
    }
}

impl Drop for DenormalsFlushed {
    fn drop(&mut self) {
        #[cfg(target_arch = "x86_64")]
        mxcsr::write(self.saved);
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;
    use std::hint::black_box;

    /// 1e-20 squared is 1e-40, a denormal: kept outside the guard, zero inside it, and
    /// kept again once it is dropped, with the register as it was.
    #[test]
    fn denormals_are_zero_only_while_flushed() {
        let square = || black_box(1e-20f32) * black_box(1e-20f32);
        let before = mxcsr::read();
        assert!(square() > 0.0, "denormals kept by default");
        {
            let _flushed = DenormalsFlushed::new();
            assert_eq!(square(), 0.0);
            // An input that is already denormal counts as zero too.
            assert_eq!(black_box(1e-40f32) * black_box(1e10f32), 0.0);
            assert!(
                black_box(1e-18f32) * black_box(1e-18f32) > 0.0,
                "normal results stay"
            );
        }
        assert!(square() > 0.0);
        // Bits 0..6 are sticky exception flags, which the products above raise.
        let control = |value: u32| value & !0x3f;
        assert_eq!(control(mxcsr::read()), control(before));
    }
}
