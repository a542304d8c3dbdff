#!/usr/bin/env bash
# A VACUUM killed (kill -9) while it vacuums an hnsw index leaves nodes
# marked deleted that it has not yet repaired around or freed (issue 19,
# item 3). The next VACUUM must finish that work even when Postgres skips
# index vacuuming for it: here the dead rows sit on fewer than 2% of the
# heap's pages, so the follow-up VACUUM bypasses ambulkdelete and only
# amvacuumcleanup runs (which used to leave the deleted nodes in the graph
# for good, until some later VACUUM had enough dead rows).
#
# Each attempt deletes rows of two heap pages, starts a throttled
# VACUUM (INDEX_CLEANUP ON) and kills it at a random moment of its index
# phase; an attempt counts when the kill left deleted nodes behind. Then:
# a plain VACUUM leaves no deleted node, every row is found through the
# index, the index verifies, and recall@10 is within 0.05 of a fresh build.
#   VACUUM_KILL_SEED=N   the seed of the kill timings (printed)
#   VACUUM_KILL_CAUGHT=N how many interrupted VACUUMs to finish (default 2)
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
SEED="${VACUUM_KILL_SEED:-$RANDOM}"
WANT="${VACUUM_KILL_CAUGHT:-2}"
echo "  seed $SEED (VACUUM_KILL_SEED to repeat)"
RANDOM=$SEED

new_cluster main "restart_after_crash = on" "autovacuum = off"
load_lodestone main
sql main <<'SQL'
CREATE TABLE items (id int PRIMARY KEY, v vector(16));
INSERT INTO items SELECT id, v::vector(16) FROM lodestone_test.clustered(20000, 16, 10, 1.0, 0.1);
CREATE INDEX items_v ON items USING hnsw (v vector_l2_ops);
CREATE TABLE queries AS SELECT id, v::vector(16) AS v FROM lodestone_test.clustered(50, 16, 10, 1.0, 0.2);
SQL
recall() { sql main -c "SET hnsw.ef_search = 10" -c "SELECT round(lodestone_test.recall('$1', 'queries', '<->', 10)::numeric, 3)" | tail -1; }
deleted_nodes() { sql main -c "SELECT deleted_nodes FROM lodestone_hnsw_info('items_v')"; }
wait_until_up() {
  local i
  for ((i = 0; i < 600; i++)); do
    sql main -c "SELECT 1" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  die "the server did not come back"
}

caught=0
for attempt in $(seq 40); do
  ((caught >= WANT)) && break
  # The rows of two heap pages (ctid's block), not yet deleted.
  sql main -c "DELETE FROM items WHERE (ctid::text::point)[0] IN (
    SELECT DISTINCT (ctid::text::point)[0] FROM items ORDER BY 1 LIMIT 2)"
  sql main -c "SET vacuum_cost_delay = '10ms'" -c "SET vacuum_cost_limit = 2" \
    -c "VACUUM (INDEX_CLEANUP ON) items" >/dev/null 2>&1 &
  job=$!
  for ((i = 0; i < 200; i++)); do
    [[ "$(sql main -c "SELECT phase FROM pg_stat_progress_vacuum")" == "vacuuming indexes" ]] && break
    sleep 0.05
  done
  sleep "$((RANDOM % 2)).$((RANDOM % 10))"
  # A commit flushes the WAL written so far (VACUUM's own records would sit
  # in WAL buffers until they fill), so that the kill loses nothing before
  # this point: as under a write load, where commits flush all the time.
  sql main -c "SELECT txid_current()" >/dev/null
  phase="$(sql main -c "SELECT phase FROM pg_stat_progress_vacuum")"
  pid="$(sql main -c "SELECT pid FROM pg_stat_activity WHERE query ILIKE 'VACUUM%' AND pid <> pg_backend_pid()")"
  [[ -n $pid ]] && kill -9 "$pid"
  wait "$job" || true
  wait_until_up
  left="$(deleted_nodes)"
  echo "  attempt $attempt: VACUUM killed in phase '${phase:-finished}', $left deleted nodes left"
  if ((left > 0)); then
    caught=$((caught + 1))
    out="$(sql main -c "VACUUM (VERBOSE) items" 2>&1)"
    check "attempt $attempt: the next VACUUM bypasses index vacuuming" '/index scan bypassed/' "$(grep -o 'index scan [a-z]*' <<<"$out")"
    same "attempt $attempt: the next VACUUM (index vacuuming bypassed) finishes the repair" 0 "$(deleted_nodes)"
    no_rows "attempt $attempt: the index verifies" sql main -c "SELECT * FROM lodestone_hnsw_verify('items_v')"
  else
    # Nothing caught: finish this round's deletions before the next.
    sql main -c "VACUUM (INDEX_CLEANUP ON) items"
  fi
done
((caught >= WANT)) || die "caught only $caught interrupted VACUUMs in 40 attempts"
# The bypassed VACUUMs left the dead rows' TIDs indexed (Postgres's bypass).
sql main -c "VACUUM (INDEX_CLEANUP ON) items"
same "the index holds exactly the table's rows" "$(sql main -c "SELECT count(*) FROM items")" \
  "$(sql main -c "SELECT heap_tids FROM lodestone_hnsw_info('items_v')")"
missing="$(sql main -c "SET enable_seqscan = off" -c "SET hnsw.ef_search = 100" -c "
  SELECT count(*) FROM (SELECT * FROM items ORDER BY random() LIMIT 1000) i
  WHERE i.id <> ALL (ARRAY(SELECT j.id FROM items j ORDER BY j.v <-> i.v LIMIT 3))" | tail -1)"
same "1,000 rows are each found through the index by their own vector" 0 "$missing"
sql main -c "CREATE TABLE fresh AS SELECT id, v FROM items" -c "CREATE INDEX ON fresh USING hnsw (v vector_l2_ops)"
fresh="$(recall fresh)"
check "recall@10 within 0.05 of a fresh build's ($fresh)" "\$1 >= $fresh - 0.05" "$(recall items)"
same "no PANIC in the server log" "" "$(grep -E 'PANIC' "$DIR_main/server.log" || true)"

echo "$passes passed, 0 failed"
