#!/usr/bin/env bash
# Runs the regress files that use only pgvector's SQL surface (listed in
# pg_regress/compat_schedule) against pgvector's own `vector` extension and
# compares with lodestone's expected output: any difference is a place where
# lodestone does not behave exactly as pgvector. Skips, with a message, when
# pgvector is not installed on this server.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
if ! pgvector_installed; then
  log "pgvector (extension \"vector\") is not installed here: skipping the compatibility run"
  exit 0
fi
mapfile -t tests < <(sed -n 's/^test: *//p' "$LODESTONE_ROOT/pg_regress/compat_schedule" | tr ' ' '\n' | grep -v '^setup$' | grep .)
LOAD_EXTENSION=vector exec "$LODESTONE_ROOT/scripts/regress.sh" "${tests[@]}"
