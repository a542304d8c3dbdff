-- sparsevec: distance operators and functions, utility functions.

-- distances: operators and their functions agree
SELECT '{1:1,2:2,3:3}/3'::sparsevec <-> '{1:4,2:5,3:6}/3', l2_distance('{1:1,2:2,3:3}/3'::sparsevec, '{1:4,2:5,3:6}/3');
SELECT '{1:1,2:2,3:3}/3'::sparsevec <#> '{1:4,2:5,3:6}/3', inner_product('{1:1,2:2,3:3}/3'::sparsevec, '{1:4,2:5,3:6}/3');
SELECT '{1:1,2:2,3:3}/3'::sparsevec <=> '{1:4,2:5,3:6}/3', cosine_distance('{1:1,2:2,3:3}/3'::sparsevec, '{1:4,2:5,3:6}/3');
SELECT '{1:1,2:2,3:3}/3'::sparsevec <+> '{1:4,2:5,3:6}/3', l1_distance('{1:1,2:2,3:3}/3'::sparsevec, '{1:4,2:5,3:6}/3');
SELECT sparsevec_l2_squared_distance('{1:1,2:2,3:3}/3', '{1:4,2:5,3:6}/3'), sparsevec_negative_inner_product('{1:1,2:2,3:3}/3', '{1:4,2:5,3:6}/3');

-- every way two index lists can interleave
SELECT a, b, a <-> b AS l2, a <#> b AS neg_ip, a <=> b AS cosine, a <+> b AS l1
FROM (VALUES
  ('{1:1,3:2}/6'::sparsevec, '{2:3,4:4}/6'::sparsevec),
  ('{1:1,3:2}/6', '{3:5}/6'),
  ('{2:3,4:4}/6', '{1:1,2:2,3:3,4:4,5:5,6:6}/6'),
  ('{6:-1}/6', '{1:1}/6'),
  ('{1:1,2:-2}/6', '{1:1,2:-2}/6'),
  ('{1:1,2:-2}/6', '{1:-1,2:2}/6'),
  ('{}/6', '{4:3,5:4}/6'),
  ('{4:3,5:4}/6', '{}/6'),
  ('{}/6', '{}/6')
) t(a, b);

-- sums are floats, as in pgvector: they can overflow; the inner product
-- fuses each product into the sum (as pgvector's x86-64 build does), so an
-- infinite partial sum stays infinite
SELECT l2_distance('{1:3e38}/2'::sparsevec, '{1:-3e38}/2'), l1_distance('{1:3e38}/2'::sparsevec, '{2:-3e38}/2');
SELECT inner_product('{1:3e38,2:3e38}/2'::sparsevec, '{1:3e38,2:-3e38}/2'), inner_product('{1:1e-30}/1'::sparsevec, '{1:1e-30}/1');
-- a product that underflows leaves a negative zero sum
SELECT inner_product('{1:1e-30,2:1}/3'::sparsevec, '{1:-1e-30,3:1}/3'), '{1:1e-30,2:1}/3'::sparsevec <#> '{1:-1e-30,3:1}/3';
SELECT cosine_distance('{1:3e38}/1'::sparsevec, '{1:3e38}/1'), cosine_distance('{1:1e-30}/1'::sparsevec, '{1:1e-30}/1');
SELECT cosine_distance('{1:1,2:1}/2'::sparsevec, '{1:1.1,2:1.1}/2'), cosine_distance('{1:1,2:1}/2'::sparsevec, '{1:-1.1,2:-1.1}/2');

-- commutators: the planner may flip operands
SELECT '{1:4}/2'::sparsevec <-> '{2:3}/2' = '{2:3}/2'::sparsevec <-> '{1:4}/2';

-- dense operands are cast to sparsevec implicitly
SELECT '{1:1}/2'::sparsevec <-> '[4,4]'::vector, '[0,3]'::halfvec <#> '{2:1}/2'::sparsevec;

-- mismatched dimensions
SELECT '{}/2'::sparsevec <-> '{}/3';
SELECT inner_product('{}/2'::sparsevec, '{}/3');
SELECT '{}/2'::sparsevec <#> '{}/3';
SELECT '{}/2'::sparsevec <=> '{}/3';
SELECT l1_distance('{}/2'::sparsevec, '{}/3');
SELECT sparsevec_l2_squared_distance('{}/2', '{}/3');

-- long values agree with the dense types (small integers: every sum is exact)
SELECT n, a <-> b AS l2, a <#> b AS neg_ip, a <=> b AS cosine, a <+> b AS l1,
       (a <-> b) = (a::vector <-> b::vector) AND (a <#> b) = (a::vector <#> b::vector)
       AND (a <=> b) = (a::vector <=> b::vector) AND (a <+> b) = (a::vector <+> b::vector) AS same_as_vector
FROM (SELECT n, ARRAY(SELECT CASE WHEN i % 3 = 0 THEN 0 ELSE (i * 7) % 11 - 5 END FROM generate_series(1, n) i)::sparsevec AS a,
                ARRAY(SELECT CASE WHEN i % 4 = 0 THEN (i * 5) % 13 - 6 ELSE 0 END FROM generate_series(1, n) i)::sparsevec AS b
      FROM unnest(ARRAY[1, 2, 7, 16, 17, 100, 1537, 16000]) n) t
ORDER BY n;

-- utility functions
SELECT l2_norm('{1:3,2:4}/2'::sparsevec), l2_norm('{}/2'::sparsevec), l2_norm('{1:3e38,2:3e38}/2'::sparsevec), l2_norm('{1:1e-45}/1'::sparsevec);
SELECT l2_normalize('{1:3,2:4}/5'::sparsevec), l2_normalize('{}/3'::sparsevec), l2_normalize('{3:-2}/3'::sparsevec);
-- a quotient that underflows to zero is dropped
SELECT l2_normalize('{1:3e38,2:1e-45}/2'::sparsevec), l2_normalize('{1:1e-45,5:1e-45}/5'::sparsevec);
