#!/usr/bin/env bash
# Space VACUUM frees in an ivfflat index is reused (reviewer's finding 3
# against pgvector 0.8.6, docs/findings/drop-in.md): five cycles of DELETE
# every row / VACUUM / INSERT as many rows again keep the index within 10%
# of its size after the first cycle. pgvector points each list's insert
# page at the first page VACUUM freed space on; before the fix inserts
# always went to the chain's end, so each cycle added a whole index's
# worth of pages (five times the size after five cycles).
#
# Also (finding 7): a VACUUM with nothing to delete reads no index page
# (amvacuumcleanup without ambulkdelete returns at once, as pgvector's;
# before the fix it read every page to count the rows), and the index
# answers exactly after the cycles.
#
# Runtime: about 20 s with a debug build.
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

ROWS=${LODESTONE_REUSE_ROWS:-20000}

new_cluster main "autovacuum = off"
load_lodestone main

sql main <<SQL
CREATE TABLE items (id int, v vector(8));
INSERT INTO items SELECT g, (SELECT array_agg(random()::real) FROM generate_series(1, 8) WHERE g > 0)::vector
  FROM generate_series(1, $ROWS) g;
CREATE INDEX items_idx ON items USING ivfflat (v vector_l2_ops) WITH (lists = 8);
SQL

size() { sql main -c "SELECT pg_relation_size('items_idx') / 8192"; }
cycle() {
  sql main -c "DELETE FROM items" -c "VACUUM items" \
    -c "INSERT INTO items SELECT g, (SELECT array_agg(random()::real) FROM generate_series(1, 8) WHERE g > 0)::vector
          FROM generate_series(1, $ROWS) g"
}

cycle
first="$(size)"
for i in 2 3 4 5; do cycle; done
last="$(size)"
echo "  index pages after cycle 1: $first, after cycle 5: $last"
check "index pages after 5 DELETE/VACUUM/INSERT cycles, within 10% of cycle 1" "\$1 <= $first * 1.1" "$last"

# Index pages read, from the statistics (each psql session flushes its
# counts when it exits).
pages_read() { sql main -c "SELECT idx_blks_read + idx_blks_hit FROM pg_statio_user_indexes WHERE indexrelname = 'items_idx'"; }
before="$(pages_read)"
sql main -c "VACUUM items"
after="$(pages_read)"
check "a VACUUM with nothing to delete reads no index page (pages read)" '$1 == 0' "$((after - before))"
check "... and leaves the index's page count" '$1 > 0' \
  "$(sql main -c "SELECT relpages FROM pg_class WHERE relname = 'items_idx'")"
check "an index scan probing every list finds every row" "\$1 == $ROWS" \
  "$(sql main -c "SET enable_seqscan = off" -c "SET ivfflat.probes = 8" \
    -c "SELECT count(*) FROM (SELECT id FROM items ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT $ROWS) s" | tail -1)"

echo "ivfflat_vacuum_reuse: $passes checks passed"
