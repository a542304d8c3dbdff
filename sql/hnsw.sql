-- lodestone: the hnsw index access method, with pgvector's names for the
-- access method, its handler and its operator classes. C symbols are Rust
-- functions in src/hnsw/am/.

CREATE FUNCTION hnswhandler(internal) RETURNS index_am_handler
	AS 'MODULE_PATHNAME', 'hnswhandler_wrapper' LANGUAGE C;

CREATE ACCESS METHOD hnsw TYPE INDEX HANDLER hnswhandler;

COMMENT ON ACCESS METHOD hnsw IS 'hnsw index access method';

-- operator classes for vector

CREATE OPERATOR CLASS vector_l2_ops
	FOR TYPE vector USING hnsw AS
	OPERATOR 1 <-> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 vector_l2_squared_distance(vector, vector);

CREATE OPERATOR CLASS vector_ip_ops
	FOR TYPE vector USING hnsw AS
	OPERATOR 1 <#> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 vector_negative_inner_product(vector, vector);

CREATE OPERATOR CLASS vector_cosine_ops
	FOR TYPE vector USING hnsw AS
	OPERATOR 1 <=> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 vector_negative_inner_product(vector, vector),
	FUNCTION 2 vector_norm(vector);

CREATE OPERATOR CLASS vector_l1_ops
	FOR TYPE vector USING hnsw AS
	OPERATOR 1 <+> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 l1_distance(vector, vector);

-- introspection (lodestone only)

CREATE FUNCTION lodestone_hnsw_info(index regclass,
	OUT nodes bigint, OUT heap_tids bigint, OUT deleted_nodes bigint, OUT free_slots bigint,
	OUT max_level integer, OUT pages bigint, OUT bytes bigint, OUT nodes_per_page integer,
	OUT m integer, OUT ef_construction integer, OUT dimensions integer, OUT metric text)
	RETURNS SETOF record ROWS 1
	AS 'MODULE_PATHNAME', 'lodestone_hnsw_info_wrapper' LANGUAGE C STRICT;

COMMENT ON FUNCTION lodestone_hnsw_info(regclass) IS 'size and contents of a lodestone hnsw index';

CREATE FUNCTION lodestone_hnsw_verify(index regclass,
	OUT problem text, OUT block bigint, OUT item integer, OUT detail text)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'lodestone_hnsw_verify_wrapper' LANGUAGE C STRICT;

COMMENT ON FUNCTION lodestone_hnsw_verify(regclass) IS 'walks a lodestone hnsw index and lists dangling links, unreachable nodes and bad pages (no rows when sound)';
