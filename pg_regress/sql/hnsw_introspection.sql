-- lodestone_hnsw_info and lodestone_hnsw_verify (lodestone only).

CREATE TABLE hnsw_intro (id int, v vector(4));
INSERT INTO hnsw_intro SELECT i, ARRAY[i % 7, i % 5, i % 3, i % 11] FROM generate_series(1, 500) i;
INSERT INTO hnsw_intro SELECT 1000 + i, '[1,1,1,1]' FROM generate_series(1, 300) i;
CREATE INDEX hnsw_intro_idx ON hnsw_intro USING hnsw (v vector_l2_ops) WITH (m = 8, ef_construction = 32);

-- one node per distinct vector; every row's TID is in the index
SELECT nodes, heap_tids, deleted_nodes, free_slots, m, ef_construction, dimensions, metric
FROM lodestone_hnsw_info('hnsw_intro_idx');
SELECT count(DISTINCT v) FROM hnsw_intro;
SELECT * FROM lodestone_hnsw_verify('hnsw_intro_idx');

-- copies of one vector all come back, from one node and its overflow chain
SET enable_seqscan = off;
SELECT count(*) FROM (SELECT id, v FROM hnsw_intro ORDER BY v <-> '[1,1,1,1]' LIMIT 310) t WHERE v = '[1,1,1,1]';

-- inserts and vacuum keep the graph sound
INSERT INTO hnsw_intro SELECT 2000 + i, ARRAY[i % 13, i % 2, i % 9, i % 4] FROM generate_series(1, 300) i;
INSERT INTO hnsw_intro SELECT 3000 + i, '[1,1,1,1]' FROM generate_series(1, 50) i;
DELETE FROM hnsw_intro WHERE id % 3 = 0;
VACUUM hnsw_intro;
SELECT heap_tids = (SELECT count(*) FROM hnsw_intro) AS all_rows_indexed, deleted_nodes
FROM lodestone_hnsw_info('hnsw_intro_idx');
SELECT * FROM lodestone_hnsw_verify('hnsw_intro_idx');
SELECT count(*) FROM (SELECT id, v FROM hnsw_intro ORDER BY v <-> '[1,1,1,1]' LIMIT 400) t WHERE v = '[1,1,1,1]';
SELECT count(*) FROM hnsw_intro WHERE v = '[1,1,1,1]';

-- every row deleted: the index is empty, and takes rows again
DELETE FROM hnsw_intro;
VACUUM hnsw_intro;
SELECT nodes, heap_tids FROM lodestone_hnsw_info('hnsw_intro_idx');
SELECT * FROM lodestone_hnsw_verify('hnsw_intro_idx');
INSERT INTO hnsw_intro VALUES (1, '[1,2,3,4]'), (2, '[4,3,2,1]');
SELECT id FROM hnsw_intro ORDER BY v <-> '[1,2,3,5]' LIMIT 1;
SELECT * FROM lodestone_hnsw_verify('hnsw_intro_idx');

-- not an hnsw index
CREATE INDEX hnsw_intro_btree ON hnsw_intro (id);
SELECT * FROM lodestone_hnsw_info('hnsw_intro_btree');
SELECT * FROM lodestone_hnsw_verify('hnsw_intro');
DROP TABLE hnsw_intro;
