#!/usr/bin/env bash
# lodestone's catalog against pgvector's: every object of extension "vector"
# (functions with result, volatility, strictness and parallel safety;
# operators with commutator, negator and estimators; types with storage and
# I/O functions; casts with context; aggregates; operator classes with their
# members; access methods) must exist in extension "lodestone" with the same
# description, and the hnsw.* settings must match. Known gaps are listed
# below and reported; anything else missing or different fails.
# Skips when pgvector is not installed (as on CI).
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
export LC_ALL=C   # comm and sort must agree on the order

if ! pgvector_installed; then
  echo "SKIPPED: pgvector (extension \"vector\") is not installed in $("$PG_CONFIG" --sharedir)"
  exit 0
fi

# pgvector objects lodestone does not have: none since ivfflat (a pattern
# that matches nothing).
known_missing='^<none>$'
# lodestone's own objects (personalization, introspection, observability,
# the pq type and its codebooks in schema lodestone, threshold search).
lodestone_only='sphere|lodestone_|lodestone\.|schema lodestone|\bpq\b|pq_|preference_|weighted_|scalar_mul_vector|scalar4_|vector_mul_scalar|vector_div_scalar|operator \*\((vector, (real|double precision)|(real|double precision), vector)\)|operator /\(vector, (real|double precision)\)'

new_cluster main
sql main -c "CREATE DATABASE pgv" -c "CREATE DATABASE lod"
sql main -d pgv -c "CREATE EXTENSION vector"
sql main -d lod -c "CREATE EXTENSION lodestone"
sql main -d pgv -v ext=vector -f "$LODESTONE_ROOT/tests/sql/extension_objects.sql" | sort >"$TEST_ROOT/pgvector.txt"
sql main -d lod -v ext=lodestone -f "$LODESTONE_ROOT/tests/sql/extension_objects.sql" | sort >"$TEST_ROOT/lodestone.txt"

common=$(comm -12 "$TEST_ROOT/pgvector.txt" "$TEST_ROOT/lodestone.txt" | wc -l)
check "pgvector objects present in lodestone with identical descriptions" '$1 >= 210' "$common of $(wc -l <"$TEST_ROOT/pgvector.txt")"
missing="$(comm -23 "$TEST_ROOT/pgvector.txt" "$TEST_ROOT/lodestone.txt" | grep -vE "$known_missing" || true)"
same "no pgvector object missing or different, beyond the known gaps" "" "$missing"
extra="$(comm -13 "$TEST_ROOT/pgvector.txt" "$TEST_ROOT/lodestone.txt" | grep -vE "$lodestone_only" || true)"
same "no lodestone object that differs from pgvector's" "" "$extra"
echo "  known gaps: $(comm -23 "$TEST_ROOT/pgvector.txt" "$TEST_ROOT/lodestone.txt" | grep -cE "$known_missing" || true) objects"

settings="SELECT string_agg(concat_ws('|', name, setting, min_val, max_val, enumvals, context, vartype, short_desc), E'\n' ORDER BY name) FROM pg_settings WHERE name LIKE 'hnsw.%' OR name LIKE 'ivfflat.%'"
load="CREATE TEMP TABLE t (v vector(2)); CREATE INDEX ON t USING hnsw (v vector_l2_ops); CREATE INDEX ON t USING ivfflat (v vector_l2_ops) WITH (lists = 1);"
same "hnsw.* and ivfflat.* settings: names, defaults, ranges, values, descriptions" \
  "$(sql main -d pgv -c "$load" -c "$settings" | tail -n +1)" "$(sql main -d lod -c "$load" -c "$settings" | tail -n +1)"
echo "compat_catalog: $passes passed, 0 failed"
