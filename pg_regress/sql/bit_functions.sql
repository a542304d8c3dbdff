-- bit: Hamming and Jaccard distances between bit strings, their operators,
-- and binary_quantize of halfvec.

SELECT hamming_distance('111', '111'), hamming_distance('111', '110'), hamming_distance('111', '100'), hamming_distance('111', '000');
SELECT jaccard_distance('1111', '1111'), jaccard_distance('1111', '1110'), jaccard_distance('1111', '1100'), jaccard_distance('1100', '1010');
SELECT jaccard_distance('1111', '0000'), jaccard_distance('0000', '0000'), jaccard_distance('1010', '0101');
SELECT hamming_distance('', ''), jaccard_distance('', '');
SELECT '1100'::bit(4) <~> '1010', '1100'::bit(4) <%> '1010';
SELECT B'101' <~> B'010', X'ff' <%> X'0f';
SELECT hamming_distance('111', '000'::varbit(4)), jaccard_distance('1111', '0000'::varbit(5));

-- the operators are their own commutators
SELECT '1100'::bit(4) <~> '0111' = '0111'::bit(4) <~> '1100', '1100'::bit(4) <%> '0111' = '0111'::bit(4) <%> '1100';

-- different lengths
SELECT hamming_distance('111', '00');
SELECT jaccard_distance('1111', '000');
SELECT '1'::bit(1) <~> '10';
SELECT hamming_distance('111', '0000'::varbit(4));

-- NULLs
SELECT hamming_distance(NULL, '1'), jaccard_distance('1', NULL);

-- lengths on both sides of every word and block size of the kernels
SELECT n, a <~> b AS hamming, a <%> b AS jaccard, a <~> a AS self_h, a <%> a AS self_j,
       z <~> a AS zero_h, z <%> z AS zero_j
FROM (SELECT n,
        (SELECT string_agg(CASE WHEN (i * 7) % 3 = 0 THEN '1' ELSE '0' END, '') FROM generate_series(1, n) i)::varbit AS a,
        (SELECT string_agg(CASE WHEN (i * 5) % 7 < 3 THEN '1' ELSE '0' END, '') FROM generate_series(1, n) i)::varbit AS b,
        repeat('0', n)::varbit AS z
      FROM unnest(ARRAY[1, 7, 8, 9, 63, 64, 65, 511, 512, 513, 1023, 1024, 1025, 1537, 2048, 2049, 4096, 64000]) n) t
ORDER BY n;

-- binary_quantize of halfvec, and distances between quantized values
SELECT binary_quantize('[1,0,-1]'::halfvec), binary_quantize('[0,0.1,-0.2,-0.3,0.4,0.5,0.6,-0.7,0.8,-0.9,1]'::halfvec);
SELECT binary_quantize('[1,-2,3]'::halfvec) <~> binary_quantize('[-1,-2,3]'::vector),
       binary_quantize('[1,-2,3]'::halfvec) <%> binary_quantize('[-1,-2,3]'::vector);
SELECT length(binary_quantize(array_fill(1, ARRAY[16000])::halfvec)), bit_count(binary_quantize(array_fill(1, ARRAY[16000])::halfvec));
