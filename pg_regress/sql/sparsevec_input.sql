-- sparsevec: text input and output, typmods, and every malformed input.

-- well-formed values: 1-based indices in any order, zeros dropped, sorted
SELECT '{1:1.5,3:3.5}/5'::sparsevec;
SELECT ' { 3 : -2 , 1 :1e2 } / 5 '::sparsevec;
SELECT (E'{\t1:1,\n2:2\r}' || chr(11) || E'/\f3')::sparsevec;
SELECT '{1:2.,3:.5,+4:+1,005:0x10}/5'::sparsevec;
SELECT '{1:0,2:1,3:-0,4:0e9}/4'::sparsevec;
SELECT '{1:0,1:0}/1'::sparsevec, '{2:0}/1'::sparsevec;
SELECT '{}/1'::sparsevec, '{ }/1'::sparsevec, '{}/1000000000'::sparsevec, '{1000000000:1}/1000000000'::sparsevec;

-- values are reals, printed as the shortest text that reads back
SELECT '{1:0.1,2:1.23456789,3:1.5e38,4:-3.4028235e38,5:1e-45,6:1.5e-38}/6'::sparsevec;
SELECT '{1:1e-40,2:-1e-40}/2'::sparsevec;

-- typmods
SELECT '{}/3'::sparsevec(3);
SELECT '{}/3'::sparsevec(2);
SELECT '{}/3'::sparsevec(0);
SELECT '{}/3'::sparsevec(1000000001);
SELECT '{}/3'::sparsevec(3, 2);
SELECT '{}/3'::sparsevec('a');
CREATE TABLE sparsevec_typmod (v sparsevec(3));
INSERT INTO sparsevec_typmod VALUES ('{1:1}/3');
INSERT INTO sparsevec_typmod VALUES ('{1:1}/2');
SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'sparsevec_typmod'::regclass AND attname = 'v';
DROP TABLE sparsevec_typmod;
SELECT '{1000000000:1}/1000000000'::sparsevec(1000000000);

-- at most 16000 non-zero elements; pgvector counts the commas of the whole
-- literal before anything else, zeros and malformed input included
SELECT length(('{' || string_agg(i || ':1', ',') || '}/16000')::sparsevec::text) FROM generate_series(1, 16000) i;
SELECT ('{' || string_agg(i || ':1', ',') || '}/16001')::sparsevec FROM generate_series(1, 16001) i;
SELECT ('{' || string_agg(i || ':0', ',') || '}/16001')::sparsevec FROM generate_series(1, 16001) i;
SELECT n, left(regress.error_of(format('SELECT %L::sparsevec', repeat(',', n))), 60)
FROM (VALUES (15999), (16000)) t(n);

-- every malformed input, with its SQLSTATE; a value is checked as it is
-- read, the dimensions after the closing "/n", the indices last (sorted)
SELECT input, regress.error_of(format('SELECT %L::sparsevec', input))
FROM (VALUES
  (''), (' '), ('[1,2]'), ('1:1/1'), ('{'), ('{ '), ('{:'), ('{,'), ('{1'), ('{1:'), ('{1:1'),
  ('{}'), ('{}/'), ('{}/ '), ('{}/-'), ('{}/1a'), ('{}/1.0'), ('{}/0x1'), ('{}/1 2'),
  ('{1:1}5'), ('{1:1} 5'), ('{1:1}}/1'), ('{{1:1}}/1'),
  ('{:}/1'), ('{,}/1'), ('{1,}/1'), ('{:1}/1'), ('{1:}/1'), ('{1a:1}/1'), ('{1:1a}/1'),
  ('{1:1,}/1'), ('{,1:1}/1'), ('{1:1,,2:1}/2'), ('{1::1}/1'), ('{1:1:1}/1'), ('{1 1:1}/1'),
  ('{1:1 2:1}/2'), ('{1.5:1}/2'), ('{0x1:1}/1'), ('{- 1:1}/1'), ('{a:1}/1'),
  ('{1:NaN}/1'), ('{1:nan}/1'), ('{1:Infinity}/1'), ('{1:-inf}/1'),
  ('{1:4e38}/1'), ('{1:-4e38}/1'), ('{1:1e39}/1'), ('{1:0x1p200}/1'),
  ('{1:1e-46}/1'), ('{1:-1e-50}/1'), ('{1:0x1p-200}/1'), ('{1:1e-46,2:NaN}/2'),
  ('{1:NaN,2:x}/2'), ('{1:1e-46,x}/1'), ('{1:NaN}/0'), ('{5:1}/0'),
  ('{}/0'), ('{}/-1'), ('{}/-0'), ('{}/1000000001'), ('{}/2147483647'), ('{}/2147483648'),
  ('{}/-2147483649'), ('{}/9223372036854775808'), ('{}/-9223372036854775809'),
  ('{0:1}/1'), ('{2:1}/1'), ('{-1:1}/1'), ('{2147483647:1}/1'), ('{2147483648:1}/1'),
  ('{-2147483648:1}/1'), ('{-2147483649:1}/1'), ('{99999999999999999999:1}/1'),
  ('{1:1,1:1}/2'), ('{1:1,2:1,1:1}/2'), ('{3:1,1:0,1:1,3:2}/3'), ('{5:1,1:1,1:1}/2'),
  ('{2:1,2:1,0:1}/2'), ('{1:1,1:2}/1'),
  ('{1:1}/1 x'), ('{1:1}/1}')
) t(input);

-- NULLs pass through
SELECT NULL::sparsevec, l2_norm(NULL::sparsevec);
