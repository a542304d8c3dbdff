#!/usr/bin/env bash
# Read replicas for search traffic: a primary takes the writes, two hot
# standbys (pg_basebackup over 127.0.0.1) take the searches, reached through
# one libpq multi-host connection string with target_session_attrs. Once a
# standby has replayed the primary's WAL, its top-10 for every query is the
# primary's; when standbys go away, prefer-standby falls back to the next
# standby and then to the primary, read-only refuses the primary.
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

new_cluster primary "wal_level = replica" "max_wal_senders = 6" "hot_standby = on"
load_lodestone primary

# new_standby NAME: a streaming standby of the primary, started.
new_standby() {
  local name=$1 dir="$TEST_ROOT/$1" port
  pg_owned_dir "$dir"
  pg_owned_dir "$dir/sock"
  as_pg "$(pg_bindir)/pg_basebackup" -h 127.0.0.1 -p "$PORT_primary" -U postgres -D "$dir/data" -R -X stream -c fast
  port="$(free_port $((PORT_primary + 1 + RANDOM % 500)))"
  printf "port = %s\nunix_socket_directories = '%s'\n" "$port" "$dir/sock" | as_pg tee -a "$dir/data/postgresql.conf" >/dev/null
  CLUSTERS+=("$dir")
  cluster_start "$dir"
  printf -v "DIR_$name" '%s' "$dir"
  printf -v "PORT_$name" '%s' "$port"
}
new_standby replica1
new_standby replica2

# A 10%-selective filter on category, with an iterative scan so that every
# query finds 10 rows.
# Writes go to the primary after the base backups: the standbys learn
# everything from WAL.
sql primary <<'SQL'
CREATE TABLE items (id bigint PRIMARY KEY, category int, v vector(32));
INSERT INTO items SELECT id, id % 10, v::vector(32) FROM lodestone_test.clustered(20000, 32, 20, 1.0, 0.1);
CREATE TABLE queries AS SELECT id, v::vector(32) AS v FROM lodestone_test.clustered(200, 32, 20, 1.0, 0.2);
SET maintenance_work_mem = '256MB';
CREATE INDEX items_v ON items USING hnsw (v vector_cosine_ops);
INSERT INTO items SELECT 100000 + id, id % 10, v::vector(32) FROM lodestone_test.clustered(2000, 32, 20, 1.0, 0.3);
DELETE FROM items WHERE id % 7 = 0;
VACUUM ANALYZE items;
SQL

wait_for_replay() { # standby
  local lsn
  lsn="$(sql primary -c "SELECT pg_current_wal_lsn()")"
  for _ in $(seq 600); do
    if [[ "$(sql "$1" -c "SELECT pg_last_wal_replay_lsn() >= '$lsn'::pg_lsn")" == t ]]; then return 0; fi
    sleep 0.1
  done
  echo "$1 did not catch up to $lsn" >&2
  return 1
}
wait_for_replay replica1
wait_for_replay replica2

# The application's search connection: every server, standbys preferred.
conninfo() { # target_session_attrs
  echo "host=$DIR_replica1/sock,$DIR_replica2/sock,$DIR_primary/sock port=$PORT_replica1,$PORT_replica2,$PORT_primary user=postgres dbname=postgres target_session_attrs=$1"
}
search() { # conninfo
  as_pg psql "$1" -qAt -c "SET hnsw.ef_search = 100" -c "SET hnsw.iterative_scan = relaxed_order" -c "
    SELECT q.id, ARRAY(SELECT i.id FROM items i WHERE i.category = q.id % 10 ORDER BY i.v <=> q.v LIMIT 10)
    FROM queries q ORDER BY q.id"
}
server_of() { # conninfo
  as_pg psql "$1" -qAt -c "SELECT current_setting('port') || ' ' || pg_is_in_recovery()"
}

same "prefer-standby reaches the first standby" "$PORT_replica1 true" "$(server_of "$(conninfo prefer-standby)")"
primary_results="$(sql primary -c "SET hnsw.ef_search = 100" -c "SET hnsw.iterative_scan = relaxed_order" -c "
  SELECT q.id, ARRAY(SELECT i.id FROM items i WHERE i.category = q.id % 10 ORDER BY i.v <=> q.v LIMIT 10)
  FROM queries q ORDER BY q.id")"
check "the primary answers 200 filtered queries with 10 ids each" '$1 == 200' \
  "$(grep -c ',.*,.*,.*,.*,.*,.*,.*,.*,' <<<"$primary_results")"
same "search through the replicas' connection string equals the primary's top-10" "$primary_results" \
  "$(search "$(conninfo prefer-standby)")"
same "replica2 answers like the primary too" "$primary_results" "$(search "$(conninfo read-only | sed "s|host=[^ ]*|host=$DIR_replica2/sock|; s|port=[^ ]*|port=$PORT_replica2|")")"
plan="$(as_pg psql "$(conninfo read-only)" -qAt -c "EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <=> (SELECT v FROM queries WHERE id = 1) LIMIT 10")"
check "a standby plans the hnsw index scan" '/Index Scan using items_v/' "$plan"

# Writes keep flowing; the standbys follow.
sql primary -c "INSERT INTO items SELECT 200000 + id, id % 10, v::vector(32) FROM lodestone_test.clustered(1000, 32, 20, 1.0, 0.4)"
wait_for_replay replica1
wait_for_replay replica2
same "after more writes, replica1 again answers like the primary" \
  "$(sql primary -c "SET hnsw.ef_search = 100" -c "SELECT q.id, ARRAY(SELECT i.id FROM items i ORDER BY i.v <=> q.v LIMIT 10) FROM queries q ORDER BY q.id")" \
  "$(as_pg psql "$(conninfo read-only)" -qAt -c "SET hnsw.ef_search = 100" -c "SELECT q.id, ARRAY(SELECT i.id FROM items i ORDER BY i.v <=> q.v LIMIT 10) FROM queries q ORDER BY q.id")"
check "a standby refuses writes" '/read-only transaction/' \
  "$(as_pg psql "$(conninfo read-only)" -qAt -c "INSERT INTO items VALUES (1, 1, NULL)" 2>&1 || true)"

# Standbys go away: the same connection string moves on.
cluster_stop "$DIR_replica1"
same "with replica1 down, prefer-standby reaches replica2" "$PORT_replica2 true" "$(server_of "$(conninfo prefer-standby)")"
cluster_stop "$DIR_replica2"
same "with both down, prefer-standby falls back to the primary" "$PORT_primary false" "$(server_of "$(conninfo prefer-standby)")"
check "with both down, read-only refuses the primary" '/server is not in hot standby mode|read-only|could not/' \
  "$(as_pg psql "$(conninfo read-only)" -qAt -c "SELECT 1" 2>&1 || true)"

echo "$passes passed, 0 failed"
