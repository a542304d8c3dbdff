#!/usr/bin/env bash
# Builds lodestone in release mode and installs it into the Postgres that
# $PG_CONFIG names (Debian's PostgreSQL 15 by default). Incremental: a rebuild
# with no source change takes seconds.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$LODESTONE_ROOT"

sudo_flag=()
[[ $(id -u) -eq 0 ]] || sudo_flag=(--sudo)
log "building and installing lodestone into $("$PG_CONFIG" --pkglibdir)"
cargo pgrx install --release --pg-config "$PG_CONFIG" "${sudo_flag[@]}" >"${TMPDIR:-/tmp}/lodestone-install.log" 2>&1 \
  || { tail -n 60 "${TMPDIR:-/tmp}/lodestone-install.log" >&2; die "cargo pgrx install failed"; }

# The name `vector` as an alias of lodestone (skipped, with a message, where
# pgvector is installed; LODESTONE_VECTOR_ALIAS=0 to skip it anyway).
if [[ "${LODESTONE_VECTOR_ALIAS:-1}" != 0 ]]; then
  if [[ $(id -u) -eq 0 ]]; then
    "$LODESTONE_ROOT/scripts/install-vector-alias.sh"
  else
    sudo --preserve-env=PG_CONFIG "$LODESTONE_ROOT/scripts/install-vector-alias.sh"
  fi
fi
