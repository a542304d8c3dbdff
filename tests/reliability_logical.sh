#!/usr/bin/env bash
# Logical replication of vector, halfvec and sparsevec columns between two
# lodestone clusters. The publisher publishes one table; the subscriber
# cluster has its own hnsw indexes (on the vector column, and expression
# indexes over the halfvec and sparsevec columns), and subscribes twice: in
# database sub_text with the default text transfer (type output -> input) and
# in database sub_binary with binary = true (send -> recv).
# After the initial copy, and again after streamed inserts, updates, deletes
# and a VACUUM on the subscriber, each subscriber must hold exactly the
# publisher's rows (every column's text, compared by hash) and return the
# publisher's exact top-10 ids for 100 queries under each column; its own
# indexes (graphs built differently from any on the publisher, so their
# approximate answers are held to recall@10 >= 0.95 against the exact ones
# rather than to equality) must verify and index every row.
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
use_seed

new_cluster pub "wal_level = logical" "max_wal_senders = 10" "max_replication_slots = 10"
new_cluster sub "max_logical_replication_workers = 8" "max_worker_processes = 16"
load_lodestone pub
schema="CREATE TABLE docs (id bigint PRIMARY KEY, v vector(16), h halfvec(16), s sparsevec(64));"
sql pub <<SQL
$schema
CREATE TABLE queries AS SELECT id, v::vector(16) AS v FROM lodestone_test.clustered(100, 16, 20, 0.3, 0.2);
-- a sparse vector per row: ~15% of 64 coordinates non-zero
CREATE FUNCTION sparse_row(seed bigint) RETURNS sparsevec LANGUAGE sql AS \$\$
  SELECT ARRAY(SELECT CASE WHEN random() < 0.15 THEN round((random() * 2 - 1)::numeric, 3) ELSE 0 END
               FROM generate_series(1, 64) j WHERE j + seed > 0)::sparsevec(64) \$\$;
SELECT setseed($SEED_SQL);
INSERT INTO docs SELECT id, v::vector(16), v::vector(16)::halfvec(16), sparse_row(id)
  FROM lodestone_test.clustered(3000, 16, 20, 0.3, 0.1);
CREATE TABLE squeries AS SELECT id, sparse_row(id) AS s FROM generate_series(1, 100) id;
CREATE PUBLICATION docs_pub FOR TABLE docs;
-- The publisher's own indexes, the same as the subscribers'.
CREATE INDEX docs_v ON docs USING hnsw (v vector_l2_ops);
CREATE INDEX docs_h ON docs USING hnsw ((h::vector(16)) vector_cosine_ops);
CREATE INDEX docs_s ON docs USING hnsw ((s::vector(64)) vector_l2_ops);
SQL
sql pub -c "COPY queries TO STDOUT" >"$TEST_ROOT/queries.tsv"
sql pub -c "COPY squeries TO STDOUT" >"$TEST_ROOT/squeries.tsv"

for db in sub_text sub_binary; do
  sql sub -c "CREATE DATABASE $db"
  sub() { local db=$1; shift; cluster_psql "$DIR_sub" "$PORT_sub" -d "$db" -qAt "$@"; }
  sub "$db" -c "CREATE EXTENSION lodestone" -c "$schema" \
    -c "CREATE TABLE queries (id int, v vector(16))" -c "CREATE TABLE squeries (id int, s sparsevec(64))"
  sub "$db" -c "\\copy queries FROM '$TEST_ROOT/queries.tsv'" -c "\\copy squeries FROM '$TEST_ROOT/squeries.tsv'"
  # The subscriber's own indexes, built before the initial copy fills the table.
  sub "$db" -c "CREATE INDEX docs_v ON docs USING hnsw (v vector_l2_ops)" \
    -c "CREATE INDEX docs_h ON docs USING hnsw ((h::vector(16)) vector_cosine_ops)" \
    -c "CREATE INDEX docs_s ON docs USING hnsw ((s::vector(64)) vector_l2_ops)"
  binary=false
  [[ $db == sub_binary ]] && binary=true
  sub "$db" -c "CREATE SUBSCRIPTION ${db}_s CONNECTION 'host=127.0.0.1 port=$PORT_pub user=postgres dbname=postgres' PUBLICATION docs_pub WITH (binary = $binary)"
done
sub() { local db=$1; shift; cluster_psql "$DIR_sub" "$PORT_sub" -d "$db" -qAt "$@"; }

content="SELECT count(*), md5(string_agg(id || '|' || v::text || '|' || h::text || '|' || s::text, ',' ORDER BY id)) FROM docs"
# The three searches, exact on the publisher, through the index on the subscriber.
searches=(
  "SELECT q.id, ARRAY(SELECT d.id FROM docs d ORDER BY d.v <-> q.v LIMIT 10) FROM queries q ORDER BY q.id"
  "SELECT q.id, ARRAY(SELECT d.id FROM docs d ORDER BY d.h::vector(16) <=> q.v LIMIT 10) FROM queries q ORDER BY q.id"
  "SELECT q.id, ARRAY(SELECT d.id FROM docs d ORDER BY d.s::vector(64) <-> q.s::vector(64) LIMIT 10) FROM squeries q ORDER BY q.id"
)
labels=("vector <->" "halfvec <=> (expression index)" "sparsevec <-> (expression index)")

wait_same() { # db: waits until the subscriber holds the publisher's rows
  local want i
  want="$(sql pub -c "$content")"
  for ((i = 0; i < 600; i++)); do
    [[ "$(sub "$1" -c "$content")" == "$want" ]] && return 0
    sleep 0.2
  done
}

# recall_of EXACT APPROX: mean share of each exact top-k list ("qid|{ids}"
# lines) found in the approximate list of the same query.
recall_of() {
  awk -F'|' 'NR == FNR { exact[$1] = $2; next }
    { gsub(/[{}]/, "", $2); n = split($2, got, ","); e = exact[$1]; gsub(/[{}]/, "", e); m = split(e, want, ",")
      hit = 0; for (i = 1; i <= m; i++) for (j = 1; j <= n; j++) if (want[i] == got[j]) { hit++; break }
      total += hit / m; q++ }
    END { printf "%.3f\n", q ? total / q : 0 }' <(echo "$1") <(echo "$2")
}

compare() { # label
  local db i exact plan
  for db in sub_text sub_binary; do
    wait_same "$db"
    same "$1, $db: the same rows, every column's text equal" "$(sql pub -c "$content")" "$(sub "$db" -c "$content")"
    for i in 0 1 2; do
      exact="$(sub "$db" -c "SET enable_indexscan = off" -c "${searches[$i]}")"
      same_lines "$1, $db: exact top-10 ids equal the publisher's, ${labels[$i]}" \
        "$(sql pub -c "SET enable_indexscan = off" -c "${searches[$i]}")" "$exact"
      check "$1, $db: recall@10 of the subscriber's own index, ${labels[$i]}" '$1 >= 0.95' \
        "$(recall_of "$exact" "$(sub "$db" -c "SET enable_seqscan = off" -c "SET hnsw.ef_search = 200" -c "${searches[$i]}")")"
    done
    plan="$(sub "$db" -c "SET enable_seqscan = off" -c "EXPLAIN (COSTS OFF) ${searches[2]}")"
    check "$1, $db: the sparsevec search uses docs_s" '/Index Scan using docs_s/' "$plan"
    for i in docs_v docs_h docs_s; do
      no_rows "$1, $db: $i verifies" sub "$db" -c "SELECT * FROM lodestone_hnsw_verify('$i')"
    done
  done
}

for db in sub_text sub_binary; do
  for ((i = 0; i < 600; i++)); do
    [[ "$(sub "$db" -c "SELECT count(*) FROM pg_subscription_rel WHERE srsubstate <> 'r'")" == 0 ]] && break
    sleep 0.2
  done
done
# The initial copy inserts row by row into the subscriber's indexes: on the
# sparse data, neighbour-list pruning used to leave a few nodes with no
# incoming link until a VACUUM (docs/reliability.md, finding 3). Now every
# index must verify with no finding straight after the copy.
compare "after the initial copy"

# The updated and deleted rows are spread over all 20 clusters (a row's
# cluster is id % 20). Deleting id % 10 = 2 used to empty clusters 2 and 12
# whole, and rotating id % 10 = 1 moved clusters 1 and 11 away: queries
# drawn from an emptied cluster sit in a hole whose nearest rows lie in other
# clusters that the graph linked through the deleted ones. HNSW finds those
# at recall@10 0.94-0.98 at ef_search 200, pgvector 0.8.6 alike
# (docs/reliability.md, finding 6), which is not what this test is about.
sql pub <<'SQL'
INSERT INTO docs SELECT 100000 + id, v::vector(16), v::vector(16)::halfvec(16), sparse_row(100000 + id)
  FROM lodestone_test.clustered(1000, 16, 20, 0.3, 0.5);
UPDATE docs SET v = (v::real[])[16:16] || (v::real[])[1:15], h = NULL WHERE id % 9 = 1;
UPDATE docs SET h = v::halfvec(16), s = sparse_row(id + 7) WHERE id % 9 = 1;
DELETE FROM docs WHERE id % 7 = 2;
UPDATE docs SET id = id + 500000 WHERE id % 10 = 3 AND id < 1000;
SQL
for db in sub_text sub_binary; do wait_same "$db"; sub "$db" -c "VACUUM (INDEX_CLEANUP ON) docs"; done
for db in sub_text sub_binary; do
  same "$db: after VACUUM docs_v indexes every row" "$(sub "$db" -c "SELECT count(*) FROM docs")" \
    "$(sub "$db" -c "SELECT heap_tids FROM lodestone_hnsw_info('docs_v')")"
done
compare "after streamed changes"
same "no worker or backend crashed on the subscriber" "" "$(grep -E 'terminated by signal|PANIC' "$DIR_sub/server.log" || true)"

echo "$passes passed, 0 failed"
