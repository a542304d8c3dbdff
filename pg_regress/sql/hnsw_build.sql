-- What an hnsw build measures (lodestone only). Builds of vectors of 64 or
-- more dimensions link the graph measuring half-precision copies
-- (lodestone.build_distances = half, the default) when the copies fit in
-- maintenance_work_mem beside the graph; the pages keep the exact vectors
-- either way, so scans return exact distances.

SHOW lodestone.build_distances;
CREATE TABLE hnsw_wide (id int, v vector(64));
INSERT INTO hnsw_wide SELECT i, (SELECT array_agg(sin(i * 0.37 + j * 1.3 + (i % 7) * j) ORDER BY j) FROM generate_series(1, 64) j)::vector
  FROM generate_series(1, 2000) i;
CREATE TEMP TABLE wide_truth AS SELECT q.id AS q, array(SELECT w.id FROM hnsw_wide w ORDER BY w.v <-> q.v, w.id LIMIT 10) AS ids
  FROM hnsw_wide q WHERE q.id % 250 = 1;
SET enable_seqscan = off;
SET hnsw.ef_search = 100;

SET client_min_messages = debug1;
CREATE INDEX hnsw_wide_v ON hnsw_wide USING hnsw (v vector_l2_ops);
RESET client_min_messages;
SELECT count(*) FILTER (WHERE t.ids = array(SELECT w.id FROM hnsw_wide w ORDER BY w.v <-> q.v LIMIT 10)) AS exact_top10, count(*) AS queries
  FROM wide_truth t JOIN hnsw_wide q ON q.id = t.q;
SELECT round(distance::numeric, 6) FROM (SELECT v <-> (SELECT v FROM hnsw_wide WHERE id = 1) AS distance FROM hnsw_wide ORDER BY 1 LIMIT 3) t;

-- exact, asked for
SET lodestone.build_distances = exact;
SET client_min_messages = debug1;
REINDEX INDEX hnsw_wide_v;
RESET lodestone.build_distances;
-- exact, because the graph fits in 1450kB and the graph with the copies does not
SET maintenance_work_mem = '1450kB';
REINDEX INDEX hnsw_wide_v;
RESET maintenance_work_mem;
-- fewer than 64 dimensions: exact
CREATE INDEX hnsw_narrow_v ON hnsw_wide USING hnsw ((subvector(v, 1, 63)::vector(63)) vector_l2_ops);
-- halfvec: its vectors are halves already
CREATE INDEX hnsw_wide_h ON hnsw_wide USING hnsw ((v::halfvec(64)) halfvec_l2_ops);
RESET client_min_messages;
SELECT count(*) FILTER (WHERE t.ids = array(SELECT w.id FROM hnsw_wide w ORDER BY w.v <-> q.v LIMIT 10)) AS exact_top10, count(*) AS queries
  FROM wide_truth t JOIN hnsw_wide q ON q.id = t.q;

SET lodestone.build_distances = fast;
DROP TABLE hnsw_wide;
RESET ALL;
