-- lodestone: threshold search. `v <<->> sphere(q, r)` holds when
-- `v <-> q < r` (and <<#>>, <<=>>, <<+>> for <#>, <=>, <+>), and an hnsw
-- index answers it: with ORDER BY v <-> q LIMIT k or alone (src/types/sphere.rs,
-- src/am/hnsw/scan.rs). lodestone only: pgvector has no such operators.
-- For vector, halfvec and sparsevec columns, all with sphere_vector: a
-- second sphere(halfvec, ...) would make an untyped literal
-- (sphere('[1,2,3]', 0.5), and every driver that sends text) ambiguous.

CREATE TYPE sphere_vector AS (center vector, radius double precision);

COMMENT ON TYPE sphere_vector IS 'a center and a radius: the operand of the threshold operators <<->>, <<#>>, <<=>> and <<+>> (lodestone only)';

CREATE FUNCTION sphere(vector, double precision) RETURNS sphere_vector
	AS 'SELECT ROW($1, $2)' LANGUAGE SQL IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION vector_l2_within(vector, sphere_vector) RETURNS bool
	AS 'MODULE_PATHNAME', 'vector_l2_within_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OPERATOR <<->> (
	LEFTARG = vector, RIGHTARG = sphere_vector, PROCEDURE = vector_l2_within,
	RESTRICT = contsel, JOIN = contjoinsel
);

CREATE FUNCTION vector_ip_within(vector, sphere_vector) RETURNS bool
	AS 'MODULE_PATHNAME', 'vector_ip_within_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OPERATOR <<#>> (
	LEFTARG = vector, RIGHTARG = sphere_vector, PROCEDURE = vector_ip_within,
	RESTRICT = contsel, JOIN = contjoinsel
);

CREATE FUNCTION vector_cosine_within(vector, sphere_vector) RETURNS bool
	AS 'MODULE_PATHNAME', 'vector_cosine_within_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OPERATOR <<=>> (
	LEFTARG = vector, RIGHTARG = sphere_vector, PROCEDURE = vector_cosine_within,
	RESTRICT = contsel, JOIN = contjoinsel
);

CREATE FUNCTION vector_l1_within(vector, sphere_vector) RETURNS bool
	AS 'MODULE_PATHNAME', 'vector_l1_within_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OPERATOR <<+>> (
	LEFTARG = vector, RIGHTARG = sphere_vector, PROCEDURE = vector_l1_within,
	RESTRICT = contsel, JOIN = contjoinsel
);

ALTER OPERATOR FAMILY vector_l2_ops USING hnsw ADD OPERATOR 2 <<->> (vector, sphere_vector);
ALTER OPERATOR FAMILY vector_ip_ops USING hnsw ADD OPERATOR 2 <<#>> (vector, sphere_vector);
ALTER OPERATOR FAMILY vector_cosine_ops USING hnsw ADD OPERATOR 2 <<=>> (vector, sphere_vector);
ALTER OPERATOR FAMILY vector_l1_ops USING hnsw ADD OPERATOR 2 <<+>> (vector, sphere_vector);

-- halfvec columns take the same sphere_vector; its center is rounded to
-- halves as the implicit vector-to-halfvec cast rounds a literal.

CREATE FUNCTION halfvec_l2_within(halfvec, sphere_vector) RETURNS bool
	AS 'MODULE_PATHNAME', 'halfvec_l2_within_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OPERATOR <<->> (
	LEFTARG = halfvec, RIGHTARG = sphere_vector, PROCEDURE = halfvec_l2_within,
	RESTRICT = contsel, JOIN = contjoinsel
);

CREATE FUNCTION halfvec_ip_within(halfvec, sphere_vector) RETURNS bool
	AS 'MODULE_PATHNAME', 'halfvec_ip_within_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OPERATOR <<#>> (
	LEFTARG = halfvec, RIGHTARG = sphere_vector, PROCEDURE = halfvec_ip_within,
	RESTRICT = contsel, JOIN = contjoinsel
);

CREATE FUNCTION halfvec_cosine_within(halfvec, sphere_vector) RETURNS bool
	AS 'MODULE_PATHNAME', 'halfvec_cosine_within_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OPERATOR <<=>> (
	LEFTARG = halfvec, RIGHTARG = sphere_vector, PROCEDURE = halfvec_cosine_within,
	RESTRICT = contsel, JOIN = contjoinsel
);

CREATE FUNCTION halfvec_l1_within(halfvec, sphere_vector) RETURNS bool
	AS 'MODULE_PATHNAME', 'halfvec_l1_within_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OPERATOR <<+>> (
	LEFTARG = halfvec, RIGHTARG = sphere_vector, PROCEDURE = halfvec_l1_within,
	RESTRICT = contsel, JOIN = contjoinsel
);

ALTER OPERATOR FAMILY halfvec_l2_ops USING hnsw ADD OPERATOR 2 <<->> (halfvec, sphere_vector);
ALTER OPERATOR FAMILY halfvec_ip_ops USING hnsw ADD OPERATOR 2 <<#>> (halfvec, sphere_vector);
ALTER OPERATOR FAMILY halfvec_cosine_ops USING hnsw ADD OPERATOR 2 <<=>> (halfvec, sphere_vector);
ALTER OPERATOR FAMILY halfvec_l1_ops USING hnsw ADD OPERATOR 2 <<+>> (halfvec, sphere_vector);

-- sparsevec columns too: the center's non-zeros, as the implicit
-- vector-to-sparsevec cast keeps them.

CREATE FUNCTION sparsevec_l2_within(sparsevec, sphere_vector) RETURNS bool
	AS 'MODULE_PATHNAME', 'sparsevec_l2_within_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OPERATOR <<->> (
	LEFTARG = sparsevec, RIGHTARG = sphere_vector, PROCEDURE = sparsevec_l2_within,
	RESTRICT = contsel, JOIN = contjoinsel
);

CREATE FUNCTION sparsevec_ip_within(sparsevec, sphere_vector) RETURNS bool
	AS 'MODULE_PATHNAME', 'sparsevec_ip_within_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OPERATOR <<#>> (
	LEFTARG = sparsevec, RIGHTARG = sphere_vector, PROCEDURE = sparsevec_ip_within,
	RESTRICT = contsel, JOIN = contjoinsel
);

CREATE FUNCTION sparsevec_cosine_within(sparsevec, sphere_vector) RETURNS bool
	AS 'MODULE_PATHNAME', 'sparsevec_cosine_within_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OPERATOR <<=>> (
	LEFTARG = sparsevec, RIGHTARG = sphere_vector, PROCEDURE = sparsevec_cosine_within,
	RESTRICT = contsel, JOIN = contjoinsel
);

CREATE FUNCTION sparsevec_l1_within(sparsevec, sphere_vector) RETURNS bool
	AS 'MODULE_PATHNAME', 'sparsevec_l1_within_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OPERATOR <<+>> (
	LEFTARG = sparsevec, RIGHTARG = sphere_vector, PROCEDURE = sparsevec_l1_within,
	RESTRICT = contsel, JOIN = contjoinsel
);

ALTER OPERATOR FAMILY sparsevec_l2_ops USING hnsw ADD OPERATOR 2 <<->> (sparsevec, sphere_vector);
ALTER OPERATOR FAMILY sparsevec_ip_ops USING hnsw ADD OPERATOR 2 <<#>> (sparsevec, sphere_vector);
ALTER OPERATOR FAMILY sparsevec_cosine_ops USING hnsw ADD OPERATOR 2 <<=>> (sparsevec, sphere_vector);
ALTER OPERATOR FAMILY sparsevec_l1_ops USING hnsw ADD OPERATOR 2 <<+>> (sparsevec, sphere_vector);
