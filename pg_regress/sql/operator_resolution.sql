-- Expressions whose meaning must not change when lodestone adds operators of
-- its own (vector * real, real * vector, vector / real): every one resolves,
-- or fails, exactly as under pgvector (this file is in compat_schedule).

-- two unknown literals: ambiguous under pgvector too
SELECT '[1,2]' * '[3,4]';
-- an unknown literal next to a vector is read as a vector: element-wise
SELECT '[1,2]'::vector * '[3,4]', '[1,2]' * '[3,4]'::vector;
SELECT pg_typeof('[1,2]'::vector * '[3,4]');
SELECT '[1,2]'::halfvec * '[3,4]', pg_typeof('[1,2]'::halfvec * '[3,4]');
SELECT '[1,2]'::vector + '[3,4]', '[1,2]'::vector - '[3,4]', '[1,2]'::vector || '[3,4]';
-- an unknown literal next to a number is still a number
SELECT '[1,2]' * 2.0;
SELECT 2 * '3', 2.5 / '2';
-- no operator for these, as before
SELECT '[1,2]'::vector * ARRAY[3,4]::real[];
SELECT '[1,2]'::halfvec * 2;
SELECT '{1:2}/2'::sparsevec * 2;
-- columns
CREATE TABLE opres (v vector(2), h halfvec(2));
INSERT INTO opres VALUES ('[1,2]', '[3,4]');
SELECT v * v, h * h, v * h::vector FROM opres;
DROP TABLE opres;
