-- halfvec: distance operators and functions, arithmetic, utility functions.

-- distances: operators and their functions agree
SELECT '[1,2,3]'::halfvec <-> '[4,5,6]', l2_distance('[1,2,3]'::halfvec, '[4,5,6]');
SELECT '[1,2,3]'::halfvec <#> '[4,5,6]', inner_product('[1,2,3]'::halfvec, '[4,5,6]');
SELECT '[1,2,3]'::halfvec <=> '[4,5,6]', cosine_distance('[1,2,3]'::halfvec, '[4,5,6]');
SELECT '[1,2,3]'::halfvec <+> '[4,5,6]', l1_distance('[1,2,3]'::halfvec, '[4,5,6]');
SELECT halfvec_l2_squared_distance('[1,2,3]', '[4,5,6]'), halfvec_negative_inner_product('[1,2,3]', '[4,5,6]');
SELECT halfvec_spherical_distance('[1,0]', '[0,1]'), halfvec_spherical_distance('[1,0]', '[1,0]'), halfvec_spherical_distance('[1,0]', '[-1,0]');

-- edge cases of each metric
SELECT l2_distance('[0,0]'::halfvec, '[3,4]'), l2_distance('[1,1]'::halfvec, '[1,1]');
SELECT l2_distance('[65504]'::halfvec, '[-65504]'), l1_distance('[65504]'::halfvec, '[-65504]');
SELECT inner_product('[65504]'::halfvec, '[65504]'), inner_product('[0.1,0.2]'::halfvec, '[0.3,0.4]');
SELECT cosine_distance('[1,1]'::halfvec, '[1,1]'), cosine_distance('[1,0]'::halfvec, '[0,1]'), cosine_distance('[1,1]'::halfvec, '[-1,-1]');
SELECT cosine_distance('[0,0]'::halfvec, '[1,1]'), cosine_distance('[0,0]'::halfvec, '[0,0]');
SELECT cosine_distance('[1,2]'::halfvec, '[2,4]'), cosine_distance('[1,1]'::halfvec, '[1.1,1.1]'), cosine_distance('[1,1]'::halfvec, '[-1.1,-1.1]');
SELECT l1_distance('[0,0]'::halfvec, '[3,4]'), l1_distance('[5.9604645e-08]'::halfvec, '[-5.9604645e-08]');

-- commutators: the planner may flip operands
SELECT '[4,5,6]'::halfvec <-> '[1,2,3]' = '[1,2,3]'::halfvec <-> '[4,5,6]';

-- a vector operand is cast to halfvec implicitly
SELECT '[1,2]'::halfvec <-> '[4,6]'::vector, '[4,6]'::vector <=> '[1,2]'::halfvec;

-- mismatched dimensions
SELECT '[1,2]'::halfvec <-> '[3]';
SELECT inner_product('[1,2]'::halfvec, '[3]');
SELECT '[1,2]'::halfvec <#> '[3]';
SELECT '[1,2]'::halfvec <=> '[3]';
SELECT l1_distance('[1,2]'::halfvec, '[3]');
SELECT halfvec_l2_squared_distance('[1,2]', '[3]');
SELECT halfvec_spherical_distance('[1,2]', '[3]');
SELECT '[1,2]'::halfvec + '[3]';
SELECT '[1,2]'::halfvec - '[3]';
SELECT '[1,2]'::halfvec * '[3]';

-- every tail of the SIMD loops: small integers, so every sum is exact
SELECT n, a <-> b AS l2, a <#> b AS neg_ip, a <=> b AS cosine, a <+> b AS l1
FROM (SELECT n, ARRAY(SELECT (i * 7) % 11 - 5 FROM generate_series(1, n) i)::halfvec AS a,
                ARRAY(SELECT (i * 5) % 13 - 6 FROM generate_series(1, n) i)::halfvec AS b
      FROM unnest(ARRAY[1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 48, 49, 100, 1537, 16000]) n) t
ORDER BY n;

-- utility functions
SELECT vector_dims('[1,2,3]'::halfvec), vector_dims('[1]'::halfvec);
SELECT l2_norm('[3,4]'::halfvec), l2_norm('[0,0]'::halfvec), l2_norm('[65504,65504]'::halfvec), l2_norm('[1,1]'::halfvec);
SELECT l2_normalize('[3,4]'::halfvec), l2_normalize('[0,0]'::halfvec), l2_normalize('[65504]'::halfvec);
SELECT l2_normalize('[5.9604645e-08,5.9604645e-08]'::halfvec), l2_normalize('[1,0.001,-0]'::halfvec), l2_normalize('[0,0.1]'::halfvec);
SELECT binary_quantize('[1,-2,0,3,0.5,-0.1,4,-5,6]'::halfvec), binary_quantize('[0]'::halfvec), binary_quantize('[-0,5.9604645e-08]'::halfvec);
SELECT binary_quantize('[1,0,-1]'::halfvec) = binary_quantize('[1,0,-1]'::vector);
SELECT subvector('[1,2,3,4,5]'::halfvec, 2, 3);
SELECT subvector('[1,2,3,4,5]'::halfvec, 4, 10);
SELECT subvector('[1,2,3,4,5]'::halfvec, -1, 3);
SELECT subvector('[1,2,3,4,5]'::halfvec, 3, 0);
SELECT subvector('[1,2,3,4,5]'::halfvec, 3, -1);
SELECT subvector('[1,2,3,4,5]'::halfvec, 6, 1);
SELECT subvector('[1,2,3,4,5]'::halfvec, -5, 5);
SELECT subvector('[1,2,3,4,5]'::halfvec, 2147483647, 10);
SELECT subvector('[1,2,3,4,5]'::halfvec, 3, 2147483647);
SELECT subvector('[1,2,3,4,5]'::halfvec, -2147483644, 2147483647);

-- arithmetic in float, rounded to half, with overflow and underflow reported
SELECT '[1,2,3]'::halfvec + '[4,5,6]', '[1,2,3]'::halfvec - '[4,5,6]', '[1,2,3]'::halfvec * '[4,5,6]';
SELECT '[0.1]'::halfvec + '[0.2]', '[2048]'::halfvec + '[1]', '[2048]'::halfvec + '[3]', '[1]'::halfvec - '[0.0001]';
SELECT '[65504]'::halfvec + '[8]', '[255]'::halfvec * '[256]';
SELECT '[65504]'::halfvec + '[16]';
SELECT '[-65504]'::halfvec - '[65504]';
SELECT '[256]'::halfvec * '[256]';
SELECT '[0.0001]'::halfvec * '[0.0001]';
SELECT '[0.0001,256]'::halfvec * '[0.0001,256]';
SELECT '[256,0.0001]'::halfvec * '[256,0.0001]';
SELECT '[0,0.0001]'::halfvec * '[5,0]';
SELECT '[1,2]'::halfvec || '[3]', '[1]'::halfvec || '[2]';
SELECT vector_dims(array_fill(1, ARRAY[8000])::halfvec || array_fill(1, ARRAY[8000])::halfvec);
SELECT array_fill(1, ARRAY[8000])::halfvec || array_fill(1, ARRAY[8001])::halfvec;
