-- The planner chooses lodestone's indexes where it chooses pgvector's
-- (pgvector 0.8.6's test/t/017_hnsw_filtering.pl and 009_ivfflat_filtering.pl,
-- on deterministic data): selective and unselective filters, distance
-- filters, joins, a btree on the filter column, and partial indexes.

CREATE TABLE pp_tst (i int4, v vector(3), c int4, t text);
CREATE TABLE pp_cat (i int4 PRIMARY KEY, t text, b boolean);
INSERT INTO pp_tst SELECT i, ARRAY[(i::bigint * 7919 % 1000) / 1000.0, (i::bigint * 104729 % 997) / 997.0, (i::bigint * 1299709 % 991) / 991.0],
  i % 50, 'test ' || i FROM generate_series(1, 10000) i;
INSERT INTO pp_cat SELECT i, 'cat ' || i, i % 5 = 0 FROM generate_series(1, 50) i;
CREATE INDEX pp_idx ON pp_tst USING hnsw (v vector_l2_ops);
ANALYZE pp_tst;
ANALYZE pp_cat;

-- a selective filter: a sequential scan and a sort
EXPLAIN (COSTS OFF) SELECT i FROM pp_tst WHERE c = 10 ORDER BY v <-> '[0.3,0.5,0.7]' LIMIT 20;
-- few rows removed: the index
EXPLAIN (COSTS OFF) SELECT i FROM pp_tst WHERE c != 10 ORDER BY v <-> '[0.3,0.5,0.7]' LIMIT 20;
EXPLAIN (COSTS OFF) SELECT i FROM pp_tst WHERE c >= 1 ORDER BY v <-> '[0.3,0.5,0.7]' LIMIT 20;
EXPLAIN (COSTS OFF) SELECT i FROM pp_tst WHERE c < 1 ORDER BY v <-> '[0.3,0.5,0.7]' LIMIT 20;
EXPLAIN (COSTS OFF) SELECT i FROM pp_tst WHERE t LIKE '%test%' ORDER BY v <-> '[0.3,0.5,0.7]' LIMIT 20;
EXPLAIN (COSTS OFF) SELECT i FROM pp_tst WHERE t LIKE '%other%' ORDER BY v <-> '[0.3,0.5,0.7]' LIMIT 20;
-- distance filters
EXPLAIN (COSTS OFF) SELECT i FROM pp_tst WHERE v <-> '[0.3,0.5,0.7]' < 1 ORDER BY v <-> '[0.3,0.5,0.7]' LIMIT 20;
EXPLAIN (COSTS OFF) SELECT i FROM pp_tst WHERE v <-> '[0.3,0.5,0.7]' < 1;
EXPLAIN (COSTS OFF) SELECT i FROM pp_tst WHERE v <-> '[0.3,0.5,0.7]' < 1 ORDER BY v <-> '[0.3,0.5,0.7]';
-- joins
EXPLAIN (COSTS OFF) SELECT pp_cat.t FROM pp_cat INNER JOIN pp_tst ON pp_cat.i = pp_tst.c ORDER BY v <-> '[0.3,0.5,0.7]' LIMIT 20;
EXPLAIN (COSTS OFF) SELECT pp_cat.t FROM pp_cat INNER JOIN pp_tst ON pp_cat.i = pp_tst.c WHERE pp_cat.b ORDER BY v <-> '[0.3,0.5,0.7]' LIMIT 20;

-- a btree on the filter column: a bitmap scan and a sort
CREATE INDEX pp_attribute_idx ON pp_tst (c);
EXPLAIN (COSTS OFF) SELECT i FROM pp_tst WHERE c = 10 ORDER BY v <-> '[0.3,0.5,0.7]' LIMIT 20;

-- a partial hnsw index for the filter: chosen. Building it must not tell
-- the planner the table has only the rows the predicate keeps.
CREATE INDEX pp_partial_idx ON pp_tst USING hnsw (v vector_l2_ops) WHERE (c = 10);
SELECT relname, reltuples FROM pg_class WHERE relname IN ('pp_tst', 'pp_partial_idx') ORDER BY relname;
EXPLAIN (COSTS OFF) SELECT i FROM pp_tst WHERE c = 10 ORDER BY v <-> '[0.3,0.5,0.7]' LIMIT 20;
DROP INDEX pp_partial_idx;

-- the same with ivfflat
DROP INDEX pp_idx;
CREATE INDEX pp_ivf ON pp_tst USING ivfflat (v vector_l2_ops) WITH (lists = 5);
EXPLAIN (COSTS OFF) SELECT i FROM pp_tst WHERE c != 10 ORDER BY v <-> '[0.3,0.5,0.7]' LIMIT 20;
EXPLAIN (COSTS OFF) SELECT i FROM pp_tst WHERE c = 10 ORDER BY v <-> '[0.3,0.5,0.7]' LIMIT 20;
CREATE INDEX pp_ivf_partial ON pp_tst USING ivfflat (v vector_l2_ops) WITH (lists = 5) WHERE (c = 10);
SELECT relname, reltuples FROM pg_class WHERE relname IN ('pp_tst', 'pp_ivf_partial') ORDER BY relname;
EXPLAIN (COSTS OFF) SELECT i FROM pp_tst WHERE c = 10 ORDER BY v <-> '[0.3,0.5,0.7]' LIMIT 20;

-- a tiny table: a sequential scan and a sort, whatever the index
CREATE TABLE pp_tiny (v vector(3));
INSERT INTO pp_tiny VALUES ('[1,2,3]'), ('[4,5,6]');
CREATE INDEX ON pp_tiny USING hnsw (v vector_l2_ops);
ANALYZE pp_tiny;
EXPLAIN (COSTS OFF) SELECT * FROM pp_tiny ORDER BY v <-> '[1,1,1]' LIMIT 1;
DROP TABLE pp_tiny, pp_tst, pp_cat;
