#!/usr/bin/env bash
# The personalization example (examples/personalization): real film metadata
# from the npm package vega-datasets, profiles learned in SQL from simulated
# interactions, platform-filtered recommendations through the hnsw index with
# a hybrid re-rank, online profile updates. demo.py --check asserts each step.
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

"$LODESTONE_ROOT/scripts/setup-drivers.sh"
new_cluster main
sql main -c "CREATE DATABASE media"
export PGHOST="$DIR_main/sock" PGPORT="$PORT_main" PGUSER=postgres PGDATABASE=media
"$LODESTONE_ROOT/target/drivers/venv/bin/python" "$LODESTONE_ROOT/examples/personalization/demo.py" --check
