-- halfvec: binary send/recv (int16 dim, int16 unused = 0, binary16 values,
-- all big-endian), through binary COPY and through crafted bytes.

SELECT halfvec_send('[1,2,3]');
SELECT halfvec_send('[-0,65504,-65504,5.9604645e-08,6.1035156e-05,0.1]');

-- binary COPY round trip, NULLs included
CREATE TABLE halfvec_bin (id int, v halfvec(3));
INSERT INTO halfvec_bin VALUES (1, '[1,2,3]'), (2, '[-0,0.1,5.9604645e-08]'), (3, NULL), (4, '[65504,-65504,0]');
\copy halfvec_bin TO 'results/halfvec.bin' WITH (FORMAT binary)
CREATE TABLE halfvec_bin2 (LIKE halfvec_bin);
\copy halfvec_bin2 FROM 'results/halfvec.bin' WITH (FORMAT binary)
SELECT a.id, a.v, b.v, halfvec_send(a.v) = halfvec_send(b.v) AS same_bytes
FROM halfvec_bin a JOIN halfvec_bin2 b USING (id) ORDER BY id;

-- Crafted bytes: COPY a bytea out in binary format, whose field bytes are
-- exactly the bytes given, and read them back into a halfvec column.
CREATE TABLE halfvec_recv (v halfvec);
CREATE TABLE halfvec_recv3 (v halfvec(3));

-- valid values: [1,2], and [smallest subnormal, -0]
\copy (SELECT '\x000200003c004000'::bytea) TO 'results/halfvec_crafted.bin' WITH (FORMAT binary)
\copy halfvec_recv FROM 'results/halfvec_crafted.bin' WITH (FORMAT binary)
\copy (SELECT '\x0002000000018000'::bytea) TO 'results/halfvec_crafted.bin' WITH (FORMAT binary)
\copy halfvec_recv FROM 'results/halfvec_crafted.bin' WITH (FORMAT binary)
SELECT v, halfvec_send(v) FROM halfvec_recv;
-- the typmod is checked on receive
\copy halfvec_recv3 FROM 'results/halfvec_crafted.bin' WITH (FORMAT binary)
-- unused must be 0
\copy (SELECT '\x000200013c004000'::bytea) TO 'results/halfvec_crafted.bin' WITH (FORMAT binary)
\copy halfvec_recv FROM 'results/halfvec_crafted.bin' WITH (FORMAT binary)
-- zero, negative and too many dimensions
\copy (SELECT '\x00000000'::bytea) TO 'results/halfvec_crafted.bin' WITH (FORMAT binary)
\copy halfvec_recv FROM 'results/halfvec_crafted.bin' WITH (FORMAT binary)
\copy (SELECT '\xffff0000'::bytea) TO 'results/halfvec_crafted.bin' WITH (FORMAT binary)
\copy halfvec_recv FROM 'results/halfvec_crafted.bin' WITH (FORMAT binary)
\copy (SELECT '\x3e810000'::bytea) TO 'results/halfvec_crafted.bin' WITH (FORMAT binary)
\copy halfvec_recv FROM 'results/halfvec_crafted.bin' WITH (FORMAT binary)
-- NaN and infinities are refused, whatever their sign and payload
\copy (SELECT '\x000200003c007e00'::bytea) TO 'results/halfvec_crafted.bin' WITH (FORMAT binary)
\copy halfvec_recv FROM 'results/halfvec_crafted.bin' WITH (FORMAT binary)
\copy (SELECT '\x00010000fc01'::bytea) TO 'results/halfvec_crafted.bin' WITH (FORMAT binary)
\copy halfvec_recv FROM 'results/halfvec_crafted.bin' WITH (FORMAT binary)
\copy (SELECT '\x000200007c003c00'::bytea) TO 'results/halfvec_crafted.bin' WITH (FORMAT binary)
\copy halfvec_recv FROM 'results/halfvec_crafted.bin' WITH (FORMAT binary)
\copy (SELECT '\x00010000fc00'::bytea) TO 'results/halfvec_crafted.bin' WITH (FORMAT binary)
\copy halfvec_recv FROM 'results/halfvec_crafted.bin' WITH (FORMAT binary)
-- fewer bytes than the header promises
\copy (SELECT '\x000300003c004000'::bytea) TO 'results/halfvec_crafted.bin' WITH (FORMAT binary)
\copy halfvec_recv FROM 'results/halfvec_crafted.bin' WITH (FORMAT binary)
\copy (SELECT '\x0001000000'::bytea) TO 'results/halfvec_crafted.bin' WITH (FORMAT binary)
\copy halfvec_recv FROM 'results/halfvec_crafted.bin' WITH (FORMAT binary)
\copy (SELECT '\x00'::bytea) TO 'results/halfvec_crafted.bin' WITH (FORMAT binary)
\copy halfvec_recv FROM 'results/halfvec_crafted.bin' WITH (FORMAT binary)
-- more bytes than the header promises
\copy (SELECT '\x000100003c004000'::bytea) TO 'results/halfvec_crafted.bin' WITH (FORMAT binary)
\copy halfvec_recv FROM 'results/halfvec_crafted.bin' WITH (FORMAT binary)
SELECT count(*) FROM halfvec_recv;

DROP TABLE halfvec_bin, halfvec_bin2, halfvec_recv, halfvec_recv3;
