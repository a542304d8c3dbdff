-- lodestone: the `pq` type (product-quantized vectors), its codebooks and
-- asymmetric distances from a `vector` query. Not in pgvector. The C
-- symbols are Rust functions in src/types/pq.rs; see docs/quantization.md.

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION lodestone" to load this file. \quit

-- type

CREATE TYPE pq;

CREATE FUNCTION pq_in(cstring, oid, integer) RETURNS pq
	AS 'MODULE_PATHNAME', 'pq_in_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION pq_out(pq) RETURNS cstring
	AS 'MODULE_PATHNAME', 'pq_out_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION pq_recv(internal, oid, integer) RETURNS pq
	AS 'MODULE_PATHNAME', 'pq_recv_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION pq_send(pq) RETURNS bytea
	AS 'MODULE_PATHNAME', 'pq_send_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- Small values stay inline (STORAGE main) and get 1-byte headers on disk.
CREATE TYPE pq (
	INPUT     = pq_in,
	OUTPUT    = pq_out,
	RECEIVE   = pq_recv,
	SEND      = pq_send,
	STORAGE   = main,
	ALIGNMENT = int4
);

-- codebooks: one row per trained codebook, immutable once written. Dumped
-- with the data once there is one (pq_codebooks_register below), so
-- pg_dump/pg_restore keep them.

CREATE SCHEMA lodestone;
GRANT USAGE ON SCHEMA lodestone TO PUBLIC;

CREATE TABLE lodestone.pq_codebooks (
	id          serial PRIMARY KEY,
	dims        integer NOT NULL CHECK (dims >= 1),
	subvectors  integer NOT NULL CHECK (subvectors >= 1 AND dims % subvectors = 0),
	bits        integer NOT NULL CHECK (bits BETWEEN 4 AND 8),
	metric      text NOT NULL DEFAULT 'l2',      -- what k-means minimised
	source      text,                            -- table.column trained on
	sample_rows integer,                         -- vectors trained on
	created     timestamptz NOT NULL DEFAULT now(),
	codebook    bytea NOT NULL                   -- centroids, versioned format (docs/quantization.md)
);
COMMENT ON TABLE lodestone.pq_codebooks IS 'lodestone product-quantization codebooks (rows are immutable; pq values refer to them by id)';
GRANT SELECT ON lodestone.pq_codebooks TO PUBLIC;

-- Registered for pg_dump by the first row stored, not here: a configuration
-- table is dumped even when empty, and that COPY would keep a dump of a
-- database that never used pq from restoring on pgvector
-- (src/types/pq_dump.rs).
CREATE FUNCTION lodestone.pq_codebooks_register() RETURNS trigger
	AS 'MODULE_PATHNAME', 'pq_codebooks_register_wrapper' LANGUAGE C;

CREATE TRIGGER pq_codebooks_register
	AFTER INSERT ON lodestone.pq_codebooks
	FOR EACH STATEMENT EXECUTE FUNCTION lodestone.pq_codebooks_register();

-- Backends cache codebooks: any change to the table invalidates the caches.
CREATE FUNCTION lodestone.pq_codebooks_invalidate() RETURNS trigger
	AS 'MODULE_PATHNAME', 'pq_codebooks_invalidate_wrapper' LANGUAGE C;

CREATE TRIGGER pq_codebooks_invalidate
	AFTER UPDATE OR DELETE OR TRUNCATE ON lodestone.pq_codebooks
	FOR EACH STATEMENT EXECUTE FUNCTION lodestone.pq_codebooks_invalidate();

CREATE FUNCTION lodestone.pq_train(rel regclass, col name, subvectors integer, bits integer DEFAULT 8, sample integer DEFAULT 100000)
	RETURNS integer
	AS 'MODULE_PATHNAME', 'pq_train_wrapper' LANGUAGE C VOLATILE STRICT;

COMMENT ON FUNCTION lodestone.pq_train(regclass, name, integer, integer, integer) IS 'trains a product-quantization codebook on a sample of a vector column; returns its id';

-- functions

CREATE FUNCTION pq_encode(vector, integer) RETURNS pq
	AS 'MODULE_PATHNAME', 'pq_encode_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION pq_decode(pq) RETURNS vector
	AS 'MODULE_PATHNAME', 'pq_decode_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION pq_codebook(pq) RETURNS integer
	AS 'MODULE_PATHNAME', 'pq_codebook_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION pq_l2_distance(vector, pq) RETURNS float8
	AS 'MODULE_PATHNAME', 'pq_l2_distance_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION pq_l2_distance(pq, vector) RETURNS float8
	AS 'MODULE_PATHNAME', 'pq_l2_distance_rev_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION pq_negative_inner_product(vector, pq) RETURNS float8
	AS 'MODULE_PATHNAME', 'pq_negative_inner_product_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION pq_negative_inner_product(pq, vector) RETURNS float8
	AS 'MODULE_PATHNAME', 'pq_negative_inner_product_rev_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION pq_cosine_distance(vector, pq) RETURNS float8
	AS 'MODULE_PATHNAME', 'pq_cosine_distance_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION pq_cosine_distance(pq, vector) RETURNS float8
	AS 'MODULE_PATHNAME', 'pq_cosine_distance_rev_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- operators: a vector query against pq values, either way round

CREATE OPERATOR <-> (
	LEFTARG = vector, RIGHTARG = pq, PROCEDURE = pq_l2_distance,
	COMMUTATOR = '<->'
);

CREATE OPERATOR <-> (
	LEFTARG = pq, RIGHTARG = vector, PROCEDURE = pq_l2_distance,
	COMMUTATOR = '<->'
);

CREATE OPERATOR <#> (
	LEFTARG = vector, RIGHTARG = pq, PROCEDURE = pq_negative_inner_product,
	COMMUTATOR = '<#>'
);

CREATE OPERATOR <#> (
	LEFTARG = pq, RIGHTARG = vector, PROCEDURE = pq_negative_inner_product,
	COMMUTATOR = '<#>'
);

CREATE OPERATOR <=> (
	LEFTARG = vector, RIGHTARG = pq, PROCEDURE = pq_cosine_distance,
	COMMUTATOR = '<=>'
);

CREATE OPERATOR <=> (
	LEFTARG = pq, RIGHTARG = vector, PROCEDURE = pq_cosine_distance,
	COMMUTATOR = '<=>'
);
