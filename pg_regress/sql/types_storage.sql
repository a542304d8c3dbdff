-- On-disk layout of vector, halfvec and sparsevec. The heap tuples' bytes
-- (read with pageinspect) are pgvector's, so a table written under one
-- extension reads back under the other without a rewrite.

SELECT typname, typlen, typbyval, typalign, typstorage FROM pg_type
WHERE typname IN ('vector', 'halfvec', 'sparsevec') ORDER BY typname;

CREATE EXTENSION pageinspect;
CREATE TABLE storage_types (v vector, h halfvec, s sparsevec);
INSERT INTO storage_types VALUES
  ('[1,-2.5,3e38]', '[1,-2.5,65504]', '{1:1,3:-2.5,5:3e38}/1000000000'),
  ('[-0]', '[-0]', '{}/1'),
  ('[1e-45,0,7]', '[5.9604645e-08,0,7]', '{1000000000:1e-45}/1000000000');
SELECT lp, t_data FROM heap_page_items(get_raw_page('storage_types', 0)) ORDER BY lp;
SELECT pg_column_size(v), pg_column_size(h), pg_column_size(s) FROM storage_types;

-- large values are moved out of line uncompressed (STORAGE external)
CREATE TABLE storage_large AS
SELECT array_fill(1, ARRAY[2000])::vector AS v, array_fill(1, ARRAY[4000])::halfvec AS h,
       (SELECT array_agg(i) FROM generate_series(1, 2000) i)::sparsevec AS s;
SELECT pg_column_size(v), pg_column_size(h), pg_column_size(s), vector_dims(v), vector_dims(h), l2_norm(s) FROM storage_large;
-- the heap tuple holds three 18-byte TOAST pointers
SELECT length(t_data) FROM heap_page_items(get_raw_page('storage_large', 0));

DROP TABLE storage_types, storage_large;
DROP EXTENSION pageinspect;
