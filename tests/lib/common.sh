# Helpers for the integration tests in tests/*.sh: throwaway clusters run as
# the `postgres` user on private ports, stopped on exit, and assertions.
# Each test sources this file.
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"
unset RUST_BACKTRACE

TEST_NAME="$(basename "$0" .sh)"
TEST_ROOT="$(mktemp -d "${TMPDIR:-/tmp}/lodestone-$TEST_NAME.XXXXXX")"
pg_owned_dir "$TEST_ROOT"
CLUSTERS=()
# The installation a cluster was started from, when not $PG_CONFIG (see new_cluster).
declare -A CLUSTER_PG_CONFIG=()

cleanup() {
  local status=$?
  for dir in "${CLUSTERS[@]}"; do PG_CONFIG="${CLUSTER_PG_CONFIG[$dir]:-$PG_CONFIG}" cluster_stop "$dir" immediate; done
  if ((status == 0)); then rm -rf "$TEST_ROOT"; else echo "kept $TEST_ROOT for inspection" >&2; fi
}
trap cleanup EXIT

# new_cluster NAME [postgresql.conf lines...]: creates and starts a cluster;
# sets $DIR_<NAME> and $PORT_<NAME>. `PG_CONFIG=OTHER new_cluster NAME` runs
# another installation's server (tests/migration.sh: pgvector's); the cleanup
# stops it with that installation's pg_ctl.
new_cluster() {
  local name=$1; shift
  local dir="$TEST_ROOT/$name" port
  port="$(free_port $((55000 + RANDOM % 5000)))"
  cluster_init "$dir" "$port" "$@"
  CLUSTERS+=("$dir")
  CLUSTER_PG_CONFIG[$dir]=$PG_CONFIG
  cluster_start "$dir"
  printf -v "DIR_$name" '%s' "$dir"
  printf -v "PORT_$name" '%s' "$port"
}

# sql NAME [psql args...]: runs psql against cluster NAME, database postgres,
# unaligned and quiet.
sql() {
  local name=$1; shift
  local dir_var="DIR_$name" port_var="PORT_$name"
  cluster_psql "${!dir_var}" "${!port_var}" -d postgres -qAt "$@"
}

# Loads lodestone and the test data helpers into cluster NAME.
load_lodestone() {
  sql "$1" -c "CREATE EXTENSION IF NOT EXISTS lodestone" -f "$LODESTONE_ROOT/tests/sql/clustered.sql" >/dev/null
}

passes=0
# check DESCRIPTION CONDITION-AS-AWK-EXPRESSION VALUE: e.g. check "recall" '$1 >= 0.95' "$r"
check() {
  local what=$1 cond=$2 value=$3
  if awk -v v="$value" "BEGIN { \$0 = v; exit !($cond) }"; then
    printf '  ok    %-60s %s\n' "$what" "${value%%$'\n'*}"
    passes=$((passes + 1))
  else
    printf '  FAIL  %-60s %s (want %s)\n' "$what" "$value" "$cond"
    exit 1
  fi
}

# same DESCRIPTION A B: the two values must be equal.
same() {
  if [[ "$2" == "$3" ]]; then
    printf '  ok    %s\n' "$1"
    passes=$((passes + 1))
  else
    printf '  FAIL  %s\n--- %s\n+++ %s\n' "$1" "$2" "$3"
    exit 1
  fi
}

# no_rows DESCRIPTION COMMAND...: COMMAND (a query that lists problems, such
# as lodestone_hnsw_verify) succeeds and prints nothing. A failing query
# fails the check: compared as `same "..." "" "$(sql ...)"`, its empty output
# would pass.
no_rows() {
  local what=$1 out status=0; shift
  out="$("$@" 2>&1)" || status=$?
  if ((status == 0)) && [[ -z $out ]]; then
    printf '  ok    %s\n' "$what"
    passes=$((passes + 1))
  else
    printf '  FAIL  %s (exit status %s)\n%s\n' "$what" "$status" "$out"
    exit 1
  fi
}

# same_lines DESCRIPTION A B: like `same`, for long multi-line results (top-k
# lists of many queries); on a mismatch prints how many lines differ and the
# first differences.
same_lines() {
  if [[ "$2" == "$3" ]]; then
    printf '  ok    %-60s %s lines\n' "$1" "$(wc -l <<<"$2")"
    passes=$((passes + 1))
  else
    printf '  FAIL  %s: %s lines differ\n' "$1" "$(diff <(echo "$2") <(echo "$3") | grep -c '^[<>]')"
    diff <(echo "$2") <(echo "$3") | head -n 20
    exit 1
  fi
}

# new_standby NAME PRIMARY [postgresql.conf lines...]: a hot standby of
# cluster PRIMARY, from pg_basebackup over 127.0.0.1 with WAL streamed,
# started and streaming (primary_conninfo written by -R); sets $DIR_<NAME>
# and $PORT_<NAME>. PRIMARY needs wal_level = replica and max_wal_senders.
new_standby() {
  local name=$1 primary=$2; shift 2
  local dir="$TEST_ROOT/$name" pport_var="PORT_$primary" port line
  pg_owned_dir "$dir"
  pg_owned_dir "$dir/sock"
  as_pg "$(pg_bindir)/pg_basebackup" -h 127.0.0.1 -p "${!pport_var}" -U postgres -D "$dir/data" -R -X stream -c fast \
    || die "pg_basebackup of $primary failed"
  port="$(free_port $((55000 + RANDOM % 5000)))"
  {
    echo "port = $port"
    echo "unix_socket_directories = '$dir/sock'"
    for line in "$@"; do echo "$line"; done
  } | as_pg tee -a "$dir/data/postgresql.conf" >/dev/null
  CLUSTERS+=("$dir")
  cluster_start "$dir"
  printf -v "DIR_$name" '%s' "$dir"
  printf -v "PORT_$name" '%s' "$port"
}

# wait_for_replay PRIMARY STANDBY...: waits until every STANDBY has replayed
# PRIMARY's WAL up to its current insert position (at most 120 s).
wait_for_replay() {
  local primary=$1 standby lsn i; shift
  lsn="$(sql "$primary" -c "SELECT pg_current_wal_insert_lsn()")"
  for standby in "$@"; do
    for ((i = 0; ; i++)); do
      [[ "$(sql "$standby" -c "SELECT pg_last_wal_replay_lsn() >= '$lsn'::pg_lsn")" == t ]] && break
      ((i < 1200)) || die "$standby did not replay $primary's WAL up to $lsn"
      sleep 0.1
    done
  done
}

# topk NAME TABLE QUERIES OP K [settings...]: for every row of QUERIES(id, v),
# its id and the ids of the K nearest rows of TABLE(id, v) by OP through the
# index ("qid|{id,id,...}", one line per query, ordered by qid).
topk() {
  local name=$1 table=$2 queries=$3 op=$4 k=$5; shift 5
  local settings=(-c "SET enable_seqscan = off" -c "SET enable_bitmapscan = off" -c "SET hnsw.ef_search = 64")
  local s
  for s in "$@"; do settings+=(-c "SET $s"); done
  sql "$name" "${settings[@]}" -c "
    SELECT q.id, ARRAY(SELECT i.id FROM $table i ORDER BY i.v $op q.v LIMIT $k) FROM $queries q ORDER BY q.id"
}

# write_workload TABLE DIMS MAXID: pgbench scripts in $TEST_ROOT/*.sql that
# insert, update, delete and search rows of TABLE(id bigserial, v vector(DIMS)),
# and one that runs VACUUM. Updates and deletes pick ids in 1..MAXID.
write_workload() {
  local table=$1 dims=$2 maxid=$3
  local rv="ARRAY(SELECT random() * 2 - 1 FROM generate_series(1, $dims))::vector($dims)"
  local f
  printf '%s\n' "INSERT INTO $table (v) SELECT $rv;" >"$TEST_ROOT/insert.sql"
  printf '%s\n' "\\set k random(1, $maxid)" "UPDATE $table SET v = $rv WHERE id = :k;" >"$TEST_ROOT/update.sql"
  printf '%s\n' "\\set k random(1, $maxid)" "DELETE FROM $table WHERE id = :k;" >"$TEST_ROOT/delete.sql"
  printf '%s\n' "SELECT id FROM $table ORDER BY v <-> (SELECT $rv) LIMIT 10;" >"$TEST_ROOT/search.sql"
  printf '%s\n' "VACUUM $table;" >"$TEST_ROOT/vacuum.sql"
  for f in insert update delete search vacuum; do chmod 644 "$TEST_ROOT/$f.sql"; done
}

# run_pgbench NAME LOG [pgbench args...]: pgbench against cluster NAME's
# database postgres, output to LOG; returns pgbench's status.
run_pgbench() {
  local name=$1 log=$2; shift 2
  local dir_var="DIR_$name" port_var="PORT_$name"
  as_pg "$(pg_bindir)/pgbench" -h "${!dir_var}/sock" -p "${!port_var}" -U postgres -n "$@" postgres >"$log" 2>&1
}

# use_seed: this test's random choices come from $TEST_SEED (default: a new
# random one), printed so that a failing run can be repeated with
# `TEST_SEED=N bash tests/NAME.sh`. Seeds bash's $RANDOM; sets $SEED_SQL, a
# value for setseed() (SQL random() of one session), and $PGBENCH_SEED_SQL,
# the first lines of a pgbench script that seed each transaction's random()
# from pgbench's own generator (run pgbench with --random-seed="$TEST_SEED";
# a test that runs pgbench more than once must vary it per run, or each run
# repeats the previous one's values).
# Timing (of concurrent sessions, of a crash) is not reproduced; the data is.
use_seed() {
  TEST_SEED=${TEST_SEED:-$(((RANDOM << 15) | RANDOM))}
  export TEST_SEED
  RANDOM=$TEST_SEED
  SEED_SQL=$(awk -v s="$TEST_SEED" 'BEGIN { printf "%.9f", (s % 1000000007) / 1000000007 }')
  PGBENCH_SEED_SQL=$'\\set seed random(1, 2147483646)\nSELECT setseed(:seed / 2147483647.0);'
  echo "$TEST_NAME: TEST_SEED=$TEST_SEED"
}
