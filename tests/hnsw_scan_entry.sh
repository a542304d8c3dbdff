#!/usr/bin/env bash
# Issue 14, finding 2: a scan reads the entry point under its scan lock.
# VACUUM moves the entry off a node whose rows are all dead, waits out the
# scans holding SCAN_LOCK, then frees the node. A scan that read the meta
# page before taking the lock could start from the freed slot and return no
# rows. gdb holds a scanning backend at its first heavyweight page lock
# (LockPage, taken by the hnsw scan as it starts) while VACUUM does all of
# that; the scan must then return every live row.
# On a hot standby the lock keeps nothing out (recovery does not take it):
# there gdb holds the scan just before it reads the entry node, after it
# read the meta page, while the primary's VACUUM is replayed; the scan must
# see that the entry is gone and look again.
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

# On a hot standby.
new_cluster primary "wal_level = replica" "max_wal_senders = 4" "hot_standby = on" "autovacuum = off"
load_lodestone primary
sql primary -c "CREATE EXTENSION pageinspect"
new_standby standby primary
# The entry's block (little-endian u32 at byte 52 of the meta page).
entry_block() {
  sql standby -c "SELECT get_byte(p, 52) + 256 * get_byte(p, 53) + 65536 * get_byte(p, 54)
    FROM (SELECT get_raw_page('t_v', 0) AS p) s"
}
entry_standby() { sql standby -c "SELECT substring(get_raw_page('t_v', 0) from 53 for 6)"; }
# No truncation: its lock would wait for the standby's scan.
cat >"$TEST_ROOT/vacuum_primary.sh" <<SH
source "$LODESTONE_ROOT/scripts/lib.sh"
p() { cluster_psql "$DIR_primary" "$PORT_primary" -d postgres -qAt "\$@"; }
s() { cluster_psql "$DIR_standby" "$PORT_standby" -d postgres -qAt "\$@"; }
p -c "VACUUM (TRUNCATE false) t" >"$TEST_ROOT/vacuum.out" 2>&1
lsn="\$(p -c "SELECT pg_current_wal_insert_lsn()")"
for ((i = 0; i < 600; i++)); do
  [[ "\$(s -c "SELECT pg_last_wal_replay_lsn() >= '\$lsn'::pg_lsn")" == t ]] && exit 0
  sleep 0.1
done
echo "the standby did not replay the VACUUM" >>"$TEST_ROOT/vacuum.out"
SH
moved=0
for attempt in 1 2 3 4 5; do
  sql primary <<'SQL'
SET client_min_messages = warning;
DROP TABLE IF EXISTS t;
CREATE TABLE t (id int, v vector(3));
CREATE INDEX t_v ON t USING hnsw (v vector_l2_ops) WITH (m = 4, ef_construction = 16);
INSERT INTO t SELECT g, ARRAY[random(), random(), random()]::vector FROM generate_series(1, 300) g;
INSERT INTO t SELECT g, ARRAY[random() + 2, random(), random()]::vector FROM generate_series(301, 310) g;
DELETE FROM t WHERE id <= 300;
SQL
  wait_for_replay primary standby
  before="$(entry_standby)"
  block="$(entry_block)"
  sql standby -c "SET application_name = 'entry_scan'" -c "SELECT pg_sleep(1)" \
    -c "SET enable_seqscan = off" \
    -c "SELECT count(*) FROM (SELECT id FROM t ORDER BY v <-> '[0,0,0]' LIMIT 10) s" >"$TEST_ROOT/scan.out" 2>&1 &
  scan=$!
  pid=""
  for ((i = 0; i < 100; i++)); do
    pid="$(sql standby -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'entry_scan'")"
    [[ -z $pid ]] || break
    sleep 0.05
  done
  [[ -n $pid ]] || die "the scanning session did not start"
  # Stop at the scan lock, then at the first read of the entry's block.
  gdb -p "$pid" -batch -nx -q -ex "break LockPage" -ex "continue" -ex "delete" \
    -ex "break ReadBuffer if \$rsi == $block" -ex "continue" \
    -ex "shell bash $TEST_ROOT/vacuum_primary.sh" -ex "delete" -ex "detach" >"$TEST_ROOT/gdb.out" 2>&1 \
    || { cat "$TEST_ROOT/gdb.out"; die "gdb failed"; }
  wait "$scan" || { cat "$TEST_ROOT/scan.out"; die "the scan failed"; }
  grep -q "Breakpoint 2, .*ReadBuffer" "$TEST_ROOT/gdb.out" || { cat "$TEST_ROOT/gdb.out"; die "the scan never read the entry's block"; }
  after="$(entry_standby)"
  freed="$(sql standby -c "SELECT free_slots FROM lodestone_hnsw_info('t_v')")"
  echo "  standby attempt $attempt: entry $before -> $after, $freed free slots, scan returned $(tail -1 "$TEST_ROOT/scan.out") rows"
  if [[ $before != "$after" ]] && ((freed > 0)); then
    moved=1
    same "a standby scan whose entry recovery freed under it returns every live row" 10 "$(tail -1 "$TEST_ROOT/scan.out")"
    break
  fi
done
((moved)) || die "in 5 attempts VACUUM never moved the entry point"
same "VACUUM succeeded and was replayed" "" "$(cat "$TEST_ROOT/vacuum.out")"
echo "$passes passed, 0 failed"
