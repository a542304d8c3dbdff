-- vector: comparison operators, the default btree operator class, sorting.

SELECT '[1,2,3]'::vector < '[1,2,4]', '[1,2,3]'::vector <= '[1,2,3]', '[1,2,3]'::vector = '[1,2,3]';
SELECT '[1,2,3]'::vector <> '[1,2,3]', '[1,2,3]'::vector >= '[1,2]', '[1,2]'::vector > '[1,2,3]';
SELECT vector_cmp('[1,2,3]', '[1,2,3]'), vector_cmp('[1,2]', '[1,2,3]'), vector_cmp('[2]', '[1,2,3]');
SELECT '[0]'::vector = '[-0]';

CREATE TABLE vector_sort (v vector);
INSERT INTO vector_sort VALUES ('[1,2,3]'), ('[1,2]'), ('[0,5]'), ('[1,2,3]'), (NULL), ('[-1]'), ('[1,1,9]');
SELECT v FROM vector_sort ORDER BY v;
SELECT DISTINCT v FROM vector_sort ORDER BY v DESC;
CREATE INDEX ON vector_sort (v);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT * FROM vector_sort WHERE v = '[1,2,3]';
SELECT * FROM vector_sort WHERE v = '[1,2,3]';
SELECT * FROM vector_sort WHERE v < '[1,2]' ORDER BY v;
RESET enable_seqscan;
SELECT v, count(*) FROM vector_sort GROUP BY v ORDER BY v;
DROP TABLE vector_sort;
