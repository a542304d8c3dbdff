// pgvector's Node.js client (node-postgres + the `pgvector` package), used as
// its README shows, against lodestone. node-postgres speaks the text format:
// every value must survive printing and parsing exactly. Connection from the
// PG* environment (PGHOST = the socket directory); NODE_PATH-free: run from
// the directory where `npm install` put node_modules.
import pg from 'pg';
import pgvector from 'pgvector/pg';
import { SparseVector } from 'pgvector';

const DIM = 8, N = 300, K = 10, SPARSE_DIM = 1000000;
let passed = 0, failed = 0;
function check(name, ok, detail = '') {
  if (ok) { passed++; console.log(`  ok    node pg: ${name}`); }
  else { failed++; console.log(`  FAIL  node pg: ${name} ${detail}`); }
}
const f32bits = (xs) => Array.from(new Uint32Array(Float32Array.from(xs).buffer));
const same32 = (a, b) => JSON.stringify(f32bits(a)) === JSON.stringify(f32bits(b));

// deterministic data (xorshift32), values in [-1, 1)
let seed = 2463534242;
const rnd = () => { seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0; return Math.fround(seed / 2 ** 31 - 1); };
const data = Array.from({ length: N }, () => Array.from({ length: DIM }, rnd));
const query = data[17].map((x) => Math.fround(x + rnd() * 0.02));

function exactKnn(rows, q) {
  return rows.map((r, i) => [r.reduce((s, x, j) => s + (x - q[j]) ** 2, 0), i + 1])
    .sort((a, b) => a[0] - b[0]).slice(0, K).map((x) => x[1]);
}
function knn(kind, got, want) {
  const overlap = got.filter((g) => want.includes(g)).length;
  check(`${kind} k-NN finds the nearest row first`, got[0] === want[0], `${got} vs ${want}`);
  check(`${kind} k-NN agrees with exact search (${overlap}/${K})`, overlap >= K - 1, `${got} vs ${want}`);
}

const client = new pg.Client();
await client.connect();
await pgvector.registerTypes(client);
try {
  await client.query('DROP TABLE IF EXISTS items, edge');
  await client.query(`CREATE TABLE edge (id bigint PRIMARY KEY, embedding vector(${DIM}), half_embedding halfvec(${DIM}), sparse_embedding sparsevec(${SPARSE_DIM}))`);
  await client.query(`CREATE TABLE items (id bigint PRIMARY KEY, embedding vector(${DIM}), half_embedding halfvec(${DIM}), sparse_embedding sparsevec(${DIM}))`);

  // pgvector's toSql writes with JSON.stringify, which prints -0 as 0: the
  // smallest negative normal float4 stands in for it here (-0 is read below).
  const vecEdge = [1.5, -0.25, 3.4028234663852886e38, 1.401298464324817e-45, -1.1754943508222875e-38, Math.fround(0.1), Math.fround(123456.79), Math.fround(-1e-30)];
  const halfEdge = [1.5, -0.25, 65504, 5.960464477539063e-8, -0.00006103515625, 0.0999755859375, 2048, -1]; // exact halves
  const sparseEdge = new SparseVector({ 0: 1.5, 1: -0.25, 499999: 3.4028234663852886e38, 999999: 1.401298464324817e-45 }, SPARSE_DIM);
  await client.query('INSERT INTO edge (id, embedding, half_embedding, sparse_embedding) VALUES (1, $1, $2, $3)',
    [pgvector.toSql(vecEdge), pgvector.toSql(halfEdge), pgvector.toSql(sparseEdge)]);
  const row = (await client.query('SELECT embedding, half_embedding, sparse_embedding FROM edge WHERE id = 1')).rows[0];
  check('vector round-trips bit for bit', same32(row.embedding, vecEdge), JSON.stringify(row.embedding));
  check('halfvec round-trips exactly (as float4)', same32(row.half_embedding, halfEdge), JSON.stringify(row.half_embedding));
  const s = row.sparse_embedding;
  check('sparsevec round-trips bit for bit', s.dimensions === SPARSE_DIM && JSON.stringify(s.indices) === JSON.stringify(sparseEdge.indices) && same32(s.values, sparseEdge.values), JSON.stringify(s));
  const stored = (await client.query({ text: 'SELECT embedding::text, half_embedding::text, sparse_embedding::text FROM edge WHERE id = 1', rowMode: 'array' })).rows[0];
  check('server stored exactly the values sent', JSON.stringify(stored) === JSON.stringify([
    '[1.5,-0.25,3.4028235e+38,1e-45,-1.1754944e-38,0.1,123456.79,-1e-30]',
    '[1.5,-0.25,65504,5.9604645e-08,-6.1035156e-05,0.099975586,2048,-1]',
    '{1:1.5,2:-0.25,500000:3.4028235e+38,1000000:1e-45}/1000000']), JSON.stringify(stored));

  const negZero = (await client.query("SELECT '[-0,1]'::vector AS v, '[-0,1]'::halfvec AS h")).rows[0];
  check('-0 is read back as -0', Object.is(negZero.v[0], -0) && Object.is(negZero.h[0], -0), JSON.stringify(negZero));

  for (let i = 0; i < N; i++) {
    await client.query('INSERT INTO items (id, embedding, half_embedding, sparse_embedding) VALUES ($1, $2, $3, $4)',
      [i + 1, pgvector.toSql(data[i]), pgvector.toSql(data[i]), pgvector.toSql(new SparseVector(data[i]))]);
  }
  await client.query('CREATE INDEX items_embedding_idx ON items USING hnsw (embedding vector_l2_ops)');
  await client.query('ANALYZE items');
  await client.query('SET enable_seqscan = off');
  await client.query('SET hnsw.ef_search = 100');
  const plan = (await client.query('EXPLAIN SELECT id FROM items ORDER BY embedding <-> $1 LIMIT 10', [pgvector.toSql(query)])).rows.map((r) => r['QUERY PLAN']).join('\n');
  check('k-NN plan uses the hnsw index', plan.includes('Index Scan using items_embedding_idx'), plan);
  const ids = async (sql, v) => (await client.query(sql, [v])).rows.map((r) => Number(r.id));
  knn('vector', await ids('SELECT id FROM items ORDER BY embedding <-> $1 LIMIT 10', pgvector.toSql(query)), exactKnn(data, query));
  // halfvec: the server rounds to half; compare with exact search on the rounded values
  const half = (await client.query('SELECT half_embedding FROM items ORDER BY id')).rows.map((r) => r.half_embedding);
  const hq = (await client.query('SELECT $1::halfvec AS q', [pgvector.toSql(query)])).rows[0].q;
  knn('halfvec', await ids('SELECT id FROM items ORDER BY half_embedding <-> $1 LIMIT 10', pgvector.toSql(hq)), exactKnn(half, hq));
  knn('sparsevec', await ids('SELECT id FROM items ORDER BY sparse_embedding <-> $1 LIMIT 10', pgvector.toSql(new SparseVector(query))), exactKnn(data, query));
  const back = (await client.query('SELECT embedding FROM items ORDER BY id')).rows.map((r) => r.embedding);
  check(`${N} vectors stored exactly (text format)`, back.every((b, i) => same32(b, data[i])));
} catch (e) {
  failed++;
  console.log(`  FAIL  node pg: ${e.stack}`);
} finally {
  await client.end();
}
console.log(`node driver: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
