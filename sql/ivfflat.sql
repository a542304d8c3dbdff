-- lodestone: the ivfflat index access method, with pgvector 0.8.6's names
-- for the access method, its handler, its support functions and its
-- operator classes. C symbols are Rust functions in src/am/ivfflat/.

CREATE FUNCTION ivfflathandler(internal) RETURNS index_am_handler
	AS 'MODULE_PATHNAME', 'ivfflathandler_wrapper' LANGUAGE C;

CREATE ACCESS METHOD ivfflat TYPE INDEX HANDLER ivfflathandler;

COMMENT ON ACCESS METHOD ivfflat IS 'ivfflat index access method';

-- Support function 5 of the halfvec and bit classes: pgvector's C code
-- learns the element type through it; lodestone reads it from the column.

CREATE FUNCTION ivfflat_halfvec_support(internal) RETURNS internal
	AS 'MODULE_PATHNAME', 'ivfflat_halfvec_support_wrapper' LANGUAGE C;

CREATE FUNCTION ivfflat_bit_support(internal) RETURNS internal
	AS 'MODULE_PATHNAME', 'ivfflat_bit_support_wrapper' LANGUAGE C;

-- operator classes for vector

CREATE OPERATOR CLASS vector_l2_ops
	DEFAULT FOR TYPE vector USING ivfflat AS
	OPERATOR 1 <-> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 vector_l2_squared_distance(vector, vector),
	FUNCTION 3 l2_distance(vector, vector);

CREATE OPERATOR CLASS vector_ip_ops
	FOR TYPE vector USING ivfflat AS
	OPERATOR 1 <#> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 vector_negative_inner_product(vector, vector),
	FUNCTION 3 vector_spherical_distance(vector, vector),
	FUNCTION 4 vector_norm(vector);

CREATE OPERATOR CLASS vector_cosine_ops
	FOR TYPE vector USING ivfflat AS
	OPERATOR 1 <=> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 vector_negative_inner_product(vector, vector),
	FUNCTION 2 vector_norm(vector),
	FUNCTION 3 vector_spherical_distance(vector, vector),
	FUNCTION 4 vector_norm(vector);

-- operator classes for halfvec

CREATE OPERATOR CLASS halfvec_l2_ops
	FOR TYPE halfvec USING ivfflat AS
	OPERATOR 1 <-> (halfvec, halfvec) FOR ORDER BY float_ops,
	FUNCTION 1 halfvec_l2_squared_distance(halfvec, halfvec),
	FUNCTION 3 l2_distance(halfvec, halfvec),
	FUNCTION 5 ivfflat_halfvec_support(internal);

CREATE OPERATOR CLASS halfvec_ip_ops
	FOR TYPE halfvec USING ivfflat AS
	OPERATOR 1 <#> (halfvec, halfvec) FOR ORDER BY float_ops,
	FUNCTION 1 halfvec_negative_inner_product(halfvec, halfvec),
	FUNCTION 3 halfvec_spherical_distance(halfvec, halfvec),
	FUNCTION 4 l2_norm(halfvec),
	FUNCTION 5 ivfflat_halfvec_support(internal);

CREATE OPERATOR CLASS halfvec_cosine_ops
	FOR TYPE halfvec USING ivfflat AS
	OPERATOR 1 <=> (halfvec, halfvec) FOR ORDER BY float_ops,
	FUNCTION 1 halfvec_negative_inner_product(halfvec, halfvec),
	FUNCTION 2 l2_norm(halfvec),
	FUNCTION 3 halfvec_spherical_distance(halfvec, halfvec),
	FUNCTION 4 l2_norm(halfvec),
	FUNCTION 5 ivfflat_halfvec_support(internal);

-- operator classes for bit

CREATE OPERATOR CLASS bit_hamming_ops
	FOR TYPE bit USING ivfflat AS
	OPERATOR 1 <~> (bit, bit) FOR ORDER BY float_ops,
	FUNCTION 1 hamming_distance(bit, bit),
	FUNCTION 3 hamming_distance(bit, bit),
	FUNCTION 5 ivfflat_bit_support(internal);

-- introspection (lodestone only)

CREATE FUNCTION lodestone_ivfflat_info(index regclass,
	OUT lists integer, OUT tuples bigint, OUT pages bigint, OUT empty_lists integer,
	OUT largest_list bigint, OUT dimensions integer, OUT metric text)
	RETURNS SETOF record ROWS 1
	AS 'MODULE_PATHNAME', 'lodestone_ivfflat_info_wrapper' LANGUAGE C STRICT;

COMMENT ON FUNCTION lodestone_ivfflat_info(regclass) IS 'size and shape of a lodestone ivfflat index';

CREATE FUNCTION lodestone_ivfflat_verify(index regclass,
	OUT problem text, OUT block bigint, OUT item integer, OUT detail text)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'lodestone_ivfflat_verify_wrapper' LANGUAGE C STRICT;

COMMENT ON FUNCTION lodestone_ivfflat_verify(regclass) IS 'walks a lodestone ivfflat index and lists broken list chains, bad pages and items, duplicate heap TIDs and orphan pages (no rows when sound)';
