-- lodestone_indexes: size, elements, deleted elements, levels and scan
-- counters of every lodestone hnsw index (lodestone only).

CREATE TABLE obs (id int, v vector(4), c int);
INSERT INTO obs SELECT i, ARRAY[i % 7, i % 5, i % 3, i % 11], i % 4 FROM generate_series(1, 2000) i;
CREATE INDEX obs_l2 ON obs USING hnsw (v vector_l2_ops) WITH (m = 8, ef_construction = 32);
CREATE INDEX obs_cos ON obs USING hnsw (v vector_cosine_ops) WHERE c = 1;
CREATE INDEX obs_btree ON obs (id);
ANALYZE obs;

-- only hnsw indexes are listed; the figures are lodestone_hnsw_info's
SELECT schemaname, table_name, index_name, elements, heap_tids, deleted_elements, m, ef_construction, dimensions, metric
FROM lodestone_indexes ORDER BY index_name;
SELECT count(DISTINCT v) AS distinct_vectors, count(DISTINCT v) FILTER (WHERE c = 1) AS distinct_in_partial FROM obs;
SELECT index_name, size_bytes = pg_relation_size(index_name::regclass) AS size_ok, size_bytes > 0 AS nonempty,
       levels = (SELECT max_level + 1 FROM lodestone_hnsw_info(index_name::regclass)) AS levels_ok, levels >= 1 AS has_levels
FROM lodestone_indexes ORDER BY index_name;

-- scan counters move with index scans (flushed to the shared statistics first)
SELECT index_name, scans FROM lodestone_indexes ORDER BY index_name;
SET enable_seqscan = off;
SELECT count(*) FROM (SELECT id FROM obs ORDER BY v <-> '[1,2,3,4]' LIMIT 3) t;
SELECT count(*) FROM (SELECT id FROM obs ORDER BY v <-> '[4,3,2,1]' LIMIT 3) t;
SELECT count(*) FROM (SELECT id FROM obs WHERE c = 1 ORDER BY v <=> '[1,1,1,1]' LIMIT 1) t;
RESET enable_seqscan;
SELECT pg_stat_force_next_flush();
SELECT index_name, scans, tuples_returned >= scans AS returned_ok FROM lodestone_indexes ORDER BY index_name;

-- deleted elements appear after VACUUM (vectors whose every row is gone)
DELETE FROM obs WHERE id % 7 = 0;
VACUUM obs;
SELECT index_name, deleted_elements > 0 AS has_deleted, elements + deleted_elements AS elements_before, heap_tids = (SELECT count(*) FROM obs WHERE index_name = 'obs_l2' OR c = 1) AS tids_ok
FROM lodestone_indexes ORDER BY index_name;

-- dropped indexes disappear
DROP INDEX obs_cos;
SELECT index_name FROM lodestone_indexes ORDER BY index_name;
DROP TABLE obs;
SELECT count(*) FROM lodestone_indexes;
