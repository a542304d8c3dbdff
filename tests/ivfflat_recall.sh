#!/usr/bin/env bash
# Recall of the ivfflat index against exact search on 10,000 clustered
# 64-dim vectors (lists = 100), at ivfflat.probes 1 and 10, for every
# operator class (vector l2/ip/cosine, halfvec l2/ip/cosine, bit hamming);
# after the build and after inserting as many rows again; with iterative
# scans under a selective filter; and VACUUM running while rows are
# inserted and deleted (the index then holds exactly the table's rows).
# Also 100 separate blobs in 50 lists, where one probe should find nearly
# every neighbour; and, when pgvector is installed (PGVECTOR_PG_CONFIG, or
# PG_CONFIG's own "vector"), recall no lower than pgvector's on the same rows.
#
# Data seed: IVFFLAT_SEED (default 0.1), printed.
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

SEED="${IVFFLAT_SEED:-0.1}"
echo "seed: IVFFLAT_SEED=$SEED"
new_cluster main
load_lodestone main

DATA_SQL="$(cat <<SQL
CREATE TABLE all_items AS SELECT id, v::vector(64) AS v FROM lodestone_test.clustered(10000, 64, 10, 1.0, $SEED);
CREATE TABLE queries AS SELECT id, v::vector(64) AS v FROM lodestone_test.clustered(100, 64, 10, 1.0, $SEED + 0.1);
-- built on the first half; the second half is inserted after the build
CREATE TABLE items AS SELECT * FROM all_items WHERE id <= 5000;
CREATE TABLE halfs AS SELECT id, v::halfvec(64) AS v FROM items;
CREATE TABLE half_queries AS SELECT id, v::halfvec(64) AS v FROM queries;
CREATE TABLE bits AS SELECT id, binary_quantize(v)::bit(64) AS v FROM items;
CREATE TABLE bit_queries AS SELECT id, binary_quantize(v)::bit(64) AS v FROM queries;
CREATE INDEX ON items USING ivfflat (v vector_l2_ops) WITH (lists = 100);
CREATE INDEX ON items USING ivfflat (v vector_ip_ops) WITH (lists = 100);
CREATE INDEX ON items USING ivfflat (v vector_cosine_ops) WITH (lists = 100);
CREATE INDEX ON halfs USING ivfflat (v halfvec_l2_ops) WITH (lists = 100);
CREATE INDEX ON halfs USING ivfflat (v halfvec_ip_ops) WITH (lists = 100);
CREATE INDEX ON halfs USING ivfflat (v halfvec_cosine_ops) WITH (lists = 100);
CREATE INDEX ON bits USING ivfflat (v bit_hamming_ops) WITH (lists = 100);
-- 100 blobs that overlap little (centres about 6.5 apart, radius 2.3), two
-- to a list: recall at one probe tells how well k-means placed the centers
CREATE TABLE blobs AS SELECT id, v::vector(64) AS v FROM lodestone_test.clustered(5000, 64, 100, 0.5, $SEED);
CREATE TABLE blob_queries AS SELECT id, v::vector(64) AS v FROM lodestone_test.clustered(100, 64, 100, 0.5, $SEED + 0.1);
CREATE INDEX ON blobs USING ivfflat (v vector_l2_ops) WITH (lists = 50);
CREATE INDEX ON blobs USING ivfflat (v vector_ip_ops) WITH (lists = 50);
CREATE INDEX ON blobs USING ivfflat (v vector_cosine_ops) WITH (lists = 50);
SQL
)"
sql main <<<"$DATA_SQL"

recall() { # probes table queries op [cluster]
  sql "${5:-main}" -c "SET ivfflat.probes = $1" \
    -c "SELECT round(lodestone_test.recall_by_distance('$2', '$3', 'v', '$4', 10)::numeric, 3)" | tail -1
}

# Thresholds: measured recall (seed 0.1: 0.20-0.37 at one probe, 0.973-0.995
# at ten, with k-means' 10 passes; pgvector 0.199-0.40 at one probe, 0.199
# for inner product) minus a margin. Each of the 10
# clusters spreads over about 10 of the 100 lists, so one probe finds a
# quarter of the neighbours, ten nearly all.
measure() { # label
  local p
  for p in 1 10; do
    local min; if ((p == 1)); then min=${IVF_MIN1:-0.17}; else min=${IVF_MIN10:-0.95}; fi
    check "$1: recall@10 vector L2, probes $p" "\$1 >= $min" "$(recall $p items queries '<->')"
    check "$1: recall@10 vector inner product, probes $p" "\$1 >= $min" "$(recall $p items queries '<#>')"
    check "$1: recall@10 vector cosine, probes $p" "\$1 >= $min" "$(recall $p items queries '<=>')"
    check "$1: recall@10 halfvec L2, probes $p" "\$1 >= $min" "$(recall $p halfs half_queries '<->')"
    check "$1: recall@10 halfvec inner product, probes $p" "\$1 >= $min" "$(recall $p halfs half_queries '<#>')"
    check "$1: recall@10 halfvec cosine, probes $p" "\$1 >= $min" "$(recall $p halfs half_queries '<=>')"
    check "$1: recall@10 (ties count) bit hamming, probes $p" "\$1 >= $min" "$(recall $p bits bit_queries '<~>')"
  done
  check "$1: recall@10 vector L2, every list probed, is exact" '$1 == 1' "$(recall 100 items queries '<->')"
}
measure "after build"

for p in 1 10; do
  # Measured 1.000 at both (pgvector 0.99-1.0); 0.89 at one probe when
  # k-means stopped after its first pass.
  if ((p == 1)); then min=${IVF_BLOB_MIN1:-0.97}; else min=${IVF_BLOB_MIN10:-0.99}; fi
  for spec in "L2|<->" "inner product|<#>" "cosine|<=>"; do
    check "100 blobs, 50 lists: recall@10 vector ${spec%%|*}, probes $p" "\$1 >= $min" "$(recall $p blobs blob_queries "${spec#*|}")"
  done
done

# Against pgvector on the same rows, when an installation of it is at hand:
# $PGVECTOR_PG_CONFIG, else $PG_CONFIG's own extension "vector" when it is
# pgvector (not lodestone's alias). pgvector seeds its k-means at random, so
# its recall moves from build to build (by up to 0.03 at one probe, seen);
# the margins leave room for that. k-means stopping after its first pass
# (fixed) put lodestone 0.11 below pgvector on the blobs at one probe.
pgv_config="${PGVECTOR_PG_CONFIG:-$PG_CONFIG}"
pgv_control="$("$pgv_config" --sharedir)/extension/vector.control"
if [[ -f "$pgv_control" ]] && ! grep -qE "^module_pathname *= *'\\\$libdir/lodestone'" "$pgv_control"; then
  PG_CONFIG=$pgv_config new_cluster pgv
  sql pgv -c "CREATE EXTENSION vector" -f "$LODESTONE_ROOT/tests/sql/clustered.sql" >/dev/null
  sql pgv <<<"$DATA_SQL"
  digest="SELECT md5((SELECT string_agg(v::text, ',' ORDER BY id) FROM items) || (SELECT string_agg(v::text, ',' ORDER BY id) FROM blobs))"
  same "pgvector's cluster has the same rows" "$(sql main -c "$digest")" "$(sql pgv -c "$digest")"
  for p in 1 10; do
    for spec in "vector L2|items queries <->" "vector inner product|items queries <#>" "vector cosine|items queries <=>" \
      "halfvec L2|halfs half_queries <->" "halfvec inner product|halfs half_queries <#>" \
      "halfvec cosine|halfs half_queries <=>" "bit hamming|bits bit_queries <~>" \
      "100 blobs, L2|blobs blob_queries <->" "100 blobs, inner product|blobs blob_queries <#>" \
      "100 blobs, cosine|blobs blob_queries <=>"; do
      read -r table queries op <<<"${spec#*|}"
      # bit at one probe moves most between pgvector's builds (0.52-0.58 in
      # five builds of one data set; 0.364 against pgvector's 0.412 seen here)
      if ((p == 1)); then margin=${IVF_PGV_MARGIN1:-0.05}; else margin=${IVF_PGV_MARGIN10:-0.02}; fi
      [[ $spec == bit* && $p == 1 ]] && margin=${IVF_PGV_MARGIN1_BIT:-0.10}
      ours="$(recall $p "$table" "$queries" "$op")" theirs="$(recall $p "$table" "$queries" "$op" pgv)"
      check "recall@10 ${spec%%|*}, probes $p, lodestone vs pgvector - $margin" \
        "\$1 >= \$2 - $margin" "$ours $theirs"
    done
  done
else
  echo "  skip  comparison with pgvector: no pgvector at $pgv_config (set PGVECTOR_PG_CONFIG)"
fi

sql main <<'SQL'
INSERT INTO items SELECT * FROM all_items WHERE id > 5000;
INSERT INTO halfs SELECT id, v::halfvec(64) FROM all_items WHERE id > 5000;
INSERT INTO bits SELECT id, binary_quantize(v)::bit(64) FROM all_items WHERE id > 5000;
SQL
measure "after 5,000 inserts"

# Iterative scans: a filter that keeps 1% of the rows still gets 10 rows.
got="$(sql main -c "SET enable_seqscan = off" -c "SET ivfflat.iterative_scan = relaxed_order" \
  -c "SELECT count(*) FROM (SELECT id FROM items WHERE id % 100 = 0 ORDER BY v <-> (SELECT v FROM queries WHERE id = 1) LIMIT 10) t")"
same "iterative scan under a 1% filter returns 10 rows" "10" "$got"
got="$(sql main -c "SET enable_seqscan = off" \
  -c "SELECT count(*) FROM (SELECT id FROM items WHERE id % 100 = 0 ORDER BY v <-> (SELECT v FROM queries WHERE id = 1) LIMIT 10) t")"
check "without it, one probe finds fewer" '$1 < 10' "$got"

# VACUUM with concurrent inserts and deletes.
sql main -c "CREATE TABLE churn (id bigserial PRIMARY KEY, v vector(8))" \
  -c "INSERT INTO churn (v) SELECT ARRAY(SELECT random() FROM generate_series(1, 8))::vector FROM generate_series(1, 3000)" \
  -c "CREATE INDEX churn_v ON churn USING ivfflat (v) WITH (lists = 20)"
write_workload churn 8 3000
run_pgbench main "$TEST_ROOT/churn.log" -c 4 -T 15 -f "$TEST_ROOT/insert.sql@5" -f "$TEST_ROOT/delete.sql@2" -f "$TEST_ROOT/search.sql@2" -f "$TEST_ROOT/vacuum.sql@1" \
  || { cat "$TEST_ROOT/churn.log"; die "pgbench failed"; }
# The last VACUUM must remove rows: one that removes nothing leaves the index's
# reltuples alone (amvacuumcleanup returns at once, as pgvector's does).
sql main -c "DELETE FROM churn WHERE id % 50 = 0" -c "VACUUM churn"
table="$(sql main -c "SELECT count(*) FROM churn")"
index="$(sql main -c "SET enable_seqscan = off" -c "SET ivfflat.probes = 20" -c "SELECT count(*) FROM (SELECT id FROM churn ORDER BY v <-> '[0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5]') t")"
same "after VACUUM under concurrent inserts and deletes, the index has the table's $table rows" "$table" "$index"
tuples="$(sql main -c "SELECT reltuples::bigint FROM pg_class WHERE relname = 'churn_v'")"
same "VACUUM counted them" "$table" "$tuples"

echo "ivfflat_recall: $passes checks passed"
