-- VACUUM of hnsw indexes (lodestone only: lodestone_hnsw_verify, lodestone_hnsw_info).
-- Alone in its schedule group: VACUUM must see no other snapshot, and the
-- buffer counts of the last part must be this test's only.
SET enable_seqscan = off;

-- Issue 14's reproduction: the first node holds 30 copies of one vector (10
-- inline, 20 in an overflow chain) and is the highest one; deleting every
-- copy used to leave the index without an entry point, so the 10 live rows
-- were found by no scan and verify said "the index has no entry point".
SELECT setseed(0.14);
CREATE TABLE hv (id int, v vector(3)) WITH (autovacuum_enabled = off);
CREATE INDEX hv_idx ON hv USING hnsw (v vector_l2_ops) WITH (m = 100, ef_construction = 200);
INSERT INTO hv SELECT g, '[1,1,1]' FROM generate_series(1, 30) g;
INSERT INTO hv SELECT g, ARRAY[random(), random(), random()]::vector FROM generate_series(31, 40) g;
DELETE FROM hv WHERE id <= 30;
VACUUM hv;
SELECT count(*) FROM (SELECT 1 FROM hv ORDER BY v <-> '[0,0,0]' LIMIT 10) s;
SELECT * FROM lodestone_hnsw_verify('hv_idx');
SELECT nodes, heap_tids, deleted_nodes FROM lodestone_hnsw_info('hv_idx');
-- rows inserted afterwards join the same graph
INSERT INTO hv SELECT g, ARRAY[random(), random(), random()]::vector FROM generate_series(41, 60) g;
SELECT count(*) FROM (SELECT 1 FROM hv ORDER BY v <-> '[0,0,0]' LIMIT 100) s;
SELECT * FROM lodestone_hnsw_verify('hv_idx');
DROP TABLE hv;

-- Several groups of duplicates (each with an overflow chain) on a small m,
-- so nodes have several levels: deleting every copy of each group, and then
-- every row but one, always leaves an entry point on a live node.
SELECT setseed(0.5);
CREATE TABLE hd (id int, v vector(2)) WITH (autovacuum_enabled = off);
CREATE INDEX hd_idx ON hd USING hnsw (v vector_l2_ops) WITH (m = 4, ef_construction = 16);
INSERT INTO hd SELECT g, ARRAY[g % 5, g % 5] FROM generate_series(1, 100) g;
INSERT INTO hd SELECT 100 + g, ARRAY[random() * 10, random() * 10] FROM generate_series(1, 200) g;
DELETE FROM hd WHERE id <= 100;
VACUUM hd;
SET hnsw.ef_search = 1000;
SELECT count(*) FROM (SELECT 1 FROM hd ORDER BY v <-> '[5,5]' LIMIT 1000) s;
RESET hnsw.ef_search;
SELECT * FROM lodestone_hnsw_verify('hd_idx');
DELETE FROM hd WHERE id <> 300;
VACUUM hd;
SELECT id FROM hd ORDER BY v <-> '[0,0]' LIMIT 5;
SELECT * FROM lodestone_hnsw_verify('hd_idx');
SELECT nodes, heap_tids, deleted_nodes FROM lodestone_hnsw_info('hd_idx');
DROP TABLE hd;

-- Finding 5: a VACUUM with nothing to remove does not walk the graph. It
-- reads each page of the index once (to count its TIDs); walking the graph
-- read 2,000 nodes one by one, many times the index's pages.
SELECT setseed(0.7);
CREATE TABLE hw (id int, v vector(3)) WITH (autovacuum_enabled = off);
INSERT INTO hw SELECT g, ARRAY[random(), random(), random()]::vector FROM generate_series(1, 2000) g;
CREATE INDEX hw_idx ON hw USING hnsw (v vector_l2_ops) WITH (m = 4, ef_construction = 16);
VACUUM hw;
INSERT INTO hw SELECT g, ARRAY[random(), random(), random()]::vector FROM generate_series(2001, 2100) g;
SELECT pg_stat_force_next_flush();
SELECT idx_blks_read + idx_blks_hit AS before FROM pg_statio_user_indexes WHERE indexrelname = 'hw_idx' \gset
VACUUM hw;
SELECT pg_stat_force_next_flush();
SELECT idx_blks_read + idx_blks_hit - :before <= 2 * pg_relation_size('hw_idx') / 8192 AS no_graph_walk
FROM pg_statio_user_indexes WHERE indexrelname = 'hw_idx';
SELECT * FROM lodestone_hnsw_verify('hw_idx');
-- a VACUUM that removes rows still repairs, frees and verifies
DELETE FROM hw WHERE id % 4 = 0;
VACUUM hw;
SELECT heap_tids = (SELECT count(*) FROM hw) AS all_rows_indexed, deleted_nodes FROM lodestone_hnsw_info('hw_idx');
SELECT * FROM lodestone_hnsw_verify('hw_idx');
DROP TABLE hw;
