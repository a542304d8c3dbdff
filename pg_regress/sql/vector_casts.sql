-- vector: casts to and from arrays, and typmod coercion.

SELECT ARRAY[1,2,3]::vector, ARRAY[1.5,2.5]::real[]::vector, ARRAY[1.25,-2]::float8[]::vector;
SELECT ARRAY[1.5,2.5]::numeric[]::vector, '{1e-50}'::float8[]::vector;
SELECT ARRAY[16777217]::vector, ARRAY[0.1]::float8[]::vector;
SELECT ARRAY[1,2,3]::vector(3);
SELECT ARRAY[1,2,3]::vector(2);
SELECT '{}'::int[]::vector;
SELECT ARRAY[[1,2],[3,4]]::vector;
SELECT ARRAY[1,NULL,3]::vector;
SELECT '{NaN}'::real[]::vector;
SELECT '{Infinity}'::float8[]::vector;
SELECT '{1e39}'::float8[]::vector;
SELECT '{NaN}'::numeric[]::vector;
SELECT '{1e39}'::numeric[]::vector;
SELECT array_fill(1, ARRAY[16001])::vector;
SELECT array_to_vector(ARRAY[1,2], 2, true), array_to_vector(ARRAY[1,2], -1, false);

-- vector to real[] is implicit
SELECT '[1,2,3]'::vector::real[], array_length('[1,2]'::vector::real[], 1);
SELECT ('[1.5,2]'::vector)::real[] || ARRAY[3::real];

-- assignment casts from arrays
CREATE TABLE vector_assign (v vector(2));
INSERT INTO vector_assign VALUES (ARRAY[1,2]), ('{3.5,4}'::float8[]), ('{5,6}'::numeric[]), ('{7,8}'::real[]);
INSERT INTO vector_assign VALUES (ARRAY[1,2,3]);
SELECT * FROM vector_assign;
DROP TABLE vector_assign;

-- typmod coercion through the self-cast
SELECT '[1,2,3]'::vector::vector(3);
SELECT '[1,2,3]'::vector::vector(2);
SELECT ('[1,2,3]'::vector(3))::vector;
