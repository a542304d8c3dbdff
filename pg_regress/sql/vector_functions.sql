-- vector: distance operators and functions, arithmetic, utility functions.

-- distances: operators and their functions agree
SELECT '[1,2,3]'::vector <-> '[4,5,6]', l2_distance('[1,2,3]'::vector, '[4,5,6]');
SELECT '[1,2,3]'::vector <#> '[4,5,6]', inner_product('[1,2,3]'::vector, '[4,5,6]');
SELECT '[1,2,3]'::vector <=> '[4,5,6]', cosine_distance('[1,2,3]'::vector, '[4,5,6]');
SELECT '[1,2,3]'::vector <+> '[4,5,6]', l1_distance('[1,2,3]'::vector, '[4,5,6]');
SELECT vector_l2_squared_distance('[1,2,3]'::vector, '[4,5,6]'), vector_negative_inner_product('[1,2,3]'::vector, '[4,5,6]');

-- edge cases of each metric
SELECT l2_distance('[0,0]'::vector, '[3,4]'), l2_distance('[1,1]'::vector, '[1,1]');
SELECT l2_distance('[3.4028235e38]'::vector, '[-3.4028235e38]');
SELECT inner_product('[3e38]'::vector, '[3e38]');
SELECT cosine_distance('[1,1]'::vector, '[1,1]'), cosine_distance('[1,0]'::vector, '[0,1]'), cosine_distance('[1,1]'::vector, '[-1,-1]');
SELECT cosine_distance('[0,0]'::vector, '[1,1]'), cosine_distance('[0,0]'::vector, '[0,0]');
SELECT cosine_distance('[1,2]'::vector, '[2,4]'), cosine_distance('[3e38]'::vector, '[3e38]');
SELECT l1_distance('[0,0]'::vector, '[3,4]'), l1_distance('[3e38]'::vector, '[-3e38]');

-- commutators: the planner may flip operands
SELECT '[4,5,6]'::vector <-> '[1,2,3]' = '[1,2,3]'::vector <-> '[4,5,6]';

-- mismatched dimensions
SELECT '[1,2]'::vector <-> '[3]';
SELECT inner_product('[1,2]'::vector, '[3]');
SELECT '[1,2]'::vector <=> '[3]';
SELECT l1_distance('[1,2]'::vector, '[3]');
SELECT '[1,2]'::vector + '[3]';

-- a long vector exercises the SIMD tails
SELECT round((a <-> b)::numeric, 3), round((a <#> b)::numeric, 3), round((a <=> b)::numeric, 6), round((a <+> b)::numeric, 3)
FROM (SELECT ARRAY(SELECT i % 7 FROM generate_series(1, 1537) i)::vector AS a,
             ARRAY(SELECT i % 5 FROM generate_series(1, 1537) i)::vector AS b) t;

-- utility functions
SELECT vector_dims('[1,2,3]'::vector), vector_dims('[1]'::vector);
SELECT vector_norm('[3,4]'::vector), vector_norm('[0,0]'::vector), vector_norm('[3e38,3e38]'::vector);
SELECT l2_normalize('[3,4]'::vector), l2_normalize('[0,0]'::vector), l2_normalize('[3e38]'::vector), l2_normalize('[1e-45,1e-45]'::vector);
SELECT binary_quantize('[1,-2,0,3,0.5,-0.1,4,-5,6]'::vector), binary_quantize('[0]'::vector);
SELECT subvector('[1,2,3,4,5]'::vector, 2, 3);
SELECT subvector('[1,2,3,4,5]'::vector, 4, 10);
SELECT subvector('[1,2,3,4,5]'::vector, -1, 3);
SELECT subvector('[1,2,3,4,5]'::vector, 3, 0);
SELECT subvector('[1,2,3,4,5]'::vector, 6, 1);
SELECT subvector('[1,2,3,4,5]'::vector, -5, 5);
SELECT subvector('[1,2,3,4,5]'::vector, 2147483647, 10);
SELECT subvector('[1,2,3,4,5]'::vector, -2147483644, 2147483647);

-- arithmetic, with float overflow and underflow reported
SELECT '[1,2,3]'::vector + '[4,5,6]', '[1,2,3]'::vector - '[4,5,6]', '[1,2,3]'::vector * '[4,5,6]';
SELECT '[3e38]'::vector + '[3e38]';
SELECT '[-3e38]'::vector - '[3e38]';
SELECT '[1e38]'::vector * '[1e38]';
SELECT '[1e-37]'::vector * '[1e-37]';
SELECT '[1e-37,1e38]'::vector * '[1e-37,1e38]';
SELECT '[1e38,1e-37]'::vector * '[1e38,1e-37]';
SELECT '[1,2]'::vector || '[3]', '[1]'::vector || '[2]';
SELECT vector_dims(array_fill(1, ARRAY[8000])::vector || array_fill(1, ARRAY[8000])::vector);
SELECT array_fill(1, ARRAY[8000])::vector || array_fill(1, ARRAY[8001])::vector;
