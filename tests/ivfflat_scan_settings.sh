#!/usr/bin/env bash
# An ivfflat scan keeps the ivfflat.* settings it began with (reviewer's
# finding 8 against pgvector 0.8.6, docs/findings/drop-in.md): pgvector reads
# probes, iterative_scan and max_probes once per scan. A cursor over an
# iterative scan (probes = 1 of 10 lists, relaxed order) fetches one row,
# then turns iterative scans off and fetches the rest: the scan must go on
# probing and return every row. Before the fix amgettuple read the settings
# on every call, so the scan stopped after its first list.
#
# Runtime: a few seconds.
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

new_cluster main
load_lodestone main

sql main <<'SQL'
CREATE TABLE items (id int, v vector(4));
INSERT INTO items SELECT g, ARRAY[g % 10, g % 7, g % 3, g]::vector FROM generate_series(1, 2000) g;
CREATE INDEX ON items USING ivfflat (v vector_l2_ops) WITH (lists = 10);
SQL
got="$(sql main <<'SQL' | tail -1
SET enable_seqscan = off;
SET ivfflat.probes = 1;
SET ivfflat.iterative_scan = relaxed_order;
SET ivfflat.max_probes = 10;
CREATE TEMP TABLE seen (id int);
DO $$
DECLARE c refcursor; r record;
BEGIN
  OPEN c FOR SELECT id FROM items ORDER BY v <-> '[0,0,0,0]';
  FETCH c INTO r;
  INSERT INTO seen VALUES (r.id);
  PERFORM set_config('ivfflat.iterative_scan', 'off', true);
  LOOP
    FETCH c INTO r;
    EXIT WHEN NOT FOUND;
    INSERT INTO seen VALUES (r.id);
  END LOOP;
  CLOSE c;
END $$;
SELECT count(*) FROM seen;
SQL
)"
check "rows of a scan whose iterative_scan was turned off mid-scan" '$1 == 2000' "$got"

echo "ivfflat_scan_settings: $passes checks passed"
