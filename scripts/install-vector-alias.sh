#!/usr/bin/env bash
# Installs (or removes) the extension name `vector` as an alias of lodestone
# in the extension directory of the Postgres that $PG_CONFIG names, so that
# `CREATE EXTENSION [IF NOT EXISTS] vector [WITH SCHEMA s] [VERSION 'x']`
# and `ALTER EXTENSION vector UPDATE` work where pgvector is not installed.
#
#   scripts/install-vector-alias.sh           install (after lodestone itself)
#   scripts/install-vector-alias.sh remove    remove the alias's files (do this
#                                             before installing pgvector)
#   LODESTONE_VECTOR_ALIAS=0 scripts/install.sh   install lodestone without it
#
# What it writes, all generated from lodestone's installed files:
#   vector.control            below (module_pathname '$libdir/lodestone'); not a
#                             file in the repository: `cargo pgrx` would take a
#                             second *.control there for the crate's own
#   vector--0.8.6.sql         lodestone--<version>.sql with a marker line
#   vector--A--B.sql          no-op updates along pgvector's own chain of
#                             versions (0.1.0 .. 0.8.6), so a database that
#                             pinned an older version can ALTER EXTENSION UPDATE
#   vector--0.8.6--X.sql      no-op, so CREATE EXTENSION vector VERSION 'X' works
#
# It never touches a real pgvector: when vector.control exists and is not
# ours (its module_pathname is not '$libdir/lodestone'), or a vector--*.sql
# lacks our marker line, it installs nothing and says so (exit status 0: the
# server keeps pgvector, and lodestone stays available as `lodestone`).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MARKER='-- lodestone: the extension name "vector" as an alias of lodestone (scripts/install-vector-alias.sh)'
ALIAS_VERSION=0.8.6
# pgvector's versions, in the order of its update scripts (sql/vector--A--B.sql).
CHAIN=(0.1.0 0.1.1 0.1.3 0.1.4 0.1.5 0.1.6 0.1.7 0.1.8 0.2.0 0.2.1 0.2.2 0.2.3 0.2.4 0.2.5 0.2.6 0.2.7
  0.3.0 0.3.1 0.3.2 0.4.0 0.4.1 0.4.2 0.4.3 0.4.4 0.5.0 0.5.1 0.6.0 0.6.1 0.6.2 0.7.0 0.7.1 0.7.2 0.7.3
  0.7.4 0.8.0 0.8.1 0.8.2 0.8.3 0.8.4 0.8.5 0.8.6)

extdir="$("$PG_CONFIG" --sharedir)/extension"
[[ -d "$extdir" ]] || die "no extension directory at $extdir"

# Is there anything named vector in $extdir that we did not write?
foreign_vector() {
  local f
  if [[ -f "$extdir/vector.control" ]] && ! grep -qE "^module_pathname *= *'\\\$libdir/lodestone'" "$extdir/vector.control"; then
    echo "$extdir/vector.control ($(grep -E '^module_pathname' "$extdir/vector.control" || echo 'no module_pathname'))"
    return 0
  fi
  for f in "$extdir"/vector--*.sql; do
    [[ -e "$f" ]] || continue
    [[ "$(head -n 1 "$f")" == "$MARKER" ]] || { echo "$f"; return 0; }
  done
  return 1
}

if [[ "${1:-}" == remove ]]; then
  if other="$(foreign_vector)"; then
    log "vector alias: not removing anything; $other belongs to pgvector"
    exit 0
  fi
  rm -f "$extdir/vector.control" "$extdir"/vector--*.sql
  log "vector alias: removed from $extdir"
  exit 0
fi

if other="$(foreign_vector)"; then
  log "vector alias: NOT installed: pgvector is installed on this server ($other)."
  log "vector alias: pgvector is left untouched; use CREATE EXTENSION lodestone in databases without pgvector."
  exit 0
fi

control="$extdir/lodestone.control"
[[ -f "$control" ]] || die "lodestone is not installed in $extdir (install it first)"
version="$(sed -nE "s/^default_version *= *'([^']+)'.*/\\1/p" "$control")"
source_sql="$extdir/lodestone--$version.sql"
[[ -f "$source_sql" ]] || die "no $source_sql"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
{
  echo "$MARKER"
  echo "-- lodestone $version's install script (lodestone--$version.sql), under pgvector's name and version."
  cat "$source_sql"
} >"$tmp/vector--$ALIAS_VERSION.sql"
noop() { # noop FROM TO
  {
    echo "$MARKER"
    echo "-- $1 -> $2: lodestone is the same whichever pgvector version a database pinned; nothing to do."
  } >"$tmp/vector--$1--$2.sql"
}
for ((i = 1; i < ${#CHAIN[@]}; i++)); do noop "${CHAIN[i - 1]}" "${CHAIN[i]}"; done
for v in "${CHAIN[@]}"; do [[ "$v" == "$ALIAS_VERSION" ]] || noop "$ALIAS_VERSION" "$v"; done
cat >"$tmp/vector.control" <<'CONTROL'
# lodestone under pgvector's extension name, so that CREATE EXTENSION vector
# (ORM migrations, pg_dump of pgvector databases) installs lodestone. Written
# by lodestone's scripts/install-vector-alias.sh; see its docs/compatibility.md.
comment = 'lodestone under the name vector: pgvector-compatible vector types, SIMD distances, hnsw and ivfflat indexes'
default_version = '0.8.6'
module_pathname = '$libdir/lodestone'
relocatable = true
superuser = true
trusted = false
CONTROL

# Stale files of an earlier alias go first (ours only: checked above).
rm -f "$extdir"/vector--*.sql
install -m 644 "$tmp"/vector--*.sql "$tmp/vector.control" "$extdir/"
log "vector alias: installed in $extdir (CREATE EXTENSION vector -> lodestone $version, versions ${CHAIN[0]}..$ALIAS_VERSION)"
