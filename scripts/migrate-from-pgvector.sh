#!/usr/bin/env bash
# Moves a database from pgvector (extension "vector") to lodestone, by dump
# and restore or by logical replication. See docs/migration.md.
#
#   migrate-from-pgvector.sh dump-restore SRC DST   one-shot copy: schema with the extension
#                                                   swapped, data, then indexes with the same
#                                                   definitions; then `verify`
#   migrate-from-pgvector.sh logical-setup SRC DST  schema copy, publication on SRC,
#                                                   subscription on DST (initial copy starts)
#   migrate-from-pgvector.sh logical-status SRC DST table sync states and replication lag
#   migrate-from-pgvector.sh logical-cutover SRC DST  (writes to SRC stopped) wait until DST
#                                                   has everything, build the vector indexes,
#                                                   copy sequence values, verify, drop the
#                                                   subscription and publication
#   migrate-from-pgvector.sh verify SRC DST         row counts and checksums of every table,
#                                                   index definitions
#   migrate-from-pgvector.sh rewrite < dump.sql     the dump rewrite alone (stdin to stdout)
#
# SRC and DST are libpq connection strings ("host=... port=... dbname=... user=...").
# SRC needs pgvector installed; DST needs lodestone available (the database
# may be empty: the tool creates the extension in the schema pgvector used).
#
# Options (environment):
#   IVFFLAT=keep|hnsw|fail  ivfflat indexes: kept as ivfflat with their definition (default;
#                       lodestone has ivfflat), rebuilt as hnsw with the same operator
#                       class, or stop with an error
#   PUBLICATION=name    publication and subscription name (default lodestone_migration)
#   SUBSCRIPTION_BINARY=on  binary transfer in the subscription (pgvector's and lodestone's
#                       binary formats are identical); default off
#   WAIT_TIMEOUT=secs   how long logical-cutover waits for the subscriber (default 600)
#   PG_BINDIR           where pg_dump and psql are (default: from $PG_CONFIG, else PATH)
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed 's/^# \{0,1\}//; /^set -euo/d' >&2; exit 2; }
log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

if [[ -z "${PG_BINDIR:-}" ]]; then
  if [[ -n "${PG_CONFIG:-}" ]]; then PG_BINDIR="$("$PG_CONFIG" --bindir)"; else PG_BINDIR="$(dirname "$(command -v psql)")"; fi
fi
PSQL="$PG_BINDIR/psql"
PG_DUMP="$PG_BINDIR/pg_dump"
IVFFLAT="${IVFFLAT:-keep}"
PUBLICATION="${PUBLICATION:-lodestone_migration}"

q() { # q DSN SQL: one value or rows, unaligned, tuples only
  "$PSQL" -X -v ON_ERROR_STOP=1 -qAt -d "$1" -c "$2"
}

# The dump's pgvector lines, rewritten for lodestone (stdin to stdout):
#  * CREATE EXTENSION vector -> lodestone, in the same schema;
#  * COMMENT ON EXTENSION vector dropped (lodestone's comment is its own);
#  * ivfflat indexes kept (IVFFLAT=keep), or -> hnsw with the same operator class (IVFFLAT=hnsw).
rewrite() {
  local ivf_sub=''
  if [[ "$IVFFLAT" == hnsw ]]; then
    # drop ivfflat's only option (lists) and keep columns, opclasses, predicate
    ivf_sub="/ USING ivfflat /{ s/ WITH \(lists='?[0-9]+'?\)//; s/ USING ivfflat / USING hnsw /; }"
  fi
  sed -E \
    -e 's/^CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA /CREATE EXTENSION IF NOT EXISTS lodestone WITH SCHEMA /' \
    -e 's/^CREATE EXTENSION vector WITH SCHEMA /CREATE EXTENSION IF NOT EXISTS lodestone WITH SCHEMA /' \
    -e '/^COMMENT ON EXTENSION vector IS /d' \
    ${ivf_sub:+-e "$ivf_sub"}
}

check_source() { # check_source DSN
  local v
  v="$(q "$1" "SELECT extversion FROM pg_extension WHERE extname = 'vector'")" || die "cannot connect to the source ($1)"
  [[ -n "$v" ]] || die "the source database has no pgvector (extension \"vector\")"
  log "source: pgvector $v in schema $(q "$1" "SELECT extnamespace::regnamespace FROM pg_extension WHERE extname = 'vector'")"
  if [[ "$IVFFLAT" == fail ]]; then
    local n
    n="$(q "$1" "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam WHERE a.amname = 'ivfflat'")"
    ((n == 0)) || die "the source has $n ivfflat index(es) and IVFFLAT=fail (IVFFLAT=keep keeps them as ivfflat, IVFFLAT=hnsw rebuilds them as hnsw)"
  fi
}

check_target() { # check_target DSN
  q "$1" "SELECT 1" >/dev/null || die "cannot connect to the target ($1)"
  [[ -z "$(q "$1" "SELECT 1 FROM pg_extension WHERE extname = 'vector'")" ]] \
    || die "the target database has pgvector installed; migrate into a database without it"
  [[ -n "$(q "$1" "SELECT 1 FROM pg_available_extensions WHERE name = 'lodestone'")" ]] \
    || die "lodestone is not installed on the target server (scripts/install.sh)"
}

work="$(mktemp -d "${TMPDIR:-/tmp}/lodestone-migrate.XXXXXX")"
trap 'rm -rf "$work"' EXIT

dump_section() { # dump_section DSN SECTION FILE
  "$PG_DUMP" --no-owner --no-privileges --section="$2" -d "$1" -f "$3"
}

restore() { # restore DSN FILE
  "$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$1" -f "$2" >/dev/null
}

# Splits post-data into vector indexes (hnsw, ivfflat) and everything else.
split_post_data() { # split_post_data IN VECTOR_OUT OTHER_OUT
  grep -E ' USING (hnsw|ivfflat) \(' "$1" >"$2" || true
  grep -vE ' USING (hnsw|ivfflat) \(' "$1" >"$3" || true
}

verify() { # verify SRC DST: exits non-zero on any difference
  local src=$1 dst=$2 bad=0 tables t a b
  tables="$(q "$src" "SELECT format('%I.%I', table_schema, table_name) FROM information_schema.tables
    WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1")"
  for t in $tables; do
    # Generated columns are recomputed on the target, not copied: a float8
    # computed by a distance or norm function may differ in its last bits
    # (lodestone's SIMD kernels sum in another order), so they are left out.
    local cols gen
    cols="$(q "$src" "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
      WHERE attrelid = '$t'::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''")"
    gen="$(q "$src" "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
      WHERE attrelid = '$t'::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated <> ''")"
    [[ -z "$gen" ]] || printf '  note       %-40s generated column(s) %s recomputed by lodestone, not compared\n' "$t" "$gen"
    local sum="SELECT count(*) || ' rows, ' || md5(coalesce(string_agg(md5(r::text), '' ORDER BY decode(md5(r::text), 'hex')), '')) FROM (SELECT $cols FROM $t) r"
    a="$(q "$src" "$sum")"
    b="$(q "$dst" "$sum" 2>&1)" || b="missing: $b"
    if [[ "$a" == "$b" ]]; then
      printf '  same       %-40s %s\n' "$t" "$a"
    else
      printf '  DIFFERENT  %-40s source %s, target %s\n' "$t" "$a" "$b"
      bad=1
    fi
  done
  # Indexes of the application's tables: not of tables an extension owns
  # (lodestone keeps its pq codebooks in one).
  local idx="SELECT i.indexdef FROM pg_indexes i WHERE i.schemaname NOT IN ('pg_catalog', 'information_schema')
    AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.deptype = 'e'
      AND d.objid = format('%I.%I', i.schemaname, i.tablename)::regclass) ORDER BY i.indexname"
  q "$src" "$idx" | rewrite >"$work/src-indexes"
  q "$dst" "$idx" >"$work/dst-indexes"
  if diff -u "$work/src-indexes" "$work/dst-indexes" >"$work/index.diff"; then
    printf '  same       %s index definitions%s\n' "$(wc -l <"$work/src-indexes")" \
      "$([[ "$IVFFLAT" == hnsw ]] && q "$src" "SELECT CASE WHEN count(*) > 0 THEN ' (' || count(*) || ' ivfflat rebuilt as hnsw)' ELSE '' END FROM pg_indexes WHERE indexdef LIKE '% USING ivfflat %'")"
  else
    printf '  DIFFERENT  index definitions:\n'
    cat "$work/index.diff"
    bad=1
  fi
  return $bad
}

copy_sequences() { # copy_sequences SRC DST
  q "$1" "SELECT format('SELECT setval(%L, %s, %s);', format('%I.%I', schemaname, sequencename), last_value, 'true')
          FROM pg_sequences WHERE last_value IS NOT NULL" >"$work/sequences.sql"
  restore "$2" "$work/sequences.sql"
  log "copied $(wc -l <"$work/sequences.sql") sequence value(s)"
}

cmd="${1:-}"
case "$cmd" in
  rewrite)
    rewrite
    ;;

  dump-restore)
    [[ $# -eq 3 ]] || usage
    src=$2 dst=$3
    check_source "$src"
    check_target "$dst"
    log "dumping the schema (pre-data), the data, and the indexes and constraints (post-data)"
    dump_section "$src" pre-data "$work/pre.sql"
    dump_section "$src" data "$work/data.sql"
    dump_section "$src" post-data "$work/post.sql"
    rewrite <"$work/pre.sql" >"$work/pre.lodestone.sql"
    rewrite <"$work/post.sql" >"$work/post.lodestone.sql"
    log "restoring the schema with lodestone in place of pgvector"
    restore "$dst" "$work/pre.lodestone.sql"
    log "loading the data"
    restore "$dst" "$work/data.sql"
    log "building indexes and constraints ($(grep -cE ' USING (hnsw|ivfflat) \(' "$work/post.lodestone.sql" || true) vector index(es))"
    restore "$dst" "$work/post.lodestone.sql"
    q "$dst" "ANALYZE" >/dev/null
    log "verifying"
    verify "$src" "$dst"
    log "done: the target now serves the same schema, data and indexes under lodestone"
    ;;

  logical-setup)
    [[ $# -eq 3 ]] || usage
    src=$2 dst=$3
    check_source "$src"
    check_target "$dst"
    [[ "$(q "$src" "SHOW wal_level")" == logical ]] || die "the source needs wal_level = logical (and a restart)"
    dump_section "$src" pre-data "$work/pre.sql"
    dump_section "$src" post-data "$work/post.sql"
    rewrite <"$work/pre.sql" >"$work/pre.lodestone.sql"
    rewrite <"$work/post.sql" >"$work/post.lodestone.sql"
    split_post_data "$work/post.lodestone.sql" "$work/vector-indexes.sql" "$work/other-post.sql"
    log "copying the schema to the target (vector indexes deferred until cutover: bulk builds are faster)"
    restore "$dst" "$work/pre.lodestone.sql"
    restore "$dst" "$work/other-post.sql"
    # Keep the deferred index definitions in the target itself, for logical-cutover.
    q "$dst" "CREATE TABLE IF NOT EXISTS public.lodestone_migration_deferred_indexes (n serial, ddl text NOT NULL)" >/dev/null
    while IFS= read -r line; do
      [[ -n "$line" ]] || continue
      echo "INSERT INTO public.lodestone_migration_deferred_indexes (ddl) VALUES (:'ddl');" \
        | "$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$dst" -v ddl="$line" >/dev/null
    done <"$work/vector-indexes.sql"
    log "publication $PUBLICATION on the source"
    q "$src" "CREATE PUBLICATION $PUBLICATION FOR ALL TABLES" >/dev/null
    log "subscription $PUBLICATION on the target (initial copy starts now)"
    q "$dst" "CREATE SUBSCRIPTION $PUBLICATION CONNECTION '$(printf '%s' "$src" | sed "s/'/''/g")' PUBLICATION $PUBLICATION
              WITH (binary = ${SUBSCRIPTION_BINARY:-off})" >/dev/null
    log "replicating; watch with: $0 logical-status SRC DST; then stop writes and run logical-cutover"
    ;;

  logical-status)
    [[ $# -eq 3 ]] || usage
    src=$2 dst=$3
    q "$dst" "SELECT format('  %-40s %s', srrelid::regclass, CASE srsubstate WHEN 'i' THEN 'initializing' WHEN 'd' THEN 'copying'
                WHEN 'f' THEN 'copied' WHEN 's' THEN 'synchronized' WHEN 'r' THEN 'ready (streaming)' ELSE srsubstate::text END)
              FROM pg_subscription_rel ORDER BY 1"
    echo "  source WAL position $(q "$src" "SELECT pg_current_wal_lsn()"), slot confirmed up to $(q "$src" "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '$PUBLICATION'")"
    ;;

  logical-cutover)
    [[ $# -eq 3 ]] || usage
    src=$2 dst=$3
    deadline=$((SECONDS + ${WAIT_TIMEOUT:-600}))
    log "waiting for every table's initial copy"
    until [[ "$(q "$dst" "SELECT count(*) FROM pg_subscription_rel WHERE srsubstate <> 'r'")" == 0 ]]; do
      ((SECONDS < deadline)) || die "tables still copying after ${WAIT_TIMEOUT:-600}s"
      sleep 0.5
    done
    target_lsn="$(q "$src" "SELECT pg_current_wal_lsn()")"
    log "waiting for the subscriber to confirm the source's WAL up to $target_lsn (writes must be stopped)"
    until [[ "$(q "$src" "SELECT confirmed_flush_lsn >= '$target_lsn' FROM pg_replication_slots WHERE slot_name = '$PUBLICATION'")" == t ]]; do
      ((SECONDS < deadline)) || die "the subscriber did not catch up within ${WAIT_TIMEOUT:-600}s"
      sleep 0.5
    done
    log "building the deferred vector indexes"
    q "$dst" "SELECT ddl FROM public.lodestone_migration_deferred_indexes ORDER BY n" >"$work/vector-indexes.sql"
    restore "$dst" "$work/vector-indexes.sql"
    q "$dst" "DROP TABLE public.lodestone_migration_deferred_indexes" >/dev/null
    copy_sequences "$src" "$dst"
    log "verifying"
    verify "$src" "$dst"
    log "dropping the subscription (and its slot on the source) and the publication"
    q "$dst" "DROP SUBSCRIPTION $PUBLICATION" >/dev/null
    q "$src" "DROP PUBLICATION $PUBLICATION" >/dev/null
    q "$dst" "ANALYZE" >/dev/null
    log "cutover complete: point the application at the target"
    ;;

  verify)
    [[ $# -eq 3 ]] || usage
    verify "$2" "$3"
    ;;

  *)
    usage
    ;;
esac
