-- Threshold search (lodestone only): v <<->> sphere(q, r) holds when
-- v <-> q < r (<<#>>, <<=>>, <<+>> for <#>, <=>, <+>), and an hnsw index of
-- the matching operator class answers it, alone or with ORDER BY ... LIMIT.
-- The index must return exactly the rows a sequential scan finds.
SELECT setseed(0.21);
CREATE TABLE thr (id int, v vector(8));
INSERT INTO thr SELECT g, ARRAY(SELECT random() - 0.5 FROM generate_series(1, 8) WHERE g > 0) FROM generate_series(1, 5000) g;
INSERT INTO thr VALUES (5001, NULL), (5002, '[0,0,0,0,0,0,0,0]');
CREATE INDEX thr_l2 ON thr USING hnsw (v vector_l2_ops);
CREATE INDEX thr_ip ON thr USING hnsw (v vector_ip_ops);
CREATE INDEX thr_cos ON thr USING hnsw (v vector_cosine_ops);
CREATE INDEX thr_l1 ON thr USING hnsw (v vector_l1_ops);
ANALYZE thr;

-- the planner uses the index for the threshold alone and with ORDER BY
EXPLAIN (COSTS OFF) SELECT id FROM thr WHERE v <<->> sphere('[0,0,0,0,0,0,0,0]', 0.5);
EXPLAIN (COSTS OFF) SELECT id FROM thr WHERE v <<=>> sphere('[1,0,0,0,0,0,0,0]', 0.1)
  ORDER BY v <=> '[1,0,0,0,0,0,0,0]' LIMIT 5;

-- For each operator, 20 centers (rows of the table) and radii that hold
-- 1, 10, 100 and 1000 rows: the ids an index scan returns, against a
-- sequential scan's. Returns the cases that differ (none).
CREATE FUNCTION thr_mismatches(tbl text, sphere_op text, dist_op text, OUT bad text[], OUT recall float8) LANGUAGE plpgsql AS $$
DECLARE
  q int; k int; r float8; by_index int[]; by_seq int[]; line text; plan text; found int := 0; want int := 0;
  query text := format('SELECT array_agg(id ORDER BY id) FROM %I WHERE v %s sphere((SELECT v::vector FROM %I WHERE id = $1), $2)', tbl, sphere_op, tbl);
BEGIN
  bad := '{}';
  FOR q IN 1 .. 20 LOOP
    FOREACH k IN ARRAY ARRAY[1, 10, 100, 1000] LOOP
      EXECUTE format('SELECT d FROM (SELECT v %s (SELECT v FROM %I WHERE id = $1) AS d FROM %I WHERE v IS NOT NULL ORDER BY 1 OFFSET $2 - 1 LIMIT 1) s', dist_op, tbl, tbl)
        INTO r USING q, k;
      r := r + 1e-9 * greatest(abs(r), 1);
      PERFORM set_config('enable_seqscan', 'off', true);
      PERFORM set_config('enable_indexscan', 'on', true);
      plan := '';
      FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || replace(replace(query, '$1', q::text), '$2', r::text) LOOP
        plan := plan || line;
      END LOOP;
      IF plan NOT LIKE '%Index Scan%' THEN
        bad := ARRAY['no index scan: ' || plan];
        RETURN;
      END IF;
      EXECUTE query INTO by_index USING q, r;
      PERFORM set_config('enable_seqscan', 'on', true);
      PERFORM set_config('enable_indexscan', 'off', true);
      EXECUTE query INTO by_seq USING q, r;
      found := found + cardinality(ARRAY(SELECT unnest(by_index) INTERSECT SELECT unnest(by_seq)));
      want := want + cardinality(by_seq);
      IF by_index IS DISTINCT FROM by_seq THEN
        bad := bad || format('center %s, %s rows: index %s, seq %s', q, k, cardinality(by_index), cardinality(by_seq));
      END IF;
    END LOOP;
  END LOOP;
  recall := found::float8 / want;
END
$$;
SELECT (thr_mismatches('thr', '<<->>', '<->')).bad AS l2;
SELECT (thr_mismatches('thr', '<<=>>', '<=>')).bad AS cosine;
SELECT (thr_mismatches('thr', '<<+>>', '<+>')).bad AS l1;
-- inner product: exact on vectors of one length (normalized embeddings,
-- where it orders as cosine); otherwise the "sphere" is a half-space that
-- the graph does not follow as well: nearly every row, not every one
CREATE TABLE thr_unit AS SELECT id, l2_normalize(v)::vector(8) AS v FROM thr WHERE id <= 5000;
CREATE INDEX thr_unit_ip ON thr_unit USING hnsw (v vector_ip_ops);
ANALYZE thr_unit;
SELECT (thr_mismatches('thr_unit', '<<#>>', '<#>')).bad AS inner_product_unit;
SELECT recall >= 0.99 AS inner_product_nearly_all FROM thr_mismatches('thr', '<<#>>', '<#>');

-- with ORDER BY ... LIMIT: the closest rows inside the sphere, in order,
-- as a sequential scan finds them (whatever hnsw.iterative_scan says)
SET enable_seqscan = off;
SELECT array_agg(id) AS by_index FROM (SELECT id FROM thr WHERE v <<->> sphere((SELECT v FROM thr WHERE id = 3), 0.6)
  ORDER BY v <-> (SELECT v FROM thr WHERE id = 3) LIMIT 8) s \gset
RESET enable_seqscan;
SET enable_indexscan = off;
SELECT :'by_index' = array_agg(id)::text AS same_as_seq FROM (SELECT id FROM thr WHERE v <<->> sphere((SELECT v FROM thr WHERE id = 3), 0.6)
  ORDER BY v <-> (SELECT v FROM thr WHERE id = 3) LIMIT 8) s;
RESET enable_indexscan;

-- a sphere around another point than the ORDER BY's is a filter: still right
SET enable_seqscan = off;
SELECT count(*) AS filtered FROM (SELECT id FROM thr WHERE v <<->> sphere('[0,0,0,0,0,0,0,0]', 0.9)
  ORDER BY v <-> (SELECT v FROM thr WHERE id = 3) LIMIT 5) s;

-- nothing inside: a radius of 0, a negative one, a NULL sphere
SELECT count(*) FROM thr WHERE v <<->> sphere((SELECT v FROM thr WHERE id = 3), 0);
SELECT count(*) FROM thr WHERE v <<->> sphere((SELECT v FROM thr WHERE id = 3), -1);
SELECT count(*) FROM thr WHERE v <<->> NULL::sphere_vector;
SELECT count(*) FROM thr WHERE v <<->> sphere(NULL::vector, 1);
-- the operator itself, and its errors (pgvector's text)
SELECT '[1,2]'::vector <<->> sphere('[1,3]', 1.0001) AS inside, '[1,2]'::vector <<->> sphere('[1,3]', 1) AS on_edge;
SELECT '[1,2]'::vector <<->> sphere('[1,2,3]', 1);
RESET enable_seqscan;

-- halfvec columns take the same sphere_vector, its center rounded to halves
-- (as a vector literal compared with a halfvec is): every operator class
CREATE TABLE thr_half AS SELECT id, v::halfvec(8) AS v FROM thr;
CREATE INDEX thr_half_l2 ON thr_half USING hnsw (v halfvec_l2_ops);
CREATE INDEX thr_half_ip ON thr_half USING hnsw (v halfvec_ip_ops);
CREATE INDEX thr_half_cos ON thr_half USING hnsw (v halfvec_cosine_ops);
CREATE INDEX thr_half_l1 ON thr_half USING hnsw (v halfvec_l1_ops);
ANALYZE thr_half;
EXPLAIN (COSTS OFF) SELECT id FROM thr_half WHERE v <<->> sphere('[0,0,0,0,0,0,0,0]', 0.5);
SELECT (thr_mismatches('thr_half', '<<->>', '<->')).bad AS half_l2;
SELECT (thr_mismatches('thr_half', '<<=>>', '<=>')).bad AS half_cosine;
SELECT (thr_mismatches('thr_half', '<<+>>', '<+>')).bad AS half_l1;
SELECT recall >= 0.99 AS half_inner_product_nearly_all FROM thr_mismatches('thr_half', '<<#>>', '<#>');
-- the operator rounds the center as the cast does, and the cast's errors
SELECT '[1,2]'::halfvec <<->> sphere('[1,3.0001]', 1.0001) AS inside_rounded,
  '[1,2]'::halfvec <<->> sphere('[1,3]', 1) AS on_edge;
SELECT '[1,2]'::halfvec <<->> sphere('[1,2,3]', 1);
SELECT '[1,2]'::halfvec <<->> sphere('[1,70000]', 1);

-- sparsevec columns too: the center's non-zeros, exactly
CREATE TABLE thr_sparse AS SELECT id, v::sparsevec(8) AS v FROM thr;
CREATE INDEX thr_sparse_l2 ON thr_sparse USING hnsw (v sparsevec_l2_ops);
CREATE INDEX thr_sparse_ip ON thr_sparse USING hnsw (v sparsevec_ip_ops);
CREATE INDEX thr_sparse_cos ON thr_sparse USING hnsw (v sparsevec_cosine_ops);
CREATE INDEX thr_sparse_l1 ON thr_sparse USING hnsw (v sparsevec_l1_ops);
ANALYZE thr_sparse;
EXPLAIN (COSTS OFF) SELECT id FROM thr_sparse WHERE v <<=>> sphere('[1,0,0,0,0,0,0,0]', 0.5);
SELECT (thr_mismatches('thr_sparse', '<<->>', '<->')).bad AS sparse_l2;
SELECT (thr_mismatches('thr_sparse', '<<=>>', '<=>')).bad AS sparse_cosine;
SELECT (thr_mismatches('thr_sparse', '<<+>>', '<+>')).bad AS sparse_l1;
SELECT recall >= 0.99 AS sparse_inner_product_nearly_all FROM thr_mismatches('thr_sparse', '<<#>>', '<#>');
SELECT '{1:1,2:2}/2'::sparsevec <<->> sphere('[1,3]', 1.0001) AS inside, '{1:1,2:2}/2'::sparsevec <<->> sphere('[1,3]', 1) AS on_edge;
SELECT '{1:1}/2'::sparsevec <<->> sphere('[1,2,3]', 1);
DROP TABLE thr, thr_unit, thr_half, thr_sparse;
DROP FUNCTION thr_mismatches;
