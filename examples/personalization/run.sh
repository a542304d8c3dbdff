#!/usr/bin/env bash
# `make demo-personalization`: starts (or reuses) the demo cluster of
# scripts/demo.sh, creates database "media" there and runs demo.py in it.
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"
"$LODESTONE_ROOT/scripts/demo.sh" >/dev/null
"$LODESTONE_ROOT/scripts/setup-drivers.sh"
demo_dir="${LODESTONE_DEMO_DIR:-$LODESTONE_ROOT/.demo}"
port="$(cat "$demo_dir/port")"
cluster_psql "$demo_dir" "$port" -d postgres -qtA -c "SELECT 1 FROM pg_database WHERE datname = 'media'" | grep -q 1 \
  || cluster_psql "$demo_dir" "$port" -d postgres -q -c "CREATE DATABASE media"
PGHOST="$demo_dir/sock" PGPORT="$port" PGUSER=postgres PGDATABASE=media \
  "$LODESTONE_ROOT/target/drivers/venv/bin/python" "$LODESTONE_ROOT/examples/personalization/demo.py" "$@"
log "the data stays in database \"media\": psql -h $demo_dir/sock -p $port -U postgres media"
