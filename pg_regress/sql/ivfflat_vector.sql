-- ivfflat on vector: every operator class, inserts after the build, NULL
-- and zero queries, iterative scans, unlogged tables, options, settings,
-- limits, build memory and progress phases, VACUUM, the planner's choice.
-- Covers pgvector 0.8.6's test/sql/ivfflat_vector.sql.

SET enable_seqscan = off;

-- L2: rows inserted after the build are found; NULL rows are not indexed
CREATE TABLE ivf_t (val vector(3));
INSERT INTO ivf_t (val) VALUES ('[0,0,0]'), ('[1,2,3]'), ('[1,1,1]'), (NULL);
CREATE INDEX ON ivf_t USING ivfflat (val vector_l2_ops) WITH (lists = 1);
INSERT INTO ivf_t (val) VALUES ('[1,2,4]');
EXPLAIN (COSTS OFF) SELECT * FROM ivf_t ORDER BY val <-> '[3,3,3]';
SELECT * FROM ivf_t ORDER BY val <-> '[3,3,3]';
-- a NULL query is a zero vector: every indexed row comes back
SELECT count(*) FROM (SELECT * FROM ivf_t ORDER BY val <-> (SELECT NULL::vector)) t2;
SELECT count(*) FROM ivf_t;
-- TRUNCATE rebuilds the index, now of no rows
TRUNCATE ivf_t;
SELECT * FROM ivf_t ORDER BY val <-> '[3,3,3]';
DROP TABLE ivf_t;

-- inner product: the zero vector is indexed
CREATE TABLE ivf_t (val vector(3));
INSERT INTO ivf_t (val) VALUES ('[0,0,0]'), ('[1,2,3]'), ('[1,1,1]'), (NULL);
CREATE INDEX ON ivf_t USING ivfflat (val vector_ip_ops) WITH (lists = 1);
INSERT INTO ivf_t (val) VALUES ('[1,2,4]');
SELECT * FROM ivf_t ORDER BY val <#> '[3,3,3]';
SELECT count(*) FROM (SELECT * FROM ivf_t ORDER BY val <#> (SELECT NULL::vector)) t2;
DROP TABLE ivf_t;

-- cosine: the zero vector has no direction and is not indexed
CREATE TABLE ivf_t (val vector(3));
INSERT INTO ivf_t (val) VALUES ('[0,0,0]'), ('[1,2,3]'), ('[1,1,1]'), (NULL);
CREATE INDEX ON ivf_t USING ivfflat (val vector_cosine_ops) WITH (lists = 1);
INSERT INTO ivf_t (val) VALUES ('[1,2,4]');
SELECT * FROM ivf_t ORDER BY val <=> '[3,3,3]';
SELECT count(*) FROM (SELECT * FROM ivf_t ORDER BY val <=> '[0,0,0]') t2;
SELECT count(*) FROM (SELECT * FROM ivf_t ORDER BY val <=> (SELECT NULL::vector)) t2;
SELECT * FROM ivf_t CROSS JOIN LATERAL (SELECT * FROM ivf_t t2 ORDER BY val <=> ivf_t.val LIMIT 1) t2
  WHERE ivf_t.val != '[0,0,0]' ORDER BY ivf_t.val;
DROP TABLE ivf_t;

-- iterative scans: with one probe, relaxed_order reads more lists when the
-- first runs out, up to ivfflat.max_probes
CREATE TABLE ivf_t (val vector(3));
INSERT INTO ivf_t (val) VALUES ('[0,0,0]'), ('[1,2,3]'), ('[1,1,1]'), (NULL);
CREATE INDEX ON ivf_t USING ivfflat (val vector_l2_ops) WITH (lists = 3);
SELECT * FROM ivf_t ORDER BY val <-> '[3,3,3]';
SET ivfflat.iterative_scan = relaxed_order;
SELECT * FROM ivf_t ORDER BY val <-> '[3,3,3]';
SET ivfflat.max_probes = 1;
SELECT * FROM ivf_t ORDER BY val <-> '[3,3,3]';
SET ivfflat.max_probes = 2;
SELECT * FROM ivf_t ORDER BY val <-> '[3,3,3]';
-- max_probes below probes means probes
SET ivfflat.probes = 3;
SET ivfflat.max_probes = 1;
SELECT count(*) FROM (SELECT * FROM ivf_t ORDER BY val <-> '[3,3,3]') t2;
RESET ivfflat.probes;
TRUNCATE ivf_t;
SELECT * FROM ivf_t ORDER BY val <-> '[3,3,3]';
RESET ivfflat.iterative_scan;
RESET ivfflat.max_probes;
DROP TABLE ivf_t;

-- unlogged tables (the init fork holds an empty index)
CREATE UNLOGGED TABLE ivf_t (val vector(3));
INSERT INTO ivf_t (val) VALUES ('[0,0,0]'), ('[1,2,3]'), ('[1,1,1]'), (NULL);
CREATE INDEX ON ivf_t USING ivfflat (val vector_l2_ops) WITH (lists = 1);
SELECT * FROM ivf_t ORDER BY val <-> '[3,3,3]';
DROP TABLE ivf_t;

-- options
CREATE TABLE ivf_t (val vector(3));
CREATE INDEX ON ivf_t USING ivfflat (val vector_l2_ops) WITH (lists = 0);
CREATE INDEX ON ivf_t USING ivfflat (val vector_l2_ops) WITH (lists = 32769);
CREATE INDEX ON ivf_t USING ivfflat (val vector_l2_ops) WITH (probes = 1);
DROP TABLE ivf_t;

-- settings
SHOW ivfflat.probes;
SET ivfflat.probes = 0;
SET ivfflat.probes = 32769;
SHOW ivfflat.iterative_scan;
SET ivfflat.iterative_scan = on;
SHOW ivfflat.max_probes;
SET ivfflat.max_probes = 0;
SET ivfflat.max_probes = 32769;
SELECT name, setting, short_desc FROM pg_settings WHERE name LIKE 'ivfflat.%' ORDER BY name;

-- dimensions, and spherical k-means needs two
CREATE TABLE ivf_t (val vector(2000));
CREATE INDEX ON ivf_t USING ivfflat (val vector_l2_ops);
DROP TABLE ivf_t;
CREATE TABLE ivf_t (val vector(2001));
CREATE INDEX ON ivf_t USING ivfflat (val vector_l2_ops);
DROP TABLE ivf_t;
CREATE TABLE ivf_t (val vector);
CREATE INDEX ON ivf_t USING ivfflat (val vector_l2_ops);
DROP TABLE ivf_t;
CREATE TABLE ivf_t (val vector(1));
CREATE INDEX ON ivf_t USING ivfflat (val vector_cosine_ops);
CREATE INDEX ON ivf_t USING ivfflat (val vector_ip_ops);
CREATE INDEX ON ivf_t USING ivfflat (val vector_l2_ops) WITH (lists = 1);
DROP TABLE ivf_t;

-- memory
SET maintenance_work_mem = '1MB';
CREATE TABLE ivf_t (val vector(2000));
CREATE INDEX ON ivf_t USING ivfflat (val vector_l2_ops);
DROP TABLE ivf_t;
RESET maintenance_work_mem;
SET maintenance_work_mem = '5MB';
CREATE TABLE ivf_t (val vector(2000));
INSERT INTO ivf_t (val) VALUES (array_fill(0, ARRAY[2000]));
CREATE INDEX ON ivf_t USING ivfflat (val vector_l2_ops);
DROP TABLE ivf_t;
RESET maintenance_work_mem;
SET maintenance_work_mem = '1MB';
CREATE TABLE ivf_t (val vector(2000));
INSERT INTO ivf_t (val) SELECT array_fill(i, ARRAY[2000]) FROM generate_series(1, 300) i;
CREATE INDEX ON ivf_t USING ivfflat (val vector_l2_ops) WITH (lists = 100);
DROP TABLE ivf_t;
RESET maintenance_work_mem;

-- more rows than fit a page per list, deletes and VACUUM, the default opclass
CREATE TABLE ivf_t (id int, val vector(3));
INSERT INTO ivf_t SELECT i, ARRAY[i % 10, i / 10 % 10, i / 100] FROM generate_series(0, 999) i;
CREATE INDEX ivf_idx ON ivf_t USING ivfflat (val) WITH (lists = 4);
SELECT opcname FROM pg_index i JOIN pg_opclass o ON o.oid = i.indclass[0] WHERE indexrelid = 'ivf_idx'::regclass;
SET ivfflat.probes = 4;
SELECT id FROM ivf_t ORDER BY val <-> '[3,3,3]' LIMIT 3;
SELECT count(*) FROM (SELECT id FROM ivf_t ORDER BY val <-> '[3,3,3]') t;
DELETE FROM ivf_t WHERE id % 2 = 0;
VACUUM ivf_t;
SELECT count(*) FROM (SELECT id FROM ivf_t ORDER BY val <-> '[3,3,3]') t;
INSERT INTO ivf_t SELECT i, ARRAY[i % 10, i / 10 % 10, i / 100] FROM generate_series(1000, 1499) i;
SELECT count(*) FROM (SELECT id FROM ivf_t ORDER BY val <-> '[3,3,3]') t;
SELECT id FROM ivf_t ORDER BY val <-> '[3,3,13]' LIMIT 3;
RESET ivfflat.probes;
-- lodestone_ivfflat_info (lodestone only): every row in some list
-- (VACUUM may have left dead items if a parallel test held a snapshot)
SELECT lists, tuples >= (SELECT count(*) FROM ivf_t) AS has_every_row, empty_lists, largest_list >= tuples / lists AS largest_ok, dimensions, metric, pages > lists AS paged
  FROM lodestone_ivfflat_info('ivf_idx');
-- lodestone_ivfflat_verify: no problem after the build, inserts and VACUUM
SELECT * FROM lodestone_ivfflat_verify('ivf_idx');
CREATE INDEX ivf_btree ON ivf_t (id);
SELECT * FROM lodestone_ivfflat_info('ivf_btree');
SELECT * FROM lodestone_ivfflat_verify('ivf_btree');
DROP INDEX ivf_btree;
-- the planner: an ivfflat index only serves ORDER BY ... LIMIT
RESET enable_seqscan;
ANALYZE ivf_t;
EXPLAIN (COSTS OFF) SELECT id FROM ivf_t ORDER BY val <-> '[3,3,3]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM ivf_t WHERE val = '[1,1,1]';
DROP TABLE ivf_t;

-- build phases, as pgvector names them
SELECT amname, pg_indexam_progress_phasename(oid, 1), pg_indexam_progress_phasename(oid, 2),
  pg_indexam_progress_phasename(oid, 3), pg_indexam_progress_phasename(oid, 4), pg_indexam_progress_phasename(oid, 5)
  FROM pg_am WHERE amname = 'ivfflat';

-- the catalog: operator classes and support functions, as pgvector's
SELECT c.opcname, c.opcdefault, t.typname, array_agg(p.amprocnum || ': ' || p.amproc::regprocedure::text ORDER BY p.amprocnum)
  FROM pg_opclass c JOIN pg_am a ON a.oid = c.opcmethod JOIN pg_type t ON t.oid = c.opcintype
  JOIN pg_amproc p ON p.amprocfamily = c.opcfamily
  WHERE a.amname = 'ivfflat' GROUP BY 1, 2, 3 ORDER BY 3, 1;

-- a query of other dimensions: pgvector's error, column first
CREATE TABLE ivf_t (val vector(3));
CREATE INDEX ON ivf_t USING ivfflat (val) WITH (lists = 1);
SELECT * FROM ivf_t ORDER BY val <-> '[1,2]';
DROP TABLE ivf_t;
