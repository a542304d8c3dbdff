#!/usr/bin/env bash
# Runs once, when the official image initialises an empty data directory:
# lodestone in template1 (so every new database has it) and in
# $POSTGRES_DB, and a replication role for docker/compose.yaml's replica.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname template1 -c "CREATE EXTENSION IF NOT EXISTS lodestone"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "${POSTGRES_DB:-$POSTGRES_USER}" -c "CREATE EXTENSION IF NOT EXISTS lodestone"
if [[ -n "${REPLICATION_PASSWORD:-}" ]]; then
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v pw="$REPLICATION_PASSWORD" <<<"CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD :'pw';"
  echo "host replication replicator all scram-sha-256" >>"$PGDATA/pg_hba.conf"
fi
