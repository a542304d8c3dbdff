#!/usr/bin/env bash
# Scale-out figures: the same data on a single node and on Citus with 1 and
# 2 workers (4 shards per worker... see SHARDS), hnsw on every shard. For each
# setup: index build time, global recall@10 against exact search, and QPS of
# one client running every query in turn. Needs Citus installed for
# $(pg_config); not a test.
#
#   benches/citus_scale.sh [ROWS] [DIM]     default 100000 × 128, cosine
#
# All clusters share this machine's cores: more workers add fan-out, not CPU.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
unset RUST_BACKTRACE
[[ -f "$("$PG_CONFIG" --sharedir)/extension/citus.control" ]] || die "Citus is not installed for $("$PG_CONFIG" --version)"

ROWS="${1:-100000}"
DIM="${2:-128}"
QUERIES=${QUERIES:-500}
EF=${EF:-40}
SHARDS=${SHARDS:-4}
root="$LODESTONE_ROOT/target/bench-citus"
rm -rf "$root"
mkdir -p "$root"
pg_owned_dir "$root"
dirs=()
trap 'for d in "${dirs[@]}"; do cluster_stop "$d" immediate; done' EXIT

start() { # NAME [conf...] -> sets PORT_NAME
  local name=$1 port; shift
  port="$(free_port $((56000 + RANDOM % 3000)))"
  cluster_init "$root/$name" "$port" "shared_buffers = 1GB" "maintenance_work_mem = 1GB" "jit = off" "$@"
  dirs+=("$root/$name")
  cluster_start "$root/$name"
  printf -v "PORT_$name" '%s' "$port"
}
q() { local name=$1 port_var="PORT_$1"; shift; cluster_psql "$root/$name" "${!port_var}" -d postgres -qAt "$@"; }

# The coordinator keeps a connection per shard task open between queries (by
# default it keeps one per worker and opens the others anew every query,
# which costs more than the search).
citus=("shared_preload_libraries = 'citus'" "max_worker_processes = 32" "citus.shard_replication_factor = 1"
  "citus.max_cached_conns_per_worker = 8")
start single
start coord1 "${citus[@]}"; start w1a "${citus[@]}"
start coord2 "${citus[@]}"; start w2a "${citus[@]}"; start w2b "${citus[@]}"
for n in w1a coord1 w2a w2b coord2; do q "$n" -c "CREATE EXTENSION citus" >/dev/null; done
q coord1 -c "SELECT citus_set_coordinator_host('127.0.0.1', $PORT_coord1)" -c "SELECT citus_add_node('127.0.0.1', $PORT_w1a)" >/dev/null
q coord2 -c "SELECT citus_set_coordinator_host('127.0.0.1', $PORT_coord2)" -c "SELECT citus_add_node('127.0.0.1', $PORT_w2a)" \
  -c "SELECT citus_add_node('127.0.0.1', $PORT_w2b)" >/dev/null

data="$root/data.sql"
log "generating $ROWS x $DIM clustered vectors and $QUERIES queries"
for n in single coord1 coord2; do
  q "$n" -c "CREATE EXTENSION lodestone" -f "$LODESTONE_ROOT/tests/sql/clustered.sql" >/dev/null
  q "$n" -c "CREATE TABLE items (id bigint PRIMARY KEY, v vector($DIM))" >/dev/null
done
for n in coord1 coord2; do q "$n" -c "SET citus.shard_count = $SHARDS" -c "SELECT create_distributed_table('items', 'id')" >/dev/null; done
for n in single coord1 coord2; do
  q "$n" -c "INSERT INTO items SELECT id, v::vector($DIM) FROM lodestone_test.clustered($ROWS, $DIM, 100, 1.0, 0.1)" \
    -c "CREATE TABLE queries AS SELECT id, v::vector($DIM) AS v FROM lodestone_test.clustered($QUERIES, $DIM, 100, 1.0, 0.2)" \
    -c "VACUUM ANALYZE items" >/dev/null
done

statements() { # WHERE-less top-10 of every query, as literals
  q single -c "SELECT format('SELECT %s, ARRAY(SELECT id FROM items ORDER BY v <=> %L LIMIT 10);', id, v) FROM queries ORDER BY id"
}
statements >"$data"
exact="$( { echo "SET enable_indexscan = off;"; cat "$data"; } | q single)"
recall() {
  python3 -c '
import sys
def parse(t):
    return {l.split("|")[0]: set(l.split("|")[1].strip("{}").split(",")) for l in t.strip().splitlines()}
a, b = parse(sys.argv[1]), parse(sys.argv[2])
print("%.3f" % (sum(len(a[k] & b.get(k, set())) / len(a[k]) for k in a) / len(a)))' "$1" "$2"
}

echo
echo "### Scale-out: $ROWS × $DIM, cosine, hnsw m = 16, ef_construction = 64, ef_search = $EF, $QUERIES queries, 1 client"
echo
echo "| setup | build | recall@10 | QPS | "
echo "|---|---:|---:|---:|"
for setup in single coord1 coord2; do
  case $setup in single) nodes=(single) ;; coord1) nodes=(coord1 w1a) ;; coord2) nodes=(coord2 w2a w2b) ;; esac
  t0=$(date +%s.%N)
  q "$setup" -c "SET maintenance_work_mem = '1GB'" -c "CREATE INDEX ON items USING hnsw (v vector_cosine_ops)" >/dev/null
  t1=$(date +%s.%N)
  # hnsw.ef_search reaches the shards as a server setting (a SET on the
  # coordinator would need a transaction block, which makes Citus run a
  # query's shard tasks over one connection per worker, one after another).
  for node in "${nodes[@]}"; do q "$node" -c "LOAD 'lodestone'" -c "ALTER SYSTEM SET hnsw.ef_search = $EF" -c "SELECT pg_reload_conf()" >/dev/null; done
  run() { q "$setup" -f "$data"; }
  run >/dev/null  # warm-up
  t2=$(date +%s.%N)
  found="$(run)"
  t3=$(date +%s.%N)
  case $setup in single) label="single node" ;; coord1) label="Citus, 1 worker ($SHARDS shards)" ;; coord2) label="Citus, 2 workers ($SHARDS shards)" ;; esac
  printf '| %s | %.1f s | %s | %.0f |\n' "$label" "$(echo "$t1 - $t0" | bc)" "$(recall "$exact" "$found")" "$(echo "$QUERIES / ($t3 - $t2)" | bc -l)"
done
echo
echo "Machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; $("$PG_CONFIG" --version); load average $(cut -d' ' -f1-3 /proc/loadavg)."
