#!/usr/bin/env bash
# SQL-level measurement of the `pq` type (a measurement, not a test):
# bytes per row and sequential-scan time of an exact top-10 query over a
# `vector` column against the same rows' `pq` codes, plus the recall of the
# pq top-10 and of the pq top-100 re-ranked exactly.
#
#   benches/pq_scan.sh [ROWS] [DIM] [SUBVECTORS]   default 100000 384 48
#   NOISE=0.4 benches/pq_scan.sh                   noisier sub-clusters (harder for PQ)
#
# One throwaway cluster, one core (no parallel workers), JIT off; prints a
# markdown table of medians of 5 runs.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
unset RUST_BACKTRACE

ROWS="${1:-100000}"
DIM="${2:-384}"
M="${3:-48}"
RUNS=${RUNS:-5}
dir="$LODESTONE_ROOT/target/bench-pq-scan"
port="$(free_port 55532)"

cluster_stop "$dir" immediate
rm -rf "$dir"
cluster_init "$dir" "$port" "shared_buffers = 2GB" "max_parallel_workers_per_gather = 0" "jit = off"
trap 'cluster_stop "$dir" immediate' EXIT
cluster_start "$dir"
psql_() { cluster_psql "$dir" "$port" -d postgres "$@"; }

log "generating $ROWS rows of $DIM dimensions (200 clusters of 53 sub-clusters)"
psql_ -q <<SQL
CREATE EXTENSION lodestone;
SET seed = 0.1;
CREATE TABLE centres AS SELECT i, ARRAY(SELECT random()::real * 2 - 1 FROM generate_series(1, $DIM) WHERE i >= 0)::vector($DIM) AS v
  FROM generate_series(0, 199) i;
CREATE TABLE subs AS SELECT i, ARRAY(SELECT (random()::real - 0.5) * 0.6 FROM generate_series(1, $DIM) WHERE i >= 0)::vector($DIM) AS v
  FROM generate_series(0, 52) i;
CREATE TABLE noise AS SELECT i, ARRAY(SELECT (random()::real - 0.5) * ${NOISE:-0.1} FROM generate_series(1, $DIM) WHERE i >= 0)::vector($DIM) AS v
  FROM generate_series(0, 996) i;
-- centre + sub-cluster offset + noise, from 200 × 53 × 997 (pairwise
-- coprime) combinations: every row distinct, about 9 rows per sub-cluster,
-- so a row's nearest neighbours are the other rows of its sub-cluster.
CREATE TABLE items AS SELECT g AS id, (c.v + s.v + n.v)::vector($DIM) AS v
  FROM generate_series(1, $ROWS) g JOIN centres c ON c.i = g % 200 JOIN subs s ON s.i = g % 53 JOIN noise n ON n.i = g % 997;
CREATE TABLE queries AS SELECT k AS qid, (c.v + s.v + n.v)::vector($DIM) AS q
  FROM generate_series(1, 20) k JOIN centres c ON c.i = (k * 37) % 200 JOIN subs s ON s.i = (k * 7) % 53
  JOIN noise n ON n.i = (k * 101 + 5) % 997;
ALTER TABLE items ADD PRIMARY KEY (id);
VACUUM ANALYZE items;
SQL

log "training a $M-subvector, 8-bit codebook on a 20,000-row sample"
train_ms=$(psql_ -qAt -c '\timing on' -c "SELECT lodestone.pq_train('items', 'v', $M, 8, 20000)" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p')
encode_ms=$(psql_ -qAt -c '\timing on' -c "CREATE TABLE codes AS SELECT id, pq_encode(v, 1) AS c FROM items" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p')
psql_ -qc "VACUUM ANALYZE codes"

median_ms() { # sql
  local sql=$1 times=()
  psql_ -qAt -c "$sql" >/dev/null # warm the cache
  for _ in $(seq "$RUNS"); do
    times+=("$(psql_ -qAt -c '\timing on' -c "$sql" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p')")
  done
  printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((RUNS + 1) / 2))p"
}

q="$(psql_ -qAt -c "SELECT q FROM queries WHERE qid = 1")"
vec_ms=$(median_ms "SELECT id FROM items ORDER BY v <-> '$q' LIMIT 10")
pq_ms=$(median_ms "SELECT id FROM codes ORDER BY c <-> '$q' LIMIT 10")
pq_cos_ms=$(median_ms "SELECT id FROM codes ORDER BY c <=> '$q' LIMIT 10")
vec_cos_ms=$(median_ms "SELECT id FROM items ORDER BY v <=> '$q' LIMIT 10")
call_ms=$(median_ms "SELECT count(*) FROM codes WHERE pq_codebook(c) = 1")
count_ms=$(median_ms "SELECT count(*) FROM codes")
rerank_ms=$(median_ms "SELECT id FROM (SELECT id FROM codes ORDER BY c <-> '$q' LIMIT 100) k JOIN items USING (id) ORDER BY v <-> '$q' LIMIT 10")

read -r vec_rel pq_rel vec_row pq_row < <(psql_ -qAt -F ' ' -c "
  SELECT pg_relation_size('items') + coalesce(pg_relation_size((SELECT reltoastrelid FROM pg_class WHERE relname = 'items')), 0),
         pg_relation_size('codes'),
         (SELECT round(avg(pg_column_size(v))) FROM items), (SELECT round(avg(pg_column_size(c))) FROM codes)")
read -r recall rerank_recall < <(psql_ -qAt -F ' ' -c "
  SELECT round(avg((SELECT count(*) FROM unnest(t.exact) x WHERE x = ANY (t.pq)) / 10.0), 3),
         round(avg((SELECT count(*) FROM unnest(t.exact) x WHERE x = ANY (t.rr)) / 10.0), 3)
  FROM (SELECT ARRAY(SELECT id FROM items ORDER BY v <-> q LIMIT 10) AS exact,
               ARRAY(SELECT id FROM codes ORDER BY c <-> q LIMIT 10) AS pq,
               ARRAY(SELECT id FROM (SELECT id FROM codes ORDER BY c <-> q LIMIT 100) k JOIN items USING (id)
                     ORDER BY v <-> q LIMIT 10) AS rr
        FROM queries) t")

echo
echo "### pq against vector: $ROWS rows × $DIM dims, $M subvectors × 8 bits (median of $RUNS, one core)"
echo
echo "| | vector | pq | ratio |"
echo "|---|---:|---:|---:|"
echo "| bytes per value (pg_column_size) | $vec_row | $pq_row | $(awk -v a="$vec_row" -v b="$pq_row" 'BEGIN { printf "%.1f×", a / b }') |"
echo "| table size (heap + TOAST) | $((vec_rel / 1048576)) MiB | $((pq_rel / 1048576)) MiB | $(awk -v a="$vec_rel" -v b="$pq_rel" 'BEGIN { printf "%.1f×", a / b }') |"
echo "| \`ORDER BY <-> q LIMIT 10\` (seq scan) | $vec_ms ms | $pq_ms ms | $(awk -v a="$vec_ms" -v b="$pq_ms" 'BEGIN { printf "%.2f×", a / b }') |"
echo "| \`ORDER BY <=> q LIMIT 10\` (seq scan) | $vec_cos_ms ms | $pq_cos_ms ms | $(awk -v a="$vec_cos_ms" -v b="$pq_cos_ms" 'BEGIN { printf "%.2f×", a / b }') |"
echo "| pq top-100 re-ranked by the vectors | | $rerank_ms ms | |"
echo "| (baselines over the pq table: \`count(*)\`; one cheap call per row, \`pq_codebook(c) = 1\`) | | $count_ms ms; $call_ms ms | |"
echo
echo "Recall@10 against the exact top-10 (20 queries): pq alone $recall, pq top-100 re-ranked $rerank_recall."
echo "Training ($M × 256 centroids, 20,000 sampled rows): $train_ms ms; encoding $ROWS rows: $encode_ms ms."
echo
echo "Machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(lscpu | sed -n 's/^Model name: *//p' | head -1); $("$PG_CONFIG" --version)"
