-- vector: avg and sum aggregates, including partial (parallel) aggregation.

SELECT avg(v), sum(v) FROM (VALUES ('[1,2,3]'::vector), ('[3,5,7]')) t(v);
SELECT avg(v), sum(v) FROM (VALUES ('[1,2,3]'::vector), (NULL)) t(v);
SELECT avg(v), sum(v) FROM (VALUES (NULL::vector)) t(v);
SELECT avg(v), sum(v) FROM (SELECT '[1]'::vector WHERE false) t(v);
SELECT avg(v) FROM (VALUES ('[1,2]'::vector), ('[1]')) t(v);
SELECT sum(v) FROM (VALUES ('[1,2]'::vector), ('[1]')) t(v);
SELECT avg(v) FROM (VALUES ('[3e38]'::vector), ('[3e38]')) t(v);
SELECT sum(v) FROM (VALUES ('[3e38]'::vector), ('[3e38]')) t(v);
SELECT avg(v) FROM (VALUES ('[1e-45]'::vector), ('[0]'), ('[0]')) t(v);

-- grouped, and as a window aggregate (whose final function runs again and
-- again on a state that keeps growing)
SELECT g, avg(v) FROM (VALUES (1, '[1,1]'::vector), (1, '[3,3]'), (2, '[10,0]')) t(g, v) GROUP BY g ORDER BY g;
SELECT i, avg(v) OVER (ORDER BY i) FROM (VALUES (1, '[2,4]'::vector), (2, '[4,8]'), (3, '[0,0]')) t(i, v);

-- the transition function as an ordinary function
SELECT vector_accum('{0}', '[1,2]'), vector_accum('{1,1,2}', '[3,4]'), vector_avg('{2,4,6}');
SELECT vector_accum('{1,1,2}', '[3]');
SELECT vector_avg('{}');
SELECT vector_combine('{1,1,1}', '{2,4,4}'), vector_combine('{0}', '{2,4,4}'), vector_combine('{1,1,1}', '{0}');
-- two states without sums (parallel workers that saw no rows) combine, as in
-- pgvector's current branch (0.8.6 raised "vector must have at least 1 dimension")
SELECT vector_combine('{0}', '{0}');
SELECT avg(v) FROM (SELECT '[1,2]'::vector AS v WHERE false) s;
SELECT vector_combine('{1,2}', '{3,4,5}');

-- parallel aggregation gives the same mean as a serial one
CREATE TABLE vector_agg AS
SELECT i, ARRAY[i % 10, (i % 7) * 0.5, 1]::vector(3) AS v FROM generate_series(1, 50000) i;
ANALYZE vector_agg;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT avg(v) FROM vector_agg;
SELECT avg(v), sum(v) FROM vector_agg;
RESET ALL;
SELECT avg(v), sum(v) FROM vector_agg;
DROP TABLE vector_agg;
