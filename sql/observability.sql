-- lodestone: per-index observability (not in pgvector).

CREATE VIEW lodestone_indexes AS
SELECT s.schemaname,
       s.relname                      AS table_name,
       s.indexrelname                 AS index_name,
       pg_relation_size(s.indexrelid) AS size_bytes,
       i.nodes                        AS elements,
       i.heap_tids                    AS heap_tids,
       -- deleted by VACUUM: still linked (being repaired) or already a free slot for reuse
       i.deleted_nodes + i.free_slots AS deleted_elements,
       i.free_slots                   AS free_slots,
       i.max_level + 1                AS levels,
       i.m,
       i.ef_construction,
       i.dimensions,
       i.metric,
       s.idx_scan                     AS scans,
       s.idx_tup_read                 AS tuples_returned,
       s.idx_tup_fetch                AS heap_rows_fetched
FROM pg_stat_user_indexes s
JOIN pg_class c ON c.oid = s.indexrelid
JOIN pg_am a ON a.oid = c.relam
CROSS JOIN LATERAL lodestone_hnsw_info(s.indexrelid) i
WHERE a.amname = 'hnsw'
  AND a.amhandler = 'hnswhandler'::regproc;

COMMENT ON VIEW lodestone_indexes IS 'every lodestone hnsw index: size, elements, deleted elements, levels, build options, and scan counters since the statistics were last reset (reads each index whole: poll it every few minutes, not every second)';
