//! The memory-bandwidth limit that model generation is held to: how fast one thread, and
//! two at once, can read 1 GiB that no cache holds, in the two ways a reader can — in
//! order, leaving the fetching to the hardware prefetcher, and fetching 8 KB ahead in
//! software as LocalGPT's K-quant kernels do (the prefetcher stops at each 4 KB page).
//! The limit is the faster of the two at each thread count; a generated token of a model
//! reads the whole file, so `limit ÷ file size` is the most tokens a second any program
//! can generate. `cargo bench --bench bandwidth`; criterion prints each as GiB/s.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const BYTES: usize = 1 << 30;
const AHEAD: usize = 8192;

/// The wrapping sum of `words`, eight lanes at a time (vectorised by the compiler), with
/// each 64-byte line fetched `AHEAD` bytes early when `prefetch`.
fn sum(words: &[u64], prefetch: bool) -> u64 {
    let mut lanes = [0u64; 8];
    for (i, line) in words.chunks_exact(8).enumerate() {
        if prefetch {
            fetch(words.as_ptr().wrapping_add(i * 8 + AHEAD / 8));
        }
        for (lane, word) in lanes.iter_mut().zip(line) {
            *lane = lane.wrapping_add(*word);
        }
    }
    lanes
        .iter()
        .fold(0, |total, lane| total.wrapping_add(*lane))
}

#[cfg(target_arch = "x86_64")]
fn fetch(at: *const u64) {
    use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
    // SAFETY: a prefetch is a hint that reads nothing the program sees and never faults,
    // wherever it points; SSE, which has it, is part of every x86_64 CPU.
    unsafe { _mm_prefetch::<_MM_HINT_T0>(at.cast::<i8>()) };
}

#[cfg(not(target_arch = "x86_64"))]
fn fetch(_: *const u64) {}

fn bench(c: &mut Criterion) {
    // Written once, so every page is resident and distinct before the first read.
    let words: Vec<u64> = (0..BYTES / 8).map(|i| i as u64).collect();
    let mut group = c.benchmark_group("read 1 GiB");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(BYTES as u64));
    for threads in [1, 2] {
        for (way, prefetch) in [("in order", false), ("fetched 8 KB ahead", true)] {
            group.bench_function(BenchmarkId::new(way, format!("{threads} threads")), |b| {
                b.iter(|| {
                    std::thread::scope(|scope| {
                        let share = words.len().div_ceil(threads);
                        let readers: Vec<_> = words
                            .chunks(share)
                            .map(|part| scope.spawn(move || sum(black_box(part), prefetch)))
                            .collect();
                        readers
                            .into_iter()
                            .map(|reader| reader.join().unwrap_or(0))
                            .fold(0u64, u64::wrapping_add)
                    })
                });
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
