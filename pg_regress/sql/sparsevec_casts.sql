-- sparsevec: casts to and from vector, halfvec and arrays, and typmod
-- coercion.

-- vector and halfvec to sparsevec are implicit, and keep the non-zeros
SELECT '[0,1.5,0,3.5,0]'::vector::sparsevec, '[0,1.5,0,3.5,0]'::vector::sparsevec(5), '[-0,0,1]'::vector::sparsevec;
SELECT '[0,1.5,0,3.5,0]'::vector::sparsevec(4);
SELECT '[0,1.5,-0,0.1,5.9604645e-08]'::halfvec::sparsevec, '[0,0]'::halfvec::sparsevec(2);
SELECT '[0,1.5,0,3.5,0]'::halfvec::sparsevec(4);
SELECT (array_fill(1, ARRAY[16000])::vector::sparsevec)::text = ('{' || (SELECT string_agg(i || ':1', ',') FROM generate_series(1, 16000) i) || '}/16000');

-- sparsevec to vector and halfvec are assignment casts
SELECT '{2:1.5,4:3.5}/5'::sparsevec::vector, '{2:1.5,4:3.5}/5'::sparsevec::vector(5), '{}/2'::sparsevec::vector;
SELECT '{2:1.5,4:3.5}/5'::sparsevec::vector(4);
SELECT '{}/16001'::sparsevec::vector;
SELECT vector_dims('{16000:1}/16000'::sparsevec::vector);
SELECT '{2:1.5,4:3.5}/5'::sparsevec::halfvec, '{1:0.1,2:1e-8,3:65519}/3'::sparsevec::halfvec, '{2:1.5}/5'::sparsevec::halfvec(5);
SELECT '{2:1.5,4:3.5}/5'::sparsevec::halfvec(4);
SELECT '{}/16001'::sparsevec::halfvec;
SELECT '{1:65520}/1'::sparsevec::halfvec;
SELECT '{1:1,2:-70000,3:1e6}/3'::sparsevec::halfvec;
CREATE TABLE sparsevec_cast (v vector(2), h halfvec(2), s sparsevec(2));
INSERT INTO sparsevec_cast VALUES ('{1:1}/2'::sparsevec, '{2:2}/2'::sparsevec, '[0,3]'::vector);
INSERT INTO sparsevec_cast (s) VALUES ('[0,0.5]'::halfvec);
INSERT INTO sparsevec_cast (v) VALUES ('{1:1}/3'::sparsevec);
INSERT INTO sparsevec_cast (s) VALUES ('[1,2,3]'::vector);
SELECT * FROM sparsevec_cast;
DROP TABLE sparsevec_cast;

-- arrays: zeros are dropped, as they are in the element type
SELECT ARRAY[1,0,2,0,3,0]::sparsevec, ARRAY[1.0,0.0,2.0,0.0,3.0,0.0]::sparsevec;
SELECT ARRAY[1,0,2,0,3,0]::real[]::sparsevec, ARRAY[1,0,2,0,3,0]::float8[]::sparsevec, ARRAY[1,0,2,0,3,0]::numeric[]::sparsevec;
SELECT '{-0,1e-50,1e-40}'::float8[]::sparsevec, '{16777217,0.1}'::float8[]::sparsevec, '{0}'::int[]::sparsevec;
SELECT '{1,0,2,0,3,0}'::real[]::sparsevec(6);
SELECT '{1,0,2,0,3,0}'::real[]::sparsevec(5);
SELECT array_fill(0, ARRAY[20000])::sparsevec, l2_norm(array_fill(1, ARRAY[16000])::sparsevec);
SELECT ((SELECT array_agg(CASE WHEN i <= 16000 THEN i % 7 + 1 ELSE 0 END) FROM generate_series(1, 20000) i)::sparsevec <-> '{}/20000') ^ 2;

-- every refused array, with its SQLSTATE: dimensions first, then the count
-- of non-zeros, then NaN and infinities
SELECT input, regress.error_of(format('SELECT %s::sparsevec', input))
FROM (VALUES
  ($$'{}'::real[]$$), ($$'{{1}}'::real[]$$), ($$'{1,NULL}'::real[]$$), ($$'{NULL}'::int[]$$),
  ($$'{NaN}'::real[]$$), ($$'{0,Infinity}'::real[]$$), ($$'{-Infinity}'::real[]$$),
  ($$'{1e39}'::float8[]$$), ($$'{NaN}'::numeric[]$$), ($$'{1e39}'::numeric[]$$),
  ($$'{1e-50}'::numeric[]$$), ($$'{NaN}'::real[]::sparsevec(2)$$),
  ($$(SELECT array_agg(i) FROM generate_series(1, 16001) i)$$),
  ($$array_fill('NaN'::real, ARRAY[16001])$$),
  ($$'{1,2}'::smallint[]$$)
) t(input);

-- assignment casts from arrays
CREATE TABLE sparsevec_assign (v sparsevec(3));
INSERT INTO sparsevec_assign VALUES (ARRAY[1,0,2]), ('{0,3.5,0}'::float8[]), ('{5,0,6}'::numeric[]), ('{0,0,0}'::real[]);
INSERT INTO sparsevec_assign VALUES (ARRAY[1,2]);
SELECT * FROM sparsevec_assign;
DROP TABLE sparsevec_assign;

-- typmod coercion through the self-cast
SELECT '{1:1}/3'::sparsevec::sparsevec(3);
SELECT '{1:1}/3'::sparsevec::sparsevec(2);
SELECT ('{1:1}/3'::sparsevec(3))::sparsevec;
SELECT sparsevec('{1:1}/3', 3, true), sparsevec('{1:1}/3', -1, false);
