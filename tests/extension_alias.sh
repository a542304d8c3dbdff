#!/usr/bin/env bash
# The extension name `vector` as an alias of lodestone (scripts/
# install-vector-alias.sh): what ORMs, drivers and pgvector dumps run works on
# a server with lodestone and no pgvector, the install never touches a real
# pgvector, pg_dump/pg_restore round-trips, and lodestone and vector refuse to
# share a database with a clear error.
#
# Hermetic: it works on a private copy of $PG_CONFIG's installation (binaries
# copied, libraries linked, share copied) without any vector* files, so it
# runs the same whether or not pgvector is installed on the real server.
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

ORIG_PG_CONFIG=$PG_CONFIG
orig_bin="$("$ORIG_PG_CONFIG" --bindir)"
orig_lib="$("$ORIG_PG_CONFIG" --pkglibdir)"
orig_share="$("$ORIG_PG_CONFIG" --sharedir)"
[[ -f "$orig_share/extension/lodestone.control" ]] || die "lodestone is not installed for $ORIG_PG_CONFIG"

# The private tree keeps Debian's layout (share is found relative to bin).
R="$TEST_ROOT/pg"
mkdir -p "$R/usr/lib/postgresql/15/lib" "$R/usr/share/postgresql"
cp -a "$orig_bin" "$R/usr/lib/postgresql/15/bin"
for f in "$orig_lib"/*; do ln -s "$f" "$R/usr/lib/postgresql/15/lib/"; done
cp -a "$orig_share" "$R/usr/share/postgresql/15"
ext="$R/usr/share/postgresql/15/extension"
rm -f "$ext"/vector.control "$ext"/vector--*.sql
chmod -R a+rX "$TEST_ROOT"
export PG_CONFIG="$R/usr/lib/postgresql/15/bin/pg_config"
[[ "$("$PG_CONFIG" --sharedir)" == "$R/usr/share/postgresql/15" ]] || die "the private copy does not find its own share directory"

echo "install: never over pgvector"
# A stand-in for pgvector's files: the alias must leave them alone.
printf "comment = 'vector data type and ivfflat and hnsw access methods'\ndefault_version = '0.8.6'\nmodule_pathname = '\$libdir/vector'\nrelocatable = true\n" >"$ext/vector.control"
echo "-- pgvector" >"$ext/vector--0.8.6.sql"
before="$(cat "$ext"/vector.control "$ext"/vector--*.sql | md5sum)"
out="$("$LODESTONE_ROOT/scripts/install-vector-alias.sh" 2>&1)"
check "install skips where pgvector is installed, and says so" '/NOT installed: pgvector is installed/' "$out"
same "pgvector's files are untouched" "$before" "$(cat "$ext"/vector.control "$ext"/vector--*.sql | md5sum)"
same "no alias file was added" "vector--0.8.6.sql vector.control" "$(cd "$ext" && echo vector--*.sql vector.control)"
out="$("$LODESTONE_ROOT/scripts/install-vector-alias.sh" remove 2>&1)"
same "remove leaves pgvector's files alone" "$before" "$(cat "$ext"/vector.control "$ext"/vector--*.sql | md5sum)"
# pgvector's install script without its control file: still not ours.
rm -f "$ext/vector.control"
out="$("$LODESTONE_ROOT/scripts/install-vector-alias.sh" 2>&1)"
check "install skips where a pgvector script is present" '/NOT installed/' "$out"
rm -f "$ext/vector--0.8.6.sql"

echo "install: the alias"
out="$("$LODESTONE_ROOT/scripts/install-vector-alias.sh" 2>&1)"
check "install installs the alias" '/vector alias: installed/' "$out"
check "vector.control loads lodestone's library" "/module_pathname = '.libdir\\/lodestone'/" "$(grep module_pathname "$ext/vector.control")"
out="$("$LODESTONE_ROOT/scripts/install-vector-alias.sh" 2>&1)"
check "a second install replaces its own files" '/vector alias: installed/' "$out"

new_cluster main
q() { sql main "$@"; }

echo "CREATE EXTENSION vector, as applications and dumps run it"
q -c "CREATE DATABASE plain" -c "CREATE DATABASE ifne" -c "CREATE DATABASE dumped" -c "CREATE DATABASE both1" -c "CREATE DATABASE both2"
same "CREATE EXTENSION vector" "0.8.6" "$(q -d plain -c "CREATE EXTENSION vector" -c "SELECT extversion FROM pg_extension WHERE extname = 'vector'")"
same "the types and distances are lodestone's" "1.4142135623730951|t" \
  "$(q -d plain -c "SELECT '[1,2]'::vector <-> '[2,3]', EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'lodestone_hnsw_info')")"
same "an hnsw index over the alias" "2" "$(q -d plain -c "CREATE TABLE t (id int, v vector(2))" \
  -c "INSERT INTO t SELECT i, ARRAY[i, i]::vector FROM generate_series(1, 100) i" \
  -c "CREATE INDEX ON t USING hnsw (v vector_l2_ops)" -c "SET enable_seqscan = off" \
  -c "SELECT id FROM t ORDER BY v <-> '[2.1,2.1]' LIMIT 1")"
same "CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA (Django, SQLAlchemy, pg_dump)" "ext|0.8.6" \
  "$(q -d ifne -c "CREATE SCHEMA ext" -c "CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA ext" \
    -c "CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA ext" 2>/dev/null \
    -c "SELECT extnamespace::regnamespace, extversion FROM pg_extension WHERE extname = 'vector'")"
same "the types live in that schema" "ext.vector" "$(q -d ifne -c "SELECT 'ext.vector'::regtype")"
same "a pgvector dump's extension lines" "0.8.6" "$(q -d ifne -c "DROP EXTENSION vector" \
  -c "CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA public" \
  -c "COMMENT ON EXTENSION vector IS 'vector data type and ivfflat and hnsw access methods'" \
  -c "SELECT extversion FROM pg_extension WHERE extname = 'vector'")"

echo "pinned versions and ALTER EXTENSION vector UPDATE"
for v in 0.5.0 0.5.1 0.6.0 0.6.1 0.6.2 0.7.0 0.7.1 0.7.2 0.7.3 0.7.4 0.8.0 0.8.1 0.8.2 0.8.3 0.8.4 0.8.5 0.8.6; do
  got="$(q -d plain -c "DROP EXTENSION vector CASCADE" 2>/dev/null -c "CREATE EXTENSION vector VERSION '$v'" \
    -c "SELECT extversion FROM pg_extension WHERE extname = 'vector'" -c "ALTER EXTENSION vector UPDATE" \
    -c "SELECT extversion, '[3,4]'::vector <#> '[1,1]' FROM pg_extension WHERE extname = 'vector'")"
  same "VERSION '$v', then UPDATE" "$v"$'\n'"0.8.6|-7" "$got"
done
same "ALTER EXTENSION vector UPDATE TO '0.7.4' and back" "0.7.4 0.8.6" \
  "$(q -d plain -c "ALTER EXTENSION vector UPDATE TO '0.7.4'" -c "SELECT extversion FROM pg_extension WHERE extname = 'vector'" \
    -c "ALTER EXTENSION vector UPDATE TO '0.8.6'" -c "SELECT extversion FROM pg_extension WHERE extname = 'vector'" | paste -sd' ')"
same "pg_available_extension_versions lists the pinned versions" "t" \
  "$(q -c "SELECT count(*) >= 17 FROM pg_available_extension_versions WHERE name = 'vector'")"

echo "CREATE EXTENSION lodestone keeps working; never both"
same "CREATE EXTENSION lodestone" "1" "$(q -d both1 -c "CREATE EXTENSION lodestone" -c "SELECT count(*) FROM pg_extension WHERE extname = 'lodestone'")"
err="$(q -d both1 -c "CREATE SCHEMA other" -c "CREATE EXTENSION vector SCHEMA other" 2>&1 || true)"
check "vector after lodestone: a clear error" '/extension "vector" cannot be created: extension "lodestone" is installed in this database/' "$err"
q -d both2 -c "CREATE EXTENSION vector"
err="$(q -d both2 -c "CREATE SCHEMA other" -c "CREATE EXTENSION lodestone SCHEMA other" 2>&1 || true)"
check "lodestone after vector: a clear error" '/extension "lodestone" cannot be created: extension "vector" is installed in this database/' "$err"
same "neither failed attempt left anything behind" "lodestone vector" \
  "$({ q -d both1 -c "SELECT string_agg(extname, ' ') FROM pg_extension WHERE extname IN ('vector', 'lodestone')"
       q -d both2 -c "SELECT string_agg(extname, ' ') FROM pg_extension WHERE extname IN ('vector', 'lodestone')"; } | paste -sd' ')"

echo "pg_dump / pg_restore of a database that ran CREATE EXTENSION vector"
q -d dumped -c "CREATE EXTENSION vector" -c "CREATE TABLE items (id int PRIMARY KEY, v vector(3), h halfvec(3))" \
  -c "INSERT INTO items SELECT i, ARRAY[i % 7, i % 11, i % 13]::vector, ARRAY[i % 5, i % 3, 1]::halfvec FROM generate_series(1, 500) i" \
  -c "CREATE INDEX items_v ON items USING hnsw (v vector_cosine_ops)" -c "CREATE INDEX items_h ON items USING hnsw (h halfvec_l2_ops)"
bin="$("$PG_CONFIG" --bindir)"
as_pg "$bin/pg_dump" -h "$DIR_main/sock" -p "$PORT_main" -U postgres -Fc -d dumped -f "$TEST_ROOT/dumped.dump"
text="$(as_pg "$bin/pg_restore" -f - "$TEST_ROOT/dumped.dump")"
check "the dump creates the extension as vector" '/CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA public;/' "$text"
check "and not as lodestone" '!/EXTENSION IF NOT EXISTS lodestone/' "$text"
q -c "CREATE DATABASE restored"
as_pg "$bin/pg_restore" -h "$DIR_main/sock" -p "$PORT_main" -U postgres -d restored --exit-on-error "$TEST_ROOT/dumped.dump"
query="SET enable_seqscan = off; SELECT array_agg(id) FROM (SELECT id FROM items ORDER BY v <=> '[1,2,3]', id LIMIT 10) a;
       SELECT array_agg(id) FROM (SELECT id FROM items ORDER BY h <-> '[1,1,1]', id LIMIT 10) b; SELECT count(*), sum(id) FROM items"
same "the restored database answers as the dumped one" "$(q -d dumped -c "$query")" "$(q -d restored -c "$query")"
same "the restored extension is vector 0.8.6" "vector|0.8.6" "$(q -d restored -c "SELECT extname, extversion FROM pg_extension WHERE extname IN ('vector', 'lodestone')")"
same "its indexes are hnsw" "2" "$(q -d restored -c "SELECT count(*) FROM pg_indexes WHERE indexdef LIKE '% USING hnsw %'")"

# The same dump restores on pgvector itself, where the real server has it.
if PG_CONFIG=$ORIG_PG_CONFIG pgvector_installed; then
  echo "the dump restores on pgvector"
  PG_CONFIG=$ORIG_PG_CONFIG new_cluster pgv
  PG_CONFIG=$ORIG_PG_CONFIG sql pgv -c "CREATE DATABASE restored"
  as_pg "$orig_bin/pg_restore" -h "$DIR_pgv/sock" -p "$PORT_pgv" -U postgres -d restored --exit-on-error "$TEST_ROOT/dumped.dump"
  same "pgvector answers as lodestone-as-vector" "$(q -d dumped -c "$query")" "$(PG_CONFIG=$ORIG_PG_CONFIG sql pgv -d restored -c "$query")"
else
  echo "  (pgvector is not installed for $ORIG_PG_CONFIG: restoring on pgvector not checked)"
fi

echo "remove"
"$LODESTONE_ROOT/scripts/install-vector-alias.sh" remove 2>/dev/null
same "remove deletes the alias's files" "" "$(cd "$ext" && ls vector.control vector--*.sql 2>/dev/null || true)"
same "lodestone stays available" "lodestone" "$(q -c "SELECT name FROM pg_available_extensions WHERE name IN ('lodestone', 'vector')")"

echo "extension_alias: $passes checks passed"
