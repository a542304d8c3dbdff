#!/usr/bin/env bash
# A backend keeps its own copy of an ivfflat index's centers and list places
# (src/am/ivfflat/directory_cache.rs, in the relcache entry). The copy must
# never outlive the directory it copied: one session scans and inserts
# (making its copy), another rebuilds the index under it (TRUNCATE and new
# rows, REINDEX, VACUUM FULL, DROP and CREATE under the same name), and the
# first session, without reconnecting, must then answer exactly as a
# sequential scan does and insert into the lists the new directory says.
# A stale copy would rank the old centers and follow the old relfilenode's
# list pages: wrong rows, a corruption error, or items written into the
# wrong list (lodestone_ivfflat_verify).
#
# Runtime: a few seconds.
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

new_cluster main "autovacuum = off"
load_lodestone main

cat >"$TEST_ROOT/other.sh" <<SH
source "$LODESTONE_ROOT/scripts/lib.sh"
cluster_psql "$DIR_main" "$PORT_main" -d postgres -qAt -f "\$1"
SH
# 20 tight clusters 1,000 apart, along y (layout A) or along x (layout B),
# and lists = 20: every list is one cluster, so probes = 1 answers a query
# at a cluster exactly, with the right centers. Each rebuild moves the rows
# to the other layout: ranked by a stale copy of the centers, a query
# would probe the list of another cluster.
A="ARRAY[id % 5, 1000 * (id % 20), id % 3]::vector"
B="ARRAY[1000 * (id % 20), id % 5, id % 3]::vector"
# What the other session does between the first session's queries.
cat >"$TEST_ROOT/rebuild-truncate.sql" <<SQL
SET client_min_messages = warning;
TRUNCATE items;
INSERT INTO items SELECT id, $B FROM generate_series(1, 3000) id;
REINDEX INDEX items_v;
SQL
cat >"$TEST_ROOT/rebuild-full.sql" <<SQL
DELETE FROM items WHERE id % 7 = 0;
UPDATE items SET v = $A;
VACUUM FULL items;
SQL
cat >"$TEST_ROOT/rebuild-drop.sql" <<SQL
SET client_min_messages = warning;
UPDATE items SET v = $B;
DROP INDEX items_v;
CREATE INDEX items_v ON items USING ivfflat (v vector_l2_ops) WITH (lists = 20);
SQL
chmod 644 "$TEST_ROOT"/*.sql "$TEST_ROOT/other.sh"

sql main <<SQL
CREATE TABLE items (id int, v vector(3));
INSERT INTO items SELECT id, $A FROM generate_series(1, 3000) id;
CREATE INDEX items_v ON items USING ivfflat (v vector_l2_ops) WITH (lists = 20);
CREATE TABLE qs AS SELECT id, $A AS p FROM generate_series(1, 20) id
  UNION ALL SELECT 100 + id, $B FROM generate_series(1, 20) id;
SQL

# Queries whose 5 nearest distances through the index differ from a
# sequential scan's (`+ 0` keeps the index out of the second ordering; a
# tie-breaking second key would too, for both), at probes = 1.
mismatches() {
  cat <<'SQL'
SET enable_seqscan = off;
SET ivfflat.probes = 1;
SELECT count(*) FROM qs WHERE
  ARRAY(SELECT v <-> qs.p FROM items ORDER BY v <-> qs.p LIMIT 5) <>
  ARRAY(SELECT v <-> qs.p FROM items ORDER BY (v <-> qs.p) + 0 LIMIT 5);
EXPLAIN (COSTS OFF) SELECT v <-> qs.p FROM qs, LATERAL (SELECT v FROM items ORDER BY v <-> qs.p LIMIT 5) t;
SQL
}

for step in truncate full drop; do
  got="$(sql main <<SQL 2>&1 || true
$(mismatches)
INSERT INTO items SELECT id, v FROM items WHERE id <= 5;
\\! bash $TEST_ROOT/other.sh $TEST_ROOT/rebuild-$step.sql
$(mismatches)
INSERT INTO items SELECT id, v FROM items WHERE id <= 50;
$(mismatches)
SQL
)"
  same "after $step in another session, the first session's scans match a sequential scan" \
    "0 0 0" "$(grep -E '^[0-9]+$' <<<"$got" | xargs)"
  same "... through the index" 3 "$(grep -c 'Index Scan using items_v' <<<"$got")"
  no_rows "after $step and the first session's inserts, the index verifies" \
    sql main -c "SELECT * FROM lodestone_ivfflat_verify('items_v')"
  same "after $step, the index holds every row" "$(sql main -c "SELECT count(*) FROM items")" \
    "$(sql main -c "SET enable_seqscan = off" -c "SET ivfflat.probes = 20" \
      -c "SELECT count(*) FROM (SELECT id FROM items ORDER BY v <-> '[0,0,0]' LIMIT 100000) t")"
done

echo "ivfflat_directory_cache: $passes checks passed"
