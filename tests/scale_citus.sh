#!/usr/bin/env bash
# lodestone on Citus: a coordinator and two workers on loopback, a table
# distributed by tenant with vector, halfvec and sparsevec columns, hnsw
# indexes created through the coordinator on every shard. The distributed
# exact top-10 equals a single node's on the same data; through the indexes
# the global top-10 keeps recall; tenant-routed and filtered queries, routed
# inserts, a reference table and a co-located join (user profiles × items)
# work; every shard plans its index scan.
#
# Citus is not packaged for Debian; the test runs when the server has it
# (citus.control in $(pg_config --sharedir)/extension) and is skipped with a
# message otherwise.
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

if [[ ! -f "$("$PG_CONFIG" --sharedir)/extension/citus.control" ]]; then
  echo "skipped: Citus is not installed for $("$PG_CONFIG" --version) (build it from citusdata/citus to run this test)"
  exit 0
fi

conf=("shared_preload_libraries = 'citus'" "max_worker_processes = 32" "citus.shard_replication_factor = 1")
new_cluster coordinator "${conf[@]}"
new_cluster worker1 "${conf[@]}"
new_cluster worker2 "${conf[@]}"
new_cluster single
for node in worker1 worker2 coordinator; do sql "$node" -c "CREATE EXTENSION citus" >/dev/null; done
sql coordinator -c "SELECT citus_set_coordinator_host('127.0.0.1', $PORT_coordinator)" \
  -c "SELECT citus_add_node('127.0.0.1', $PORT_worker1)" -c "SELECT citus_add_node('127.0.0.1', $PORT_worker2)" >/dev/null
# Created on the coordinator, lodestone is propagated to the workers.
load_lodestone coordinator
load_lodestone single
same "lodestone exists on both workers" "1 1" \
  "$(sql worker1 -c "SELECT count(*) FROM pg_extension WHERE extname = 'lodestone'") $(sql worker2 -c "SELECT count(*) FROM pg_extension WHERE extname = 'lodestone'")"

schema="
CREATE TABLE categories (id int PRIMARY KEY, name text);
CREATE TABLE items (tenant_id int, id bigint, category int, v vector(32), h halfvec(32), s sparsevec(32), PRIMARY KEY (tenant_id, id));
CREATE TABLE profiles (tenant_id int, user_id int, profile vector(32), PRIMARY KEY (tenant_id, user_id));
"
data="
INSERT INTO categories SELECT i, 'category ' || i FROM generate_series(0, 9) i;
INSERT INTO items SELECT id % 8, id, (id / 8) % 10, v::vector(32), v::vector(32)::halfvec(32),
    ARRAY(SELECT greatest(x, 0) FROM unnest(v::real[]) x)::vector(32)::sparsevec(32)
  FROM lodestone_test.clustered(20000, 32, 20, 1.0, 0.1);
INSERT INTO profiles SELECT id % 8, id, v::vector(32) FROM lodestone_test.clustered(64, 32, 20, 1.0, 0.2);
CREATE TABLE queries AS SELECT id, v::vector(32) AS v, v::vector(32)::halfvec(32) AS h,
    ARRAY(SELECT greatest(x, 0) FROM unnest(v::real[]) x)::vector(32)::sparsevec(32) AS s
  FROM lodestone_test.clustered(100, 32, 20, 1.0, 0.3);
"
sql single -c "$schema" -c "$data" >/dev/null
sql coordinator -c "$schema" -c "SET citus.shard_count = 4" \
  -c "SELECT create_reference_table('categories')" \
  -c "SELECT create_distributed_table('items', 'tenant_id')" \
  -c "SELECT create_distributed_table('profiles', 'tenant_id', colocate_with => 'items')" >/dev/null
sql coordinator -c "$data" >/dev/null
same "the distributed table holds the single node's rows" "$(sql single -c "SELECT count(*), sum(id) FROM items")" \
  "$(sql coordinator -c "SELECT count(*), sum(id) FROM items")"
check "items has 4 shards on 2 workers" '$1 == 4 && $2 == 2' \
  "$(sql coordinator -c "SELECT count(*), count(DISTINCT nodeport) FROM citus_shards WHERE table_name = 'items'::regclass" | tr '|' ' ')"

# One statement per -c: Citus sends each DDL statement to the shards as is.
indexes=(-c "SET maintenance_work_mem = '256MB'"
  -c "CREATE INDEX items_v ON items USING hnsw (v vector_cosine_ops)"
  -c "CREATE INDEX items_h ON items USING hnsw (h halfvec_l2_ops)"
  -c "CREATE INDEX items_s ON items USING hnsw (s sparsevec_ip_ops)")
sql single "${indexes[@]}" >/dev/null
sql coordinator "${indexes[@]}" >/dev/null
shard_indexes() { sql "$1" -c "SET citus.override_table_visibility = off" -c "SELECT count(*) FROM pg_indexes WHERE tablename LIKE 'items_%' AND indexdef LIKE '%USING hnsw%'"; }
check "CREATE INDEX reached every shard (3 hnsw indexes × 4 shards)" '$1 == 12' \
  "$(($(shard_indexes worker1) + $(shard_indexes worker2)))"

# topk NODE COLUMN OP [WHERE] [index|exact]: the top-10 ids of every query,
# one statement per query with the query vector as a literal (Citus does not
# take correlated subqueries over a distributed table). Settings reach the
# shards' queries as SET LOCAL inside one transaction.
topk() {
  local node=$1 col=$2 op=$3 where=${4:-true} mode=${5:-index}
  local scan="SET LOCAL enable_indexscan = on; SET LOCAL enable_seqscan = off;"
  [[ $mode == exact ]] && scan="SET LOCAL enable_indexscan = off; SET LOCAL enable_seqscan = on;"
  {
    echo "BEGIN; SET LOCAL citus.propagate_set_commands = 'local'; $scan"
    echo "SET LOCAL hnsw.ef_search = 100; SET LOCAL hnsw.iterative_scan = relaxed_order;"
    sql single -c "SELECT format('SELECT %s, ARRAY(SELECT i.id FROM items i WHERE %s ORDER BY i.$col $op %L LIMIT 10);', id, \$\$$where\$\$, $col) FROM queries ORDER BY id"
    echo "COMMIT;"
  } | sql "$node"
}
# recall EXACT FOUND: mean share of each exact row found
recall() {
  python3 -c '
import sys
def parse(t):
    return {l.split("|")[0]: set(l.split("|")[1].strip("{}").split(",")) for l in t.strip().splitlines()}
a, b = parse(sys.argv[1]), parse(sys.argv[2])
print(round(sum(len(a[k] & b.get(k, set())) / len(a[k]) for k in a) / len(a), 3))' "$1" "$2"
}
for case in "v <=>" "h <->" "s <#>"; do
  read -r col op <<<"$case"
  exact_single="$(topk single "$col" "$op" true exact)"
  same "$col $op: the distributed exact top-10 equals the single node's (100 queries)" "$exact_single" \
    "$(topk coordinator "$col" "$op" true exact)"
  check "$col $op: global recall@10 through the shards' indexes" '$1 >= 0.95' \
    "$(recall "$exact_single" "$(topk coordinator "$col" "$op")")"
done

# Queries routed by the distribution column, and filtered on another one.
exact="$(topk single v '<=>' 'i.tenant_id = 3' exact)"
check "tenant-routed query (tenant_id = 3): recall@10" '$1 >= 0.95' "$(recall "$exact" "$(topk coordinator v '<=>' 'i.tenant_id = 3')")"
exact="$(topk single v '<=>' 'i.category = 4' exact)"
check "10%-selective filter on category, iterative scan: recall@10" '$1 >= 0.9' "$(recall "$exact" "$(topk coordinator v '<=>' 'i.category = 4')")"
exact="$(topk single v '<=>' "i.category IN (SELECT id FROM categories WHERE name = 'category 4')" exact)"
check "filter through the reference table: recall@10" '$1 >= 0.9' \
  "$(recall "$exact" "$(topk coordinator v '<=>' "i.category IN (SELECT id FROM categories WHERE name = 'category 4')")")"

# Inserts are routed to the shards and found through their indexes.
sql coordinator -c "INSERT INTO items SELECT tenant_id, id + 1000000, category, v, h, s FROM items WHERE id % 1000 = 0" >/dev/null
found="$(sql coordinator -c "SET hnsw.ef_search = 100" -c "
  SELECT count(*) FROM items n WHERE n.id > 1000000 AND n.id IN (
    SELECT i.id FROM items i WHERE i.tenant_id = n.tenant_id ORDER BY i.v <=> n.v LIMIT 2)")"
check "20 rows inserted through the coordinator are each among their own nearest 2" '$1 == 20' "$found"

# Personalization: a user's profile against their tenant's items (co-located join).
personal="$(sql coordinator -c "SET hnsw.ef_search = 100" -c "
  SELECT count(*) FROM (SELECT i.id FROM items i WHERE i.tenant_id = 5
    ORDER BY i.v <=> (SELECT profile FROM profiles p WHERE p.tenant_id = 5 AND p.user_id = 13) LIMIT 10) t")"
check "a user's top-10 from their tenant's items" '$1 == 10' "$personal"
colocated="$(sql coordinator -c "
  SELECT count(*) FROM profiles p JOIN LATERAL (
    SELECT i.id FROM items i WHERE i.tenant_id = p.tenant_id ORDER BY i.v <=> p.profile LIMIT 3) t ON true")"
check "a co-located join: 3 items for each of 64 users" '$1 == 192' "$colocated"

# The shards plan their hnsw index once they are large.
query="$(sql coordinator -c "SELECT v FROM queries WHERE id = 1")"
plan="$(sql coordinator -c "SET citus.explain_all_tasks = on" -c "
  EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <=> '$query' LIMIT 10")"
check "every shard's task scans its hnsw index" '$1 == 4' "$(grep -c 'Index Scan using items_v_' <<<"$plan")"

echo "$passes passed, 0 failed"
