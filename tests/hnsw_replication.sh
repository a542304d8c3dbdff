#!/usr/bin/env bash
# A streaming standby (pg_basebackup over 127.0.0.1) replays the hnsw index
# from WAL alone: after a build, inserts, deletes and VACUUM on the primary,
# the standby returns the same top-10 as the primary for every query, and
# its copy of the graph verifies; the same for quantized indexes (pq, sq8).
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

new_cluster primary "wal_level = replica" "max_wal_senders = 4" "hot_standby = on"
load_lodestone primary

new_standby standby primary
same "the standby is in recovery" "t" "$(sql standby -c "SELECT pg_is_in_recovery()")"

# Everything below happens after the base backup: the standby learns it from WAL.
sql primary <<'SQL'
CREATE TABLE items AS SELECT id, v::vector(16) AS v FROM lodestone_test.clustered(5000, 16, 50, 0.3, 0.1);
CREATE TABLE queries AS SELECT id, v::vector(16) AS v FROM lodestone_test.clustered(100, 16, 50, 0.3, 0.2);
SET maintenance_work_mem = '128MB';
CREATE INDEX items_l2 ON items USING hnsw (v vector_l2_ops);
CREATE INDEX items_cos ON items USING hnsw (v vector_cosine_ops) WITH (m = 8, ef_construction = 32);
INSERT INTO items SELECT id + 10000, v FROM lodestone_test.clustered(2000, 16, 50, 0.3, 0.3);
DELETE FROM items WHERE id % 3 = 0;
VACUUM items;
INSERT INTO items SELECT id + 20000, v FROM lodestone_test.clustered(1000, 16, 50, 0.3, 0.4);
SQL

wait_for_replay primary standby

# The standby answers like the primary: TABLE's top-10 by both operators at
# ef_search EF, an index scan of PLANNED, and INDEXES verify with the same info.
compare_standby() { # label table ef planned indexes...
  local label=$1 table=$2 ef=$3 planned=$4 op idx primary_results plan
  shift 4
  for op in '<->' '<=>'; do
    primary_results="$(topk primary "$table" queries "$op" 10 "hnsw.ef_search = $ef")"
    same "${label}the standby's top-10 by $op equals the primary's for 100 queries" "$primary_results" \
      "$(topk standby "$table" queries "$op" 10 "hnsw.ef_search = $ef")"
    check "${label}the primary returned 10 ids per query ($op)" '$1 == 100' \
      "$(grep -c ',.*,.*,.*,.*,.*,.*,.*,.*,' <<<"$primary_results")"
  done
  plan="$(sql standby -c "SET enable_seqscan = off" -c "EXPLAIN (COSTS OFF) SELECT id FROM $table ORDER BY v <-> '[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]' LIMIT 5")"
  check "the standby plans an index scan of $planned" "/Index Scan using $planned/" "$plan"
  for idx in "$@"; do
    no_rows "$idx verifies on the standby" sql standby -c "SELECT * FROM lodestone_hnsw_verify('$idx')"
    same "$idx: the standby's info equals the primary's" "$(sql primary -c "SELECT * FROM lodestone_hnsw_info('$idx')")" \
      "$(sql standby -c "SELECT * FROM lodestone_hnsw_info('$idx')")"
  done
}
compare_standby "" items 60 items_l2 items_l2 items_cos

# A quantized index (codes on pages, the trained quantizer in pages of its
# own): the standby has the quantizer from WAL and re-ranks from its own
# heap, so it returns the same rows in the same order.
sql primary <<'SQL'
CREATE TABLE qitems AS SELECT id, v::vector(16) AS v FROM items;
SET maintenance_work_mem = '128MB';
CREATE INDEX qitems_pq ON qitems USING hnsw (v vector_l2_ops) WITH (quantizer = pq, pq_subvectors = 8);
CREATE INDEX qitems_sq8 ON qitems USING hnsw (v vector_cosine_ops) WITH (quantizer = sq8);
INSERT INTO qitems SELECT id + 30000, v FROM lodestone_test.clustered(1000, 16, 50, 0.3, 0.5);
DELETE FROM qitems WHERE id % 5 = 0;
VACUUM qitems;
INSERT INTO qitems SELECT id + 40000, v FROM lodestone_test.clustered(500, 16, 50, 0.3, 0.6);
SQL
wait_for_replay primary standby
compare_standby "quantized: " qitems 40 qitems_pq qitems_pq qitems_sq8
# The standby's answers are exact: the same as a sequential scan on the
# primary, here with a beam over the whole table.
exact="$(sql primary -c "SET enable_indexscan = off" -c "SET enable_bitmapscan = off" -c "
  SELECT q.id, ARRAY(SELECT i.id FROM qitems i ORDER BY i.v <-> q.v LIMIT 10) FROM queries q ORDER BY q.id")"
same "quantized: the standby's top-10 with a table-wide beam equals an exact scan" "$exact" \
  "$(topk standby qitems queries '<->' 10 "hnsw.ef_search = 1000" "lodestone.rerank_factor = 8")"

echo "$passes passed, 0 failed"
