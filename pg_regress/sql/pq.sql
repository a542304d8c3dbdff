-- pq: product-quantized vectors (lodestone only; not in pgvector).
-- Text and binary I/O, training, encode/decode, asymmetric distances, and
-- every misuse with its SQLSTATE. Runs alone in its group: codebook ids
-- are assigned in order from 1.

-- text I/O: <codebook id>:[codes], spaces allowed, round-trips
SELECT '3:[1,2,255]'::pq, ' 7 : [ 0 , 9 ] '::pq, '1:[0]'::pq;
SELECT pq_codebook('42:[1,2]'), pq_send('3:[1,2,255]');
SELECT v, regress.error_of(format('SELECT %L::pq', v)) FROM (VALUES
  (''), ('3'), ('3:'), ('3:['), ('3:1,2'), (':[1]'), ('x:[1]'), ('3:[1,,2]'), ('3:[1,]'),
  ('3:[-1]'), ('3:[1.5]'), ('3:[1]x'), ('3:[256]'), ('0:[1]'), ('-2:[1]'),
  ('99999999999:[1]'), ('3:[]')) t(v);

-- binary COPY round trip, and crafted bytes
CREATE TABLE pq_bin (id int, c pq);
INSERT INTO pq_bin VALUES (1, '3:[1,2,255]'), (2, NULL), (3, '2147483647:[0]');
\copy pq_bin TO 'results/pq.bin' WITH (FORMAT binary)
CREATE TABLE pq_bin2 (LIKE pq_bin);
\copy pq_bin2 FROM 'results/pq.bin' WITH (FORMAT binary)
SELECT a.id, a.c, b.c, pq_send(a.c) = pq_send(b.c) AS same_bytes FROM pq_bin a JOIN pq_bin2 b USING (id) ORDER BY id;
CREATE TABLE pq_recv (c pq);
-- valid: codebook 5, two codes
\copy (SELECT '\x000000050002000001ff'::bytea) TO 'results/pq_crafted.bin' WITH (FORMAT binary)
\copy pq_recv FROM 'results/pq_crafted.bin' WITH (FORMAT binary)
SELECT * FROM pq_recv;
-- unused must be 0
\copy (SELECT '\x000000050002000101ff'::bytea) TO 'results/pq_crafted.bin' WITH (FORMAT binary)
\copy pq_recv FROM 'results/pq_crafted.bin' WITH (FORMAT binary)
-- no codes; codebook 0; fewer bytes than codes
\copy (SELECT '\x0000000500000000'::bytea) TO 'results/pq_crafted.bin' WITH (FORMAT binary)
\copy pq_recv FROM 'results/pq_crafted.bin' WITH (FORMAT binary)
\copy (SELECT '\x000000000001000001'::bytea) TO 'results/pq_crafted.bin' WITH (FORMAT binary)
\copy pq_recv FROM 'results/pq_crafted.bin' WITH (FORMAT binary)
\copy (SELECT '\x00000005000300000102'::bytea) TO 'results/pq_crafted.bin' WITH (FORMAT binary)
\copy pq_recv FROM 'results/pq_crafted.bin' WITH (FORMAT binary)

-- training data: 400 deterministic 8-dimensional vectors in 20 clusters
CREATE TABLE pq_items (id int PRIMARY KEY, v vector(8), n int, h halfvec(8));
INSERT INTO pq_items
SELECT i, ARRAY(SELECT round((sin((i % 20) * 1.7 + j) + 0.1 * cos(i * 0.37 * j))::numeric, 4) FROM generate_series(1, 8) j)::vector, i, NULL
FROM generate_series(1, 400) i;
UPDATE pq_items SET h = v::halfvec;

-- pq_train: argument and column errors
SELECT regress.error_of(q) FROM (VALUES
  ($$SELECT lodestone.pq_train('pq_items', 'v', 4, 3)$$),
  ($$SELECT lodestone.pq_train('pq_items', 'v', 4, 9)$$),
  ($$SELECT lodestone.pq_train('pq_items', 'v', 0)$$),
  ($$SELECT lodestone.pq_train('pq_items', 'v', 3)$$),
  ($$SELECT lodestone.pq_train('pq_items', 'v', 16)$$),
  ($$SELECT lodestone.pq_train('pq_items', 'v', 4, 8, 0)$$),
  ($$SELECT lodestone.pq_train('pq_items', 'nope', 4)$$),
  ($$SELECT lodestone.pq_train('pq_items', 'n', 4)$$),
  ($$SELECT lodestone.pq_train('pq_items', 'v', 4, 8, 100)$$),
  ($$SELECT lodestone.pq_train('no_such_table', 'v', 4)$$)) t(q);
CREATE TABLE pq_mixed (v vector);
INSERT INTO pq_mixed SELECT '[1,2,3,4]' FROM generate_series(1, 20);
INSERT INTO pq_mixed VALUES ('[1,2]');
SELECT regress.error_of($$SELECT lodestone.pq_train('pq_mixed', 'v', 2, 4)$$);
-- no rows to train on; a role that may not store codebooks
TRUNCATE pq_mixed;
SELECT regress.error_of($$SELECT lodestone.pq_train('pq_mixed', 'v', 2, 4)$$);
CREATE ROLE regress_pq_user;
GRANT SELECT ON pq_items TO regress_pq_user;
GRANT USAGE ON SCHEMA regress TO regress_pq_user;
SET ROLE regress_pq_user;
SELECT regress.error_of($$SELECT lodestone.pq_train('pq_items', 'v', 4, 4)$$);
RESET ROLE;
REVOKE ALL ON pq_items FROM regress_pq_user;
REVOKE ALL ON SCHEMA regress FROM regress_pq_user;
DROP ROLE regress_pq_user;

-- a 4-subvector, 4-bit codebook (16 centroids per subvector)
SELECT lodestone.pq_train('pq_items', 'v', 4, 4) AS cb4;
SELECT id, dims, subvectors, bits, metric, source, sample_rows, length(codebook),
       substr(codebook, 1, 4) AS magic
FROM lodestone.pq_codebooks ORDER BY id;
-- training is deterministic: the same rows give the same centroids
SELECT lodestone.pq_train('pq_items', 'v', 4, 4) AS again;
SELECT a.codebook = b.codebook AS same FROM lodestone.pq_codebooks a, lodestone.pq_codebooks b WHERE a.id = 1 AND b.id = 2;
-- a halfvec column trains too; a sample smaller than the table is used
SELECT lodestone.pq_train('pq_items', 'h', 2, 4, 50) AS from_halfvec;
SELECT id, source, sample_rows FROM lodestone.pq_codebooks WHERE id = 3;

-- encode and decode
ALTER TABLE pq_items ADD COLUMN c pq;
UPDATE pq_items SET c = pq_encode(v, 1);
SELECT pq_codebook(c), count(*), min(length(c::text)) > 0 AS printed FROM pq_items GROUP BY 1;
SELECT vector_dims(pq_decode(c)) AS dims, count(*) FROM pq_items GROUP BY 1;
-- decode(encode(x)) is closer to x than the mean vector is
SELECT avg(v <-> pq_decode(c)) < avg(v <-> (SELECT avg(v) FROM pq_items)) AS better_than_mean FROM pq_items;
-- re-encoding a decoded value gives the same codes
SELECT bool_and(pq_encode(pq_decode(c), 1)::text = c::text) AS stable FROM pq_items;
-- bytes per row: codes against the vector
SELECT pg_column_size(c) AS pq_bytes, pg_column_size(v) AS vector_bytes FROM pq_items WHERE id = 1;

-- asymmetric distances equal the exact distances to the decoded vectors,
-- for all three operators and both argument orders
CREATE TABLE pq_queries AS
SELECT i AS qid, ARRAY(SELECT round(cos(i * 0.9 + j * 1.3)::numeric, 3) FROM generate_series(1, 8) j)::vector AS q
FROM generate_series(1, 5) i;
SELECT bool_and(abs((q <-> c) - (q <-> pq_decode(c))) < 1e-5) AS l2,
       bool_and(abs((q <#> c) - (q <#> pq_decode(c))) < 1e-5) AS ip,
       bool_and(abs((q <=> c) - (q <=> pq_decode(c))) < 1e-5) AS cosine,
       bool_and((c <-> q) = (q <-> c) AND (c <#> q) = (q <#> c) AND (c <=> q) = (q <=> c)) AS commute,
       bool_and(pq_l2_distance(q, c) = (q <-> c)) AS by_name
FROM pq_queries, pq_items;
-- the nearest neighbours by ADC are those of the decoded vectors
SELECT qid,
       ARRAY(SELECT id FROM pq_items ORDER BY q <-> c, id LIMIT 5) =
       ARRAY(SELECT id FROM pq_items ORDER BY q <-> pq_decode(c), id LIMIT 5) AS same_top5
FROM pq_queries ORDER BY qid;
-- parallel workers load the codebook themselves and agree with a serial scan
CREATE TABLE pq_radius AS SELECT avg(c <-> q) AS r FROM pq_items, pq_queries WHERE qid = 1;
SELECT count(*) AS serial FROM pq_items WHERE c <-> (SELECT q FROM pq_queries WHERE qid = 1) < (SELECT r FROM pq_radius);
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT count(*) FROM pq_items WHERE c <-> '[1,0,1,0,1,0,1,0]'::vector < 1.2;
SELECT count(*) AS parallel FROM pq_items WHERE c <-> (SELECT q FROM pq_queries WHERE qid = 1) < (SELECT r FROM pq_radius);
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
-- a zero query has no cosine distance
SELECT q <=> c AS nan FROM pq_items, (SELECT '[0,0,0,0,0,0,0,0]'::vector AS q) z WHERE id = 1;

-- reconstruction error falls as subvectors grow (4-bit codebooks), on
-- unclustered data (a hash of the row and dimension numbers)
CREATE TABLE pq_noise AS
SELECT i AS id, ARRAY(SELECT round((x - floor(x))::numeric, 4) FROM generate_series(1, 8) j,
                      LATERAL (SELECT sin(i * 12.9898 + j * 78.233) * 43758.5453 AS x) h)::vector(8) AS v
FROM generate_series(1, 400) i;
CREATE TABLE pq_err AS
SELECT m, lodestone.pq_train('pq_noise', 'v', m, 4) AS cb FROM (VALUES (1), (2), (4), (8)) t(m);
SELECT m, e < lag(e) OVER (ORDER BY m) AS lower_than_previous
FROM (SELECT m, (SELECT avg(v <-> pq_decode(pq_encode(v, cb))) FROM pq_noise) AS e FROM pq_err) s
ORDER BY m;

-- 8-bit codebook (256 centroids) on 400 rows
SELECT lodestone.pq_train('pq_items', 'v', 2) AS cb8 \gset
SELECT pq_codebook(pq_encode(v, :cb8)) = :cb8 AS ok, length(pq_encode(v, :cb8)::text) > 0 AS printed FROM pq_items WHERE id = 1;

-- misuse
SELECT regress.error_of(q) FROM (VALUES
  ($$SELECT pq_encode('[1,2,3,4,5,6,7,8]', 999)$$),
  ($$SELECT pq_decode('999:[1,2,3,4]')$$),
  ($$SELECT '[1,2,3,4,5,6,7,8]'::vector <-> '999:[1,2,3,4]'::pq$$),
  ($$SELECT pq_encode('[1,2,3]', 1)$$),
  ($$SELECT '[1,2,3]'::vector <-> c FROM pq_items WHERE id = 1$$),
  ($$SELECT pq_decode('1:[1,2,3]')$$),
  ($$SELECT '[1,2,3,4,5,6,7,8]'::vector <=> '1:[1,2,3,4,5]'::pq$$),
  ($$SELECT pq_decode('1:[1,2,3,16]')$$),
  ($$SELECT '[1,2,3,4,5,6,7,8]'::vector <#> '1:[1,2,3,16]'::pq$$),
  ($$SELECT lodestone.pq_codebooks_invalidate()$$)) t(q);

-- a deleted codebook can no longer be used (the cache is invalidated)
SELECT pq_decode('2:[1,2,3,4]') IS NOT NULL AS usable;
DELETE FROM lodestone.pq_codebooks WHERE id = 2;
SELECT regress.error_of($$SELECT pq_decode('2:[1,2,3,4]')$$);
-- a corrupt codebook is reported as such
UPDATE lodestone.pq_codebooks SET codebook = '\x00' WHERE id = 3;
SELECT regress.error_of($$SELECT pq_decode('3:[1,2]')$$);

-- the codebook table is part of the extension and dumped with its data
SELECT c.relname, e.extname FROM pg_depend d JOIN pg_class c ON c.oid = d.objid JOIN pg_extension e ON e.oid = d.refobjid
WHERE d.classid = 'pg_class'::regclass AND c.relname LIKE 'pq_codebooks%' AND d.deptype = 'e' ORDER BY 1;
SELECT array_length(extconfig, 1) AS config_tables FROM pg_extension WHERE extname = 'lodestone';

DROP TABLE pq_bin, pq_bin2, pq_recv, pq_items, pq_mixed, pq_queries, pq_radius, pq_noise, pq_err;
DELETE FROM lodestone.pq_codebooks;
