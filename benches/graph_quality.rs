//! Graph quality of the in-memory HNSW build on real vectors: recall@10 and
//! distances computed per query (the cost of a search) for a sweep of
//! `ef_search`, for the build variants the core offers. For tuning the core;
//! it needs no Postgres.
//!
//!   cargo bench --bench graph_quality -- VECTORS.npy [cosine|l2] [queries] [--exact] [--build-only] [--seed=N]
//!
//! The `.npy` file holds float32 rows (the ANN harness caches its Debian
//! MiniLM embeddings as one, under target/bench-ann/data/). The last
//! `queries` rows (default 1000) are the queries, the rest the base.
//! The build measures on halves as `CREATE INDEX` does, unless `--exact`;
//! `--build-only` skips the queries (to time builds); `--seed=N` seeds the
//! level assignment (default 1). With `RAYON_NUM_THREADS=1` a build is
//! deterministic: one seed, one graph.

use lodestone::hnsw::memgraph::{search_counting, GraphParams, MemGraph};
use lodestone::hnsw::space::{Element, Metric, Space};
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::time::Instant;

fn read_npy(path: &str) -> (usize, usize, Vec<f32>) {
    let bytes = std::fs::read(path).expect("readable .npy file");
    assert_eq!(&bytes[..6], b"\x93NUMPY", "not an .npy file");
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = String::from_utf8_lossy(&bytes[10..10 + header_len]);
    assert!(header.contains("'<f4'"), "float32 rows expected: {header}");
    let shape = header.split("'shape': (").nth(1).and_then(|s| s.split(')').next()).expect("shape");
    let dims: Vec<usize> = shape.split(',').filter_map(|d| d.trim().parse().ok()).collect();
    let data = bytes[10 + header_len..].chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    (dims[0], dims[1], data)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let Some(path) = args.first() else {
        eprintln!("usage: cargo bench --bench graph_quality -- VECTORS.npy [cosine|l2] [queries]");
        return;
    };
    let metric = if args.get(1).map(String::as_str) == Some("l2") { Metric::L2 } else { Metric::Cosine };
    let nq: usize = args.get(2).and_then(|q| q.parse().ok()).unwrap_or(1000);
    let (rows, dims, data) = read_npy(path);
    let space = Space::new(Element::F32, metric, dims);
    let payloads: Vec<_> =
        data.chunks_exact(dims).map(|v| space.payload_from_f32(v).expect("indexable vector")).collect();
    let (base, queries) = payloads.split_at(rows - nq);
    println!("{} base vectors, {} queries, {dims} dims, {metric:?}", base.len(), queries.len());

    let flag = |name: &str| std::env::args().any(|a| a == name);
    let (exact, build_only) = (flag("--exact"), flag("--build-only"));
    let seed = std::env::args().find_map(|a| a.strip_prefix("--seed=").and_then(|s| s.parse().ok())).unwrap_or(1);
    // Exact top 10 of every query.
    let truth: Vec<Vec<u64>> = queries
        .iter()
        .filter(|_| !build_only)
        .map(|q| {
            let mut d: Vec<(f32, u64)> =
                base.iter().enumerate().map(|(i, p)| (space.distance(q.as_bytes(), p.as_bytes()), i as u64)).collect();
            d.select_nth_unstable_by(10, |a, b| a.0.total_cmp(&b.0));
            d[..10].iter().map(|&(_, i)| i).collect()
        })
        .collect();

    {
        let params = GraphParams { m: 16, ef_construction: 64, seed };
        let words: Vec<u32> = base
            .iter()
            .flat_map(|p| {
                p.as_bytes().chunks(4).map(|c| u32::from_ne_bytes([c[0], c[1], c[2], c[3]])).collect::<Vec<_>>()
            })
            .collect();
        let tids: Vec<u64> = (0..base.len() as u64).collect();
        let started = Instant::now();
        let mut graph = MemGraph::new(space, params, words, &tids);
        println!("graph allocated in {:.2} s", started.elapsed().as_secs_f64());
        let started = Instant::now();
        let halves = !exact && graph.measure_in_halves();
        println!("halves in {:.2} s", started.elapsed().as_secs_f64());
        graph.build_parallel(&AtomicUsize::new(0), &AtomicBool::new(false)).expect("not cancelled");
        let (searching, linking) = graph.build_distances();
        println!(
            "\nbuilt in {:.1} s ({}); distances per insert: {:.0} searching, {:.0} choosing links",
            started.elapsed().as_secs_f64(),
            if halves { "measuring halves" } else { "measuring exactly" },
            searching as f64 / base.len() as f64,
            linking as f64 / base.len() as f64
        );
        if build_only {
            return;
        }
        println!("| ef | recall@10 | distances per query |");
        println!("|---:|---:|---:|");
        for ef in [10, 20, 40, 80, 160] {
            let (mut hits, mut computed) = (0usize, 0usize);
            for (q, t) in queries.iter().zip(&truth) {
                let (found, n) = search_counting(&graph, q.as_bytes(), 10, ef);
                computed += n;
                hits += found.iter().flat_map(|s| graph.node(s.id).tids.clone()).filter(|id| t.contains(id)).count();
            }
            println!("| {ef} | {:.3} | {} |", hits as f64 / (10 * queries.len()) as f64, computed / queries.len());
        }
    }
}
