#!/usr/bin/env bash
# Streaming replication and failover of hnsw indexes.
#
# A primary and two hot standbys (pg_basebackup, primary_conninfo over
# 127.0.0.1), taken before any data exists, so that the standbys know the
# tables and indexes from WAL alone. On the primary: a bulk build of two
# indexes (L2 and cosine), then 4 pgbench clients inserting, updating,
# deleting and searching while VACUUM runs, then a last VACUUM. Every
# standby must return exactly the primary's top-10 ids for 1000 queries
# under both operators, and its copy of each index must verify.
#
# Failover: standby2 is moved to stream from standby1 (cascading), standby1
# is promoted, and both sides write: the old primary diverges on its own
# timeline (inserts, deletes, VACUUM that the new timeline never sees) while
# the new primary takes pgbench writes and a VACUUM. The old primary is then
# stopped, rewound with pg_rewind and re-attached as a standby of the new
# primary. All three clusters must again agree id for id, and verify; the
# rows written only on the old timeline must be gone from the rewound
# cluster, table and index alike.
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
SECONDS_TO_RUN="${REPL_SECONDS:-10}"
repl_conf=("wal_level = replica" "max_wal_senders = 10" "hot_standby = on" "wal_log_hints = on"
  "wal_keep_size = 1GB" "max_connections = 40")

new_cluster primary "${repl_conf[@]}"
new_standby standby1 primary
new_standby standby2 primary
same "standby1 is in recovery" t "$(sql standby1 -c "SELECT pg_is_in_recovery()")"
same "standby2 is in recovery" t "$(sql standby2 -c "SELECT pg_is_in_recovery()")"

load_lodestone primary
sql primary <<'SQL'
CREATE TABLE items (id bigserial PRIMARY KEY, v vector(24));
INSERT INTO items (v) SELECT v::vector(24) FROM lodestone_test.clustered(12000, 24, 40, 0.4, 0.1);
CREATE TABLE queries AS SELECT id, v::vector(24) AS v FROM lodestone_test.clustered(1000, 24, 40, 0.4, 0.2);
SET maintenance_work_mem = '128MB';
CREATE INDEX items_l2 ON items USING hnsw (v vector_l2_ops);
CREATE INDEX items_cos ON items USING hnsw (v vector_cosine_ops) WITH (m = 8, ef_construction = 32);
SQL

write_workload items 24 12000
vacuum_loop() { # cluster seconds
  local end=$((SECONDS + $2))
  while ((SECONDS < end)); do sql "$1" -c "VACUUM items" || echo "VACUUM failed" >>"$TEST_ROOT/vacuum.err"; sleep 1; done
}
workload() { # cluster seconds tag
  vacuum_loop "$1" "$2" &
  local vac=$! status=0
  run_pgbench "$1" "$TEST_ROOT/pgbench-$3.log" -c 4 -j 2 -T "$2" \
    -f "$TEST_ROOT/insert.sql@40" -f "$TEST_ROOT/update.sql@20" -f "$TEST_ROOT/delete.sql@15" -f "$TEST_ROOT/search.sql@25" || status=$?
  wait "$vac"
  sed -n 's/^number of transactions actually processed: /  transactions: /p' "$TEST_ROOT/pgbench-$3.log"
  same "$3: pgbench ran without errors" 0 "$status"
  same "$3: VACUUM never failed" "" "$(cat "$TEST_ROOT/vacuum.err" 2>/dev/null)"
  sql "$1" -c "VACUUM items"
}
workload primary "$SECONDS_TO_RUN" "primary workload"
rows="$(sql primary -c "SELECT count(*) FROM items")"
echo "  $rows rows on the primary"

compare_all() { # reference-cluster label other-clusters...
  local ref=$1 label=$2 op idx expected other; shift 2
  for op in '<->' '<=>'; do
    expected="$(topk "$ref" items queries "$op" 10)"
    check "$label: $ref returns 10 ids for each of 1000 queries ($op)" '$1 == 1000' \
      "$(grep -cE '^[0-9]+\|\{([0-9]+,){9}[0-9]+\}$' <<<"$expected")"
    for other in "$@"; do
      same_lines "$label: $other's top-10 ids equal $ref's ($op)" "$expected" "$(topk "$other" items queries "$op" 10)"
    done
  done
  for other in "$ref" "$@"; do
    for idx in items_l2 items_cos; do
      no_rows "$label: $idx verifies on $other" sql "$other" -c "SELECT * FROM lodestone_hnsw_verify('$idx')"
    done
  done
  for other in "$@"; do
    same "$label: $other holds the same rows as $ref" \
      "$(sql "$ref" -c "SELECT count(*), md5(string_agg(id || ':' || v::text, ',' ORDER BY id)) FROM items")" \
      "$(sql "$other" -c "SELECT count(*), md5(string_agg(id || ':' || v::text, ',' ORDER BY id)) FROM items")"
  done
}
wait_for_replay primary standby1 standby2
plan="$(sql standby1 -c "SET enable_seqscan = off" -c "EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <-> (SELECT v FROM queries LIMIT 1) LIMIT 10")"
check "standby1 plans an hnsw index scan" '/Index Scan using items_l2/' "$plan"
compare_all primary "after build + concurrent writes + VACUUM" standby1 standby2

# --- failover ---------------------------------------------------------------
# standby2 cascades from standby1, so it follows standby1's promotion.
sql standby2 -c "ALTER SYSTEM SET primary_conninfo = 'host=127.0.0.1 port=$PORT_standby1 user=postgres application_name=standby2'" \
  -c "SELECT pg_reload_conf()" >/dev/null
for ((i = 0; ; i++)); do
  [[ "$(sql standby1 -c "SELECT count(*) FROM pg_stat_replication WHERE application_name = 'standby2'")" == 1 ]] && break
  ((i < 600)) || die "standby2 did not start streaming from standby1"
  sleep 0.1
done
as_pg "$(pg_bindir)/pg_ctl" -D "$DIR_standby1/data" -w promote >/dev/null
same "standby1 is promoted" f "$(sql standby1 -c "SELECT pg_is_in_recovery()")"

# The old primary goes on alone: rows, deletions and a VACUUM the new
# timeline never sees. pg_rewind must undo all of it, index pages included.
sql primary -c "INSERT INTO items (id, v) SELECT 1000000 + id, v::vector(24) FROM lodestone_test.clustered(2000, 24, 40, 0.4, 0.7)" \
  -c "DELETE FROM items WHERE id % 7 = 0" -c "VACUUM items" -c "CHECKPOINT"
# The new primary takes writes.
workload standby1 "$SECONDS_TO_RUN" "new primary workload"
sql standby1 -c "INSERT INTO items (v) SELECT v::vector(24) FROM lodestone_test.clustered(1000, 24, 40, 0.4, 0.8)" -c "VACUUM items"

cluster_stop "$DIR_primary" fast
# pg_rewind copies the source's configuration files: keep our own port.
as_pg cp "$DIR_primary/data/postgresql.conf" "$TEST_ROOT/primary.conf"
# pg_rewind reads the source's timeline from its control file, which a
# promotion only updates at the next checkpoint.
sql standby1 -c "CHECKPOINT"
as_pg "$(pg_bindir)/pg_rewind" --target-pgdata="$DIR_primary/data" -R \
  --source-server="host=127.0.0.1 port=$PORT_standby1 user=postgres dbname=postgres" >"$TEST_ROOT/pg_rewind.log" 2>&1 \
  || { cat "$TEST_ROOT/pg_rewind.log"; die "pg_rewind failed"; }
check "pg_rewind rewound the old primary" '/Done!/' "$(tail -n 1 "$TEST_ROOT/pg_rewind.log")"
as_pg cp "$TEST_ROOT/primary.conf" "$DIR_primary/data/postgresql.conf"
cluster_start "$DIR_primary"
same "the old primary is now a standby" t "$(sql primary -c "SELECT pg_is_in_recovery()")"
wait_for_replay standby1 standby2 primary
same "the rewound cluster has none of the old timeline's rows" 0 "$(sql primary -c "SELECT count(*) FROM items WHERE id >= 1000000")"
same "and none of them through the index" 0 "$(sql primary -c "SET enable_seqscan = off" -c "
  SELECT count(*) FROM (SELECT id FROM items ORDER BY v <-> (SELECT v FROM items ORDER BY id LIMIT 1) LIMIT 500) t WHERE id >= 1000000" | tail -1)"
compare_all standby1 "after failover and pg_rewind" standby2 primary

echo "$passes passed, 0 failed"
