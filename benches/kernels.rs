//! Criterion benchmarks of the distance kernels at common embedding sizes.
//!
//!   cargo bench --bench kernels
//!
//! Each kernel is measured on one pair of vectors that stays in L1 cache, so
//! the figures are the kernels' own cost per call.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use lodestone::distance::dense;
use rand::{Rng, SeedableRng};

const DIMS: [usize; 4] = [128, 384, 768, 1536];

fn random_vector(rng: &mut impl Rng, dim: usize) -> Vec<f32> {
    (0..dim).map(|_| rng.gen_range(-1.0f32..1.0)).collect()
}

fn f32_kernels(c: &mut Criterion) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let kernels: [(&str, fn(&[f32], &[f32]) -> f64); 4] =
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

criterion_group!(benches, f32_kernels);
criterion_main!(benches);
