#!/usr/bin/env bash
# Concurrency soak: pgbench with 8 clients, each transaction drawn from a mix
# of custom scripts on one hnsw-indexed table: INSERT, UPDATE, DELETE, k-NN
# search (plain, and iterative under a filter), a REPEATABLE READ
# read-modify-write that collides with the others (serialization failures
# are expected there and retried by pgbench --max-tries), and VACUUM.
# SOAK_SECONDS long (default 20; `make soak` runs 600).
# Afterwards: no client aborted, no failure but serialization failures, no
# ERROR in the server log but those, no backend crash; after a last VACUUM
# the index verifies with no finding, holds exactly the table's rows, finds
# a sample of 1000 rows by their own vectors (at ef_search 1000: with m = 8
# and uniform 16-d vectors a few rows in 10,000 are missed at ef_search 100,
# by a fresh build as much as by the soaked index), and recall@10 is within
# 0.05 of a freshly built index's.
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
use_seed
SECONDS_TO_RUN="${SOAK_SECONDS:-20}"

new_cluster main "max_connections = 40" "log_min_messages = error" "log_min_error_statement = error"
load_lodestone main
sql main -v seed="$SEED_SQL" <<'SQL'
SELECT setseed(:seed);
CREATE TABLE items (id bigserial PRIMARY KEY, v vector(16), category int DEFAULT (random() * 100)::int);
INSERT INTO items (v) SELECT v::vector(16) FROM lodestone_test.clustered(5000, 16, 30, 0.3, 0.1);
CREATE TABLE queries AS SELECT id, v::vector(16) AS v FROM lodestone_test.clustered(100, 16, 30, 0.3, 0.2);
CREATE INDEX items_v ON items USING hnsw (v vector_l2_ops) WITH (m = 8, ef_construction = 32);
SQL
write_workload items 16 20000
rv="ARRAY(SELECT random() * 2 - 1 FROM generate_series(1, 16))::vector(16)"
printf '%s\n' "SET hnsw.iterative_scan = relaxed_order;" \
  "SELECT id FROM items WHERE category = 7 ORDER BY v <-> (SELECT $rv) LIMIT 10;" >"$TEST_ROOT/filtered.sql"
printf '%s\n' "\\set k random(1, 200)" "BEGIN ISOLATION LEVEL REPEATABLE READ;" \
  "SELECT v FROM items WHERE id = :k;" "UPDATE items SET v = $rv WHERE id = :k;" "END;" >"$TEST_ROOT/rmw.sql"
for f in "$TEST_ROOT"/*.sql; do printf '%s\n' "$PGBENCH_SEED_SQL" | cat - "$f" >"$f.seeded" && mv "$f.seeded" "$f"; done
chmod 644 "$TEST_ROOT"/*.sql

status=0
run_pgbench main "$TEST_ROOT/pgbench.log" -c 8 -j 2 -T "$SECONDS_TO_RUN" --random-seed="$TEST_SEED" --max-tries=100 --failures-detailed \
  -f "$TEST_ROOT/insert.sql@30" -f "$TEST_ROOT/update.sql@15" -f "$TEST_ROOT/delete.sql@10" \
  -f "$TEST_ROOT/search.sql@25" -f "$TEST_ROOT/filtered.sql@8" -f "$TEST_ROOT/rmw.sql@10" -f "$TEST_ROOT/vacuum.sql@2" || status=$?
stat() { sed -n "s/^$1: *\([0-9]*\).*/\1/p" "$TEST_ROOT/pgbench.log" | head -1; }
echo "  $SECONDS_TO_RUN s: $(stat 'number of transactions actually processed') transactions," \
  "$(stat 'number of transactions retried') retried, $(stat 'number of failed transactions') failed" \
  "($(stat 'number of serialization failures') serialization, $(stat 'number of deadlock failures') deadlock)"
same "pgbench: every client ran to the end" 0 "$status"
same "pgbench: no client aborted" "" "$(grep -i 'aborted' "$TEST_ROOT/pgbench.log" || true)"
same "pgbench: no deadlock failures" 0 "$(stat 'number of deadlock failures')"
same "pgbench: every failed transaction is a serialization failure" "$(stat 'number of serialization failures')" \
  "$(stat 'number of failed transactions')"
check "pgbench ran transactions" '$1 > 0' "$(stat 'number of transactions actually processed')"
same "no ERROR in the server log but serialization failures" "" \
  "$(grep -E '(ERROR|FATAL):' "$DIR_main/server.log" | grep -v 'could not serialize access' || true)"
same "no backend crashed" "" "$(grep -E 'terminated by signal|PANIC|server process .* was terminated' "$DIR_main/server.log" || true)"

# INDEX_CLEANUP ON: when dead rows sit on fewer than 2% of the heap's pages,
# VACUUM skips index vacuuming (Postgres's bypass) and their TIDs stay indexed.
sql main -c "VACUUM (INDEX_CLEANUP ON) items"
no_rows "after VACUUM the index verifies, every node reachable" sql main -c "SELECT * FROM lodestone_hnsw_verify('items_v')"
same "the index holds exactly the table's rows" "$(sql main -c "SELECT count(*) FROM items")" \
  "$(sql main -c "SELECT heap_tids FROM lodestone_hnsw_info('items_v')")"
missing="$(sql main -c "SELECT setseed($SEED_SQL)" -c "SET enable_seqscan = off" -c "SET enable_bitmapscan = off" -c "SET hnsw.ef_search = 1000" -c "
  SELECT count(*) FROM (SELECT * FROM items ORDER BY random() LIMIT 1000) i
  WHERE i.id <> ALL (ARRAY(SELECT j.id FROM items j ORDER BY j.v <-> i.v LIMIT 3))" | tail -1)"
same "1000 sampled rows are found through the index by their own vectors" 0 "$missing"
recall() { sql main -c "SET hnsw.ef_search = 40" -c "SELECT round(lodestone_test.recall('items', 'queries', '<->', 10)::numeric, 3)" | tail -1; }
soaked="$(recall)"
sql main -c "CREATE INDEX items_fresh ON items USING hnsw (v vector_l2_ops) WITH (m = 8, ef_construction = 32)" -c "DROP INDEX items_v"
check "recall@10 of the soaked index (a fresh build: $(recall))" "\$1 >= $(recall) - 0.05" "$soaked"

echo "$passes passed, 0 failed"
