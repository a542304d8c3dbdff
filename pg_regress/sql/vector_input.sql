-- vector: text input and output, typmods, and every malformed input.

-- well-formed values, whitespace anywhere between tokens
SELECT '[1,2,3]'::vector;
SELECT '[-1,-2.5,3e2]'::vector;
SELECT ' [ 1 ,  2 ,3 ] '::vector;
SELECT (E'\t[\n1,\r2\f,' || chr(11) || E'3]\n')::vector;
SELECT '[1.,.5,+3]'::vector;
SELECT '[0x10,1e0]'::vector;

-- output is the shortest text that reads back to the same float4
SELECT '[0.1,0.2,0.3]'::vector;
SELECT '[1.23456789,123456.7,1234567]'::vector;
SELECT '[0.0001,0.00001,100000,1000000]'::vector;
SELECT '[1.5e38,-1.5e38,3.4028235e38]'::vector;
SELECT '[1.5e-38,1e-45,-0]'::vector;
SELECT '[1e-46,-1e-46]'::vector;
SELECT '[3.14159265358979]'::vector::text::vector = '[3.14159265358979]'::vector;

-- typmods
SELECT '[1,2,3]'::vector(3);
SELECT '[1,2]'::vector(3);
SELECT '[1,2,3]'::vector(0);
SELECT '[1,2,3]'::vector(16001);
SELECT '[1,2,3]'::vector(3, 2);
SELECT '[1,2,3]'::vector('a');
CREATE TABLE vector_typmod (v vector(3));
INSERT INTO vector_typmod VALUES ('[1,2,3]');
INSERT INTO vector_typmod VALUES ('[1,2]');
INSERT INTO vector_typmod VALUES ('[1,2,3,4]'::vector);
SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'vector_typmod'::regclass AND attname = 'v';
DROP TABLE vector_typmod;

-- dimension limits
SELECT vector_dims(('[' || array_to_string(array_fill(1, ARRAY[16000]), ',') || ']')::vector);
SELECT ('[' || array_to_string(array_fill(1, ARRAY[16001]), ',') || ']')::vector;
SELECT vector_dims(('[' || array_to_string(array_fill(7, ARRAY[16000]), ',') || ']')::vector(16000));

-- every malformed input, with its SQLSTATE
SELECT input, regress.error_of(format('SELECT %L::vector', input))
FROM (VALUES
  (''), (' '), ('1,2,3'), ('(1,2,3)'), ('[1,2,3'), ('[1,2,3]x'), ('[1,2,3] ]'),
  ('[]'), ('[ ]'), ('[,]'), ('[1,]'), ('[,1]'), ('[1,,2]'), ('[1 2]'), ('[1;2]'),
  ('[a]'), ('[1,b]'), ('[1e]'), ('[--1]'), ('[1.2.3]'), ('["1"]'),
  ('[NaN]'), ('[nan]'), ('[1,NaN]'), ('[Infinity]'), ('[-Infinity]'), ('[inf]'), ('[1,-inf]'),
  ('[1e39]'), ('[-1e39]'), ('[3.5e38]'), ('[0x1p200]'),
  ('[1,2,3]]'), ('[[1,2,3]]'), ('{1,2,3}')
) t(input);

-- NULLs pass through
SELECT NULL::vector, vector_dims(NULL::vector);
