#!/usr/bin/env bash
# Concurrency: eight clients insert, update, delete and search one
# hnsw-indexed table while VACUUM runs in a loop. No client may fail, no
# backend may crash, and afterwards the index verifies and holds exactly
# the table's rows. A second, quantized index (sq8, cosine) takes the same
# load, and its searches re-rank from the heap rows others are changing.
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
use_seed
SECONDS_TO_RUN="${HNSW_SOAK_SECONDS:-15}"

new_cluster main "max_connections = 40" "log_min_messages = error"
load_lodestone main
sql main <<'SQL'
CREATE TABLE items (id bigserial PRIMARY KEY, v vector(16));
INSERT INTO items (v) SELECT v::vector(16) FROM lodestone_test.clustered(3000, 16, 30, 0.3, 0.1);
CREATE INDEX items_v ON items USING hnsw (v vector_l2_ops) WITH (m = 8, ef_construction = 32);
CREATE INDEX items_q ON items USING hnsw (v vector_cosine_ops) WITH (m = 8, ef_construction = 32, quantizer = sq8);
SQL
random_vector="ARRAY(SELECT random() * 2 - 1 FROM generate_series(1, 16))::vector(16)"
write_script() { printf '%s\n' "$PGBENCH_SEED_SQL" "$2" >"$TEST_ROOT/$1.sql"; chmod 644 "$TEST_ROOT/$1.sql"; }
write_script insert "INSERT INTO items (v) SELECT $random_vector;"
write_script update "\\set k random(0, 49)
UPDATE items SET v = $random_vector WHERE id = (SELECT max(id) FROM items) - :k;"
write_script delete "\\set k random(0, 49)
DELETE FROM items WHERE id = (SELECT min(id) FROM items) + :k;"
write_script search "SELECT id FROM items ORDER BY v <-> (SELECT $random_vector) LIMIT 10;"
write_script qsearch "SELECT id FROM items ORDER BY v <=> (SELECT $random_vector) LIMIT 10;"

(
  end=$((SECONDS + SECONDS_TO_RUN))
  while ((SECONDS < end)); do sql main -c "VACUUM items" 2>>"$TEST_ROOT/vacuum.err" || echo "vacuum failed" >>"$TEST_ROOT/vacuum.err"; sleep 1; done
) &
vacuums=$!
status=0
as_pg "$(pg_bindir)/pgbench" -h "$DIR_main/sock" -p "$PORT_main" -U postgres -n -c 8 -j 2 -T "$SECONDS_TO_RUN" --random-seed="$TEST_SEED" \
  -f "$TEST_ROOT/insert.sql@40" -f "$TEST_ROOT/update.sql@15" -f "$TEST_ROOT/delete.sql@10" \
  -f "$TEST_ROOT/search.sql@20" -f "$TEST_ROOT/qsearch.sql@15" postgres >"$TEST_ROOT/pgbench.log" 2>&1 || status=$?
wait "$vacuums"
grep -E "number of transactions actually processed|number of failed" "$TEST_ROOT/pgbench.log" | sed 's/^/  /'
same "pgbench finished without client errors" "0" "$status"
same "VACUUM never failed" "" "$(cat "$TEST_ROOT/vacuum.err")"
same "no backend crashed" "" "$(grep -E 'terminated by signal|PANIC' "$DIR_main/server.log" || true)"
# INDEX_CLEANUP ON: when dead rows sit on fewer than 2% of the heap's pages,
# VACUUM skips index vacuuming (Postgres's bypass) and their TIDs stay indexed.
sql main -c "VACUUM (INDEX_CLEANUP ON) items"
for idx in items_v items_q; do
  no_rows "$idx verifies" sql main -c "SELECT * FROM lodestone_hnsw_verify('$idx')"
  same "$idx holds exactly the table's rows" "$(sql main -c "SELECT count(*) FROM items")" \
    "$(sql main -c "SELECT heap_tids FROM lodestone_hnsw_info('$idx')")"
done
plan="$(sql main -c "SET enable_seqscan = off" -c "EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <=> (SELECT v FROM items LIMIT 1) LIMIT 10")"
check "cosine searches used the quantized index" '/Index Scan using items_q/' "$(tr '\n' ' ' <<<"$plan")"

echo "$passes passed, 0 failed"
