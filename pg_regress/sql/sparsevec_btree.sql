-- sparsevec: comparison operators, the default btree operator class, sorting.
-- pgvector orders sparse vectors element by element as if they were dense,
-- except that elements beyond the smaller dimension count are ignored, then
-- by dimension count.

SELECT '{1:1,2:2,3:3}/3'::sparsevec < '{1:1,2:2,3:4}/3', '{1:1}/3'::sparsevec <= '{1:1}/3', '{1:1}/3'::sparsevec = '{1:1}/3';
SELECT '{1:1}/3'::sparsevec <> '{1:1}/3', '{1:1}/3'::sparsevec >= '{1:1}/2', '{1:1}/2'::sparsevec > '{1:1}/3';
SELECT a, b, sparsevec_cmp(a, b) AS cmp, sparsevec_cmp(b, a) AS reversed
FROM (VALUES
  ('{1:1}/3'::sparsevec, '{1:1}/3'::sparsevec),
  ('{1:1}/3', '{2:1}/3'),
  ('{1:-1}/3', '{2:1}/3'),
  ('{}/3', '{2:1}/3'),
  ('{}/3', '{2:-1}/3'),
  ('{}/2', '{3:-1}/3'),
  ('{}/2', '{2:-1}/3'),
  ('{1:1}/2', '{1:1}/3'),
  ('{1:1}/2', '{1:1,3:5}/3'),
  ('{1:1,2:2}/3', '{1:1}/3'),
  ('{1:1,2:-2}/3', '{1:1}/3'),
  ('{1:2}/3', '{1:1,2:5}/3'),
  ('{3:1}/3', '{1:-1,3:1}/3'),
  ('{1:1e-45}/1', '{}/1')
) t(a, b);

CREATE TABLE sparsevec_sort (v sparsevec);
INSERT INTO sparsevec_sort VALUES ('{1:1,2:2,3:3}/3'), ('{1:1,2:2}/2'), ('{2:5}/2'), ('{1:1,2:2,3:3}/3'), (NULL),
  ('{1:-1}/1'), ('{1:1,2:1,3:9}/3'), ('{}/3'), ('{}/2'), ('{3:-1}/3'), ('{2:-1}/3'), ('{1:1}/1');
SELECT v FROM sparsevec_sort ORDER BY v;
SELECT DISTINCT v FROM sparsevec_sort ORDER BY v DESC;
CREATE INDEX ON sparsevec_sort (v);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT * FROM sparsevec_sort WHERE v = '{1:1,2:2,3:3}/3';
SELECT * FROM sparsevec_sort WHERE v = '{1:1,2:2,3:3}/3';
SELECT * FROM sparsevec_sort WHERE v < '{}/3' ORDER BY v;
RESET enable_seqscan;
SELECT v, count(*) FROM sparsevec_sort GROUP BY v ORDER BY v;
DROP TABLE sparsevec_sort;
