//! Criterion benchmarks of the distance kernels at common embedding sizes.
//!
//!   cargo bench --bench kernels
//!
//! Each dense and bit kernel is measured on one pair of values that stays in
//! L1 cache, so the figures are the kernels' own cost per call:
//!
//! * `f32/*` and `f16/*`: dense vectors of 128 to 1536 dimensions;
//! * `bit/*`: bit strings of 128 to 1536 bits (binary-quantized vectors);
//! * `sparse/*`: sparse vectors with 128 to 1536 non-zeros each, their
//!   indices drawn from 8 times as many dimensions (so about an eighth of
//!   them are shared); one query against 1 MiB of other values in turn.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use half::f16;
use lodestone::distance::sparse::SparseRef;
use lodestone::distance::{bit, dense, half as halfk, sparse};
use rand::seq::index::sample;
use rand::{Rng, SeedableRng};

const DIMS: [usize; 4] = [128, 384, 768, 1536];

/// A named kernel over a pair of slices.
type Kernel<T> = (&'static str, fn(&[T], &[T]) -> f64);
/// A named kernel over a pair of sparse vectors.
type SparseKernel = (&'static str, fn(SparseRef, SparseRef) -> f64);

fn random_vector(rng: &mut impl Rng, dim: usize) -> Vec<f32> {
    (0..dim).map(|_| rng.gen_range(-1.0f32..1.0)).collect()
}

fn f32_kernels(c: &mut Criterion) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let kernels: [Kernel<f32>; 4] =
        [("l2_squared", dense::l2_squared), ("dot", dense::dot), ("cosine", dense::cosine_distance), ("l1", dense::l1)];
    for (name, kernel) in kernels {
        let mut group = c.benchmark_group(format!("f32/{name}"));
        for dim in DIMS {
            let a = random_vector(&mut rng, dim);
            let b = random_vector(&mut rng, dim);
            group.throughput(Throughput::Elements(dim as u64));
            group.bench_with_input(BenchmarkId::from_parameter(dim), &dim, |bench, _| {
                bench.iter(|| kernel(black_box(&a), black_box(&b)))
            });
        }
        group.finish();
    }
}

fn f16_kernels(c: &mut Criterion) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let kernels: [Kernel<f16>; 4] =
        [("l2_squared", halfk::l2_squared), ("dot", halfk::dot), ("cosine", halfk::cosine_distance), ("l1", halfk::l1)];
    let halves = |rng: &mut rand::rngs::StdRng, dim| -> Vec<f16> {
        random_vector(rng, dim).into_iter().map(f16::from_f32).collect()
    };
    for (name, kernel) in kernels {
        let mut group = c.benchmark_group(format!("f16/{name}"));
        for dim in DIMS {
            let a = halves(&mut rng, dim);
            let b = halves(&mut rng, dim);
            group.throughput(Throughput::Elements(dim as u64));
            group.bench_with_input(BenchmarkId::from_parameter(dim), &dim, |bench, _| {
                bench.iter(|| kernel(black_box(&a), black_box(&b)))
            });
        }
        group.finish();
    }
}

fn bit_kernels(c: &mut Criterion) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(13);
    let kernels: [Kernel<u8>; 2] = [("hamming", bit::hamming), ("jaccard", bit::jaccard)];
    for (name, kernel) in kernels {
        let mut group = c.benchmark_group(format!("bit/{name}"));
        for bits in DIMS {
            let a: Vec<u8> = (0..bits / 8).map(|_| rng.gen()).collect();
            let b: Vec<u8> = (0..bits / 8).map(|_| rng.gen()).collect();
            group.throughput(Throughput::Elements(bits as u64));
            group.bench_with_input(BenchmarkId::from_parameter(bits), &bits, |bench, _| {
                bench.iter(|| kernel(black_box(&a), black_box(&b)))
            });
        }
        group.finish();
    }
}

/// A sparse vector with `nnz` non-zeros among `dim` dimensions.
fn random_sparse(rng: &mut impl Rng, dim: usize, nnz: usize) -> (Vec<i32>, Vec<f32>) {
    let mut indices: Vec<i32> = sample(rng, dim, nnz).into_iter().map(|i| i as i32).collect();
    indices.sort_unstable();
    let values = random_vector(rng, nnz);
    (indices, values)
}

fn sparse_kernels(c: &mut Criterion) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(17);
    let kernels: [SparseKernel; 4] = [
        ("l2_squared", |a, b| f64::from(sparse::l2_squared(a, b))),
        ("dot", |a, b| f64::from(sparse::dot(a, b))),
        ("cosine", sparse::cosine_distance),
        ("l1", |a, b| f64::from(sparse::l1(a, b))),
    ];
    for (name, kernel) in kernels {
        let mut group = c.benchmark_group(format!("sparse/{name}"));
        for nnz in DIMS {
            // One query against a rotating set of 1 MiB of other values, so
            // that branch prediction cannot learn a single pair's merge.
            let (iq, vq) = random_sparse(&mut rng, 8 * nnz, nnz);
            let others: Vec<_> = (0..(1 << 20) / (8 * nnz)).map(|_| random_sparse(&mut rng, 8 * nnz, nnz)).collect();
            let mut k = 0;
            group.throughput(Throughput::Elements(nnz as u64));
            group.bench_with_input(BenchmarkId::from_parameter(nnz), &nnz, |bench, _| {
                bench.iter(|| {
                    k = (k + 1) % others.len();
                    let (io, vo) = &others[k];
                    kernel(black_box(SparseRef::new(&iq, &vq)), black_box(SparseRef::new(io, vo)))
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, f32_kernels, f16_kernels, bit_kernels, sparse_kernels);
criterion_main!(benches);
