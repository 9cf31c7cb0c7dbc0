//! The arithmetic of the models' forward passes on plain slices: products (gemm's, and
//! a dot product per row for a few rows), layer and RMS normalisation, softmax, GELU and
//! SiLU, each compiled for the vector units the CPU has (chosen at run time).

/// Up to this many rows (a search query is a handful of tokens), a product is a dot
/// product per weight row: gemm would first repack the whole weight matrix, which for so
/// few rows costs more than the arithmetic.
pub(crate) const FEW_ROWS: usize = 16;

/// What this CPU can run, as the kernels need it: read once, the one place LocalGPT asks
/// the CPU. `LOCALGPT_CPU=avx2` or `portable` asks for less (never more than the CPU
/// has), so a benchmark on an AVX-512 machine measures what an AVX2-only one would run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cpu {
    /// AVX2 with FMA and F16C: every 256-bit kernel.
    pub avx2: bool,
    /// AVX-512F besides: 512-bit loops.
    pub avx512: bool,
    /// AVX-512 BW and VL besides: 512-bit byte and word arithmetic.
    pub avx512bw: bool,
    /// AVX-512 VNNI with VL besides: byte dot products in 256- and 512-bit registers.
    pub avx512_vnni: bool,
    /// AVX-VNNI besides AVX2: byte dot products in 256-bit registers, on CPUs with or
    /// without AVX-512.
    pub avx_vnni: bool,
}

pub fn cpu() -> Cpu {
    static CPU: std::sync::OnceLock<Cpu> = std::sync::OnceLock::new();
    *CPU.get_or_init(|| {
        let detected = detected_cpu();
        match std::env::var("LOCALGPT_CPU").as_deref() {
            Ok("portable") => Cpu::default(),
            Ok("avx2") => Cpu {
                avx2: detected.avx2,
                ..Cpu::default()
            },
            _ => detected,
        }
    })
}

impl Cpu {
    /// The vector extensions the kernels use, as people name them ("AVX2, AVX-512, AVX-512
    /// VNNI"), or "portable code".
    pub fn describe(&self) -> String {
        let named: Vec<&str> = [
            (self.avx2, "AVX2"),
            (self.avx512, "AVX-512"),
            (self.avx512_vnni, "AVX-512 VNNI"),
            (self.avx_vnni, "AVX-VNNI"),
        ]
        .iter()
        .filter(|(has, _)| *has)
        .map(|(_, name)| *name)
        .collect();
        if named.is_empty() {
            "portable code".to_string()
        } else {
            named.join(", ")
        }
    }
}

fn detected_cpu() -> Cpu {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        let avx2 = has!("avx2") && has!("fma") && has!("f16c");
        let avx512 = avx2 && has!("avx512f");
        Cpu {
            avx2,
            avx512,
            avx512bw: avx512 && has!("avx512bw") && has!("avx512vl"),
            avx512_vnni: avx512 && has!("avx512vnni") && has!("avx512vl"),
            avx_vnni: avx2 && has!("avxvnni"),
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    Cpu::default()
}

/// The vector instructions the plain loops are compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VectorUnit {
    Avx512,
    Avx2,
    Portable,
}

pub fn vector_unit() -> VectorUnit {
    let cpu = cpu();
    if cpu.avx512 {
        VectorUnit::Avx512
    } else if cpu.avx2 {
        VectorUnit::Avx2
    } else {
        VectorUnit::Portable
    }
}

/// Defines `$name`, which runs `$portable` compiled for AVX-512 or for AVX2 with FMA
/// when the CPU has them (chosen at run time), else as built: the loops are written
/// plainly and the compiler vectorises them for each.
macro_rules! vectorised {
    ($(#[$doc:meta])* $name:ident => $portable:ident($($arg:ident: $ty:ty),* $(,)?)) => {
        $(#[$doc])*
        pub(crate) fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx2,fma")]
                fn avx512($($arg: $ty),*) {
                    $portable($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                fn avx2($($arg: $ty),*) {
                    $portable($($arg),*)
                }
                match $crate::kernels::vector_unit() {
                    // SAFETY: `vector_unit` saw the CPU has the features this function
                    // is compiled for.
                    $crate::kernels::VectorUnit::Avx512 => return unsafe { avx512($($arg),*) },
                    // SAFETY: as above.
                    $crate::kernels::VectorUnit::Avx2 => return unsafe { avx2($($arg),*) },
                    $crate::kernels::VectorUnit::Portable => {}
                }
            }
            $portable($($arg),*)
        }
    };
}

pub(crate) use vectorised;

vectorised!(few_rows_times_transposed => few_rows_portable(
    input: &[f32],
    rows: usize,
    weight: &[f32],
    k: usize,
    bias: &[f32],
    out: &mut [f32],
    out_stride: usize,
));

#[inline(always)]
fn few_rows_portable(
    input: &[f32],
    rows: usize,
    weight: &[f32],
    k: usize,
    bias: &[f32],
    out: &mut [f32],
    out_stride: usize,
) {
    for (j, (w, b)) in weight.chunks_exact(k).zip(bias).enumerate() {
        for (r, x) in input.chunks_exact(k).take(rows).enumerate() {
            out[r * out_stride + j] = dot(x, w) + b;
        }
    }
}

/// Sixty-four running sums, so the additions do not wait on each other.
#[inline(always)]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    const LANES: usize = 64;
    let mut sums = [0.0f32; LANES];
    let (a_blocks, a_rest) = a.split_at(a.len() - a.len() % LANES);
    let (b_blocks, b_rest) = b.split_at(a_blocks.len().min(b.len()));
    for (x, y) in a_blocks
        .chunks_exact(LANES)
        .zip(b_blocks.chunks_exact(LANES))
    {
        for i in 0..LANES {
            sums[i] += x[i] * y[i];
        }
    }
    let rest: f32 = a_rest.iter().zip(b_rest).map(|(x, y)| x * y).sum();
    // Halving the sums in place stays in vector registers; adding the 64 one after
    // another was a chain of dependent additions longer than the products themselves
    // (a MiniLM query spent most of its forward pass there).
    let mut width = LANES / 2;
    while width > 0 {
        for i in 0..width {
            sums[i] += sums[i + width];
        }
        width /= 2;
    }
    sums[0] + rest
}

/// `x = LayerNorm(x + residual)`, row by row.
pub(crate) fn add_and_norm(
    x: &mut [f32],
    residual: &[f32],
    (gain, bias): (&[f32], &[f32]),
    eps: f32,
    width: usize,
) {
    for (row, residual) in x.chunks_exact_mut(width).zip(residual.chunks_exact(width)) {
        for (value, r) in row.iter_mut().zip(residual) {
            *value += r;
        }
        layer_norm(row, gain, bias, eps);
    }
}

pub(crate) fn layer_norm(row: &mut [f32], gain: &[f32], bias: &[f32], eps: f32) {
    let n = row.len() as f32;
    let mean = row.iter().sum::<f32>() / n;
    let variance = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
    let scale = 1.0 / (variance + eps).sqrt();
    for ((value, g), b) in row.iter_mut().zip(gain).zip(bias) {
        *value = (*value - mean) * scale * g + b;
    }
}

vectorised!(
    /// Softmax of each row of `rows` (`width` values each). `f32::exp` is a library call
    /// per value, which made the attention of long chunks slow: here a polynomial that
    /// the compiler vectorises.
    softmax_rows => softmax_portable(rows: &mut [f32], width: usize)
);

#[inline(always)]
fn softmax_portable(rows: &mut [f32], width: usize) {
    const LANES: usize = 16;
    for row in rows.chunks_exact_mut(width.max(1)) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        for value in row.iter_mut() {
            *value = exp(*value - max);
        }
        let mut sums = [0.0f32; LANES];
        let mut blocks = row.chunks_exact(LANES);
        for block in blocks.by_ref() {
            for i in 0..LANES {
                sums[i] += block[i];
            }
        }
        let sum = sums.iter().sum::<f32>() + blocks.remainder().iter().sum::<f32>();
        let scale = 1.0 / sum;
        for value in row.iter_mut() {
            *value *= scale;
        }
    }
}

/// e^x to about 2 ulp for the x ≤ 0 softmax feeds it (Cephes' expf): x = n·ln 2 + r,
/// a degree-6 polynomial for e^r, 2^n put straight into the exponent bits.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    const LN2_HIGH: f32 = 0.693_359_4;
    const LN2_LOW: f32 = -2.121_944_4e-4;
    let x = x.clamp(-87.0, 88.0);
    let n = (x * std::f32::consts::LOG2_E + 0.5).floor();
    let r = x - n * LN2_HIGH - n * LN2_LOW;
    let p = ((((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2)
        * r
        + 1.666_666_5e-1)
        * r
        + 0.5)
        * r
        + 1.0)
        * r
        + 1.0;
    p * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

vectorised!(
    /// `gate = SiLU(gate) · up`, a Llama feed-forward layer's gating.
    silu_times => silu_times_portable(gate: &mut [f32], up: &[f32])
);

#[inline(always)]
fn silu_times_portable(gate: &mut [f32], up: &[f32]) {
    for (g, u) in gate.iter_mut().zip(up) {
        *g = *g / (1.0 + exp(-*g)) * u;
    }
}

vectorised!(
    /// `gate = GELU(gate) · up`, Gemma's gating: GELU in its tanh form, as Gemma was
    /// trained with, tanh(u) written as 1 − 2 / (e^{2u} + 1).
    gelu_times => gelu_times_portable(gate: &mut [f32], up: &[f32])
);

#[inline(always)]
fn gelu_times_portable(gate: &mut [f32], up: &[f32]) {
    const SQRT_2_OVER_PI: f32 = 0.797_884_6;
    for (g, u) in gate.iter_mut().zip(up) {
        let x = *g;
        let inner = SQRT_2_OVER_PI * (x + 0.044_715 * x * x * x);
        let tanh = 1.0 - 2.0 / (exp(2.0 * inner) + 1.0);
        *g = 0.5 * x * (1.0 + tanh) * u;
    }
}

vectorised!(
    /// `out = RMSNorm(x) · gain`, row by row (`gain.len()` values each).
    rms_norm => rms_norm_portable(x: &[f32], gain: &[f32], eps: f32, out: &mut [f32])
);

#[inline(always)]
fn rms_norm_portable(x: &[f32], gain: &[f32], eps: f32, out: &mut [f32]) {
    const LANES: usize = 16;
    let width = gain.len().max(1);
    for (row, out) in x.chunks_exact(width).zip(out.chunks_exact_mut(width)) {
        let mut sums = [0.0f32; LANES];
        let mut blocks = row.chunks_exact(LANES);
        for block in blocks.by_ref() {
            for i in 0..LANES {
                sums[i] += block[i] * block[i];
            }
        }
        let rest: f32 = blocks.remainder().iter().map(|v| v * v).sum();
        let mean = (sums.iter().sum::<f32>() + rest) / width as f32;
        let scale = 1.0 / (mean + eps).sqrt();
        for ((o, v), g) in out.iter_mut().zip(row).zip(gain) {
            *o = v * scale * g;
        }
    }
}

vectorised!(gelu_in_place => gelu_portable(values: &mut [f32]));

#[inline(always)]
fn gelu_portable(values: &mut [f32]) {
    for value in values {
        *value = 0.5 * *value * (1.0 + erf(*value * std::f32::consts::FRAC_1_SQRT_2));
    }
}

/// erf as a ratio of polynomials in x² (Eigen's float version): only multiplies, adds
/// and one division, so it vectorises.
#[inline(always)]
fn erf(x: f32) -> f32 {
    const ALPHA: [f32; 7] = [
        -2.726_142_3e-10,
        2.770_681_4e-8,
        -2.101_024e-6,
        -5.692_506_4e-5,
        -7.349_906_3e-4,
        -2.954_6e-3,
        -1.609_603_3e-2,
    ];
    const BETA: [f32; 5] = [
        -1.456_607_2e-5,
        -2.133_740_6e-4,
        -1.682_827e-3,
        -7.373_329_2e-3,
        -1.426_473_9e-2,
    ];
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = ALPHA[0];
    for c in &ALPHA[1..] {
        p = p * x2 + c;
    }
    let mut q = BETA[0];
    for c in &BETA[1..] {
        q = q * x2 + c;
    }
    x * p / q
}

/// How a matrix lies in a slice: element (r, c) is at `r · row + c · column`.
#[derive(Clone, Copy)]
pub(crate) struct Strides {
    pub(crate) row: usize,
    pub(crate) column: usize,
}

impl Strides {
    /// Rows one after another, `row` apart.
    pub(crate) fn rows(row: usize) -> Strides {
        Strides { row, column: 1 }
    }

    /// The transpose of rows `column` apart: column c of the matrix is row c there.
    pub(crate) fn transposed(column: usize) -> Strides {
        Strides { row: 1, column }
    }

    /// The slice length an `rows × columns` matrix laid out so needs.
    fn extent(self, rows: usize, columns: usize) -> usize {
        (rows - 1) * self.row + (columns - 1) * self.column + 1
    }
}

/// `out (m × n) = scale · lhs (m × k) · rhs (k × n)` with gemm's kernels; `out` and `lhs`
/// are laid out in rows. Panics if a slice is too short for its matrix.
#[allow(clippy::too_many_arguments)]
pub(crate) fn product(
    (m, n, k): (usize, usize, usize),
    out: &mut [f32],
    out_row: usize,
    lhs: &[f32],
    lhs_row: usize,
    rhs: &[f32],
    rhs_strides: Strides,
    scale: f32,
    parallelism: gemm::Parallelism,
) {
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    assert!(out.len() >= Strides::rows(out_row).extent(m, n));
    assert!(lhs.len() >= Strides::rows(lhs_row).extent(m, k));
    assert!(rhs.len() >= rhs_strides.extent(k, n));
    // SAFETY: the asserts bound every index gemm reads or writes within the slices: out
    // and lhs by their row strides, rhs by its strides.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            out_row as isize,
            false,
            lhs.as_ptr(),
            1,
            lhs_row as isize,
            rhs.as_ptr(),
            rhs_strides.column as isize,
            rhs_strides.row as isize,
            0.0,
            scale,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// Scaled dot-product attention of every head, within each sequence.
pub(crate) fn attention(
    qkv: &[f32],
    lengths: &[usize],
    hidden: usize,
    heads: usize,
    scores: &mut [f32],
    out: &mut [f32],
) {
    let head_size = hidden / heads;
    let scale = 1.0 / (head_size as f32).sqrt();
    let stride = 3 * hidden;
    let mut first_row = 0;
    for &length in lengths {
        let scores = &mut scores[..length * length];
        for head in 0..heads {
            // This head's columns of Q, K and V in the sequence's rows.
            let q = first_row * stride + head * head_size;
            let (k, v) = (q + hidden, q + 2 * hidden);
            // Q · Kᵀ: K's rows read as columns.
            product(
                (length, length, head_size),
                scores,
                length,
                &qkv[q..],
                stride,
                &qkv[k..],
                Strides::transposed(stride),
                scale,
                gemm::Parallelism::None,
            );
            softmax_rows(scores, length);
            product(
                (length, head_size, length),
                &mut out[first_row * hidden + head * head_size..],
                hidden,
                scores,
                length,
                &qkv[v..],
                Strides::rows(stride),
                1.0,
                gemm::Parallelism::None,
            );
        }
        first_row += length;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_matches_the_library_exp() {
        let width = 37;
        let values: Vec<f32> = (0..width * 5)
            .map(|i| ((i * 7919) % 2003) as f32 / 50.0 - 20.0)
            .collect();
        let mut ours = values.clone();
        softmax_rows(&mut ours, width);
        for (row, expected) in ours.chunks(width).zip(values.chunks(width)) {
            let max = expected.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let sum: f64 = expected.iter().map(|v| f64::from(v - max).exp()).sum();
            for (got, value) in row.iter().zip(expected) {
                let want = f64::from(value - max).exp() / sum;
                assert!((f64::from(*got) - want).abs() < 1e-6, "{got} vs {want}");
            }
        }
        for x in [-100.0f32, -87.0, -20.5, -1.0, -1e-3, 0.0, 0.5, 10.0] {
            let relative = (exp(x) - x.max(-87.0).exp()).abs() / x.max(-87.0).exp();
            assert!(relative < 1e-6, "exp({x}): {relative}");
        }
    }

    #[test]
    fn gelu_matches_candle_exact_gelu() {
        let xs: Vec<f32> = (-8000..=8000).map(|i| i as f32 / 1000.0).collect();
        let tensor = candle_core::Tensor::new(xs.as_slice(), &candle_core::Device::Cpu).unwrap();
        let exact = tensor.gelu_erf().unwrap().to_vec1::<f32>().unwrap();
        let mut ours = xs.clone();
        gelu_in_place(&mut ours);
        let worst = exact
            .iter()
            .zip(&ours)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 2e-6, "{worst}");
        // The vectorised and the plain loop agree.
        let mut plain = xs.clone();
        gelu_portable(&mut plain);
        assert_eq!(plain.len(), ours.len());
        assert!(plain.iter().zip(&ours).all(|(a, b)| (a - b).abs() < 1e-6));
    }

    #[test]
    fn gelu_times_is_the_tanh_form_times_up() {
        let xs: Vec<f32> = (-12000..=12000).map(|i| i as f32 / 1000.0).collect();
        let up: Vec<f32> = (0..xs.len()).map(|i| 1.0 + (i % 7) as f32 / 4.0).collect();
        let mut ours = xs.clone();
        gelu_times(&mut ours, &up);
        for ((x, u), got) in xs.iter().zip(&up).zip(&ours) {
            let x64 = f64::from(*x);
            let inner = (2.0 / std::f64::consts::PI).sqrt() * (x64 + 0.044715 * x64.powi(3));
            let want = 0.5 * x64 * (1.0 + inner.tanh()) * f64::from(*u);
            let off = (f64::from(*got) - want).abs();
            assert!(
                off < 1e-5 * want.abs().max(1.0),
                "gelu({x}) · {u}: {got} vs {want}"
            );
        }
    }
}
