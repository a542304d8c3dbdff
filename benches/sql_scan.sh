#!/usr/bin/env bash
# SQL-level distance benchmark: sequential scans that evaluate a distance
# operator on every row, lodestone against pgvector when pgvector's `vector`
# extension is installed on this server (each in its own database of one
# throwaway cluster, loaded with the same bytes through binary COPY).
#
#   benches/sql_scan.sh [ROWS] [DIM]        default 1000000 rows of 384 dims
#
# Prints a markdown table of the median of 5 runs per query.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
unset RUST_BACKTRACE

ROWS="${1:-1000000}"
DIM="${2:-384}"
RUNS=${RUNS:-5}
dir="$LODESTONE_ROOT/target/bench-sql-scan"
port="$(free_port 55432)"

cluster_stop "$dir" immediate
rm -rf "$dir"
cluster_init "$dir" "$port" "shared_buffers = 2GB" "max_parallel_workers_per_gather = 0" "jit = off"
trap 'cluster_stop "$dir" immediate' EXIT
cluster_start "$dir"
psql_() { cluster_psql "$dir" "$port" "$@"; }

systems=(lodestone)
if pgvector_installed; then systems+=(vector); fi

log "generating $ROWS rows of $DIM dimensions"
psql_ -d postgres -qc "CREATE DATABASE lodestone" -c "CREATE DATABASE vector" >/dev/null
psql_ -d lodestone -q <<SQL
CREATE EXTENSION lodestone;
SET seed = 0.1;
CREATE TABLE base AS SELECT i, ARRAY(SELECT random()::real FROM generate_series(1, $DIM) WHERE i > 0)::vector($DIM) AS v
  FROM generate_series(1, 1000) i;
CREATE TABLE items (id bigint, embedding vector($DIM));
-- Each row is a base vector shifted by a per-row constant: cheap to make, and
-- every row is distinct.
INSERT INTO items SELECT g, v + array_fill((g % 997) / 997.0, ARRAY[$DIM])::vector($DIM)
  FROM generate_series(1, $ROWS) g JOIN base ON base.i = 1 + g % 1000;
DROP TABLE base;
SQL
psql_ -d lodestone -qc "\\copy items TO '$dir/items.bin' WITH (FORMAT binary)"
if [[ " ${systems[*]} " == *" vector "* ]]; then
  psql_ -d vector -qc "CREATE EXTENSION vector" -c "CREATE TABLE items (id bigint, embedding vector($DIM))"
  psql_ -d vector -qc "\\copy items FROM '$dir/items.bin' WITH (FORMAT binary)"
fi
rm -f "$dir/items.bin"

query_vec="(SELECT embedding FROM items WHERE id = 12345)"
declare -A queries=(
  ["count <-> below r"]="SELECT count(*) FROM items WHERE embedding <-> $query_vec < 5"
  ["count <=> below r"]="SELECT count(*) FROM items WHERE embedding <=> $query_vec < 0.05"
  ["count <#> below r"]="SELECT count(*) FROM items WHERE embedding <#> $query_vec < -100"
  ["count <+> below r"]="SELECT count(*) FROM items WHERE embedding <+> $query_vec < 100"
  ["exact top-10 <->"]="SELECT id FROM items ORDER BY embedding <-> $query_vec LIMIT 10"
)
order=("count <-> below r" "count <=> below r" "count <#> below r" "count <+> below r" "exact top-10 <->")

median_ms() { # db sql
  local db=$1 sql=$2 times=()
  psql_ -d "$db" -qAt -c "$sql" >/dev/null # warm the cache
  for _ in $(seq $RUNS); do
    local t
    t=$(psql_ -d "$db" -qAt -c '\timing on' -c "$sql" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p')
    times+=("$t")
  done
  printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((RUNS + 1) / 2))p"
}

echo
echo "### Sequential scan, $ROWS rows × $DIM dims, one core (median of $RUNS, ms)"
echo
header="| query |"
rule="|---|"
for s in "${systems[@]}"; do header+=" $s |"; rule+="---:|"; done
[[ ${#systems[@]} -gt 1 ]] && { header+=" lodestone speed-up |"; rule+="---:|"; }
echo "$header"
echo "$rule"
for name in "${order[@]}"; do
  row="| \`${queries[$name]/$query_vec/q}\` |"
  declare -A ms=()
  for s in "${systems[@]}"; do
    ms[$s]=$(median_ms "$s" "${queries[$name]}")
    row+=" ${ms[$s]} |"
  done
  if [[ ${#systems[@]} -gt 1 ]]; then
    row+=" $(awk -v a="${ms[vector]}" -v b="${ms[lodestone]}" 'BEGIN { printf "%.2f×", a / b }') |"
  fi
  echo "$row"
done
echo
echo "Machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(lscpu | sed -n 's/^Model name: *//p' | head -1); $("$PG_CONFIG" --version)"
