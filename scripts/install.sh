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
