-- sparsevec: binary send/recv (int32 dim, int32 nnz, int32 unused = 0,
-- nnz int32 0-based ascending indices, nnz float4 non-zero values, all
-- big-endian), through binary COPY and through crafted bytes.

SELECT sparsevec_send('{1:1.5,3:-2}/5');
SELECT sparsevec_send('{}/1000000000'), sparsevec_send('{1000000000:1e-45}/1000000000');

-- binary COPY round trip, NULLs included
CREATE TABLE sparsevec_bin (id int, v sparsevec(5));
INSERT INTO sparsevec_bin VALUES (1, '{1:1,2:2,5:3}/5'), (2, '{}/5'), (3, NULL), (4, '{3:-3.4028235e38,4:1e-45}/5');
\copy sparsevec_bin TO 'results/sparsevec.bin' WITH (FORMAT binary)
CREATE TABLE sparsevec_bin2 (LIKE sparsevec_bin);
\copy sparsevec_bin2 FROM 'results/sparsevec.bin' WITH (FORMAT binary)
SELECT a.id, a.v, b.v, sparsevec_send(a.v) = sparsevec_send(b.v) AS same_bytes
FROM sparsevec_bin a JOIN sparsevec_bin2 b USING (id) ORDER BY id;

-- Crafted bytes: COPY a bytea out in binary format, whose field bytes are
-- exactly the bytes given, and read them back into a sparsevec column.
CREATE TABLE sparsevec_recv (v sparsevec);
CREATE TABLE sparsevec_recv3 (v sparsevec(3));

-- valid values: {1:1.5,4:-2}/5 and {}/3
\copy (SELECT '\x00000005000000020000000000000000000000033fc00000c0000000'::bytea) TO 'results/sparsevec_crafted.bin' WITH (FORMAT binary)
\copy sparsevec_recv FROM 'results/sparsevec_crafted.bin' WITH (FORMAT binary)
\copy (SELECT '\x000000030000000000000000'::bytea) TO 'results/sparsevec_crafted.bin' WITH (FORMAT binary)
\copy sparsevec_recv FROM 'results/sparsevec_crafted.bin' WITH (FORMAT binary)
\copy sparsevec_recv3 FROM 'results/sparsevec_crafted.bin' WITH (FORMAT binary)
SELECT v, sparsevec_send(v) FROM sparsevec_recv;
SELECT v FROM sparsevec_recv3;
-- the typmod is checked on receive
\copy (SELECT '\x00000005000000020000000000000000000000033fc00000c0000000'::bytea) TO 'results/sparsevec_crafted.bin' WITH (FORMAT binary)
\copy sparsevec_recv3 FROM 'results/sparsevec_crafted.bin' WITH (FORMAT binary)
-- unused must be 0
\copy (SELECT '\x000000030000000000000007'::bytea) TO 'results/sparsevec_crafted.bin' WITH (FORMAT binary)
\copy sparsevec_recv FROM 'results/sparsevec_crafted.bin' WITH (FORMAT binary)
-- zero, negative and too many dimensions
\copy (SELECT '\x000000000000000000000000'::bytea) TO 'results/sparsevec_crafted.bin' WITH (FORMAT binary)
\copy sparsevec_recv FROM 'results/sparsevec_crafted.bin' WITH (FORMAT binary)
\copy (SELECT '\xffffffff0000000000000000'::bytea) TO 'results/sparsevec_crafted.bin' WITH (FORMAT binary)
\copy sparsevec_recv FROM 'results/sparsevec_crafted.bin' WITH (FORMAT binary)
\copy (SELECT '\x3b9aca010000000000000000'::bytea) TO 'results/sparsevec_crafted.bin' WITH (FORMAT binary)
\copy sparsevec_recv FROM 'results/sparsevec_crafted.bin' WITH (FORMAT binary)
-- negative, too many, and more non-zeros than dimensions (checked before
-- the typmod and the unused field)
\copy (SELECT '\x00000003ffffffff00000000'::bytea) TO 'results/sparsevec_crafted.bin' WITH (FORMAT binary)
\copy sparsevec_recv FROM 'results/sparsevec_crafted.bin' WITH (FORMAT binary)
\copy (SELECT '\x00004e2000003e8100000000'::bytea) TO 'results/sparsevec_crafted.bin' WITH (FORMAT binary)
\copy sparsevec_recv FROM 'results/sparsevec_crafted.bin' WITH (FORMAT binary)
\copy (SELECT '\x000000020000000300000007'::bytea) TO 'results/sparsevec_crafted.bin' WITH (FORMAT binary)
\copy sparsevec_recv3 FROM 'results/sparsevec_crafted.bin' WITH (FORMAT binary)
-- indices: out of bounds (above and below), descending, duplicated; each is
-- checked as it is read, before any value
\copy (SELECT '\x00000003000000010000000000000003'::bytea) TO 'results/sparsevec_crafted.bin' WITH (FORMAT binary)
\copy sparsevec_recv FROM 'results/sparsevec_crafted.bin' WITH (FORMAT binary)
\copy (SELECT '\x000000030000000100000000ffffffff3f800000'::bytea) TO 'results/sparsevec_crafted.bin' WITH (FORMAT binary)
\copy sparsevec_recv FROM 'results/sparsevec_crafted.bin' WITH (FORMAT binary)
\copy (SELECT '\x0000000300000002000000000000000200000001'::bytea) TO 'results/sparsevec_crafted.bin' WITH (FORMAT binary)
\copy sparsevec_recv FROM 'results/sparsevec_crafted.bin' WITH (FORMAT binary)
\copy (SELECT '\x0000000300000002000000000000000100000001'::bytea) TO 'results/sparsevec_crafted.bin' WITH (FORMAT binary)
\copy sparsevec_recv FROM 'results/sparsevec_crafted.bin' WITH (FORMAT binary)
-- values: zero (either sign), NaN and infinities are refused
\copy (SELECT '\x0000000300000001000000000000000000000000'::bytea) TO 'results/sparsevec_crafted.bin' WITH (FORMAT binary)
\copy sparsevec_recv FROM 'results/sparsevec_crafted.bin' WITH (FORMAT binary)
\copy (SELECT '\x0000000300000001000000000000000080000000'::bytea) TO 'results/sparsevec_crafted.bin' WITH (FORMAT binary)
\copy sparsevec_recv FROM 'results/sparsevec_crafted.bin' WITH (FORMAT binary)
\copy (SELECT '\x000000030000000100000000000000007fc00000'::bytea) TO 'results/sparsevec_crafted.bin' WITH (FORMAT binary)
\copy sparsevec_recv FROM 'results/sparsevec_crafted.bin' WITH (FORMAT binary)
\copy (SELECT '\x00000003000000010000000000000000ff800000'::bytea) TO 'results/sparsevec_crafted.bin' WITH (FORMAT binary)
\copy sparsevec_recv FROM 'results/sparsevec_crafted.bin' WITH (FORMAT binary)
-- a value is checked as it is read: the first bad one is reported
\copy (SELECT '\x00000003000000020000000000000000000000017fc0000000000000'::bytea) TO 'results/sparsevec_crafted.bin' WITH (FORMAT binary)
\copy sparsevec_recv FROM 'results/sparsevec_crafted.bin' WITH (FORMAT binary)
-- fewer bytes than the header promises
\copy (SELECT '\x00000003000000010000000000000000'::bytea) TO 'results/sparsevec_crafted.bin' WITH (FORMAT binary)
\copy sparsevec_recv FROM 'results/sparsevec_crafted.bin' WITH (FORMAT binary)
\copy (SELECT '\x0000000300000001000000000000000000'::bytea) TO 'results/sparsevec_crafted.bin' WITH (FORMAT binary)
\copy sparsevec_recv FROM 'results/sparsevec_crafted.bin' WITH (FORMAT binary)
\copy (SELECT '\x0000000300000001'::bytea) TO 'results/sparsevec_crafted.bin' WITH (FORMAT binary)
\copy sparsevec_recv FROM 'results/sparsevec_crafted.bin' WITH (FORMAT binary)
-- a bad index is reported even when the values are missing
\copy (SELECT '\x000000030000000200000000000000020000000100'::bytea) TO 'results/sparsevec_crafted.bin' WITH (FORMAT binary)
\copy sparsevec_recv FROM 'results/sparsevec_crafted.bin' WITH (FORMAT binary)
-- more bytes than the header promises
\copy (SELECT '\x00000003000000000000000000'::bytea) TO 'results/sparsevec_crafted.bin' WITH (FORMAT binary)
\copy sparsevec_recv FROM 'results/sparsevec_crafted.bin' WITH (FORMAT binary)
SELECT count(*) FROM sparsevec_recv;

DROP TABLE sparsevec_bin, sparsevec_bin2, sparsevec_recv, sparsevec_recv3;
