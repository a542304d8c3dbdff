-- halfvec: casts to and from arrays and vector, and typmod coercion.

SELECT ARRAY[1,2,3]::halfvec, ARRAY[1.5,2.5]::real[]::halfvec, ARRAY[1.25,-2]::float8[]::halfvec, ARRAY[1.5,2.5]::numeric[]::halfvec;
SELECT ARRAY[2049,65519,-65519]::halfvec, '{1e-8,-1e-8,0.1}'::real[]::halfvec, '{1e-50}'::float8[]::halfvec;
-- a double is rounded to real, then to half (C's implicit conversions)
SELECT '{1.0004882812509095}'::float8[]::halfvec, '{1.0004882812509095}'::numeric[]::halfvec, '{1.0004882812509095}'::real[]::halfvec;
SELECT ARRAY[1,2,3]::halfvec(3);
SELECT ARRAY[1,2,3]::halfvec(2);
SELECT array_to_halfvec(ARRAY[1,2], 2, true), array_to_halfvec(ARRAY[1,2], -1, false);

-- every refused array, with its SQLSTATE: out-of-range values are found
-- before NaN or infinities, wherever they are
SELECT input, regress.error_of(format('SELECT %s::halfvec', input))
FROM (VALUES
  ($$'{}'::int[]$$), ($$ARRAY[[1,2],[3,4]]$$), ($$ARRAY[1,NULL,3]$$), ($$'{NULL}'::real[]$$),
  ($$ARRAY[65520]$$), ($$ARRAY[16777217]$$), ($$'{-65520}'::real[]$$), ($$'{1e6}'::float8[]$$),
  ($$'{100000}'::numeric[]$$), ($$'{1e39}'::numeric[]$$), ($$'{NaN}'::numeric[]$$),
  ($$'{NaN}'::real[]$$), ($$'{Infinity}'::real[]$$), ($$'{-Infinity}'::float8[]$$),
  ($$'{1e39}'::float8[]$$), ($$'{1,NaN,65520}'::real[]$$), ($$'{65520,NaN}'::real[]$$),
  ($$array_fill(1, ARRAY[16001])$$), ($$'{1,2}'::smallint[]$$)
) t(input);

-- halfvec to real[] is an assignment cast
SELECT '[1,2,3]'::halfvec::real[], array_length('[1,2]'::halfvec::real[], 1), '[0.1,-0]'::halfvec::real[];
CREATE TABLE halfvec_to_real (r real[]);
INSERT INTO halfvec_to_real VALUES ('[1.5,2]'::halfvec);
SELECT * FROM halfvec_to_real;
DROP TABLE halfvec_to_real;

-- vector to halfvec is implicit, halfvec to vector an assignment cast
SELECT '[1,2,3]'::vector::halfvec, '[0.1,1e-8,65519]'::vector::halfvec, '[1,2,3]'::vector::halfvec(3);
SELECT '[1,2,3]'::vector::halfvec(2);
SELECT '[1,65520]'::vector::halfvec;
SELECT '[-1e38]'::vector::halfvec;
SELECT '[1,2,3]'::halfvec::vector, '[0.1,5.9604645e-08,-0]'::halfvec::vector, '[1,2,3]'::halfvec::vector(3);
SELECT '[1,2,3]'::halfvec::vector(2);
CREATE TABLE halfvec_cast (h halfvec(2), v vector(2));
INSERT INTO halfvec_cast VALUES ('[1,2]'::vector, '[0.1,0.2]'::halfvec);
INSERT INTO halfvec_cast (h) VALUES ('[1,2,3]'::vector);
INSERT INTO halfvec_cast (v) VALUES ('[1,2,3]'::halfvec);
SELECT * FROM halfvec_cast;
DROP TABLE halfvec_cast;

-- assignment casts from arrays
CREATE TABLE halfvec_assign (v halfvec(2));
INSERT INTO halfvec_assign VALUES (ARRAY[1,2]), ('{3.5,4}'::float8[]), ('{5,6}'::numeric[]), ('{7,8}'::real[]);
INSERT INTO halfvec_assign VALUES (ARRAY[1,2,3]);
SELECT * FROM halfvec_assign;
DROP TABLE halfvec_assign;

-- typmod coercion through the self-cast
SELECT '[1,2,3]'::halfvec::halfvec(3);
SELECT '[1,2,3]'::halfvec::halfvec(2);
SELECT ('[1,2,3]'::halfvec(3))::halfvec;
