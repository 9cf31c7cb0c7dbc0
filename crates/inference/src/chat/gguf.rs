//! Reading a GGUF file's header so that no number in it can abort or crash LocalGPT: a
//! model file comes from anywhere (a download, Ollama's store, a path a person typed),
//! and candle trusts its header. Before candle reads it, `general.alignment` is checked
//! (zero divides by zero in candle); after, every tensor's size is computed with checked
//! arithmetic and must lie inside the file, and the shape numbers the forward passes
//! divide by must be non-zero and agree. A file that fails says which number is wrong.

use std::io::{BufRead, Seek, SeekFrom};

#[cfg(test)]
use candle_core::quantized::gguf_file;
use candle_core::quantized::gguf_file::Content;

/// The architecture a GGUF file declares.
pub fn architecture(content: &Content) -> String {
    content
        .metadata
        .get("general.architecture")
        .and_then(|value| value.to_string().ok())
        .cloned()
        .unwrap_or_default()
}

/// Largest size of one dimension anyone ships (a vocabulary, a width): beyond it a
/// number is a corrupt or hostile header.
const MAX_DIMENSION: u64 = 1 << 32;

/// Reads the header of the GGUF file in `reader`, checked (see the module's text).
pub fn read_content<R: BufRead + Seek>(reader: &mut R) -> Result<Content, String> {
    let file_size = reader
        .seek(SeekFrom::End(0))
        .map_err(|err| err.to_string())?;
    reader
        .seek(SeekFrom::Start(0))
        .map_err(|err| err.to_string())?;
    if let Some(0) = alignment(reader, file_size)? {
        return Err("general.alignment is 0 (it must be a positive multiple of 8)".to_string());
    }
    reader
        .seek(SeekFrom::Start(0))
        .map_err(|err| err.to_string())?;
    let content = Content::read(reader).map_err(|err| err.to_string())?;
    check_tensors(&content, file_size)?;
    check_shape(&content)?;
    Ok(content)
}

fn check_tensors(content: &Content, file_size: u64) -> Result<(), String> {
    for (name, info) in &content.tensor_infos {
        let mut elements: u64 = 1;
        for &dim in info.shape.dims() {
            let dim = u64::try_from(dim).unwrap_or(u64::MAX);
            if dim > MAX_DIMENSION {
                return Err(format!("tensor {name} has a dimension of {dim}"));
            }
            elements = elements
                .checked_mul(dim)
                .ok_or_else(|| format!("tensor {name}'s dimensions overflow when multiplied"))?;
        }
        let block = u64::try_from(info.ggml_dtype.block_size()).unwrap_or(u64::MAX);
        let type_size = u64::try_from(info.ggml_dtype.type_size()).unwrap_or(u64::MAX);
        if block == 0 || !elements.is_multiple_of(block) {
            return Err(format!(
                "tensor {name} has {elements} elements, not whole blocks of {block}"
            ));
        }
        let end = (elements / block)
            .checked_mul(type_size)
            .and_then(|bytes| bytes.checked_add(info.offset))
            .and_then(|end| end.checked_add(content.tensor_data_offset));
        match end {
            Some(end) if end <= file_size => {}
            _ => {
                return Err(format!(
                    "tensor {name} ({:?}, {:?}) does not fit in the file's {file_size} bytes",
                    info.shape.dims(),
                    info.ggml_dtype
                ));
            }
        }
    }
    Ok(())
}

/// The numbers the forward passes divide by, or size their buffers with.
fn check_shape(content: &Content) -> Result<(), String> {
    let arch = architecture(content);
    let number = |key: &str| -> Option<u64> {
        let value = content.metadata.get(&format!("{arch}.{key}"))?;
        value
            .to_u64()
            .ok()
            .or_else(|| value.to_u32().ok().map(u64::from))
            .or_else(|| value.to_i32().ok().and_then(|v| u64::try_from(v).ok()))
    };
    let heads = number("attention.head_count");
    let kv_heads = number("attention.head_count_kv");
    let width = number("embedding_length");
    for (key, value) in [
        ("attention.head_count", heads),
        ("attention.head_count_kv", kv_heads),
        ("embedding_length", width),
        ("block_count", number("block_count")),
        ("feed_forward_length", number("feed_forward_length")),
    ] {
        match value {
            Some(0) => return Err(format!("{arch}.{key} is 0")),
            Some(n) if n > MAX_DIMENSION => return Err(format!("{arch}.{key} is {n}")),
            _ => {}
        }
    }
    if let (Some(heads), Some(width)) = (heads, width)
        && width % heads != 0
    {
        return Err(format!(
            "{arch}.embedding_length {width} is not a multiple of its {heads} heads"
        ));
    }
    if let (Some(heads), Some(kv_heads)) = (heads, kv_heads)
        && heads % kv_heads != 0
    {
        return Err(format!(
            "{arch}.attention.head_count {heads} is not a multiple of head_count_kv {kv_heads}"
        ));
    }
    Ok(())
}

/// `general.alignment` as written, when the metadata has it: read by walking the
/// metadata (each value skipped by its declared size, bounded by the file's), because
/// candle divides by it while it reads.
fn alignment<R: BufRead + Seek>(reader: &mut R, file_size: u64) -> Result<Option<u64>, String> {
    let mut walker = Walker { reader, file_size };
    let magic = walker.u32()?;
    if magic != 0x4655_4747 {
        return Err("not a GGUF file (no GGUF magic)".to_string());
    }
    let version = walker.u32()?;
    let wide = version >= 2;
    let _tensors = walker.length(wide)?;
    let entries = walker.length(wide)?;
    for _ in 0..entries {
        let key = walker.string(wide, true)?;
        let kind = walker.u32()?;
        if key == "general.alignment" {
            let value = match kind {
                0 => u64::from(walker.bytes::<1>()?[0]),
                2 => u64::from(u16::from_le_bytes(walker.bytes::<2>()?)),
                4 => u64::from(walker.u32()?),
                10 => u64::from_le_bytes(walker.bytes::<8>()?),
                1 | 3 | 5 | 11 => return Ok(None), // Signed: candle takes negatives as unset.
                _ => return Ok(None),
            };
            return Ok(Some(value));
        }
        walker.skip_value(kind, wide, 0)?;
    }
    Ok(None)
}

struct Walker<'r, R> {
    reader: &'r mut R,
    file_size: u64,
}

impl<R: BufRead + Seek> Walker<'_, R> {
    fn bytes<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut bytes = [0_u8; N];
        self.reader
            .read_exact(&mut bytes)
            .map_err(|_| "the GGUF header ends early".to_string())?;
        Ok(bytes)
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.bytes::<4>()?))
    }

    fn length(&mut self, wide: bool) -> Result<u64, String> {
        if wide {
            Ok(u64::from_le_bytes(self.bytes::<8>()?))
        } else {
            Ok(u64::from(self.u32()?))
        }
    }

    /// A string; kept only when `keep` (a key), else skipped.
    fn string(&mut self, wide: bool, keep: bool) -> Result<String, String> {
        let length = self.length(wide)?;
        if keep && length <= 1024 {
            let mut bytes = vec![0_u8; usize::try_from(length).unwrap_or(0)];
            self.reader
                .read_exact(&mut bytes)
                .map_err(|_| "the GGUF header ends early".to_string())?;
            return Ok(String::from_utf8_lossy(&bytes).into_owned());
        }
        self.skip(length)?;
        Ok(String::new())
    }

    fn skip(&mut self, length: u64) -> Result<(), String> {
        let here = self
            .reader
            .stream_position()
            .map_err(|err| err.to_string())?;
        if here
            .checked_add(length)
            .is_none_or(|end| end > self.file_size)
        {
            return Err("a GGUF metadata value runs past the end of the file".to_string());
        }
        let offset = i64::try_from(length).map_err(|_| "a GGUF length is too large")?;
        self.reader
            .seek_relative(offset)
            .map_err(|err| err.to_string())
    }

    fn skip_value(&mut self, kind: u32, wide: bool, depth: usize) -> Result<(), String> {
        match kind {
            0 | 1 | 7 => self.skip(1),
            2 | 3 => self.skip(2),
            4..=6 => self.skip(4),
            10..=12 => self.skip(8),
            8 => self.string(wide, false).map(drop),
            9 if depth < 4 => {
                let inner = self.u32()?;
                let count = self.length(wide)?;
                let fixed = match inner {
                    0 | 1 | 7 => Some(1),
                    2 | 3 => Some(2),
                    4..=6 => Some(4),
                    10..=12 => Some(8),
                    _ => None,
                };
                match fixed {
                    Some(size) => self.skip(
                        count
                            .checked_mul(size)
                            .ok_or("a GGUF array's size overflows")?,
                    ),
                    None => {
                        if count > self.file_size {
                            return Err("a GGUF array is longer than the file".to_string());
                        }
                        for _ in 0..count {
                            self.skip_value(inner, wide, depth + 1)?;
                        }
                        Ok(())
                    }
                }
            }
            _ => Err(format!("unknown GGUF value type {kind}")),
        }
    }
}

/// A GGUF file's header as candle reads it, for the tests that write hostile ones.
#[cfg(test)]
pub fn write_header(
    path: &std::path::Path,
    metadata: &[(&str, gguf_file::Value)],
    tensors: &[(&str, Vec<u64>)],
) {
    use std::io::Write;
    let mut out = Vec::new();
    out.extend_from_slice(&0x4655_4747_u32.to_le_bytes());
    out.extend_from_slice(&3_u32.to_le_bytes());
    out.extend_from_slice(&(tensors.len() as u64).to_le_bytes());
    out.extend_from_slice(&(metadata.len() as u64).to_le_bytes());
    for (key, value) in metadata {
        out.extend_from_slice(&(key.len() as u64).to_le_bytes());
        out.extend_from_slice(key.as_bytes());
        encode(&mut out, value, true);
    }
    for (name, dims) in tensors {
        out.extend_from_slice(&(name.len() as u64).to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&(dims.len() as u32).to_le_bytes());
        for dim in dims {
            out.extend_from_slice(&dim.to_le_bytes());
        }
        out.extend_from_slice(&0_u32.to_le_bytes()); // F32
        out.extend_from_slice(&0_u64.to_le_bytes());
    }
    out.extend_from_slice(&[0_u8; 64]);
    std::fs::File::create(path)
        .unwrap()
        .write_all(&out)
        .unwrap();
}

/// The value types the tests write: strings, u32s and arrays of strings.
#[cfg(test)]
fn encode(out: &mut Vec<u8>, value: &gguf_file::Value, typed: bool) {
    use gguf_file::Value;
    let kind: u32 = match value {
        Value::U32(_) => 4,
        Value::String(_) => 8,
        Value::Array(_) => 9,
        other => panic!("not written by the tests: {other:?}"),
    };
    if typed {
        out.extend_from_slice(&kind.to_le_bytes());
    }
    match value {
        Value::U32(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::String(text) => {
            out.extend_from_slice(&(text.len() as u64).to_le_bytes());
            out.extend_from_slice(text.as_bytes());
        }
        Value::Array(items) => {
            out.extend_from_slice(&8_u32.to_le_bytes());
            out.extend_from_slice(&(items.len() as u64).to_le_bytes());
            for item in items {
                encode(out, item, false);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gguf_file::Value;

    fn read(metadata: &[(&str, Value)], tensors: &[(&str, Vec<u64>)]) -> Result<Content, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.gguf");
        write_header(&path, metadata, tensors);
        let mut reader = std::io::BufReader::new(std::fs::File::open(&path).unwrap());
        read_content(&mut reader)
    }

    fn llama(extra: &[(&'static str, Value)]) -> Vec<(&'static str, Value)> {
        let mut metadata = vec![
            ("general.architecture", Value::String("llama".into())),
            (
                "tokenizer.ggml.tokens",
                Value::Array(vec![Value::String("a".into()); 3]),
            ),
            ("llama.attention.head_count", Value::U32(4)),
            ("llama.embedding_length", Value::U32(16)),
        ];
        metadata.extend(extra.iter().cloned());
        metadata
    }

    #[test]
    fn a_sound_header_reads() {
        let content = read(
            &llama(&[("general.alignment", Value::U32(32))]),
            &[("t", vec![4])],
        );
        assert!(content.is_ok(), "{content:?}");
    }

    #[test]
    fn hostile_numbers_are_refused_with_the_number_named() {
        type Case = (
            Vec<(&'static str, Value)>,
            Vec<(&'static str, Vec<u64>)>,
            &'static str,
        );
        let cases: Vec<Case> = vec![
            (
                llama(&[("general.alignment", Value::U32(0))]),
                vec![],
                "general.alignment is 0",
            ),
            (
                llama(&[("llama.attention.head_count", Value::U32(0))]),
                vec![],
                "head_count is 0",
            ),
            (
                llama(&[("llama.attention.head_count_kv", Value::U32(3))]),
                vec![],
                "not a multiple of head_count_kv",
            ),
            (
                llama(&[]),
                vec![("t", vec![1 << 31, 1 << 31, 1 << 31])],
                "overflow",
            ),
            (
                llama(&[]),
                vec![("t", vec![1 << 20, 1 << 20])],
                "does not fit",
            ),
            (llama(&[]), vec![("t", vec![1 << 40])], "a dimension of"),
        ];
        for (metadata, tensors, expected) in cases {
            let err = read(&metadata, &tensors).err().unwrap_or_default();
            assert!(err.contains(expected), "{expected}: {err}");
        }
    }
}
