-- ivfflat on bit (hamming): inserts, NULL queries, varbit and casts,
-- limits, memory. Covers pgvector 0.8.6's test/sql/ivfflat_bit.sql.

SET enable_seqscan = off;

-- hamming
CREATE TABLE ivf_b (val bit(3));
INSERT INTO ivf_b (val) VALUES (B'000'), (B'100'), (B'111'), (NULL);
CREATE INDEX ON ivf_b USING ivfflat (val bit_hamming_ops) WITH (lists = 1);
INSERT INTO ivf_b (val) VALUES (B'110');
EXPLAIN (COSTS OFF) SELECT * FROM ivf_b ORDER BY val <~> B'111';
SELECT * FROM ivf_b ORDER BY val <~> B'111';
SELECT count(*) FROM (SELECT * FROM ivf_b ORDER BY val <~> (SELECT NULL::bit)) t2;
-- a query of another length
SELECT * FROM ivf_b ORDER BY val <~> B'11';
DROP TABLE ivf_b;

-- varbit has no fixed length; a cast to bit(n) does
CREATE TABLE ivf_b (val varbit(3));
CREATE INDEX ON ivf_b USING ivfflat (val bit_hamming_ops) WITH (lists = 1);
CREATE INDEX ON ivf_b USING ivfflat ((val::bit(3)) bit_hamming_ops) WITH (lists = 1);
CREATE INDEX ON ivf_b USING ivfflat ((val::bit(64001)) bit_hamming_ops) WITH (lists = 1);
CREATE INDEX ON ivf_b USING ivfflat ((val::bit(2)) bit_hamming_ops) WITH (lists = 5);
DROP TABLE ivf_b;

-- many rows, several lists, every list probed: the index returns exactly
-- what a sequential scan does
CREATE TABLE ivf_b (id int, val bit(16));
INSERT INTO ivf_b SELECT i, (i * 2654435761 % 65536)::bit(16) FROM generate_series(1, 3000) i;
CREATE INDEX ON ivf_b USING ivfflat (val bit_hamming_ops) WITH (lists = 6);
SET ivfflat.probes = 6;
SELECT array_agg(id) FROM (SELECT id FROM ivf_b ORDER BY val <~> B'1010101010101010', id LIMIT 6) t;
RESET enable_seqscan;
SET enable_indexscan = off;
SELECT array_agg(id) FROM (SELECT id FROM ivf_b ORDER BY val <~> B'1010101010101010', id LIMIT 6) t;
RESET enable_indexscan;
SET enable_seqscan = off;
RESET ivfflat.probes;
DROP TABLE ivf_b;

-- dimensions
CREATE TABLE ivf_b (val bit(64000));
CREATE INDEX ON ivf_b USING ivfflat (val bit_hamming_ops);
DROP TABLE ivf_b;
CREATE TABLE ivf_b (val bit(64001));
CREATE INDEX ON ivf_b USING ivfflat (val bit_hamming_ops);
DROP TABLE ivf_b;

-- memory
SET maintenance_work_mem = '1MB';
CREATE TABLE ivf_b (val bit(64000));
CREATE INDEX ON ivf_b USING ivfflat (val bit_hamming_ops);
DROP TABLE ivf_b;
RESET maintenance_work_mem;
SET maintenance_work_mem = '29MB';
CREATE TABLE ivf_b (val bit(64000));
INSERT INTO ivf_b (val) VALUES (B'0'::bit(64000));
CREATE INDEX ON ivf_b USING ivfflat (val bit_hamming_ops);
DROP TABLE ivf_b;
RESET maintenance_work_mem;
