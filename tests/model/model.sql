-- The model-based hnsw test's helpers (tests/hnsw_model.sh): deterministic
-- values named by (cluster, member), and the invariants checked after every
-- step. Loaded into a database that has lodestone (or pgvector: the checks
-- use only pgvector's SQL surface, except lodestone_hnsw_verify, skipped
-- when it does not exist).
CREATE SCHEMA IF NOT EXISTS model;

-- Coordinates of member k of cluster c: near the cluster's centre, the
-- same numbers for the same (c, k) (so equal (c, k) are exact duplicates).
-- Cluster 0 is the zero vector.
CREATE FUNCTION model.coords(c int, k int, n int) RETURNS float4[]
IMMUTABLE STRICT LANGUAGE sql AS $$
  SELECT CASE WHEN c = 0 THEN array_fill(0::float4, ARRAY[n])
    ELSE ARRAY(SELECT (sin(c * 2.3 + j * 0.71) + 0.2 * sin(k * 7.13 + j * 1.37 + c))::float4
               FROM generate_series(1, n) j) END
$$;

CREATE FUNCTION model.vec(c int, k int, n int) RETURNS vector
IMMUTABLE STRICT LANGUAGE sql AS $$ SELECT model.coords(c, k, n)::vector $$;

CREATE FUNCTION model.half(c int, k int, n int) RETURNS halfvec
IMMUTABLE STRICT LANGUAGE sql AS $$ SELECT model.coords(c, k, n)::vector::halfvec $$;

-- nnz non-zeros spread over dims, on positions that depend on the cluster.
CREATE FUNCTION model.sparse(c int, k int, nnz int, dims int) RETURNS sparsevec
IMMUTABLE STRICT LANGUAGE sql AS $$
  SELECT (CASE WHEN c = 0 THEN '{}' ELSE
    '{' || (SELECT string_agg(format('%s:%s', (i - 1) * (dims / nnz) + c % (dims / nnz) + 1, x), ',' ORDER BY i)
            FROM unnest(model.coords(c, k, nnz)) WITH ORDINALITY u(x, i)) || '}' END
    || '/' || dims)::sparsevec
$$;

-- The signs of the coordinates.
CREATE FUNCTION model.bits(c int, k int, n int) RETURNS varbit
IMMUTABLE STRICT LANGUAGE sql AS $$
  SELECT string_agg(CASE WHEN x > 0 THEN '1' ELSE '0' END, '' ORDER BY i)::varbit
  FROM unnest(model.coords(c, k, n)) WITH ORDINALITY u(x, i)
$$;

-- The indexes under test: the column, its distance operator, and the query
-- value (a format() string taking a cluster number).
CREATE TABLE model.indexes (idx text PRIMARY KEY, tbl text, col text, op text, query text);
-- The step the main session is at (for the concurrent scanner's messages).
CREATE TABLE model.progress (step int);
INSERT INTO model.progress VALUES (0);

-- Every live row whose value the index holds (non-NULL, and not a zero
-- vector under cosine, which has no direction), by id.
CREATE FUNCTION model.expected(r model.indexes, q text) RETURNS int[]
LANGUAGE plpgsql AS $$
DECLARE
  want int[];
BEGIN
  PERFORM set_config('enable_indexscan', 'off', true);
  PERFORM set_config('enable_bitmapscan', 'off', true);
  EXECUTE format('SELECT coalesce(array_agg(id ORDER BY id), ''{}'') FROM %I WHERE %I IS NOT NULL AND (%I %s %s) <> ''NaN''::float8',
                 r.tbl, r.col, r.col, r.op, q) INTO want;
  PERFORM set_config('enable_indexscan', 'on', true);
  RETURN want;
END
$$;

-- An index scan of r (enable_seqscan off; in the given iterative mode, at
-- the given ef_search, unbounded otherwise): the ids it returns, in order.
-- Raises 'model violation ...' when an id comes back twice or is not one of
-- `want` (the live indexed rows), or, in strict order, out of distance order.
CREATE FUNCTION model.scan(r model.indexes, q text, want int[], mode text, ef int, label text)
RETURNS int[] LANGUAGE plpgsql AS $$
DECLARE
  scan text := format('SELECT id, (%I %s %s)::float8 AS d FROM %I ORDER BY %I %s %s', r.col, r.op, q, r.tbl, r.col, r.op, q);
  plan text;
  got int[];
  dist float8[];
  extra int[];
BEGIN
  PERFORM set_config('enable_seqscan', 'off', true);
  PERFORM set_config('enable_bitmapscan', 'off', true);
  PERFORM set_config('hnsw.iterative_scan', mode, true);
  PERFORM set_config('hnsw.ef_search', ef::text, true);
  PERFORM set_config('hnsw.max_scan_tuples', '2147483647', true);
  PERFORM set_config('hnsw.scan_mem_multiplier', '1000', true);
  PERFORM set_config('work_mem', '64MB', true);
  EXECUTE 'EXPLAIN (COSTS OFF) ' || scan INTO plan;
  IF plan NOT LIKE '%Index Scan using ' || r.idx || ' %' THEN
    RAISE EXCEPTION USING ERRCODE = 'LD001', MESSAGE = format('model: the scan of %s does not use the index: %s', r.idx, plan);
  END IF;
  EXECUTE format('SELECT coalesce(array_agg(id), ''{}''), coalesce(array_agg(d), ''{}'') FROM (%s) s', scan) INTO got, dist;
  SELECT array_agg(x ORDER BY x) INTO extra FROM (SELECT unnest(got) EXCEPT ALL SELECT unnest(want)) m(x);
  IF extra IS NOT NULL THEN
    RAISE EXCEPTION 'model violation%: % (% %, ef_search %, query %) returned ids that are repeated or not live: %',
      label, r.idx, r.op, mode, ef, q, extra;
  END IF;
  IF mode = 'strict_order' THEN
    FOR i IN 2 .. cardinality(dist) LOOP
      IF dist[i] < dist[i - 1] - 1e-3 * greatest(1, abs(dist[i - 1])) THEN
        RAISE EXCEPTION 'model violation%: % (% strict_order, query %): id % at distance % comes after id % at %',
          label, r.idx, r.op, q, got[i], dist[i], got[i - 1], dist[i - 1];
      END IF;
    END LOOP;
  END IF;
  RETURN got;
END
$$;

-- The invariants of the scans of one index, after any step:
--   1. no scan returns a row twice, or a row that is not live and indexed;
--      a strict_order scan returns them closest first (model.scan);
--   2. a relaxed_order scan at a small ef_search (iterative rounds) returns
--      the same rows as a strict_order scan at ef_search 1000 (wider than
--      any table here, so that one round sees all it can reach);
--   3. a scan that has rows to return returns some;
-- and, with `find_values` (lodestone; MODEL_FIND=0 turns it off):
--   4. every live indexed row exactly once, compared with a sequential
--      scan: from the strict_order scan at ef_search 1000, and from a
--      relaxed_order scan at a small ef_search (iterative rounds, unbounded
--      max_scan_tuples) for the step's query and a query at each cluster
--      centre. (strict_order at a small ef_search may drop a row found
--      closer than one it already returned, see docs/compatibility.md, so
--      it is held to 1.)
-- 4 holds whatever the graph's shape: inserts can strand a node between
-- VACUUMs, and a scan that has walked all it can reach sweeps the pages
-- for live nodes it has not visited (src/am/hnsw/scan.rs). pgvector fails 4
-- (layer 0 falls apart at m = 2; docs/findings/model.md), so against it only
-- 1 to 3 run.
CREATE FUNCTION model.check_index(r model.indexes, step int, find_values bool, label text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  q text := format(r.query, 1 + step % 6);
  want int[] := model.expected(r, q);
  ef int := 1 + step % 13;
  got int[];
  relaxed int[];
  diff int[];
  centre int;
BEGIN
  got := model.scan(r, q, want, 'strict_order', 1000, label);
  relaxed := model.scan(r, q, want, 'relaxed_order', ef, label);
  SELECT array_agg(x ORDER BY x) INTO diff FROM ((SELECT unnest(got) EXCEPT SELECT unnest(relaxed))
                                                 UNION (SELECT unnest(relaxed) EXCEPT SELECT unnest(got))) d(x);
  IF diff IS NOT NULL THEN
    RAISE EXCEPTION 'model violation%: % (% query %): relaxed_order at ef_search % returns % rows, strict_order at 1000 % rows; ids in one only: %',
      label, r.idx, r.op, q, ef, cardinality(relaxed), cardinality(got), diff;
  END IF;
  IF cardinality(want) > 0 AND cardinality(got) = 0 THEN
    RAISE EXCEPTION 'model violation%: % (% query %) returns nothing; % rows are live', label, r.idx, r.op, q, cardinality(want);
  END IF;
  IF NOT find_values THEN
    RETURN;
  END IF;
  SELECT array_agg(x ORDER BY x) INTO diff FROM (SELECT unnest(want) EXCEPT ALL SELECT unnest(got)) d(x);
  IF diff IS NOT NULL THEN
    RAISE EXCEPTION 'model violation%: % (% strict_order, ef_search 1000, query %) misses % of % live rows: %',
      label, r.idx, r.op, q, cardinality(diff), cardinality(want), diff[1:20];
  END IF;
  FOR centre IN 0 .. 6 LOOP
    IF centre > 0 THEN
      q := format(r.query, centre);
    END IF;
    PERFORM model.scan(r, q, want, 'strict_order', 1 + (step + centre) % 13, label);
    relaxed := model.scan(r, q, want, 'relaxed_order', 1 + (step + centre) % 13, label);
    SELECT array_agg(x ORDER BY x) INTO diff FROM (SELECT unnest(want) EXCEPT ALL SELECT unnest(relaxed)) d(x);
    IF diff IS NOT NULL THEN
      RAISE EXCEPTION 'model violation%: % (% relaxed_order, ef_search %, query %) misses % of % live rows: %',
        label, r.idx, r.op, 1 + (step + centre) % 13, q, cardinality(diff), cardinality(want), diff[1:20];
    END IF;
  END LOOP;
END
$$;

-- The invariants after a step, for every index under test: those of its
-- scans (model.check_index), and lodestone_hnsw_verify reports nothing but
-- unreachable nodes (which inserts can leave: HNSW's pruning drops links).
-- `settled`: 'build' (both indexes rebuilt) or 'removed' (a VACUUM with
-- INDEX_CLEANUP ON after rows were deleted or updated away): then verify
-- must report nothing at all, as the build's and VACUUM's reconnect passes
-- promise. 'removed' counts only without the concurrent scanner
-- (model.concurrent = off), whose snapshots can keep VACUUM from removing
-- anything; an insert-only VACUUM does not reconnect
-- (docs/findings/vacuum.md).
-- Against pgvector (no lodestone_hnsw_verify) only 1 to 3.
CREATE FUNCTION model.check(step int, settled text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  r model.indexes;
  problems text;
  lodestone bool := to_regproc('lodestone_hnsw_verify') IS NOT NULL;
  clean bool := coalesce(settled = 'build' OR (settled = 'removed' AND current_setting('model.concurrent', true) = 'off'), false);
BEGIN
  UPDATE model.progress SET step = $1;
  FOR r IN SELECT * FROM model.indexes ORDER BY idx LOOP
    IF lodestone THEN
      EXECUTE 'SELECT string_agg(format(''%s at (%s,%s): %s'', problem, block, item, detail), E''\n'')
               FROM (SELECT * FROM lodestone_hnsw_verify($1::regclass) WHERE $2 OR problem <> ''unreachable node'' OR detail LIKE ''%no entry point%'' LIMIT 20) p'
        INTO problems USING r.idx, clean;
      IF problems IS NOT NULL THEN
        RAISE EXCEPTION 'model violation after step %: lodestone_hnsw_verify(%) reports:%', step, r.idx, E'\n' || problems;
      END IF;
    END IF;
    PERFORM model.check_index(r, step, model.find_values(), format(' after step %s', step));
  END LOOP;
END
$$;

-- Whether check 4 (every live row exactly once) runs: on lodestone, unless
-- MODEL_FIND=0.
CREATE FUNCTION model.find_values() RETURNS bool LANGUAGE sql AS $$
  SELECT to_regproc('lodestone_hnsw_verify') IS NOT NULL
     AND coalesce(current_setting('model.find', true), 'on') <> 'off'
$$;

-- The concurrent scanner's check, run in a REPEATABLE READ transaction:
-- within one snapshot, index scans return exactly the rows a sequential scan
-- sees (the same invariants as after a step), whatever the main session is
-- doing meanwhile.
CREATE FUNCTION model.concurrent_check(round int) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  r model.indexes;
  at int := (SELECT step FROM model.progress);
  before oid;
BEGIN
  FOR r IN SELECT * FROM model.indexes ORDER BY idx LOOP
    BEGIN
      before := to_regclass(r.idx)::oid;
      PERFORM model.check_index(r, round, model.find_values(),
                                format(' in a concurrent scan (round %s) during step %s', round, at));
    EXCEPTION
      WHEN undefined_table THEN
        NULL; -- the main session dropped the table after our snapshot
      WHEN SQLSTATE 'LD001' THEN
        -- No index to plan with: only right while the main session drops
        -- and recreates it (the planner sees the catalogs as they are now).
        IF before IS NOT NULL AND to_regclass(r.idx)::oid IS NOT DISTINCT FROM before THEN
          RAISE;
        END IF;
    END;
  END LOOP;
END
$$;
