#!/usr/bin/env bash
# Crash recovery, CRASH_CYCLES times (default 20). Each cycle starts four
# writers inserting one row per transaction into an hnsw-indexed table, each
# recording an id only once the server has acknowledged its commit, and then
# crashes the server in the middle of one of:
#   0  concurrent inserts                       pg_ctl stop -m immediate
#   1  CREATE INDEX of a 30,000-row table       pg_ctl stop -m immediate
#   2  VACUUM after updating 1/8 of the rows    pg_ctl stop -m immediate
#   3  concurrent inserts                       kill -9 of an inserting backend
#   4  CREATE INDEX with a 1 MB maintenance_work_mem (the build spills to
#      on-disk inserts)                          kill -9 of the building backend
#   5  VACUUM                                    kill -9 of the VACUUM backend
# (kill -9 of one backend makes the postmaster reset every backend and run
# crash recovery.) After each restart:
#   - every acknowledged row is in the table, and found through the index by
#     its own vector (with a sample of 500 older rows);
#   - the index verifies: no dangling link, bad page or bad tuple (nodes left
#     unreachable by concurrent pruning are reconnected by VACUUM; they are
#     checked at the end, after VACUUM);
#   - an interrupted CREATE INDEX left no index behind, a finished one verifies;
#   - recall@10 is within 0.05 of an index freshly built on the same rows
#     (the table grows every cycle, so the exact answers change); after a
#     crash during VACUUM, once the next VACUUM has finished the repair.
# At the end VACUUM leaves exactly the table's rows indexed and the index
# verifies with no finding at all.
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
use_seed
CYCLES="${CRASH_CYCLES:-20}"

new_cluster main "max_connections = 40" "restart_after_crash = on"
load_lodestone main
sql main <<'SQL'
CREATE TABLE items (id bigserial PRIMARY KEY, v vector(16));
INSERT INTO items (v) SELECT v::vector(16) FROM lodestone_test.clustered(4000, 16, 10, 1.0, 0.1);
CREATE TABLE queries AS SELECT id, v::vector(16) AS v FROM lodestone_test.clustered(50, 16, 10, 1.0, 0.2);
CREATE INDEX items_v ON items USING hnsw (v vector_l2_ops);
CREATE TABLE builds AS SELECT id, v::vector(32) AS v FROM lodestone_test.clustered(30000, 32, 50, 0.4, 0.3);
CREATE TABLE committed (id bigint);
SQL

# writer FILE: inserts rows one transaction at a time through one psql
# session, appending each id to FILE once its commit is acknowledged; stops
# when the server goes away.
writer() {
  local file=$1 seed=$2 id
  coproc W { sql main 2>/dev/null; }
  printf '%s\n' "DO \$\$ BEGIN PERFORM setseed($seed / 32768.0); END \$\$;" >&"${W[1]}" 2>/dev/null || true
  while :; do
    printf '%s\n' "INSERT INTO items (v) SELECT ARRAY(SELECT random() * 2 - 1 FROM generate_series(1, 16))::vector(16) RETURNING id;" \
      >&"${W[1]}" 2>/dev/null || break
    IFS= read -r -t 60 id <&"${W[0]}" || break
    [[ $id =~ ^[0-9]+$ ]] || break
    echo "$id" >>"$file"
  done
  kill "$W_PID" 2>/dev/null || true
}

wait_until_up() {
  local i
  for ((i = 0; i < 600; i++)); do
    as_pg "$(pg_bindir)/pg_isready" -q -h "$DIR_main/sock" -p "$PORT_main" && sql main -c "SELECT 1" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  die "the server did not come back"
}

# backend_pid PATTERN: waits for an active backend whose query matches.
backend_pid() {
  local pid i
  for ((i = 0; i < 300; i++)); do
    pid="$(sql main -c "SELECT pid FROM pg_stat_activity WHERE state = 'active' AND query ILIKE '$1' AND pid <> pg_backend_pid() LIMIT 1")"
    [[ -n $pid ]] && { echo "$pid"; return 0; }
    sleep 0.05
  done
  die "no backend running $1"
}

# started_or_done PATTERN JOB: waits until an active backend's query matches,
# or background job JOB has ended (a short VACUUM can finish before the
# first look; the crash then lands after it, which is a case too).
started_or_done() {
  local i
  for ((i = 0; i < 300; i++)); do
    [[ -n "$(sql main -c "SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND query ILIKE '$1' AND pid <> pg_backend_pid() LIMIT 1")" ]] && return 0
    kill -0 "$2" 2>/dev/null || return 0
    sleep 0.05
  done
  die "no backend running $1"
}

# A small ef_search, so that recall is below 1 and a damaged graph shows.
recall() { sql main -c "SET hnsw.ef_search = 10" -c "SELECT round(lodestone_test.recall('$1', 'queries', '<->', 10)::numeric, 3)" | tail -1; }
# The table grows by uniform random rows every cycle, which changes the exact
# answers and makes them harder: "recall is what it was" is measured against
# an index freshly built on a copy of the same rows at the same moment.
fresh_recall() {
  sql main -c "DROP TABLE IF EXISTS fresh" -c "CREATE TABLE fresh AS SELECT id, v FROM items" \
    -c "CREATE INDEX ON fresh USING hnsw (v vector_l2_ops)"
  recall fresh
}
before="$(recall items)"
echo "  recall@10 before the first crash: $before (a fresh build: $(fresh_recall))"
modes=("immediate stop during inserts" "immediate stop during CREATE INDEX" "immediate stop during VACUUM"
  "kill -9 of an inserting backend" "kill -9 of a spilling CREATE INDEX" "kill -9 of VACUUM")
mid_build=0 finished_build=0 vacuum_hit=0

for cycle in $(seq "$CYCLES"); do
  mode=$(((cycle - 1) % 6))
  ids="$TEST_ROOT/ids.$cycle"
  : >"$ids"
  chmod 666 "$ids"
  writers=()
  for w in 1 2 3 4; do writer "$ids" "$RANDOM" & writers+=($!); done
  job=""
  case $mode in
    0 | 3) sleep "1.$((RANDOM % 10))" ;;
    1 | 4)
      mem=512MB
      ((mode == 4)) && mem=1MB
      sql main -c "SET maintenance_work_mem = '$mem'" -c "CREATE INDEX builds_v ON builds USING hnsw (v vector_l2_ops)" \
        >/dev/null 2>&1 &
      job=$!
      backend_pid 'CREATE INDEX%' >/dev/null
      sleep "0.$((RANDOM % 8 + 1))"
      ;;
    2 | 5)
      sql main -c "UPDATE items SET v = v WHERE id % 8 = $((cycle % 8))"
      # Throttled, so that the crash lands while VACUUM works on the index.
      sql main -c "SET vacuum_cost_delay = '2ms'" -c "SET vacuum_cost_limit = 50" -c "VACUUM (INDEX_CLEANUP ON) items" >/dev/null 2>&1 &
      job=$!
      started_or_done 'VACUUM%' "$job"
      for ((i = 0; i < 100; i++)); do
        [[ "$(sql main -c "SELECT phase FROM pg_stat_progress_vacuum WHERE relid = 'items'::regclass")" == "vacuuming indexes" ]] && break
        sleep 0.05
      done
      sleep "0.0$((RANDOM % 10))"
      ;;
  esac
  if [[ $mode == 2 || $mode == 5 ]]; then
    phase="$(sql main -c "SELECT phase FROM pg_stat_progress_vacuum WHERE relid = 'items'::regclass")"
    echo "  cycle $cycle: crashing VACUUM in phase '${phase:-finished}'"
    [[ $phase == "vacuuming indexes" ]] && vacuum_hit=$((vacuum_hit + 1))
  fi
  case $mode in
    0 | 1 | 2) as_pg "$(pg_bindir)/pg_ctl" -D "$DIR_main/data" -m immediate -w stop >/dev/null ;;
    3) kill -9 "$(backend_pid 'INSERT INTO items%')" ;;
    4) kill -9 "$(backend_pid 'CREATE INDEX%')" ;;
    5) pid="$(sql main -c "SELECT pid FROM pg_stat_activity WHERE query ILIKE 'VACUUM%' AND pid <> pg_backend_pid()")"
       [[ -n $pid ]] && kill -9 "$pid" || kill -9 "$(backend_pid 'INSERT INTO items%')" ;;
  esac
  wait "${writers[@]}" || true
  [[ -n $job ]] && { wait "$job" || true; }
  if ((mode <= 2)); then cluster_start "$DIR_main"; fi
  wait_until_up

  acknowledged=$(wc -l <"$ids")
  sql main -c "TRUNCATE committed" -c "\\copy committed FROM '$ids'"
  echo "  cycle $cycle (${modes[$mode]}): $acknowledged acknowledged inserts, $(sql main -c "SELECT count(*) FROM items") rows"
  same "cycle $cycle: every acknowledged row is in the table" 0 \
    "$(sql main -c "SELECT count(*) FROM committed c WHERE NOT EXISTS (SELECT FROM items i WHERE i.id = c.id)")"
  missing="$(sql main -c "SELECT setseed($SEED_SQL)" -c "SET enable_seqscan = off" -c "SET enable_bitmapscan = off" -c "SET hnsw.ef_search = 100" -c "
    SELECT count(*) FROM items i
    WHERE (i.id IN (SELECT id FROM committed) OR i.id IN (SELECT id FROM items ORDER BY random() LIMIT 500))
      AND i.id <> ALL (ARRAY(SELECT j.id FROM items j ORDER BY j.v <-> i.v LIMIT 3))" | tail -1)"
  same "cycle $cycle: those rows and 500 others are found through the index" 0 "$missing"
  no_rows "cycle $cycle: items_v has no structural damage" \
    sql main -c "SELECT * FROM lodestone_hnsw_verify('items_v') WHERE problem <> 'unreachable node'"
  if [[ $mode == 1 || $mode == 4 ]]; then
    if [[ "$(sql main -c "SELECT to_regclass('builds_v') IS NOT NULL")" == t ]]; then
      finished_build=$((finished_build + 1))
      no_rows "cycle $cycle: the build finished before the crash and verifies" \
        sql main -c "SELECT * FROM lodestone_hnsw_verify('builds_v')"
      same "cycle $cycle: and indexes every row" 30000 "$(sql main -c "SELECT heap_tids FROM lodestone_hnsw_info('builds_v')")"
      sql main -c "DROP INDEX builds_v"
    else
      mid_build=$((mid_build + 1))
      no_rows "cycle $cycle: the interrupted build left no index" \
        sql main -c "SELECT indexrelid::regclass FROM pg_index WHERE indrelid = 'builds'::regclass"
    fi
  fi
  when=""
  if [[ $mode == 2 || $mode == 5 ]]; then
    # A killed VACUUM leaves its work half done, as any VACUUM in progress
    # does (dead rows' nodes marked deleted and still walked through, lists
    # not yet repaired: recall dipped to 0.866 against 0.928 measured here).
    # The promise is that the next VACUUM finishes it (FLAG_REPAIR_PENDING),
    # so recall is measured after that one.
    sql main -c "VACUUM (INDEX_CLEANUP ON) items"
    same "cycle $cycle: the next VACUUM leaves no deleted node" 0 \
      "$(sql main -c "SELECT deleted_nodes FROM lodestone_hnsw_info('items_v')")"
    when=" after the next VACUUM"
  fi
  fresh="$(fresh_recall)"
  check "cycle $cycle: recall@10$when within 0.05 of a fresh build's ($fresh)" "\$1 >= $fresh - 0.05" "$(recall items)"
done
echo "  $mid_build builds interrupted, $finished_build finished before the crash; $vacuum_hit crashes hit VACUUM while it was vacuuming the index"
# INDEX_CLEANUP ON: when dead rows sit on fewer than 2% of the heap's pages,
# VACUUM skips index vacuuming (Postgres's bypass) and their TIDs stay indexed.
sql main -c "VACUUM (INDEX_CLEANUP ON) items"
same "after VACUUM the index holds exactly the table's rows" "$(sql main -c "SELECT count(*) FROM items")" \
  "$(sql main -c "SELECT heap_tids FROM lodestone_hnsw_info('items_v')")"
no_rows "and verifies with no finding, every node reachable" sql main -c "SELECT * FROM lodestone_hnsw_verify('items_v')"
# A build after all this still works and verifies.
sql main -c "CREATE INDEX builds_v ON builds USING hnsw (v vector_l2_ops)"
no_rows "a fresh build verifies" sql main -c "SELECT * FROM lodestone_hnsw_verify('builds_v')"
same "no PANIC in the server log" "" "$(grep -E 'PANIC' "$DIR_main/server.log" || true)"

echo "$passes passed, 0 failed"
