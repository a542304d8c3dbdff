-- hnsw with a quantizer (lodestone only): WITH (quantizer = sq8 | pq | bq).
-- Nodes hold codes; scans re-rank their candidates with exact distances
-- from the heap, so results come back in exact distance order.

-- 300 deterministic 16-dim vectors, and an exact top-k to compare with.
CREATE TABLE q_items (id int PRIMARY KEY, v vector(16));
INSERT INTO q_items
SELECT i, ARRAY(SELECT round((sin(i * 0.7 + j * 1.3) * 3 + cos(i * j * 0.11))::numeric, 3)
                FROM generate_series(1, 16) j)::vector
FROM generate_series(1, 300) i;
CREATE TABLE q_queries (id int, v vector(16));
INSERT INTO q_queries
SELECT i, ARRAY(SELECT round((sin(i * 1.9 + j * 0.4) * 2.5)::numeric, 3) FROM generate_series(1, 16) j)::vector
FROM generate_series(1, 8) i;

CREATE FUNCTION q_topk(op text, k int) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  r record;
  ids text;
BEGIN
  FOR r IN SELECT id, v FROM q_queries ORDER BY id LOOP
    EXECUTE format('SELECT string_agg(id::text, '','') FROM (SELECT id FROM q_items ORDER BY v %s $1 LIMIT %s) t', op, k)
      INTO ids USING r.v;
    RETURN NEXT ids;
  END LOOP;
END
$$;

-- The exact answers, from a sequential scan.
SET enable_indexscan = off;
CREATE TABLE q_truth AS
  SELECT 'l2' AS op, array_agg(t ORDER BY n) AS ids FROM q_topk('<->', 10) WITH ORDINALITY x(t, n)
  UNION ALL SELECT 'ip', array_agg(t ORDER BY n) FROM q_topk('<#>', 10) WITH ORDINALITY x(t, n)
  UNION ALL SELECT 'cos', array_agg(t ORDER BY n) FROM q_topk('<=>', 10) WITH ORDINALITY x(t, n);
RESET enable_indexscan;

SET enable_seqscan = off;
-- A beam as wide as the table: every row is a candidate, so with exact
-- re-ranking the index's top 10 is exactly the sequential scan's.
SET hnsw.ef_search = 400;

CREATE INDEX q_sq8 ON q_items USING hnsw (v vector_l2_ops) WITH (quantizer = sq8);
EXPLAIN (COSTS OFF) SELECT id FROM q_items ORDER BY v <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 3;
SELECT quantizer, code_bytes, dimensions, nodes, heap_tids FROM lodestone_hnsw_info('q_sq8');
SELECT array_agg(t ORDER BY n) = (SELECT ids FROM q_truth WHERE op = 'l2') AS sq8_l2_exact
FROM q_topk('<->', 10) WITH ORDINALITY x(t, n);
-- the distances the executor sees are in order
SELECT bool_and(d >= lag_d) AS ordered FROM (
  SELECT d, lag(d, 1, 0::float8) OVER (ORDER BY n) AS lag_d FROM (
    SELECT v <-> '[1,0,1,0,1,0,1,0,1,0,1,0,1,0,1,0]' AS d, row_number() OVER () AS n
    FROM (SELECT v FROM q_items ORDER BY v <-> '[1,0,1,0,1,0,1,0,1,0,1,0,1,0,1,0]' LIMIT 50) s) t) u;
DROP INDEX q_sq8;

CREATE INDEX q_sq8_ip ON q_items USING hnsw (v vector_ip_ops) WITH (quantizer = sq8);
SELECT array_agg(t ORDER BY n) = (SELECT ids FROM q_truth WHERE op = 'ip') AS sq8_ip_exact
FROM q_topk('<#>', 10) WITH ORDINALITY x(t, n);
DROP INDEX q_sq8_ip;

CREATE INDEX q_pq ON q_items USING hnsw (v vector_cosine_ops) WITH (quantizer = pq, pq_subvectors = 4);
SELECT quantizer, code_bytes FROM lodestone_hnsw_info('q_pq');
SELECT array_agg(t ORDER BY n) = (SELECT ids FROM q_truth WHERE op = 'cos') AS pq_cos_exact
FROM q_topk('<=>', 10) WITH ORDINALITY x(t, n);
DROP INDEX q_pq;

CREATE INDEX q_bq ON q_items USING hnsw (v vector_l2_ops) WITH (quantizer = bq);
SELECT quantizer, code_bytes FROM lodestone_hnsw_info('q_bq');
SELECT array_agg(t ORDER BY n) = (SELECT ids FROM q_truth WHERE op = 'l2') AS bq_l2_exact
FROM q_topk('<->', 10) WITH ORDINALITY x(t, n);

-- Inserts after the build are encoded with the trained quantizer; deleted
-- rows are never returned; VACUUM keeps the graph sound.
INSERT INTO q_items VALUES (1001, '[9,9,9,9,9,9,9,9,9,9,9,9,9,9,9,9]'), (1002, '[9,9,9,9,9,9,9,9,9,9,9,9,9,9,9,8]');
SELECT id FROM q_items ORDER BY v <-> '[9,9,9,9,9,9,9,9,9,9,9,9,9,9,9,8.9]' LIMIT 2;
DELETE FROM q_items WHERE id = 1002;
SELECT id FROM q_items ORDER BY v <-> '[9,9,9,9,9,9,9,9,9,9,9,9,9,9,9,8.9]' LIMIT 1;
-- an updated vector is re-ranked by its new value
UPDATE q_items SET v = '[-9,-9,-9,-9,-9,-9,-9,-9,-9,-9,-9,-9,-9,-9,-9,-9]' WHERE id = 1001;
SELECT id FROM q_items ORDER BY v <-> '[-9,-9,-9,-9,-9,-9,-9,-9,-9,-9,-9,-9,-9,-9,-9,-9]' LIMIT 1;
VACUUM q_items;
SELECT * FROM lodestone_hnsw_verify('q_bq');
SELECT nodes, heap_tids FROM lodestone_hnsw_info('q_bq');

-- Iterative scans keep working under a filter.
SET hnsw.ef_search = 10;
SET hnsw.iterative_scan = relaxed_order;
SELECT count(*) FROM (SELECT id FROM q_items WHERE id % 10 = 0 ORDER BY v <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 20) t;
SET hnsw.iterative_scan = strict_order;
SELECT bool_and(d >= lag_d) AS strictly_ordered FROM (
  SELECT d, lag(d, 1, 0::float8) OVER (ORDER BY n) AS lag_d FROM (
    SELECT v <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' AS d, row_number() OVER () AS n
    FROM (SELECT v FROM q_items WHERE id % 10 = 0 ORDER BY v <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 20) s) t) u;
RESET hnsw.iterative_scan;
DROP INDEX q_bq;

-- lodestone.rerank_factor
SHOW lodestone.rerank_factor;
SET lodestone.rerank_factor = 0;
SET lodestone.rerank_factor = 2.5;
SHOW lodestone.rerank_factor;
RESET lodestone.rerank_factor;

-- An expression index re-ranks by the expression's value.
CREATE INDEX q_half ON q_items USING hnsw ((v::halfvec(16)) halfvec_l2_ops) WITH (quantizer = sq8);
EXPLAIN (COSTS OFF) SELECT id FROM q_items ORDER BY v::halfvec(16) <-> '[1,2,3,4,5,6,7,8,1,2,3,4,5,6,7,8]' LIMIT 3;
SET hnsw.ef_search = 400;
SELECT id FROM q_items ORDER BY v::halfvec(16) <-> '[1,2,3,4,5,6,7,8,1,2,3,4,5,6,7,8]' LIMIT 3;
RESET enable_seqscan;
SET enable_indexscan = off;
SELECT id FROM q_items ORDER BY v::halfvec(16) <-> '[1,2,3,4,5,6,7,8,1,2,3,4,5,6,7,8]' LIMIT 3;
RESET enable_indexscan;
DROP INDEX q_half;

-- Beyond pgvector's dimension limits, with a quantizer only.
CREATE TABLE q_wide (id int, v vector(16000), h halfvec(16000));
INSERT INTO q_wide SELECT i, array_fill(i::real, ARRAY[16000])::vector, array_fill((i - 5)::real, ARRAY[16000])::halfvec
FROM generate_series(1, 10) i;
CREATE INDEX ON q_wide USING hnsw (v vector_l2_ops);
CREATE INDEX ON q_wide USING hnsw (h halfvec_l2_ops);
CREATE INDEX q_wide_bq ON q_wide USING hnsw (v vector_l2_ops) WITH (quantizer = bq);
CREATE INDEX q_wide_hbq ON q_wide USING hnsw (h halfvec_cosine_ops) WITH (quantizer = bq);
SELECT quantizer, code_bytes, dimensions FROM lodestone_hnsw_info('q_wide_bq');
SET enable_seqscan = off;
SELECT id FROM q_wide ORDER BY v <-> array_fill(7.2::real, ARRAY[16000])::vector LIMIT 2;
-- rows 1 to 4 point the query's way (cosine distance 0), row 5 is zero
SELECT count(*) FROM (SELECT id FROM q_wide ORDER BY h <=> array_fill(-1::real, ARRAY[16000])::halfvec LIMIT 4) t WHERE id < 5;
RESET enable_seqscan;
-- sq8 codes take a byte per dimension: a node must fit an 8 kB page
CREATE INDEX ON q_wide USING hnsw (v vector_l2_ops) WITH (quantizer = sq8);
DROP TABLE q_wide;

-- What a quantizer does not support
CREATE INDEX ON q_items USING hnsw (v vector_l2_ops) WITH (quantizer = lvq);
CREATE INDEX ON q_items USING hnsw (v vector_l1_ops) WITH (quantizer = sq8);
CREATE INDEX ON q_items USING hnsw (v vector_l2_ops) WITH (quantizer = pq, pq_subvectors = 5);
CREATE INDEX ON q_items USING hnsw (v vector_l2_ops) WITH (pq_subvectors = -1);
CREATE TABLE q_bits (b bit(8));
CREATE INDEX ON q_bits USING hnsw (b bit_hamming_ops) WITH (quantizer = bq);
CREATE TABLE q_few (v vector(4));
INSERT INTO q_few SELECT ARRAY[i, i, i, i] FROM generate_series(1, 100) i;
CREATE INDEX ON q_few USING hnsw (v vector_l2_ops) WITH (quantizer = pq);
-- Built on an empty table, sq8 and pq have nothing to train on: the build
-- succeeds (TRUNCATE rebuilds indexes), inserts ask for a REINDEX.
TRUNCATE q_few;
CREATE INDEX q_few_sq8 ON q_few USING hnsw (v vector_l2_ops) WITH (quantizer = sq8);
INSERT INTO q_few VALUES ('[1,2,3,4]');
DROP INDEX q_few_sq8;
INSERT INTO q_few VALUES ('[1,2,3,4]'), ('[2,2,3,4]');
CREATE INDEX q_few_sq8 ON q_few USING hnsw (v vector_l2_ops) WITH (quantizer = sq8);
INSERT INTO q_few VALUES ('[1,2,3,5]');
SELECT v FROM q_few ORDER BY v <-> '[1,2,3,5]' LIMIT 1;
-- bq needs no training
DROP INDEX q_few_sq8;
TRUNCATE q_few;
CREATE INDEX q_few_bq ON q_few USING hnsw (v vector_l2_ops) WITH (quantizer = bq);
INSERT INTO q_few VALUES ('[1,2,3,4]'), ('[-1,2,3,4]');
SET enable_seqscan = off;
SELECT v FROM q_few ORDER BY v <-> '[-1,1,1,1]' LIMIT 1;
RESET enable_seqscan;

DROP TABLE q_items, q_queries, q_truth, q_bits, q_few;
DROP FUNCTION q_topk;
