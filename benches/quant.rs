//! Criterion benchmarks of the quantizers: asymmetric distances from an
//! `f32` query to a batch of codes, against the exact `f32` kernels over the
//! same vectors, plus training and table building.
//!
//!   cargo bench --bench quant
//!
//! Every distance group scans 1,024 vectors of 384 dimensions (a scan-like
//! access pattern: the f32 batch is 1.5 MiB, the PQ batch 48 KiB), so the
//! figures are per batch; throughput is in vectors.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use lodestone::distance::dense;
use lodestone::quant::{Kind, Metric, Quantizer, TrainOptions};
use rand::{Rng, SeedableRng};

// The index shares one trained quantizer and one query table between its
// build and scan threads: both must stay Send + Sync.
const _: fn() = || {
    fn shareable<T: Send + Sync>() {}
    shareable::<Quantizer>();
    shareable::<lodestone::quant::QueryTable>();
};

const DIMS: usize = 384;
const BATCH: usize = 1024;

fn data(n: usize, dims: usize, seed: u64) -> Vec<f32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let centres: Vec<f32> = (0..64 * dims).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
    (0..n)
        .flat_map(|_| {
            let c = rng.gen_range(0..64);
            let centre = centres[c * dims..(c + 1) * dims].to_vec();
            let mut r = rand::rngs::StdRng::seed_from_u64(rng.gen());
            centre.into_iter().map(move |x| x + r.gen_range(-0.3f32..0.3))
        })
        .collect()
}

fn distances(c: &mut Criterion) {
    let train = data(4096, DIMS, 1);
    let batch = data(BATCH, DIMS, 2);
    let query = data(1, DIMS, 3);
    let mut group = c.benchmark_group("scan384");
    group.throughput(Throughput::Elements(BATCH as u64));

    group.bench_function("f32/l2_squared", |b| {
        b.iter(|| batch.chunks_exact(DIMS).map(|x| dense::l2_squared(black_box(&query), x)).sum::<f64>())
    });
    group.bench_function("f32/cosine", |b| {
        b.iter(|| batch.chunks_exact(DIMS).map(|x| dense::cosine_distance(black_box(&query), x)).sum::<f64>())
    });

    let quantizers = [
        ("pq48x8", Kind::Pq, TrainOptions { subvectors: 48, bits: 8, seed: 1 }),
        ("pq96x8", Kind::Pq, TrainOptions { subvectors: 96, bits: 8, seed: 1 }),
        ("pq48x4", Kind::Pq, TrainOptions { subvectors: 48, bits: 4, seed: 1 }),
        ("sq8", Kind::Sq8, TrainOptions::default()),
        ("bq", Kind::Bq, TrainOptions::default()),
    ];
    for (name, kind, opts) in quantizers {
        let q = Quantizer::train(kind, &train, DIMS, &opts).expect("training");
        let size = q.code_size();
        let mut codes = vec![0u8; BATCH * size];
        for (x, code) in batch.chunks_exact(DIMS).zip(codes.chunks_exact_mut(size)) {
            q.encode(x, code).expect("encoding");
        }
        for (mname, metric) in [("l2_squared", Metric::L2Squared), ("cosine", Metric::Cosine)] {
            let table = q.query(&query, metric).expect("query");
            group.bench_function(BenchmarkId::new(format!("{name}/{mname}"), size), |b| {
                b.iter(|| codes.chunks_exact(size).map(|code| f64::from(table.distance(black_box(code)))).sum::<f64>())
            });
        }
        if kind == Kind::Pq {
            group.bench_function(BenchmarkId::new(format!("{name}/build_table"), size), |b| {
                b.iter(|| q.query(black_box(&query), Metric::L2Squared).expect("query"))
            });
        }
    }
    let bq = Quantizer::train(Kind::Bq, &train, DIMS, &TrainOptions::default()).expect("bq");
    let size = bq.code_size();
    let mut codes = vec![0u8; BATCH * size];
    for (x, code) in batch.chunks_exact(DIMS).zip(codes.chunks_exact_mut(size)) {
        bq.encode(x, code).expect("encoding");
    }
    let mut qcode = vec![0u8; size];
    bq.encode(&query, &mut qcode).expect("encoding");
    group.bench_function("bq/hamming", |b| {
        b.iter(|| codes.chunks_exact(size).map(|c| lodestone::quant::bq::hamming(black_box(&qcode), c)).sum::<u32>())
    });
    group.finish();
}

fn training(c: &mut Criterion) {
    let train = data(4096, DIMS, 1);
    let mut group = c.benchmark_group("train");
    group.sample_size(10);
    group.bench_function("pq48x8/4096x384", |b| {
        b.iter(|| {
            Quantizer::train(Kind::Pq, black_box(&train), DIMS, &TrainOptions { subvectors: 48, bits: 8, seed: 1 })
                .expect("training")
        })
    });
    // ivfflat's k-means at a tenth of `lists = 1000` on the Debian set:
    // 5,000 points a list would be 50 × lists, as a build samples.
    let points = data(10_000, DIMS, 2);
    group.bench_function("kmeans100/10000x384", |b| {
        b.iter(|| {
            lodestone::quant::kmeans::train(black_box(&points), DIMS, &lodestone::quant::kmeans::Params::new(100, 1))
                .expect("training")
        })
    });
    group.finish();
}

criterion_group!(benches, distances, training);
criterion_main!(benches);
