-- hnsw on halfvec and bit: every operator class, limits, query checks.
-- Only pgvector's SQL surface (this file is in compat_schedule).

SET enable_seqscan = off;

-- halfvec
CREATE TABLE hnsw_half (id int PRIMARY KEY, v halfvec(3));
INSERT INTO hnsw_half VALUES
  (1, '[1,1,1]'), (2, '[2,2,2]'), (3, '[1,1,2]'), (4, '[-1,0,1]'), (5, '[0,0,0]'),
  (6, NULL), (7, '[5,3,1]'), (8, '[1,2,3]'), (9, '[3,2,1]'), (10, '[-2,-2,-2.5]');

CREATE INDEX hnsw_half_l2 ON hnsw_half USING hnsw (v halfvec_l2_ops);
EXPLAIN (COSTS OFF) SELECT id FROM hnsw_half ORDER BY v <-> '[1,1,1]' LIMIT 3;
SELECT * FROM (SELECT id, v <-> '[1,1,1]' AS distance FROM hnsw_half ORDER BY v <-> '[1,1,1]' LIMIT 4) t ORDER BY distance, id;
SELECT count(*) FROM (SELECT id FROM hnsw_half ORDER BY v <-> '[0,0,0]') t;
SELECT id FROM hnsw_half ORDER BY v <-> '[1,2]' LIMIT 3;
DROP INDEX hnsw_half_l2;

CREATE INDEX hnsw_half_ip ON hnsw_half USING hnsw (v halfvec_ip_ops);
SELECT * FROM (SELECT id, v <#> '[1,2,3]' AS distance FROM hnsw_half ORDER BY v <#> '[1,2,3]' LIMIT 5) t ORDER BY distance, id;
DROP INDEX hnsw_half_ip;

-- cosine skips the zero vector
CREATE INDEX hnsw_half_cosine ON hnsw_half USING hnsw (v halfvec_cosine_ops);
SELECT * FROM (SELECT id, v <=> '[1,1,1]' AS distance FROM hnsw_half ORDER BY v <=> '[1,1,1]' LIMIT 5) t ORDER BY distance, id;
SELECT count(*) FROM (SELECT id FROM hnsw_half ORDER BY v <=> '[1,1,1]') t;
DROP INDEX hnsw_half_cosine;

CREATE INDEX hnsw_half_l1 ON hnsw_half USING hnsw (v halfvec_l1_ops);
SELECT * FROM (SELECT id, v <+> '[1,1,1]' AS distance FROM hnsw_half ORDER BY v <+> '[1,1,1]' LIMIT 2) t ORDER BY distance, id;
-- inserts after the build
INSERT INTO hnsw_half SELECT 100 + i, ARRAY[i, i, i] FROM generate_series(1, 20) i;
SELECT id FROM hnsw_half ORDER BY v <+> '[19.9,20,20]' LIMIT 2;
DROP TABLE hnsw_half;

-- the index gives the exact top 10 on a small set (the exact list orders by
-- an expression the index cannot serve)
CREATE TABLE hnsw_half_many (id int, v halfvec(8));
SELECT setseed(0.5);
INSERT INTO hnsw_half_many SELECT i, ARRAY(SELECT round((random() * 8)::numeric, 2) + i * 0 FROM generate_series(1, 8)) FROM generate_series(1, 2000) i;
CREATE INDEX ON hnsw_half_many USING hnsw (v halfvec_l2_ops);
SET hnsw.ef_search = 200;
SELECT array_agg(id ORDER BY d, id) = (SELECT array_agg(id ORDER BY d, id) FROM (SELECT id, v <-> '[4,4,4,4,4,4,4,4]' AS d FROM hnsw_half_many ORDER BY (v <-> '[4,4,4,4,4,4,4,4]') + 0 LIMIT 10) e) AS exact
  FROM (SELECT id, v <-> '[4,4,4,4,4,4,4,4]' AS d FROM hnsw_half_many ORDER BY v <-> '[4,4,4,4,4,4,4,4]' LIMIT 10) i;
RESET hnsw.ef_search;
DROP TABLE hnsw_half_many;

-- halfvec limits: 4000 dimensions (pgvector's 2000 floats' worth of bytes)
CREATE TABLE hnsw_half_nodims (v halfvec);
CREATE INDEX ON hnsw_half_nodims USING hnsw (v halfvec_l2_ops);
CREATE TABLE hnsw_half_toobig (v halfvec(4001));
CREATE INDEX ON hnsw_half_toobig USING hnsw (v halfvec_l2_ops);
CREATE TABLE hnsw_half_max (v halfvec(4000));
CREATE INDEX ON hnsw_half_max USING hnsw (v halfvec_l2_ops);
INSERT INTO hnsw_half_max SELECT array_fill(i, ARRAY[4000]) FROM generate_series(1, 3) i;
SELECT v = array_fill(2, ARRAY[4000])::halfvec FROM hnsw_half_max ORDER BY v <-> array_fill(2.1, ARRAY[4000])::halfvec LIMIT 1;
DROP TABLE hnsw_half_nodims, hnsw_half_toobig, hnsw_half_max;

-- bit
CREATE TABLE hnsw_bits (id int PRIMARY KEY, b bit(10));
INSERT INTO hnsw_bits VALUES
  (1, '1111000011'), (2, '1111000000'), (3, '0000000000'), (4, '1010101010'),
  (5, '0101010101'), (6, NULL), (7, '1111111111'), (8, '1100000011');

CREATE INDEX hnsw_hamming ON hnsw_bits USING hnsw (b bit_hamming_ops);
EXPLAIN (COSTS OFF) SELECT id FROM hnsw_bits ORDER BY b <~> '1111000011' LIMIT 3;
SELECT * FROM (SELECT id, b <~> '1111000011' AS distance FROM hnsw_bits ORDER BY b <~> '1111000011' LIMIT 4) t ORDER BY distance, id;
SELECT count(*) FROM (SELECT id FROM hnsw_bits ORDER BY b <~> '0000000000') t;
SELECT id FROM hnsw_bits ORDER BY b <~> '111' LIMIT 3;
DROP INDEX hnsw_hamming;

CREATE INDEX hnsw_jaccard ON hnsw_bits USING hnsw (b bit_jaccard_ops);
SELECT * FROM (SELECT id, b <%> '1111000011' AS distance FROM hnsw_bits ORDER BY b <%> '1111000011' LIMIT 4) t ORDER BY distance, id;
SELECT count(*) FROM (SELECT id FROM hnsw_bits ORDER BY b <%> '1111000011') t;
INSERT INTO hnsw_bits VALUES (9, '1111000111');
SELECT id FROM hnsw_bits ORDER BY b <%> '1111000111' LIMIT 1;
DROP TABLE hnsw_bits;

-- binary_quantize expression index: the index gives the exact top 10 distances
CREATE TABLE hnsw_bq (id int, v vector(64));
INSERT INTO hnsw_bq SELECT i, ARRAY(SELECT sin(i * j) FROM generate_series(1, 64) j) FROM generate_series(1, 2000) i;
CREATE INDEX ON hnsw_bq USING hnsw ((binary_quantize(v)::bit(64)) bit_hamming_ops);
SET hnsw.ef_search = 200;
SELECT array_agg(d ORDER BY d) = (SELECT array_agg(d ORDER BY d) FROM (SELECT binary_quantize(v)::bit(64) <~> binary_quantize((SELECT v FROM hnsw_bq WHERE id = 7))::bit(64) AS d FROM hnsw_bq ORDER BY (binary_quantize(v)::bit(64) <~> binary_quantize((SELECT v FROM hnsw_bq WHERE id = 7))::bit(64)) + 0 LIMIT 10) e) AS exact
  FROM (SELECT binary_quantize(v)::bit(64) <~> binary_quantize((SELECT v FROM hnsw_bq WHERE id = 7))::bit(64) AS d FROM hnsw_bq
        ORDER BY binary_quantize(v)::bit(64) <~> binary_quantize((SELECT v FROM hnsw_bq WHERE id = 7))::bit(64) LIMIT 10) i;
RESET hnsw.ef_search;
DROP TABLE hnsw_bq;

-- bit limits: 64000 bits
CREATE TABLE hnsw_varbit (b varbit);
CREATE INDEX ON hnsw_varbit USING hnsw (b bit_hamming_ops);
CREATE TABLE hnsw_bit_toobig (b bit(64001));
CREATE INDEX ON hnsw_bit_toobig USING hnsw (b bit_hamming_ops);
CREATE TABLE hnsw_bit_max (b bit(64000));
CREATE INDEX ON hnsw_bit_max USING hnsw (b bit_hamming_ops);
INSERT INTO hnsw_bit_max SELECT repeat(i::text, 64000)::bit(64000) FROM generate_series(0, 1) i;
SELECT bit_count(b) FROM hnsw_bit_max ORDER BY b <~> repeat('1', 64000)::bit(64000) LIMIT 1;
DROP TABLE hnsw_varbit, hnsw_bit_toobig, hnsw_bit_max;

RESET ALL;
