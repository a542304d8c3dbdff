-- Test data: `lodestone_test.clustered(n, dims, clusters, spread, seed)`
-- returns n vectors around `clusters` random centres in [-1, 1]^dims, each
-- coordinate moved by up to ±spread. The centres depend only on `clusters`
-- and `dims`, the points on `seed` too: rows drawn with another seed (the
-- queries of a recall test) come from the same distribution as the data.
CREATE SCHEMA IF NOT EXISTS lodestone_test;

CREATE OR REPLACE FUNCTION lodestone_test.clustered(n int, dims int, clusters int, spread float8, seed float8)
RETURNS TABLE (id int, v vector)
LANGUAGE plpgsql AS $$
DECLARE
  centres float8[];
BEGIN
  PERFORM setseed(0.42);
  centres := ARRAY(SELECT random() * 2 - 1 FROM generate_series(1, clusters * dims));
  PERFORM setseed(seed);
  RETURN QUERY
  SELECT i, ARRAY(SELECT centres[(i % clusters) * dims + j] + (random() * 2 - 1) * spread
                  FROM generate_series(1, dims) j)::vector
  FROM generate_series(1, n) i
  ORDER BY i;
END
$$;

-- recall@k of the index for the queries in table `queries(id, v)` against
-- exact results, for one distance operator: the mean share of the exact top
-- k that an index scan returns.
CREATE OR REPLACE FUNCTION lodestone_test.recall(items regclass, queries regclass, op text, k int)
RETURNS float8
LANGUAGE plpgsql AS $$
DECLARE
  result float8;
BEGIN
  SET LOCAL enable_indexscan = off;
  SET LOCAL enable_bitmapscan = off;
  EXECUTE format('CREATE TEMP TABLE truth AS SELECT q.id AS qid, ARRAY(SELECT i.id FROM %s i ORDER BY i.v %s q.v LIMIT %s) AS ids FROM %s q', items, op, k, queries);
  SET LOCAL enable_indexscan = on;
  SET LOCAL enable_seqscan = off;
  EXECUTE format('SELECT avg((SELECT count(*) FROM unnest(t.ids) x WHERE x = ANY (ARRAY(SELECT i.id FROM %s i ORDER BY i.v %s q.v LIMIT %s)))::float8 / %s) FROM %s q JOIN truth t ON t.qid = q.id', items, op, k, k, queries)
    INTO result;
  DROP TABLE truth;
  RETURN result;
END
$$;

-- Recall that counts ties as hits: the fraction of the index's top k whose
-- distance is within the exact k-th distance (for metrics with many equal
-- distances, such as Hamming, where which of the tied ids come back is
-- arbitrary).
CREATE OR REPLACE FUNCTION lodestone_test.recall_by_distance(items regclass, queries regclass, col text, op text, k int)
RETURNS float8
LANGUAGE plpgsql AS $$
DECLARE
  result float8;
BEGIN
  SET LOCAL enable_indexscan = off;
  SET LOCAL enable_bitmapscan = off;
  EXECUTE format('CREATE TEMP TABLE truth AS SELECT q.id AS qid, (SELECT max(d) FROM (SELECT i.%1$s %2$s q.%1$s AS d FROM %3$s i ORDER BY 1 LIMIT %4$s) s) AS kth FROM %5$s q',
    col, op, items, k, queries);
  SET LOCAL enable_indexscan = on;
  SET LOCAL enable_seqscan = off;
  EXECUTE format('SELECT avg((SELECT count(*) FROM (SELECT i.%1$s %2$s q.%1$s AS d FROM %3$s i ORDER BY i.%1$s %2$s q.%1$s LIMIT %4$s) s WHERE d <= t.kth)::float8 / %4$s) FROM %5$s q JOIN truth t ON t.qid = q.id',
    col, op, items, k, queries)
    INTO result;
  DROP TABLE truth;
  RETURN result;
END
$$;

-- How many of the `newest` rows of `items(id, v)` an index scan from the
-- row's own vector never returns: an iterative scan (relaxed_order, no
-- budget) read until the row comes back or the scan ends. A row the index
-- holds always comes back, however the graph is shaped (a scan sweeps the
-- pages for what its walk cannot reach); approximate search decides only
-- how soon.
CREATE OR REPLACE FUNCTION lodestone_test.unfindable(items regclass, op text, newest int)
RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
  target record;
  hit record;
  found bool;
  missing int := 0;
BEGIN
  SET LOCAL enable_seqscan = off;
  SET LOCAL enable_bitmapscan = off;
  SET LOCAL hnsw.iterative_scan = relaxed_order;
  SET LOCAL hnsw.max_scan_tuples = 2147483647;
  SET LOCAL hnsw.scan_mem_multiplier = 1000;
  FOR target IN EXECUTE format('SELECT id, v FROM %s WHERE id > (SELECT max(id) - %s FROM %s)', items, newest, items) LOOP
    found := false;
    FOR hit IN EXECUTE format('SELECT id FROM %s ORDER BY v %s $1', items, op) USING target.v LOOP
      IF hit.id = target.id THEN
        found := true;
        EXIT;
      END IF;
    END LOOP;
    IF NOT found THEN
      missing := missing + 1;
    END IF;
  END LOOP;
  RETURN missing;
END
$$;
