-- Personalization functions (lodestone only, not in pgvector): scaling
-- operators, weighted_avg, preference_update / preference_ema and
-- weighted_l2_distance, with every error and its SQLSTATE.

-- scaling: vector * scalar, scalar * vector, vector / scalar
SELECT '[1,-2,0.5]'::vector * 2, 2 * '[1,-2,0.5]'::vector, '[1,-2,0.5]'::vector * 0.5::real, 0.5::real * '[1,-2,0.5]'::vector;
SELECT '[1,-2,0.5]'::vector * 2.5, '[1,-2,0.5]'::vector * 1e-1::float8, '[3,6]'::vector / 3, '[3,6]'::vector / 1.5::real;
SELECT pg_typeof('[1,2]'::vector * 2), pg_typeof(2::real * '[1,2]'::vector), pg_typeof('[1,2]'::vector / 2);
SELECT '[1,2]'::vector * 0, '[1,-2]'::vector * -1, '[-0,1]'::vector * 1;
-- the element-wise product is untouched
SELECT '[1,2]'::vector * '[3,4]';
-- integers, numerics and reals all apply
SELECT v * n FROM (VALUES ('[1,2]'::vector)) t(v), (VALUES (2::smallint), (3::int), (4::bigint)) s(n);
-- float4 rounding: the product is rounded once
SELECT '[0.1]'::vector * 3, '[1]'::vector / 3;
-- errors
SELECT regress.error_of($$SELECT '[3e38]'::vector * 10$$);
SELECT regress.error_of($$SELECT 10 * '[3e38]'::vector$$);
SELECT regress.error_of($$SELECT '[1e-45]'::vector * 0.1$$);
SELECT regress.error_of($$SELECT '[1,2]'::vector / 0$$);
SELECT regress.error_of($$SELECT '[1,2]'::vector / 0::real$$);
SELECT regress.error_of($$SELECT '[1,2]'::vector / 1e-300::float8$$);
SELECT regress.error_of($$SELECT '[1,2]'::vector * 'NaN'::float8$$);
SELECT regress.error_of($$SELECT '[1,2]'::vector * 'Infinity'::real$$);
SELECT regress.error_of($$SELECT '[1,2]'::vector / '-Infinity'::float8$$);
-- an error either way, but a different one than pgvector's "operator does
-- not exist": an unknown literal after vector / is now read as a scalar
SELECT regress.error_of($$SELECT '[1,2]'::vector / '[1,2]'$$);
-- NULL in, NULL out
SELECT '[1,2]'::vector * NULL::real IS NULL, NULL::vector / 2 IS NULL;

-- weighted_avg(vector, weight)
CREATE TABLE wa (g int, v vector(3), w float8);
INSERT INTO wa VALUES (1, '[1,0,0]', 1), (1, '[0,4,0]', 3), (1, '[100,100,100]', 0),
  (2, '[2,2,2]', 0.5), (2, NULL, 5), (2, '[4,4,4]', NULL), (2, '[0,0,6]', 0.5),
  (3, '[1,1,1]', 0), (4, NULL, NULL);
SELECT g, weighted_avg(v, w), avg(v) FROM wa GROUP BY g ORDER BY g;
-- equal weights give avg()
SELECT weighted_avg(v, 2) = avg(v) FROM wa WHERE v IS NOT NULL;
SELECT weighted_avg(v, w) FROM wa WHERE false;
-- weights are relative: scaling them all changes nothing
SELECT weighted_avg(v, w * 1e6) = weighted_avg(v, w) FROM (VALUES ('[1,5]'::vector, 1), ('[0,2]', 3)) t(v, w);
SELECT regress.error_of($$SELECT weighted_avg(v, w) FROM (VALUES ('[1,2]'::vector, 1), ('[1,2,3]', 1)) t(v, w)$$);
SELECT regress.error_of($$SELECT weighted_avg(v, w) FROM (VALUES ('[1,2]'::vector, 1), ('[1,2]', -0.5)) t(v, w)$$);
SELECT regress.error_of($$SELECT weighted_avg(v, w) FROM (VALUES ('[1,2]'::vector, 'NaN'::float8)) t(v, w)$$);
SELECT regress.error_of($$SELECT weighted_avg(v, w) FROM (VALUES ('[1,2]'::vector, 'Infinity'::float8)) t(v, w)$$);
SELECT regress.error_of($$SELECT weighted_avg(v, w) FROM (VALUES ('[3e38]'::vector, 1e300::float8), ('[3e38]', 1e300)) t(v, w)$$);
-- parallel: partial states from workers are combined
CREATE TABLE wa_big AS SELECT i, ARRAY[i % 7, 1, -(i % 3)]::vector(3) AS v, (i % 5)::float8 AS w FROM generate_series(1, 30000) i;
ANALYZE wa_big;
SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0; SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT weighted_avg(v, w) FROM wa_big;
SELECT weighted_avg(v, w) FROM wa_big;
RESET parallel_setup_cost; RESET parallel_tuple_cost; RESET min_parallel_table_scan_size; RESET max_parallel_workers_per_gather;
SELECT weighted_avg(v, w) FROM wa_big;
-- the same, computed by hand
SELECT ARRAY[sum(w * (i % 7)) / sum(w), sum(w) / sum(w), sum(w * -(i % 3)) / sum(w)]::real[]::vector FROM wa_big;
DROP TABLE wa, wa_big;

-- preference_update(profile, item, alpha) = normalize((1 - alpha) * profile + alpha * item)
SELECT preference_update('[1,0]', '[0,1]', 0.5);
SELECT preference_update('[1,0]', '[0,3]', 0), preference_update('[1,0]', '[0,3]', 1);
SELECT preference_update(NULL, '[3,4]', 0.2);          -- first interaction
SELECT preference_update('[0.6,0.8]', NULL, 0.2);      -- nothing to learn
SELECT preference_update(NULL, NULL, 0.2) IS NULL;
SELECT preference_update('[1,0]', '[-1,0]', 0.5);      -- cancels out: zero, like l2_normalize
SELECT vector_norm(preference_update('[1,2,3]', '[-4,5,0.5]', 0.3));
-- by hand: normalize(0.7 * profile + 0.3 * item) with the new operators
SELECT preference_update('[1,2,3]', '[-4,5,0.5]', 0.3) <-> l2_normalize(0.7 * '[1,2,3]'::vector + 0.3 * '[-4,5,0.5]'::vector) < 1e-6;
SELECT regress.error_of($$SELECT preference_update('[1,0]', '[0,1]', 1.5)$$);
SELECT regress.error_of($$SELECT preference_update('[1,0]', '[0,1]', -0.01)$$);
SELECT regress.error_of($$SELECT preference_update('[1,0]', NULL, 2)$$);
SELECT regress.error_of($$SELECT preference_update('[1,0]', '[0,1]', NULL)$$);
SELECT regress.error_of($$SELECT preference_update('[1,0]', '[0,1]', 'NaN')$$);
SELECT regress.error_of($$SELECT preference_update('[1,0]', '[0,1,2]', 0.5)$$);
-- preference_ema folds the update over rows in the given order
CREATE TABLE events (ts int, item vector(2));
INSERT INTO events VALUES (1, '[1,0]'), (2, '[0,1]'), (3, '[0,1]'), (4, NULL);
SELECT preference_ema(item, 0.5 ORDER BY ts) FROM events;
SELECT preference_update(preference_update(preference_update(NULL, '[1,0]', 0.5), '[0,1]', 0.5), '[0,1]', 0.5);
SELECT preference_ema(item, 0.5 ORDER BY ts DESC) FROM events;
SELECT preference_ema(item, 0.5) FROM events WHERE false;
DROP TABLE events;

-- weighted_l2_distance(a, b, weights) = sqrt(sum(w_i * (a_i - b_i)^2))
SELECT weighted_l2_distance('[0,0]', '[3,4]', '[1,1]'), weighted_l2_distance('[0,0]', '[3,4]', '[0,1]'), weighted_l2_distance('[0,0]', '[3,4]', '[4,0]');
SELECT weighted_l2_distance('[1,2,3]', '[4,5,6]', '[1,1,1]') = l2_distance('[1,2,3]'::vector, '[4,5,6]');
SELECT weighted_l2_distance('[1,2,3]', '[1,2,3]', '[5,5,5]'), weighted_l2_distance('[3e38]', '[-3e38]', '[1]');
SELECT weighted_l2_distance('[1,2]', '[3,4]', NULL) IS NULL;
SELECT regress.error_of($$SELECT weighted_l2_distance('[1,2]', '[3]', '[1,1]')$$);
SELECT regress.error_of($$SELECT weighted_l2_distance('[1,2]', '[3,4]', '[1]')$$);
SELECT regress.error_of($$SELECT weighted_l2_distance('[1,2]', '[3,4]', '[1,-1]')$$);

-- the hybrid re-rank pattern (docs/ecosystem.md): k-NN candidates from the
-- index, then a score mixing distance, recency and category match
CREATE TABLE docs (id int PRIMARY KEY, category text, created date, embedding vector(2));
INSERT INTO docs SELECT i, CASE WHEN i % 2 = 0 THEN 'news' ELSE 'blog' END, date '2026-01-01' + i,
  ARRAY[cos(i / 10.0), sin(i / 10.0)]::vector FROM generate_series(1, 60) i;
CREATE INDEX ON docs USING hnsw (embedding vector_cosine_ops);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF)
WITH candidates AS (
  SELECT id, category, created, embedding <=> '[1,0.5]' AS distance
  FROM docs ORDER BY embedding <=> '[1,0.5]' LIMIT 20
)
SELECT id FROM candidates
ORDER BY 0.7 * (1 - distance) + 0.2 * exp(-(date '2026-03-01' - created) / 30.0) + 0.1 * (category = 'news')::int DESC
LIMIT 5;
WITH candidates AS (
  SELECT id, category, created, embedding <=> '[1,0.5]' AS distance
  FROM docs ORDER BY embedding <=> '[1,0.5]' LIMIT 20
)
SELECT id, category, round(distance::numeric, 4) AS distance,
  round((0.7 * (1 - distance) + 0.2 * exp(-(date '2026-03-01' - created) / 30.0) + 0.1 * (category = 'news')::int)::numeric, 4) AS score
FROM candidates
ORDER BY score DESC, id
LIMIT 5;
RESET enable_seqscan;
DROP TABLE docs;
