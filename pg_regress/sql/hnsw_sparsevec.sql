-- hnsw on sparsevec: every operator class, the non-zero limit, inserts,
-- vacuum. Only pgvector's SQL surface (this file is in compat_schedule).

SET enable_seqscan = off;

CREATE TABLE hnsw_sparse (id int PRIMARY KEY, v sparsevec(5));
INSERT INTO hnsw_sparse VALUES
  (1, '{1:1,2:1,3:1}/5'), (2, '{1:2,2:2,3:2}/5'), (3, '{1:1,2:1,3:2}/5'), (4, '{1:-1,3:1}/5'),
  (5, '{}/5'), (6, NULL), (7, '{1:5,2:3,3:1}/5'), (8, '{1:1,2:2,3:3,5:4}/5'), (9, '{1:3,2:2,3:1}/5'),
  (10, '{1:-2,2:-2,3:-2.5,4:7}/5');

CREATE INDEX hnsw_sparse_l2 ON hnsw_sparse USING hnsw (v sparsevec_l2_ops);
EXPLAIN (COSTS OFF) SELECT id FROM hnsw_sparse ORDER BY v <-> '{1:1,2:1,3:1}/5' LIMIT 3;
SELECT * FROM (SELECT id, v <-> '{1:1,2:1,3:1}/5' AS distance FROM hnsw_sparse ORDER BY v <-> '{1:1,2:1,3:1}/5' LIMIT 4) t ORDER BY distance, id;
SELECT count(*) FROM (SELECT id FROM hnsw_sparse ORDER BY v <-> '{}/5') t;
SELECT id FROM hnsw_sparse ORDER BY v <-> '{1:1}/4' LIMIT 3;
DROP INDEX hnsw_sparse_l2;

CREATE INDEX hnsw_sparse_ip ON hnsw_sparse USING hnsw (v sparsevec_ip_ops);
SELECT * FROM (SELECT id, v <#> '{1:1,2:2,3:3}/5' AS distance FROM hnsw_sparse ORDER BY v <#> '{1:1,2:2,3:3}/5' LIMIT 5) t ORDER BY distance, id;
DROP INDEX hnsw_sparse_ip;

-- cosine skips the zero vector
CREATE INDEX hnsw_sparse_cosine ON hnsw_sparse USING hnsw (v sparsevec_cosine_ops);
SELECT * FROM (SELECT id, v <=> '{1:1,2:1,3:1}/5' AS distance FROM hnsw_sparse ORDER BY v <=> '{1:1,2:1,3:1}/5' LIMIT 5) t ORDER BY distance, id;
SELECT count(*) FROM (SELECT id FROM hnsw_sparse ORDER BY v <=> '{1:1,2:1,3:1}/5') t;
DROP INDEX hnsw_sparse_cosine;

CREATE INDEX hnsw_sparse_l1 ON hnsw_sparse USING hnsw (v sparsevec_l1_ops);
SELECT * FROM (SELECT id, v <+> '{1:1,2:1,3:1}/5' AS distance FROM hnsw_sparse ORDER BY v <+> '{1:1,2:1,3:1}/5' LIMIT 2) t ORDER BY distance, id;
DROP TABLE hnsw_sparse;

-- values of many lengths: the index gives the exact top 10 distances (many
-- are tied), after inserts, deletes and VACUUM too (the exact list orders by
-- an expression the index cannot serve)
CREATE TABLE hnsw_sparse_many (id int, v sparsevec(1000));
INSERT INTO hnsw_sparse_many SELECT i,
  ('{' || (SELECT string_agg(j::text || ':' || ((i * j) % 7 + 1)::text, ',') FROM generate_series(1 + i % 50, 1000, 1 + i % 37) j) || '}/1000')::sparsevec
  FROM generate_series(1, 1500) i;
CREATE INDEX ON hnsw_sparse_many USING hnsw (v sparsevec_l2_ops);
INSERT INTO hnsw_sparse_many SELECT i,
  ('{' || (SELECT string_agg(j::text || ':' || ((i * j) % 5 + 1)::text, ',') FROM generate_series(1 + i % 40, 1000, 1 + i % 29) j) || '}/1000')::sparsevec
  FROM generate_series(1501, 2000) i;
SET hnsw.ef_search = 200;
CREATE TABLE hnsw_sparse_q AS SELECT v FROM hnsw_sparse_many WHERE id = 1234;
SELECT array_agg(d ORDER BY d) = (SELECT array_agg(d ORDER BY d) FROM (SELECT v <-> (SELECT v FROM hnsw_sparse_q) AS d FROM hnsw_sparse_many ORDER BY (v <-> (SELECT v FROM hnsw_sparse_q)) + 0 LIMIT 10) e) AS exact
  FROM (SELECT id, v <-> (SELECT v FROM hnsw_sparse_q) AS d FROM hnsw_sparse_many ORDER BY v <-> (SELECT v FROM hnsw_sparse_q) LIMIT 10) i;
DELETE FROM hnsw_sparse_many WHERE id % 3 = 0;
VACUUM hnsw_sparse_many;
SELECT array_agg(d ORDER BY d) = (SELECT array_agg(d ORDER BY d) FROM (SELECT v <-> (SELECT v FROM hnsw_sparse_q) AS d FROM hnsw_sparse_many ORDER BY (v <-> (SELECT v FROM hnsw_sparse_q)) + 0 LIMIT 10) e) AS exact
  FROM (SELECT id, v <-> (SELECT v FROM hnsw_sparse_q) AS d FROM hnsw_sparse_many ORDER BY v <-> (SELECT v FROM hnsw_sparse_q) LIMIT 10) i;
-- rows inserted after VACUUM reuse the freed space
-- (points on a line: one-hot rows, all equidistant, made pgvector's own
-- index miss one now and then, even at ef_search 1000)
INSERT INTO hnsw_sparse_many SELECT 3000 + i, ('{1:' || (50 + i) || '}/1000')::sparsevec FROM generate_series(1, 300) i;
SELECT id FROM hnsw_sparse_many ORDER BY v <-> '{1:127.2}/1000' LIMIT 3;
DROP TABLE hnsw_sparse_many, hnsw_sparse_q;

-- limits: 1000 non-zeros per indexed value, dimensions required
CREATE TABLE hnsw_sparse_nodims (v sparsevec);
CREATE INDEX ON hnsw_sparse_nodims USING hnsw (v sparsevec_l2_ops);
CREATE TABLE hnsw_sparse_nnz (v sparsevec(100000));
CREATE INDEX ON hnsw_sparse_nnz USING hnsw (v sparsevec_l2_ops);
INSERT INTO hnsw_sparse_nnz SELECT ('{' || (SELECT string_agg(j::text || ':1', ',') FROM generate_series(1, 1000) j) || '}/100000')::sparsevec;
INSERT INTO hnsw_sparse_nnz SELECT ('{' || (SELECT string_agg(j::text || ':1', ',') FROM generate_series(1, 1001) j) || '}/100000')::sparsevec;
SELECT count(*) FROM (SELECT 1 FROM hnsw_sparse_nnz ORDER BY v <-> '{1:1}/100000' LIMIT 5) t;
-- a query may have any number of non-zeros
SELECT count(*) FROM (SELECT 1 FROM hnsw_sparse_nnz ORDER BY v <-> ('{' || (SELECT string_agg(j::text || ':1', ',') FROM generate_series(1, 2000) j) || '}/100000')::sparsevec LIMIT 5) t;
DROP TABLE hnsw_sparse_nodims, hnsw_sparse_nnz;

RESET ALL;
