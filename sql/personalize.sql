-- lodestone: personalization in SQL (not in pgvector). C symbols are Rust
-- functions in src/personalize/. Plain names, like pgvector's: none of them
-- exists in pgvector, and `vector * vector` keeps resolving as before (an
-- unknown literal next to a vector is still read as a vector).

-- scaling: vector * scalar, scalar * vector, vector / scalar

CREATE FUNCTION vector_mul_scalar(vector, double precision) RETURNS vector
	AS 'MODULE_PATHNAME', 'vector_mul_scalar_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION vector_mul_scalar(vector, real) RETURNS vector
	AS 'MODULE_PATHNAME', 'vector_mul_scalar4_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION scalar_mul_vector(double precision, vector) RETURNS vector
	AS 'MODULE_PATHNAME', 'scalar_mul_vector_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION scalar_mul_vector(real, vector) RETURNS vector
	AS 'MODULE_PATHNAME', 'scalar4_mul_vector_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION vector_div_scalar(vector, double precision) RETURNS vector
	AS 'MODULE_PATHNAME', 'vector_div_scalar_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION vector_div_scalar(vector, real) RETURNS vector
	AS 'MODULE_PATHNAME', 'vector_div_scalar4_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OPERATOR * (LEFTARG = vector, RIGHTARG = double precision, PROCEDURE = vector_mul_scalar, COMMUTATOR = *);
CREATE OPERATOR * (LEFTARG = double precision, RIGHTARG = vector, PROCEDURE = scalar_mul_vector, COMMUTATOR = *);
CREATE OPERATOR * (LEFTARG = vector, RIGHTARG = real, PROCEDURE = vector_mul_scalar, COMMUTATOR = *);
CREATE OPERATOR * (LEFTARG = real, RIGHTARG = vector, PROCEDURE = scalar_mul_vector, COMMUTATOR = *);
CREATE OPERATOR / (LEFTARG = vector, RIGHTARG = double precision, PROCEDURE = vector_div_scalar);
CREATE OPERATOR / (LEFTARG = vector, RIGHTARG = real, PROCEDURE = vector_div_scalar);

-- weighted average

CREATE FUNCTION weighted_vector_accum(double precision[], vector, double precision) RETURNS double precision[]
	AS 'MODULE_PATHNAME', 'weighted_vector_accum_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION weighted_vector_combine(double precision[], double precision[]) RETURNS double precision[]
	AS 'MODULE_PATHNAME', 'weighted_vector_combine_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION weighted_vector_avg(double precision[]) RETURNS vector
	AS 'MODULE_PATHNAME', 'weighted_vector_avg_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE AGGREGATE weighted_avg(vector, double precision) (
	SFUNC = weighted_vector_accum,
	STYPE = double precision[],
	FINALFUNC = weighted_vector_avg,
	COMBINEFUNC = weighted_vector_combine,
	INITCOND = '{0}',
	PARALLEL = SAFE
);

COMMENT ON AGGREGATE weighted_avg(vector, double precision) IS 'weighted mean of vectors (rows with a NULL vector or weight are skipped; NULL when the weights sum to 0)';

-- exponential-decay preference profiles

CREATE FUNCTION preference_update(profile vector, item vector, alpha double precision) RETURNS vector
	AS 'MODULE_PATHNAME', 'preference_update_wrapper' LANGUAGE C IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION preference_update(vector, vector, double precision) IS 'normalize((1 - alpha) * profile + alpha * item); normalize(item) when profile is NULL';

CREATE AGGREGATE preference_ema(vector, double precision) (
	SFUNC = preference_update,
	STYPE = vector
);

COMMENT ON AGGREGATE preference_ema(vector, double precision) IS 'preference_update folded over the rows: use with ORDER BY, e.g. preference_ema(embedding, 0.2 ORDER BY ts)';

-- per-dimension weighted L2 distance

CREATE FUNCTION weighted_l2_distance(vector, vector, weights vector) RETURNS float8
	AS 'MODULE_PATHNAME', 'weighted_l2_distance_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION weighted_l2_distance(vector, vector, vector) IS 'sqrt(sum(w_i * (a_i - b_i)^2)) with non-negative weights';
