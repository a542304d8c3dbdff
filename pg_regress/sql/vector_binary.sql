-- vector: binary send/recv (int16 dim, int16 unused = 0, float4 values, all
-- big-endian), through binary COPY and through crafted bytes.

SELECT vector_send('[1,2,3]');
SELECT vector_send('[-0,1.5e38,1e-45]');

-- binary COPY round trip, NULLs included
CREATE TABLE vector_bin (id int, v vector(3));
INSERT INTO vector_bin VALUES (1, '[1,2,3]'), (2, '[-0,0.1,1e-45]'), (3, NULL), (4, '[3.4028235e38,-1,0]');
\copy vector_bin TO 'results/vector.bin' WITH (FORMAT binary)
CREATE TABLE vector_bin2 (LIKE vector_bin);
\copy vector_bin2 FROM 'results/vector.bin' WITH (FORMAT binary)
SELECT a.id, a.v, b.v, vector_send(a.v) = vector_send(b.v) AS same_bytes
FROM vector_bin a JOIN vector_bin2 b USING (id) ORDER BY id;

-- Crafted bytes: COPY a bytea out in binary format, whose field bytes are
-- exactly the bytes given, and read them back into a vector column.
CREATE TABLE vector_recv (v vector);
CREATE TABLE vector_recv3 (v vector(3));

-- a valid value
\copy (SELECT '\x000200003f80000040000000'::bytea) TO 'results/crafted.bin' WITH (FORMAT binary)
\copy vector_recv FROM 'results/crafted.bin' WITH (FORMAT binary)
SELECT * FROM vector_recv;
-- the typmod is checked on receive
\copy vector_recv3 FROM 'results/crafted.bin' WITH (FORMAT binary)
-- unused must be 0
\copy (SELECT '\x000200013f80000040000000'::bytea) TO 'results/crafted.bin' WITH (FORMAT binary)
\copy vector_recv FROM 'results/crafted.bin' WITH (FORMAT binary)
-- zero, negative and too many dimensions
\copy (SELECT '\x00000000'::bytea) TO 'results/crafted.bin' WITH (FORMAT binary)
\copy vector_recv FROM 'results/crafted.bin' WITH (FORMAT binary)
\copy (SELECT '\xffff0000'::bytea) TO 'results/crafted.bin' WITH (FORMAT binary)
\copy vector_recv FROM 'results/crafted.bin' WITH (FORMAT binary)
\copy (SELECT '\x3e810000'::bytea) TO 'results/crafted.bin' WITH (FORMAT binary)
\copy vector_recv FROM 'results/crafted.bin' WITH (FORMAT binary)
-- NaN and infinity are refused
\copy (SELECT '\x000200003f8000007fc00000'::bytea) TO 'results/crafted.bin' WITH (FORMAT binary)
\copy vector_recv FROM 'results/crafted.bin' WITH (FORMAT binary)
\copy (SELECT '\x00020000ff8000003f800000'::bytea) TO 'results/crafted.bin' WITH (FORMAT binary)
\copy vector_recv FROM 'results/crafted.bin' WITH (FORMAT binary)
-- fewer bytes than the header promises
\copy (SELECT '\x000300003f80000040000000'::bytea) TO 'results/crafted.bin' WITH (FORMAT binary)
\copy vector_recv FROM 'results/crafted.bin' WITH (FORMAT binary)
\copy (SELECT '\x00'::bytea) TO 'results/crafted.bin' WITH (FORMAT binary)
\copy vector_recv FROM 'results/crafted.bin' WITH (FORMAT binary)
-- more bytes than the header promises
\copy (SELECT '\x000100003f80000040000000'::bytea) TO 'results/crafted.bin' WITH (FORMAT binary)
\copy vector_recv FROM 'results/crafted.bin' WITH (FORMAT binary)
SELECT count(*) FROM vector_recv;

DROP TABLE vector_bin, vector_bin2, vector_recv, vector_recv3;
