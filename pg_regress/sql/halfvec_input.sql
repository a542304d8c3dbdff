-- halfvec: text input and output, typmods, and every malformed input.

-- well-formed values, whitespace anywhere between tokens
SELECT '[1,2,3]'::halfvec;
SELECT ' [ -1 ,  2.5 ,3e2 ] '::halfvec;
SELECT (E'\t[\n1,\r2\f,' || chr(11) || E'3]\n')::halfvec;
SELECT '[1.,.5,+3,0x10]'::halfvec;

-- each value is rounded to the nearest half (ties to even) and printed as the
-- shortest text of that half read as a real
SELECT '[0.1,0.2,0.3,1.23456,3.14159]'::halfvec;
SELECT '[2049,2051,4097,-2049,1.00048828125,1.0004882812500001]'::halfvec;
SELECT '[65504,-65504,65519,-65519,65519.99]'::halfvec;
SELECT '[6.1035156e-05,5.9604645e-08,2.9802322e-08,2.9802326e-08,1e-8,-1e-8,-0]'::halfvec;
SELECT '[1e-46,-1e-50]'::halfvec;
SELECT '[3.14159265358979]'::halfvec::text::halfvec = '[3.14159265358979]'::halfvec;

-- typmods
SELECT '[1,2,3]'::halfvec(3);
SELECT '[1,2]'::halfvec(3);
SELECT '[1,2,3]'::halfvec(0);
SELECT '[1,2,3]'::halfvec(16001);
SELECT '[1,2,3]'::halfvec(3, 2);
SELECT '[1,2,3]'::halfvec('a');
CREATE TABLE halfvec_typmod (v halfvec(3));
INSERT INTO halfvec_typmod VALUES ('[1,2,3]');
INSERT INTO halfvec_typmod VALUES ('[1,2]');
INSERT INTO halfvec_typmod VALUES ('[1,2,3,4]'::halfvec);
SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'halfvec_typmod'::regclass AND attname = 'v';
DROP TABLE halfvec_typmod;
SELECT unnest('{"[1,2,3]", "[4,5,6]"}'::halfvec[]);
SELECT '{"[1,2,3]"}'::halfvec(2)[];

-- dimension limits: the limit is checked before each element is read
SELECT vector_dims(('[' || array_to_string(array_fill(1, ARRAY[16000]), ',') || ']')::halfvec);
SELECT ('[' || array_to_string(array_fill(1, ARRAY[16001]), ',') || ']')::halfvec;
SELECT ('[' || repeat('1,', 16000) || ']')::halfvec;
SELECT vector_dims(('[' || array_to_string(array_fill(7, ARRAY[16000]), ',') || ']')::halfvec(16000));

-- every malformed input, with its SQLSTATE
SELECT input, regress.error_of(format('SELECT %L::halfvec', input))
FROM (VALUES
  (''), (' '), ('1,2,3'), ('(1,2,3)'), ('[1,2,3'), ('[1,2,3]x'), ('[1,2,3] ]'),
  ('['), ('[ '), ('[,'), ('[]'), ('[ ]'), ('[,]'), ('[1,]'), ('[,1]'), ('[1,,2]'),
  ('[1, ,3]'), ('[1 2]'), ('[1;2]'), ('[a]'), ('[1,b]'), ('[1e]'), ('[--1]'),
  ('[1.2.3]'), ('["1"]'),
  ('[NaN]'), ('[nan]'), ('[1,NaN]'), ('[Infinity]'), ('[-Infinity]'), ('[inf]'), ('[1,-inf]'),
  ('[65520]'), ('[-65520]'), ('[65535.9]'), ('[1e5]'), ('[ 100000 ]'), ('[0x1p16]'),
  ('[4e38]'), ('[1e39]'), ('[-1e39]'), ('[3.5e38]'), ('[0x1p200]'),
  ('[1,65520,NaN]'), ('[1,NaN,65520]'), ('[65520,1,2'),
  ('[1,2,3]]'), ('[[1,2,3]]'), ('{1,2,3}')
) t(input);

-- NULLs pass through
SELECT NULL::halfvec, vector_dims(NULL::halfvec);
