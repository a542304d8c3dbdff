-- ivfflat on halfvec: every operator class, inserts, NULL queries, limits.
-- Covers pgvector 0.8.6's test/sql/ivfflat_halfvec.sql.

SET enable_seqscan = off;

-- L2
CREATE TABLE ivf_h (val halfvec(3));
INSERT INTO ivf_h (val) VALUES ('[0,0,0]'), ('[1,2,3]'), ('[1,1,1]'), (NULL);
CREATE INDEX ON ivf_h USING ivfflat (val halfvec_l2_ops) WITH (lists = 1);
INSERT INTO ivf_h (val) VALUES ('[1,2,4]');
EXPLAIN (COSTS OFF) SELECT * FROM ivf_h ORDER BY val <-> '[3,3,3]';
SELECT * FROM ivf_h ORDER BY val <-> '[3,3,3]';
SELECT count(*) FROM (SELECT * FROM ivf_h ORDER BY val <-> (SELECT NULL::halfvec)) t2;
SELECT count(*) FROM ivf_h;
TRUNCATE ivf_h;
SELECT * FROM ivf_h ORDER BY val <-> '[3,3,3]';
DROP TABLE ivf_h;

-- inner product
CREATE TABLE ivf_h (val halfvec(3));
INSERT INTO ivf_h (val) VALUES ('[0,0,0]'), ('[1,2,3]'), ('[1,1,1]'), (NULL);
CREATE INDEX ON ivf_h USING ivfflat (val halfvec_ip_ops) WITH (lists = 1);
INSERT INTO ivf_h (val) VALUES ('[1,2,4]');
SELECT * FROM ivf_h ORDER BY val <#> '[3,3,3]';
SELECT count(*) FROM (SELECT * FROM ivf_h ORDER BY val <#> (SELECT NULL::halfvec)) t2;
DROP TABLE ivf_h;

-- cosine
CREATE TABLE ivf_h (val halfvec(3));
INSERT INTO ivf_h (val) VALUES ('[0,0,0]'), ('[1,2,3]'), ('[1,1,1]'), (NULL);
CREATE INDEX ON ivf_h USING ivfflat (val halfvec_cosine_ops) WITH (lists = 1);
INSERT INTO ivf_h (val) VALUES ('[1,2,4]');
SELECT * FROM ivf_h ORDER BY val <=> '[3,3,3]';
SELECT count(*) FROM (SELECT * FROM ivf_h ORDER BY val <=> '[0,0,0]') t2;
SELECT count(*) FROM (SELECT * FROM ivf_h ORDER BY val <=> (SELECT NULL::halfvec)) t2;
DROP TABLE ivf_h;

-- many rows, several lists, every list probed: the index returns exactly
-- what a sequential scan does
CREATE TABLE ivf_h (id int, val halfvec(4));
INSERT INTO ivf_h SELECT i, ARRAY[i % 7, i % 11, i % 13, 1] FROM generate_series(1, 2000) i;
CREATE INDEX ON ivf_h USING ivfflat (val halfvec_l2_ops) WITH (lists = 8);
SET ivfflat.probes = 8;
SELECT array_agg(id) FROM (SELECT id FROM ivf_h ORDER BY val <-> '[3,5,7,1]', id LIMIT 5) t;
RESET enable_seqscan;
SET enable_indexscan = off;
SELECT array_agg(id) FROM (SELECT id FROM ivf_h ORDER BY val <-> '[3,5,7,1]', id LIMIT 5) t;
RESET enable_indexscan;
SET enable_seqscan = off;
RESET ivfflat.probes;
DROP TABLE ivf_h;

-- dimensions
CREATE TABLE ivf_h (val halfvec(4000));
CREATE INDEX ON ivf_h USING ivfflat (val halfvec_l2_ops);
DROP TABLE ivf_h;
CREATE TABLE ivf_h (val halfvec(4001));
CREATE INDEX ON ivf_h USING ivfflat (val halfvec_l2_ops);
DROP TABLE ivf_h;
CREATE TABLE ivf_h (val halfvec(1));
CREATE INDEX ON ivf_h USING ivfflat (val halfvec_cosine_ops);
DROP TABLE ivf_h;

-- memory
SET maintenance_work_mem = '1MB';
CREATE TABLE ivf_h (val halfvec(4000));
CREATE INDEX ON ivf_h USING ivfflat (val halfvec_l2_ops);
DROP TABLE ivf_h;
RESET maintenance_work_mem;
SET maintenance_work_mem = '5MB';
CREATE TABLE ivf_h (val halfvec(4000));
INSERT INTO ivf_h (val) VALUES (array_fill(0, ARRAY[4000]));
CREATE INDEX ON ivf_h USING ivfflat (val halfvec_l2_ops);
DROP TABLE ivf_h;
RESET maintenance_work_mem;
