-- Iterative index scans: how far a filtered query walks (issue 14, finding 12).
-- A scan stops walking after hnsw.max_scan_tuples layer-0 nodes, or when what
-- it keeps passes work_mem * hnsw.scan_mem_multiplier, as pgvector's does; the
-- nodes it caches do not count. 20,000 random rows, one in 2,000 matching the
-- filter: a scan that may visit every node finds (nearly) all 10.
SELECT setseed(0.14);
CREATE TABLE tst (i int4 PRIMARY KEY, v vector(3));
INSERT INTO tst SELECT g, ARRAY[random(), random(), random()]::vector FROM generate_series(1, 20000) g;
CREATE INDEX tst_v ON tst USING hnsw (v vector_l2_ops);
SET enable_seqscan = off;
SET hnsw.iterative_scan = relaxed_order;
SET work_mem = '1MB';
SET hnsw.scan_mem_multiplier = 2;

-- a budget of every node finds nearly every match (main found about 3: its
-- node cache, ~340 bytes a node, counted against 2 MB)
SET hnsw.max_scan_tuples = 20000;
SELECT count(*) >= 9 AS found_nearly_all
FROM (SELECT i FROM tst WHERE i % 2000 = 0 ORDER BY v <-> (SELECT v FROM tst WHERE i = 1) LIMIT 11) t;

-- averaged over 10 query vectors, about max_scan_tuples / 2000 rows
CREATE FUNCTION found(budget int) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE total int := 0; n int;
BEGIN
  PERFORM set_config('hnsw.max_scan_tuples', budget::text, true);
  FOR q IN 1..10 LOOP
    SELECT count(*) INTO n FROM (SELECT i FROM tst WHERE i % 2000 = 0
      ORDER BY v <-> (SELECT v FROM tst WHERE i = q * 97) LIMIT 11) t;
    total := total + n;
  END LOOP;
  RETURN total / 10.0;
END $$;
SELECT found(6000) BETWEEN 2 AND 4.5 AS about_3, found(10000) BETWEEN 3.5 AND 6.5 AS about_5,
       found(20000) >= 9 AS about_10;

-- the memory limit still stops a scan: 64 kB keeps it to a few thousand nodes
SET work_mem = '64kB';
SET hnsw.scan_mem_multiplier = 1;
SELECT found(20000) < 5 AS memory_bounds_it;
SET work_mem = '1MB';

-- strict_order with no budget returns every row exactly once, in order
SET hnsw.iterative_scan = strict_order;
SET hnsw.max_scan_tuples = 2147483647;
SET work_mem = '64MB';
SELECT count(*) AS rows, count(DISTINCT i) AS distinct_rows, bool_and(ordered) AS in_order
FROM (SELECT i, d >= lag(d, 1, 0::float8) OVER (ORDER BY n) AS ordered
      FROM (SELECT i, v <-> '[0.5,0.5,0.5]' AS d, row_number() OVER () AS n
            FROM (SELECT i, v FROM tst ORDER BY v <-> '[0.5,0.5,0.5]') s) u) w;
-- relaxed_order too
SET hnsw.iterative_scan = relaxed_order;
SELECT count(*) AS rows, count(DISTINCT i) AS distinct_rows
FROM (SELECT i FROM tst ORDER BY v <-> '[0.5,0.5,0.5]') s;

DROP FUNCTION found(int);
DROP TABLE tst;
RESET ALL;
