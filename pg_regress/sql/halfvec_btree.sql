-- halfvec: comparison operators, the default btree operator class, sorting.

SELECT '[1,2,3]'::halfvec < '[1,2,4]', '[1,2,3]'::halfvec <= '[1,2,3]', '[1,2,3]'::halfvec = '[1,2,3]';
SELECT '[1,2,3]'::halfvec <> '[1,2,3]', '[1,2,3]'::halfvec >= '[1,2]', '[1,2]'::halfvec > '[1,2,3]';
SELECT halfvec_cmp('[1,2,3]', '[1,2,3]'), halfvec_cmp('[1,2]', '[1,2,3]'), halfvec_cmp('[2]', '[1,2,3]');
SELECT halfvec_cmp('[1,2,3]', '[0,0,0]'), halfvec_cmp('[-1]', '[-2]'), halfvec_cmp('[-0]', '[0]');
SELECT '[0]'::halfvec = '[-0]', '[0.1]'::halfvec = '[0.09997]', '[65504]'::halfvec = '[65519]';

CREATE TABLE halfvec_sort (v halfvec);
INSERT INTO halfvec_sort VALUES ('[1,2,3]'), ('[1,2]'), ('[0,5]'), ('[1,2,3]'), (NULL), ('[-1]'), ('[1,1,9]'), ('[-2]'), ('[-0,1]'), ('[0,1]');
SELECT v FROM halfvec_sort ORDER BY v;
SELECT DISTINCT v FROM halfvec_sort ORDER BY v DESC;
CREATE INDEX ON halfvec_sort (v);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT * FROM halfvec_sort WHERE v = '[1,2,3]';
SELECT * FROM halfvec_sort WHERE v = '[1,2,3]';
SELECT * FROM halfvec_sort WHERE v < '[1,2]' ORDER BY v;
RESET enable_seqscan;
SELECT v, count(*) FROM halfvec_sort GROUP BY v ORDER BY v;
DROP TABLE halfvec_sort;
