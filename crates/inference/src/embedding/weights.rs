//! The embedding model's weights: the safetensors file's data section read in place
//! from its mapping, or copied once where the mapping cannot be read as floats.

use memmap2::Mmap;

/// Where one weight lies in [`Weights::floats`].
#[derive(Debug, Clone, Copy)]
pub(super) struct Param {
    pub(super) start: usize,
    pub(super) len: usize,
}

/// The file's data section as floats: the mapping itself where it is aligned (it is in
/// every file safetensors writes), else one copy.
enum Storage {
    Mapped { map: Mmap, data_start: usize },
    Copied(Vec<f32>),
}

pub(super) struct Weights {
    storage: Storage,
}

impl Weights {
    /// The data section of a mapped safetensors file, which starts at `data_start`.
    pub(super) fn new(map: Mmap, data_start: usize) -> Weights {
        let aligned =
            (map.as_ptr() as usize + data_start).is_multiple_of(std::mem::align_of::<f32>());
        let storage = if aligned && cfg!(target_endian = "little") {
            Storage::Mapped { map, data_start }
        } else {
            let bytes = map.get(data_start..).unwrap_or_default();
            Storage::Copied(
                bytes
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect(),
            )
        };
        Weights { storage }
    }

    pub(super) fn floats(&self) -> &[f32] {
        match &self.storage {
            Storage::Mapped { map, data_start } => {
                let bytes = map.get(*data_start..).unwrap_or_default();
                // SAFETY: `open` checked that this address is 4-byte aligned and the
                // machine little-endian; any bit pattern is a valid f32.
                unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<f32>(), bytes.len() / 4) }
            }
            Storage::Copied(floats) => floats,
        }
    }

    /// Drops a stretch from this process's resident memory (the file stays in the page
    /// cache, the mapping valid: the next read maps the pages again).
    pub(super) fn release(&self, floats: (usize, usize)) {
        if let Storage::Mapped { map, data_start } = &self.storage {
            let (offset, len) = (data_start + floats.0 * 4, (floats.1 - floats.0) * 4);
            // SAFETY: the mapping is private and never written, so dropping its pages
            // loses nothing: they are read from the unchanged file again when touched.
            let _ = unsafe {
                map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, offset, len)
            };
        }
    }

    pub(super) fn get(&self, param: Param) -> &[f32] {
        self.floats()
            .get(param.start..param.start + param.len)
            .unwrap_or_default()
    }
}
