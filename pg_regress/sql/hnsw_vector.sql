-- hnsw on vector: every operator class, options, settings, planner choices.
-- Only pgvector's SQL surface (this file is in compat_schedule).

CREATE TABLE hnsw_items (id int PRIMARY KEY, v vector(3));
INSERT INTO hnsw_items VALUES
  (1, '[1,1,1]'), (2, '[2,2,2]'), (3, '[1,1,2]'), (4, '[-1,0,1]'), (5, '[0,0,0]'),
  (6, NULL), (7, '[5,3,1]'), (8, '[1,2,3]'), (9, '[3,2,1]'), (10, '[-2,-2,-2]');

SET enable_seqscan = off;

-- Results come from the index (EXPLAIN shows it); an outer ORDER BY only
-- orders rows at equal distance, whose order is the index's own choice.

-- each operator class orders by its own distance
CREATE INDEX hnsw_l2 ON hnsw_items USING hnsw (v vector_l2_ops);
EXPLAIN (COSTS OFF) SELECT id FROM hnsw_items ORDER BY v <-> '[1,1,1]' LIMIT 3;
SELECT * FROM (SELECT id, v <-> '[1,1,1]' AS distance FROM hnsw_items ORDER BY v <-> '[1,1,1]' LIMIT 4) t ORDER BY distance, id;
SELECT count(*) FROM (SELECT id FROM hnsw_items ORDER BY v <-> '[0,0,0]') t;
DROP INDEX hnsw_l2;

CREATE INDEX hnsw_ip ON hnsw_items USING hnsw (v vector_ip_ops);
SELECT * FROM (SELECT id, v <#> '[1,2,3]' AS distance FROM hnsw_items ORDER BY v <#> '[1,2,3]' LIMIT 5) t ORDER BY distance, id;
DROP INDEX hnsw_ip;

-- cosine skips the zero vector, which has no direction
CREATE INDEX hnsw_cosine ON hnsw_items USING hnsw (v vector_cosine_ops);
SELECT * FROM (SELECT id, v <=> '[1,1,1]' AS distance FROM hnsw_items ORDER BY v <=> '[1,1,1]' LIMIT 5) t ORDER BY distance, id;
SELECT count(*) FROM (SELECT id FROM hnsw_items ORDER BY v <=> '[1,1,1]') t;
DROP INDEX hnsw_cosine;

CREATE INDEX hnsw_l1 ON hnsw_items USING hnsw (v vector_l1_ops);
SELECT * FROM (SELECT id, v <+> '[1,1,1]' AS distance FROM hnsw_items ORDER BY v <+> '[1,1,1]' LIMIT 2) t ORDER BY distance, id;
DROP INDEX hnsw_l1;

-- inserts after the build, into an index built on an empty table
CREATE TABLE hnsw_grow (id int, v vector(2));
CREATE INDEX ON hnsw_grow USING hnsw (v vector_l2_ops) WITH (m = 4, ef_construction = 16);
INSERT INTO hnsw_grow SELECT i, ARRAY[i % 10, i / 10] FROM generate_series(0, 99) i;
SELECT id, v FROM hnsw_grow ORDER BY v <-> '[4.2,4.9]' LIMIT 4;
-- every copy of a vector comes back
INSERT INTO hnsw_grow SELECT 1000 + i, '[4,5]' FROM generate_series(1, 25) i;
SELECT count(*) FROM (SELECT id FROM hnsw_grow ORDER BY v <-> '[4,5]' LIMIT 26) t WHERE id >= 1000 OR id = 54;
-- after deleting and vacuuming, deleted rows are gone and the rest remain
DELETE FROM hnsw_grow WHERE id % 2 = 0;
VACUUM hnsw_grow;
SELECT v, count(*) FROM (SELECT id, v FROM hnsw_grow ORDER BY v <-> '[4.2,4.9]' LIMIT 4) t GROUP BY v;
SET hnsw.ef_search = 1000;
SELECT count(*) FROM (SELECT id FROM hnsw_grow ORDER BY v <-> '[4,5]') t;
RESET hnsw.ef_search;
DROP TABLE hnsw_grow;

-- a NULL or wrong-sized query
CREATE INDEX hnsw_l2 ON hnsw_items USING hnsw (v vector_l2_ops);
SELECT count(*) FROM (SELECT id FROM hnsw_items ORDER BY v <-> NULL LIMIT 3) t;
SELECT id FROM hnsw_items ORDER BY v <-> '[1,2]' LIMIT 3;

-- without ORDER BY the index is not used
EXPLAIN (COSTS OFF) SELECT id FROM hnsw_items WHERE v <-> '[1,1,1]' < 1;
DROP INDEX hnsw_l2;

-- options
CREATE INDEX ON hnsw_items USING hnsw (v vector_l2_ops) WITH (m = 1);
CREATE INDEX ON hnsw_items USING hnsw (v vector_l2_ops) WITH (m = 101);
CREATE INDEX ON hnsw_items USING hnsw (v vector_l2_ops) WITH (ef_construction = 3);
CREATE INDEX ON hnsw_items USING hnsw (v vector_l2_ops) WITH (ef_construction = 1001);
CREATE INDEX ON hnsw_items USING hnsw (v vector_l2_ops) WITH (m = 16, ef_construction = 31);
CREATE INDEX ON hnsw_items USING hnsw (v vector_l2_ops) WITH (lists = 10);
CREATE INDEX hnsw_opts ON hnsw_items USING hnsw (v vector_l2_ops) WITH (m = 2, ef_construction = 4);
SELECT reloptions FROM pg_class WHERE relname = 'hnsw_opts';
DROP INDEX hnsw_opts;

-- what cannot be indexed
CREATE INDEX ON hnsw_items USING hnsw (v);
CREATE TABLE hnsw_nodims (v vector);
CREATE INDEX ON hnsw_nodims USING hnsw (v vector_l2_ops);
CREATE TABLE hnsw_toobig (v vector(2001));
CREATE INDEX ON hnsw_toobig USING hnsw (v vector_l2_ops);
CREATE TABLE hnsw_max (v vector(2000));
CREATE INDEX ON hnsw_max USING hnsw (v vector_l2_ops);
INSERT INTO hnsw_max SELECT array_fill(i, ARRAY[2000]) FROM generate_series(1, 3) i;
SELECT v = array_fill(2, ARRAY[2000])::vector FROM hnsw_max ORDER BY v <-> array_fill(2.1, ARRAY[2000])::vector LIMIT 1;
CREATE INDEX ON hnsw_items USING hnsw (v vector_l2_ops, v vector_l2_ops);
CREATE UNIQUE INDEX ON hnsw_items USING hnsw (v vector_l2_ops);
DROP TABLE hnsw_nodims, hnsw_toobig, hnsw_max;

-- settings
SHOW hnsw.ef_search;
SET hnsw.ef_search = 0;
SET hnsw.ef_search = 1001;
SET hnsw.ef_search = 1;
SHOW hnsw.iterative_scan;
SET hnsw.iterative_scan = strict_order;
SET hnsw.iterative_scan = relaxed_order;
SET hnsw.iterative_scan = on;
SHOW hnsw.max_scan_tuples;
SET hnsw.max_scan_tuples = 0;
SHOW hnsw.scan_mem_multiplier;
SET hnsw.scan_mem_multiplier = 0;
SET hnsw.nonexistent = 1;
RESET ALL;

-- an unlogged table gets an init fork
CREATE UNLOGGED TABLE hnsw_unlogged (v vector(2));
CREATE INDEX ON hnsw_unlogged USING hnsw (v vector_l2_ops);
INSERT INTO hnsw_unlogged VALUES ('[1,1]'), ('[2,2]');
SET enable_seqscan = off;
SELECT v FROM hnsw_unlogged ORDER BY v <-> '[2,2]' LIMIT 1;
DROP TABLE hnsw_unlogged;

-- an expression index, and a partial one
CREATE INDEX hnsw_expr ON hnsw_items USING hnsw ((v * '[1,1,2]') vector_l2_ops);
SELECT id FROM hnsw_items ORDER BY (v * '[1,1,2]') <-> '[1,1,1]' LIMIT 2;
CREATE INDEX hnsw_partial ON hnsw_items USING hnsw (v vector_l2_ops) WHERE id > 5;
SELECT * FROM (SELECT id, v <-> '[1,1,1]' AS distance FROM hnsw_items WHERE id > 5 ORDER BY v <-> '[1,1,1]' LIMIT 2) t ORDER BY distance, id;

DROP TABLE hnsw_items;
RESET ALL;
