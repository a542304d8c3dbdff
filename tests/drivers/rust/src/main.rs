//! pgvector's Rust client against lodestone: exact round trips of `vector`,
//! `halfvec` and `sparsevec` (binary format, as tokio-postgres always uses),
//! and a k-NN query through an hnsw index checked against exact search.
//! Connection from `LODESTONE_DSN`. Prints "N passed, M failed".

use half::f16;
use pgvector::{HalfVector, SparseVector, Vector};
use tokio_postgres::NoTls;

const DIM: usize = 8;
const N: usize = 300;
const K: usize = 10;
const SPARSE_DIM: i32 = 1_000_000;

struct Checks {
    passed: u32,
    failed: u32,
}

impl Checks {
    fn check(&mut self, name: &str, ok: bool, detail: String) {
        if ok {
            self.passed += 1;
            println!("  ok    rust tokio-postgres: {name}");
        } else {
            self.failed += 1;
            println!("  FAIL  rust tokio-postgres: {name} {detail}");
        }
    }
}

/// A small deterministic generator (xorshift), values in [-1, 1).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn exact_knn(data: &[Vec<f32>], q: &[f32]) -> Vec<i64> {
    let mut d: Vec<(f64, i64)> = data
        .iter()
        .enumerate()
        .map(|(i, v)| {
            (v.iter().zip(q).map(|(a, b)| (f64::from(*a) - f64::from(*b)).powi(2)).sum::<f64>(), i as i64 + 1)
        })
        .collect();
    d.sort_by(|a, b| a.0.total_cmp(&b.0));
    d.iter().take(K).map(|x| x.1).collect()
}

fn knn_ok(c: &mut Checks, kind: &str, got: &[i64], want: &[i64]) {
    let overlap = got.iter().filter(|g| want.contains(g)).count();
    c.check(
        &format!("{kind} k-NN finds the nearest row first"),
        got.first() == want.first(),
        format!("{got:?} {want:?}"),
    );
    c.check(
        &format!("{kind} k-NN agrees with exact search ({overlap}/{K})"),
        overlap >= K - 1,
        format!("{got:?} {want:?}"),
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dsn = std::env::var("LODESTONE_DSN")?;
    let (client, connection) = tokio_postgres::connect(&dsn, NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            eprintln!("connection error: {e}");
        }
    });
    let mut c = Checks { passed: 0, failed: 0 };

    client
        .batch_execute(&format!(
            "DROP TABLE IF EXISTS items, edge;
             CREATE TABLE edge (id bigint PRIMARY KEY, embedding vector({DIM}), half_embedding halfvec({DIM}), sparse_embedding sparsevec({SPARSE_DIM}));
             CREATE TABLE items (id bigint PRIMARY KEY, embedding vector({DIM}), half_embedding halfvec({DIM}), sparse_embedding sparsevec({DIM}));"
        ))
        .await?;

    // Values that break a lossy path: the largest float4, the smallest
    // subnormal, -0, values with no short decimal form.
    let vec_edge: Vec<f32> = vec![1.5, -0.25, f32::MAX, f32::from_bits(1), -0.0, 0.1, 123456.79, -1e-30];
    let half_edge: Vec<f16> =
        [1.5f32, -0.25, 65504.0, 5.9604645e-8, -0.0, 0.1, 2048.0, -1.0].iter().map(|&x| f16::from_f32(x)).collect();
    let sparse_edge = SparseVector::from_map(
        [(0, 1.5f32), (1, -0.25), (499_999, f32::MAX), (SPARSE_DIM - 1, f32::from_bits(1))].iter().map(|(i, v)| (i, v)),
        SPARSE_DIM,
    );
    let embedding = Vector::from(vec_edge.clone());
    client
        .execute(
            "INSERT INTO edge (id, embedding, half_embedding, sparse_embedding) VALUES (1, $1, $2, $3)",
            &[&embedding, &HalfVector::from(half_edge.clone()), &sparse_edge],
        )
        .await?;
    let row =
        client.query_one("SELECT embedding, half_embedding, sparse_embedding FROM edge WHERE id = 1", &[]).await?;
    let v: Vector = row.get(0);
    let h: HalfVector = row.get(1);
    let s: SparseVector = row.get(2);
    c.check("vector round-trips bit for bit", bits(v.as_slice()) == bits(&vec_edge), format!("{v:?}"));
    c.check(
        "halfvec round-trips bit for bit",
        h.as_slice().iter().map(|x| x.to_bits()).collect::<Vec<_>>()
            == half_edge.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
        format!("{h:?}"),
    );
    c.check(
        "sparsevec round-trips bit for bit",
        s.dimensions() == SPARSE_DIM
            && s.indices() == sparse_edge.indices()
            && bits(s.values()) == bits(sparse_edge.values()),
        format!("{s:?}"),
    );
    let row = client
        .query_one("SELECT embedding::text, half_embedding::text, sparse_embedding::text FROM edge WHERE id = 1", &[])
        .await?;
    let stored: (String, String, String) = (row.get(0), row.get(1), row.get(2));
    c.check(
        "server stored exactly the values sent",
        stored
            == (
                "[1.5,-0.25,3.4028235e+38,1e-45,-0,0.1,123456.79,-1e-30]".into(),
                "[1.5,-0.25,65504,5.9604645e-08,-0,0.099975586,2048,-1]".into(),
                "{1:1.5,2:-0.25,500000:3.4028235e+38,1000000:1e-45}/1000000".into(),
            ),
        format!("{stored:?}"),
    );

    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let data: Vec<Vec<f32>> = (0..N).map(|_| (0..DIM).map(|_| rng.next()).collect()).collect();
    let stmt = client
        .prepare("INSERT INTO items (id, embedding, half_embedding, sparse_embedding) VALUES ($1, $2, $3, $4)")
        .await?;
    for (i, row) in data.iter().enumerate() {
        client
            .execute(
                &stmt,
                &[
                    &(i as i64 + 1),
                    &Vector::from(row.clone()),
                    &HalfVector::from_f32_slice(row),
                    &SparseVector::from_dense(row),
                ],
            )
            .await?;
    }
    client
        .batch_execute(
            "CREATE INDEX items_embedding_idx ON items USING hnsw (embedding vector_l2_ops);
             ANALYZE items; SET enable_seqscan = off; SET hnsw.ef_search = 100;",
        )
        .await?;
    let q: Vec<f32> = data[17].iter().map(|x| x + rng.next() * 0.02).collect();
    let query = Vector::from(q.clone());
    let plan: Vec<String> = client
        .query("EXPLAIN SELECT id FROM items ORDER BY embedding <-> $1 LIMIT 10", &[&query])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    c.check(
        "k-NN plan uses the hnsw index",
        plan.join("\n").contains("Index Scan using items_embedding_idx"),
        plan.join("\n"),
    );
    let got: Vec<i64> = client
        .query("SELECT id FROM items ORDER BY embedding <-> $1 LIMIT 10", &[&query])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    knn_ok(&mut c, "vector", &got, &exact_knn(&data, &q));

    let half_data: Vec<Vec<f32>> =
        data.iter().map(|r| r.iter().map(|&x| f16::from_f32(x).to_f32()).collect()).collect();
    let hq = HalfVector::from_f32_slice(&q);
    let hqf: Vec<f32> = hq.as_slice().iter().map(|x| x.to_f32()).collect();
    let got: Vec<i64> = client
        .query("SELECT id FROM items ORDER BY half_embedding <-> $1 LIMIT 10", &[&hq])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    knn_ok(&mut c, "halfvec", &got, &exact_knn(&half_data, &hqf));
    let sq = SparseVector::from_dense(&q);
    let got: Vec<i64> = client
        .query("SELECT id FROM items ORDER BY sparse_embedding <-> $1 LIMIT 10", &[&sq])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    knn_ok(&mut c, "sparsevec", &got, &exact_knn(&data, &q));

    let back: Vec<Vector> =
        client.query("SELECT embedding FROM items ORDER BY id", &[]).await?.iter().map(|r| r.get(0)).collect();
    c.check(
        "300 vectors stored exactly",
        back.iter().zip(&data).all(|(b, d)| bits(b.as_slice()) == bits(d)),
        String::new(),
    );

    println!("rust driver: {} passed, {} failed", c.passed, c.failed);
    if c.failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}
