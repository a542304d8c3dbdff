-- halfvec: avg and sum aggregates, including partial (parallel) aggregation,
-- and their support functions called directly.

SELECT avg(v), sum(v) FROM (VALUES ('[1,2,3]'::halfvec), ('[3,5,7]')) t(v);
SELECT avg(v), sum(v) FROM (VALUES ('[1,2,3]'::halfvec), (NULL)) t(v);
SELECT avg(v), sum(v) FROM (VALUES (NULL::halfvec)) t(v);
SELECT avg(v), sum(v) FROM (SELECT '[1]'::halfvec WHERE false) t(v);
SELECT avg(v), sum(v) FROM (VALUES ('[1]'::halfvec), ('[0]'), ('[0]')) t(v);
SELECT avg(v), sum(v) FROM (VALUES ('[0.1]'::halfvec), ('[0.2]'), ('[2048]'), ('[1]')) t(v);
SELECT avg(v) FROM (VALUES ('[1,2]'::halfvec), ('[1]')) t(v);
SELECT sum(v) FROM (VALUES ('[1,2]'::halfvec), ('[1]')) t(v);
SELECT avg(v) FROM (VALUES ('[65504]'::halfvec), ('[65504]')) t(v);
SELECT sum(v) FROM (VALUES ('[65504]'::halfvec), ('[65504]')) t(v);
SELECT avg(v) FROM (VALUES ('[5.9604645e-08]'::halfvec), ('[0]'), ('[0]')) t(v);

-- grouped, and as a window aggregate
SELECT g, avg(v) FROM (VALUES (1, '[1,1]'::halfvec), (1, '[3,3]'), (2, '[10,0]')) t(g, v) GROUP BY g ORDER BY g;
SELECT i, avg(v) OVER (ORDER BY i), sum(v) OVER (ORDER BY i) FROM (VALUES (1, '[2,4]'::halfvec), (2, '[4,8]'), (3, '[0,0]')) t(i, v);

-- the transition, combine and final functions as ordinary functions
SELECT halfvec_accum('{0}', '[1,2]'), halfvec_accum('{1,1,2}', '[3,4]'), halfvec_avg('{2,4,6}');
SELECT halfvec_combine('{1,1,1}', '{2,4,4}'), halfvec_combine('{0}', '{2,4,4}'), halfvec_combine('{1,1,1}', '{0}');
SELECT halfvec_accum('{1,1,2}', '[3]');
SELECT halfvec_accum('{{0}}', '[1]');
SELECT halfvec_accum('{NULL}', '[1]');
SELECT halfvec_accum('{}', '[1]');
SELECT halfvec_avg('{}');
SELECT halfvec_avg('{0}') IS NULL;
SELECT halfvec_avg('{1}');
SELECT halfvec_avg('{1,NaN}');
SELECT halfvec_avg('{1,65520}');
SELECT halfvec_avg('{1,1e300}');
SELECT halfvec_avg('{1,1.0004882812509095}'), halfvec_avg('{2,65504,-131008}');
SELECT halfvec_avg(array_agg(n)) FROM generate_series(1, 16002) n;
SELECT halfvec_combine(array_fill(1::float8, ARRAY[16002]), '{0}');
-- pgvector 0.8.6 kept the state's dimension count in an int16 in halfvec_accum
-- and a uint16 in halfvec_avg, so states of more than 32767 sums wrapped; its
-- current branch (and lodestone) use an int: these are errors
SELECT halfvec_accum(array_fill(1::float8, ARRAY[32769]), '[1,2,3]');
SELECT halfvec_accum(array_fill(1::float8, ARRAY[65536]), '[1,2,3]');
SELECT halfvec_accum(array_fill(1::float8, ARRAY[65537]), '[1,2,3]');
SELECT halfvec_accum(array_fill(1::float8, ARRAY[65540]), '[1,2,3]');
SELECT halfvec_avg(array_fill(2::float8, ARRAY[65537]));
SELECT halfvec_avg(array_fill(2::float8, ARRAY[65540]));
SELECT vector_avg(array_fill(2::float8, ARRAY[65540]));

-- parallel aggregation gives the same mean as a serial one
CREATE TABLE halfvec_agg AS
SELECT i, ARRAY[i % 10, (i % 7) * 0.5, 1]::halfvec(3) AS v FROM generate_series(1, 50000) i;
ANALYZE halfvec_agg;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT avg(v) FROM halfvec_agg;
SELECT avg(v) FROM halfvec_agg;
SELECT sum(v) FROM halfvec_agg WHERE i <= 100;
RESET ALL;
SET max_parallel_workers_per_gather = 0;
SELECT avg(v) FROM halfvec_agg;
-- sum adds in half precision: past 2048 (or 8192), adding 1 (or 0.5) to
-- the running sum rounds back to it
SELECT sum(v) FROM halfvec_agg;
RESET ALL;
DROP TABLE halfvec_agg;
