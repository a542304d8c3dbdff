#!/usr/bin/env bash
# A streaming standby replays ivfflat indexes from WAL alone: after a build
# (logged whole), inserts that add pages to the lists, deletes and VACUUM on
# the primary, the standby returns the same top-10 as the primary for every
# query and every list; then a crash of the primary (immediate stop) in the
# middle of inserts recovers to an index that holds exactly the table's rows.
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

new_cluster primary "wal_level = replica" "max_wal_senders = 4" "hot_standby = on"
load_lodestone primary
new_standby standby primary

# Everything below happens after the base backup: the standby learns it from WAL.
sql primary <<'SQL'
CREATE TABLE items AS SELECT id, v::vector(16) AS v FROM lodestone_test.clustered(4000, 16, 20, 0.3, 0.1);
CREATE TABLE queries AS SELECT id, v::vector(16) AS v FROM lodestone_test.clustered(50, 16, 20, 0.3, 0.2);
CREATE TABLE bits AS SELECT id, binary_quantize(v)::bit(16) AS v FROM items;
CREATE TABLE bit_queries AS SELECT id, binary_quantize(v)::bit(16) AS v FROM queries;
CREATE INDEX items_l2 ON items USING ivfflat (v vector_l2_ops) WITH (lists = 10);
CREATE INDEX items_cos ON items USING ivfflat (v vector_cosine_ops) WITH (lists = 10);
CREATE INDEX bits_h ON bits USING ivfflat (v bit_hamming_ops) WITH (lists = 10);
INSERT INTO items SELECT id + 10000, v FROM lodestone_test.clustered(3000, 16, 20, 0.3, 0.3);
INSERT INTO bits SELECT id + 10000, binary_quantize(v)::bit(16) FROM lodestone_test.clustered(3000, 16, 20, 0.3, 0.3);
DELETE FROM items WHERE id % 3 = 0;
DELETE FROM bits WHERE id % 3 = 0;
VACUUM items;
VACUUM bits;
INSERT INTO items SELECT id + 20000, v FROM lodestone_test.clustered(1000, 16, 20, 0.3, 0.4);
SQL
wait_for_replay primary standby

for probes in 1 10; do
  for op in '<->' '<=>'; do
    p="$(topk primary items queries "$op" 10 "ivfflat.probes = $probes")"
    same "standby's top-10 by $op at probes $probes equals the primary's (50 queries)" "$p" \
      "$(topk standby items queries "$op" 10 "ivfflat.probes = $probes")"
  done
  p="$(topk primary bits bit_queries '<~>' 10 "ivfflat.probes = $probes")"
  same "standby's top-10 by <~> at probes $probes equals the primary's" "$p" "$(topk standby bits bit_queries '<~>' 10 "ivfflat.probes = $probes")"
done
all="SELECT count(*) FROM (SELECT id FROM items ORDER BY v <-> (SELECT v FROM queries WHERE id = 1)) t"
same "every list probed, the standby's index holds the table's rows" "$(sql primary -c "SELECT count(*) FROM items")" \
  "$(sql standby -c "SET enable_seqscan = off" -c "SET ivfflat.probes = 10" -c "$all")"

# Crash recovery: inserts cut short by an immediate stop.
( for i in $(seq 1 40); do sql primary -c "INSERT INTO items SELECT id + 100000 + $i * 1000, v FROM lodestone_test.clustered(200, 16, 20, 0.3, 0.5)" || break; done ) &
sleep 3
cluster_stop "$DIR_primary" immediate
wait || true
cluster_start "$DIR_primary"
same "after crash recovery, the index holds the table's rows" "$(sql primary -c "SELECT count(*) FROM items")" \
  "$(sql primary -c "SET enable_seqscan = off" -c "SET ivfflat.probes = 10" -c "$all")"
sql primary -c "INSERT INTO items SELECT id + 900000, v FROM lodestone_test.clustered(500, 16, 20, 0.3, 0.6)"
same "and takes inserts again" "$(sql primary -c "SELECT count(*) FROM items")" \
  "$(sql primary -c "SET enable_seqscan = off" -c "SET ivfflat.probes = 10" -c "$all")"

echo "ivfflat_replication: $passes checks passed"
