#!/usr/bin/env bash
# A damaged hnsw index is an ERROR (SQLSTATE XX002, naming the index), never
# a crash, a hang or a write; and adding a duplicate costs the same whatever
# the number of copies already indexed (issue 14, findings 4 and 6).
#
# Part 1 (finding 6): 12,000 copies of one vector, whose node is on the
# index's first page, make an overflow chain of ~94 tuples after ~90 full
# pages; one more copy must not read more pages when it starts a new
# overflow tuple than when it adds to one (on main it walked the chain and
# then every page after the node). Pages read are counted with
# pg_stat_get_xact_blocks_fetched (every ReadBuffer of the index), not timed.
#
# Part 2 (finding 4): with the server stopped, a bad block number (the
# index's size + 5, and 0xFFFFFFFE) is written into every node's first
# layer-0 link, into the entry point, into overflow-chain pointers, and a
# chain is made a cycle (tests/lib/hnsw_patch.py). Then an index scan, an
# INSERT, VACUUM and lodestone_hnsw_verify run under statement_timeout and an
# outer timeout: each either fails with XX002 naming the index or (where the
# damage is off its path) succeeds; the scan and the INSERT must meet the
# damage. The postmaster keeps its pid, the log shows no backend killed by a
# signal, and the index file keeps its size.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

new_cluster main
load_lodestone main

log "part 1: adding a duplicate reads a bounded number of pages"
# The copied vector is the first row, so its node sits on the first page and
# the ~90 pages the build filled come after it.
sql main <<'SQL'
CREATE TABLE d (id int, v vector(3));
INSERT INTO d VALUES (1, '[0.5,0.5,0.5]');
INSERT INTO d SELECT g, ARRAY[random(), random(), random()]::vector FROM generate_series(2, 6000) g;
CREATE INDEX d_i ON d USING hnsw (v vector_l2_ops) WITH (m = 4, ef_construction = 16);
SQL
sql main -c "INSERT INTO d SELECT 20000 + g, '[0.5,0.5,0.5]' FROM generate_series(1, 12000) g"
# Index pages read by each of 1,280 single-row INSERTs of one more copy: ten
# of them (one in 128, in the same position modulo 128) start a new overflow
# tuple. A new node's random level adds a search of each layer above 0, so
# the least of the ten reads of each position modulo 128 is taken: those of
# a layer-0 insertion. Starting an overflow tuple must not cost more than
# 10 pages over adding a TID to one.
spread="$(sql main <<'SQL'
CREATE TEMP TABLE reads (i int, n bigint);
DO $$
DECLARE before bigint;
BEGIN
  FOR i IN 1..1280 LOOP
    before := pg_stat_get_xact_blocks_fetched('d_i'::regclass);
    INSERT INTO d VALUES (-1, '[0.5,0.5,0.5]');
    INSERT INTO reads VALUES (i, pg_stat_get_xact_blocks_fetched('d_i'::regclass) - before);
  END LOOP;
END $$;
SELECT min(least) || '|' || max(least) FROM (SELECT min(n) AS least FROM reads GROUP BY i % 128) s;
SQL
)"
echo "  index pages read by a layer-0 duplicate INSERT after 12,000 copies (cheapest|dearest position): $spread"
check "starting an overflow tuple reads at most 10 pages more than adding to one" 'split($0, a, "|") == 2 && a[2] - a[1] <= 10' "$spread"
got="$(sql main -c "SET enable_seqscan = off" -c "SET hnsw.ef_search = 10" \
  -c "SELECT count(*) FROM (SELECT v FROM d ORDER BY v <-> '[0.5,0.5,0.5]' LIMIT 20000) s WHERE v = '[0.5,0.5,0.5]'")"
check "an index scan finds every copy" '$1 == 13281' "$got"
no_rows "verify reports nothing" sql main -c "SELECT * FROM lodestone_hnsw_verify('d_i')"
sql main -c "DROP TABLE d"

log "part 2: damaged links, entry point and chains"
sql main <<'SQL'
CREATE TABLE t (id int, v vector(3));
INSERT INTO t SELECT g, ARRAY[random(), random(), random()]::vector FROM generate_series(1, 300) g;
CREATE INDEX i ON t USING hnsw (v vector_l2_ops) WITH (m = 4, ef_construction = 16);
INSERT INTO t SELECT 1000 + g, '[0.5,0.5,0.5]' FROM generate_series(1, 40) g;
CHECKPOINT;
SQL
no_rows "the undamaged index verifies clean" sql main -c "SELECT * FROM lodestone_hnsw_verify('i')"
file="$DIR_main/data/$(sql main -c "SELECT pg_relation_filepath('i')")"
cluster_stop "$DIR_main"
as_pg cp -a "$DIR_main/data" "$DIR_main/pristine"

# run SQL...: runs the statements (one -c each) and prints "ok", "XX002"
# (an error of that code naming index i), the other error, or "hung" when
# they outlive the timeouts.
run() {
  local out status=0 args=()
  for s in "$@"; do args+=(-c "$s"); done
  out="$(as_pg timeout 40 env "PGOPTIONS=-c statement_timeout=20s" "$(pg_bindir)/psql" -X -h "$DIR_main/sock" \
    -p "$PORT_main" -U postgres -d postgres -qAt -v VERBOSITY=verbose -v ON_ERROR_STOP=1 \
    -c "SET enable_seqscan = off" "${args[@]}" 2>&1)" || status=$?
  if ((status == 124)); then
    echo "hung"
  elif ((status == 0)); then
    echo "ok"
  elif grep -q 'ERROR:  XX002: .*index "i"' <<<"$out"; then
    echo "XX002"
  else
    echo "error: $(grep -m1 ERROR <<<"$out")"
  fi
}

scan="SELECT count(*) FROM (SELECT id FROM t ORDER BY v <-> '[0.5,0.5,0.5]' LIMIT 5) s"
insert="INSERT INTO t VALUES (-1, '[0.5,0.5,0.5]')"
vacuum=("DELETE FROM t WHERE id % 5 = 0 OR id > 1000 OR id < 0" "VACUUM t")
verify="SELECT problem FROM lodestone_hnsw_verify('i')"

# damage WHAT VALUE SCAN INSERT VACUUM VERIFY: the expected outcome of each
# statement ("XX002", or "any" for ok-or-XX002) and what verify reports.
damage() {
  local what=$1 value=$2 want_scan=$3 want_insert=$4 want_vacuum=$5 want_verify=$6 n pid size got
  as_pg rm -rf "$DIR_main/data"
  as_pg cp -a "$DIR_main/pristine" "$DIR_main/data"
  n="$(python3 "$LODESTONE_ROOT/tests/lib/hnsw_patch.py" "$file" "$what" "$value")"
  size="$(stat -c %s "$file")"
  : >"$DIR_main/server.log"
  cluster_start "$DIR_main"
  pid="$(head -n1 "$DIR_main/data/postmaster.pid")"
  echo "  $what = $value ($n references)"
  got="$(run "$verify")"
  check "$what $value: verify runs" '$0 == "ok"' "$got"
  check "$what $value: verify reports it" "/$want_verify/" "$(sql main -c "$verify" | sort -u | tr '\n' ' ')"
  for op in scan insert vacuum; do
    local want="want_$op"
    case $op in
      scan) got="$(run "$scan")" ;;
      insert) got="$(run "$insert")" ;;
      vacuum) got="$(run "${vacuum[@]}")" ;;
    esac
    if [[ ${!want} == any ]]; then
      check "$what $value: $op fails as corruption or succeeds" '$0 == "ok" || $0 == "XX002"' "$got"
    else
      check "$what $value: $op fails as corruption (XX002 naming the index)" '$0 == "XX002"' "$got"
    fi
  done
  check "$what $value: the server answers" '$0 == 1' "$(sql main -c "SELECT 1")"
  check "$what $value: the postmaster kept its pid" "\$0 == $pid" "$(head -n1 "$DIR_main/data/postmaster.pid")"
  check "$what $value: no backend died" '$0 == 0' "$(grep -c 'terminated by signal\|was terminated\|PANIC' "$DIR_main/server.log" || true)"
  cluster_stop "$DIR_main"
  check "$what $value: the index file did not grow" "\$0 == $size" "$(stat -c %s "$file")"
}

for value in past huge; do
  damage link "$value" XX002 XX002 any "dangling neighbour"
  damage entry "$value" XX002 XX002 any "bad entry point"
  damage chain "$value" XX002 XX002 any "dangling overflow tuple"
done
# A cycle: the scan reads the chain to its end; VACUUM, once the copies are
# dead, checks that the chain is empty and then frees it.
damage cycle - XX002 any XX002 "dangling overflow tuple"
cluster_start "$DIR_main"
echo "$passes checks passed"
