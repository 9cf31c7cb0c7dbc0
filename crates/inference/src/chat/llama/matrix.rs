//! A weight matrix of the model: Q8_0 on the fast path that models converted at install
//! time take ([`super::q8`]: int8 tiles for prompts), or blocks of any format people
//! download ([`super::blocks`]).

use std::ops::Range;

use super::blocks::BlockMatrix;
use super::q8::Q8Matrix;

pub(super) enum Matrix {
    Q8(Q8Matrix),
    Blocks(BlockMatrix),
}

impl Matrix {
    pub(super) fn rows(&self) -> usize {
        match self {
            Matrix::Q8(matrix) => matrix.rows,
            Matrix::Blocks(matrix) => matrix.rows,
        }
    }

    pub(super) fn columns(&self) -> usize {
        match self {
            Matrix::Q8(matrix) => matrix.columns,
            Matrix::Blocks(matrix) => matrix.columns,
        }
    }

    /// Rows `rows` as floats, one after another, into `out`.
    pub(super) fn dequantize(&self, rows: Range<usize>, out: &mut [f32]) {
        match self {
            Matrix::Q8(matrix) => matrix.dequantize(rows, out),
            Matrix::Blocks(matrix) => matrix.dequantize(rows, out),
        }
    }

    pub(super) fn as_q8(&self) -> Option<&Q8Matrix> {
        match self {
            Matrix::Q8(matrix) => Some(matrix),
            Matrix::Blocks(_) => None,
        }
    }

    pub(super) fn as_blocks(&self) -> Option<&BlockMatrix> {
        match self {
            Matrix::Q8(_) => None,
            Matrix::Blocks(matrix) => Some(matrix),
        }
    }
}
