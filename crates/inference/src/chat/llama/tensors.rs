//! The model file's tensors, read by name from the mapped file: weight matrices in place
//! (whole, or a range of a fused one's rows) and small vectors as floats.

use std::ops::Range;
use std::sync::Arc;

use candle_core::quantized::{GgmlDType, gguf_file};
use memmap2::Mmap;

use super::blocks::{BlockMatrix, Format};
use super::matrix::Matrix;
use super::q8::Q8Matrix;

/// The model file's tensors by name.
pub(super) struct Tensors<'a> {
    pub(super) content: &'a gguf_file::Content,
    pub(super) map: &'a Arc<Mmap>,
    /// Whether the matrices take the Q8_0 fast path, or are read as blocks.
    pub(super) all_q8: bool,
}

impl Tensors<'_> {
    pub(super) fn info(&self, name: &str) -> Result<(&gguf_file::TensorInfo, usize), String> {
        let info = self
            .content
            .tensor_infos
            .get(name)
            .ok_or_else(|| format!("the file has no tensor {name}"))?;
        let start = self
            .content
            .tensor_data_offset
            .checked_add(info.offset)
            .and_then(|start| usize::try_from(start).ok())
            .ok_or_else(|| format!("tensor {name} lies past the end of the file"))?;
        Ok((info, start))
    }

    /// Whether the file has the tensor `name`.
    pub(super) fn has(&self, name: &str) -> bool {
        self.content.tensor_infos.contains_key(name)
    }

    pub(super) fn matrix(&self, name: &str) -> Result<Matrix, String> {
        self.matrix_rows(name, None)
    }

    /// Rows `rows` of the matrix `name` (all of them with `None`): one part of a fused
    /// matrix, such as Phi-3's query, key and value rows in one `attn_qkv`.
    pub(super) fn matrix_rows(
        &self,
        name: &str,
        rows: Option<Range<usize>>,
    ) -> Result<Matrix, String> {
        let (info, start) = self.info(name)?;
        let dims = info.shape.dims();
        let &[all_rows, columns] = dims else {
            return Err(format!("tensor {name} is {dims:?}, not a matrix"));
        };
        let format = Format::of(info.ggml_dtype).ok_or_else(|| {
            format!(
                "tensor {name} is {:?}, which this forward pass does not read",
                info.ggml_dtype
            )
        })?;
        let rows = rows.unwrap_or(0..all_rows);
        if rows.start > rows.end || rows.end > all_rows {
            return Err(format!(
                "tensor {name} has {all_rows} rows, not rows {rows:?}"
            ));
        }
        let row = format.row_bytes(columns).ok_or_else(|| {
            format!("tensor {name}: a {format:?} row of {columns} values is not whole blocks")
        })?;
        let start = row
            .checked_mul(rows.start)
            .and_then(|skipped| start.checked_add(skipped))
            .ok_or_else(|| format!("tensor {name}'s rows {rows:?} lie past the end of the file"))?;
        let map = Arc::clone(self.map);
        let count = rows.len();
        let matrix = if self.all_q8 {
            Q8Matrix::new(map, start, count, columns).map(Matrix::Q8)
        } else {
            BlockMatrix::new(map, start, count, columns, format).map(Matrix::Blocks)
        };
        matrix.map_err(|err| format!("tensor {name}: {err}"))
    }

    pub(super) fn vector(&self, name: &str, length: usize) -> Result<Vec<f32>, String> {
        let (info, start) = self.info(name)?;
        if info.ggml_dtype != GgmlDType::F32 || info.shape.elem_count() != length {
            return Err(format!(
                "tensor {name} is a {:?} {:?}, not {length} f32 values",
                info.ggml_dtype,
                info.shape.dims()
            ));
        }
        let bytes = start
            .checked_add(length * 4)
            .and_then(|end| self.map.get(start..end))
            .ok_or_else(|| format!("tensor {name} runs past the end of the file"))?;
        Ok(bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    }
}
