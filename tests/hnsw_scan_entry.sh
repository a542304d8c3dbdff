#!/usr/bin/env bash
# Issue 14, finding 2: a scan reads the entry point under its scan lock.
# VACUUM moves the entry off a node whose rows are all dead, waits out the
# scans holding SCAN_LOCK, then frees the node. A scan that read the meta
# page before taking the lock could start from the freed slot and return no
# rows. gdb holds a scanning backend at its first heavyweight page lock
# (LockPage, taken by the hnsw scan as it starts) while VACUUM does all of
# that; the scan must then return every live row.
# Needs gdb, and ptrace rights over the server's backends (root).
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
command -v gdb >/dev/null || die "gdb is needed (apt-get install gdb)"

new_cluster main "autovacuum = off"
load_lodestone main
sql main -c "CREATE EXTENSION pageinspect"
# The entry point's block and offset, from the meta page (RawMeta in meta.rs).
entry() { sql main -c "SELECT substring(get_raw_page('t_v', 0) from 53 for 6)"; }
# VACUUM as gdb runs it, while the scanning backend is stopped.
cat >"$TEST_ROOT/vacuum.sh" <<SH
source "$LODESTONE_ROOT/scripts/lib.sh"
cluster_psql "$DIR_main" "$PORT_main" -d postgres -qAt -c "VACUUM t" >"$TEST_ROOT/vacuum.out" 2>&1
SH

moved=0
for attempt in 1 2 3 4 5; do
  # 300 rows then 10 more: VACUUM of the first 300 almost always takes the
  # entry point with them (an attempt where it did not is not counted).
  sql main <<'SQL'
SET client_min_messages = warning;
DROP TABLE IF EXISTS t;
CREATE TABLE t (id int, v vector(3));
CREATE INDEX t_v ON t USING hnsw (v vector_l2_ops) WITH (m = 4, ef_construction = 16);
INSERT INTO t SELECT g, ARRAY[random(), random(), random()]::vector FROM generate_series(1, 300) g;
INSERT INTO t SELECT g, ARRAY[random() + 2, random(), random()]::vector FROM generate_series(301, 310) g;
DELETE FROM t WHERE id <= 300;
SQL
  before="$(entry)"
  sql main -c "SET application_name = 'entry_scan'" -c "SELECT pg_sleep(1)" \
    -c "SET enable_seqscan = off" \
    -c "SELECT count(*) FROM (SELECT id FROM t ORDER BY v <-> '[0,0,0]' LIMIT 10) s" >"$TEST_ROOT/scan.out" 2>&1 &
  scan=$!
  pid=""
  for ((i = 0; i < 100; i++)); do
    pid="$(sql main -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'entry_scan'")"
    [[ -z $pid ]] || break
    sleep 0.05
  done
  [[ -n $pid ]] || die "the scanning session did not start"
  gdb -p "$pid" -batch -nx -q -ex "break LockPage" -ex "continue" \
    -ex "shell bash $TEST_ROOT/vacuum.sh" -ex "delete" -ex "detach" >"$TEST_ROOT/gdb.out" 2>&1 \
    || { cat "$TEST_ROOT/gdb.out"; die "gdb failed"; }
  wait "$scan" || { cat "$TEST_ROOT/scan.out"; die "the scan failed"; }
  grep -q "Breakpoint 1, .*LockPage" "$TEST_ROOT/gdb.out" || { cat "$TEST_ROOT/gdb.out"; die "the scan never stopped at LockPage"; }
  after="$(entry)"
  freed="$(sql main -c "SELECT free_slots FROM lodestone_hnsw_info('t_v')")"
  echo "  attempt $attempt: entry $before -> $after, $freed free slots, scan returned $(tail -1 "$TEST_ROOT/scan.out") rows"
  if [[ $before != "$after" ]] && ((freed > 0)); then
    moved=1
    same "the scan that read the entry while VACUUM freed it returns every live row" 10 "$(tail -1 "$TEST_ROOT/scan.out")"
    break
  fi
done
((moved)) || die "in 5 attempts VACUUM never moved the entry point"
same "VACUUM succeeded" "" "$(cat "$TEST_ROOT/vacuum.out")"
no_rows "the index verifies" sql main -c "SELECT * FROM lodestone_hnsw_verify('t_v')"
echo "$passes passed, 0 failed"
