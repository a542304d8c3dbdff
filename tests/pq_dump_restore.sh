#!/usr/bin/env bash
# pg_dump/pg_restore keep pq codebooks: lodestone.pq_codebooks becomes an
# extension configuration table (pg_extension_config_dump) when its first
# row is stored, so its rows and its id sequence are dumped with the data.
# A database with trained codebooks and a pq column is dumped in custom and
# in plain format and restored into fresh databases; every pq value decodes
# to the same vector, every distance is the same, a new codebook gets a new
# id, and the restored database's own dumps carry the codebooks again. A
# database that never stored a codebook dumps nothing of lodestone's schema
# (so the dump restores on pgvector too: tests/extension_alias.sh).
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

new_cluster main
sql main -c "CREATE DATABASE src"
sqldb() { local db=$1; shift; cluster_psql "$DIR_main" "$PORT_main" -d "$db" -qAt "$@"; }
dump_of() { as_pg "$(pg_bindir)/pg_dump" -h "$DIR_main/sock" -p "$PORT_main" -U postgres "$@"; }
registered() {
  sqldb "$1" -c "SELECT count(*) FROM pg_extension e, unnest(e.extconfig) c
                 WHERE c IN ('lodestone.pq_codebooks'::regclass, 'lodestone.pq_codebooks_id_seq'::regclass)"
}

sql main -c "CREATE DATABASE bare"
sqldb bare -c "CREATE EXTENSION lodestone" -c "CREATE TABLE t (id int, v vector(3))" -c "INSERT INTO t VALUES (1, '[1,2,3]')"
same "without a codebook, the dump names nothing of schema lodestone" 0 "$(dump_of -Fp bare | grep -c 'lodestone\.')"
same "and pq_codebooks is not a configuration table" 0 "$(registered bare)"
sqldb bare -c "INSERT INTO lodestone.pq_codebooks (dims, subvectors, bits, codebook) VALUES (2, 1, 4, '')" \
  -c "INSERT INTO lodestone.pq_codebooks (dims, subvectors, bits, codebook) VALUES (2, 1, 4, '')"
same "the first codebook stored registers the table and its sequence, once" 2 "$(registered bare)"

sqldb src <<'SQL'
CREATE EXTENSION lodestone;
CREATE TABLE items (id int PRIMARY KEY, v vector(16), c pq);
INSERT INTO items (id, v)
SELECT i, ARRAY(SELECT sin(i * 0.31 * j) + cos((i % 25) * 1.1 + j) FROM generate_series(1, 16) j)::vector
FROM generate_series(1, 600) i;
SELECT lodestone.pq_train('items', 'v', 4, 4) \gset first_
SELECT lodestone.pq_train('items', 'v', 8) \gset second_
UPDATE items SET c = pq_encode(v, CASE WHEN id % 2 = 0 THEN 1 ELSE 2 END);
SQL

# What must survive: each value's text, its decoded vector, and three distances.
fingerprint() {
  sqldb "$1" -c "SELECT md5(string_agg(format('%s|%s|%s|%s|%s', id, c, pq_decode(c),
                   round(('[1,0,1,0,1,0,1,0,1,0,1,0,1,0,1,0]'::vector <-> c)::numeric, 5),
                   round((c <=> v)::numeric, 5)), ';' ORDER BY id)) FROM items"
}
codebooks() { sqldb "$1" -c "SELECT string_agg(format('%s:%s:%s:%s:%s', id, dims, subvectors, bits, md5(codebook)), ',' ORDER BY id) FROM lodestone.pq_codebooks"; }
want="$(fingerprint src)"
want_books="$(codebooks src)"
check "the source database has two codebooks" '$0 ~ /^1:16:4:4:.*,2:16:8:8:/' "$want_books"

dump="$TEST_ROOT/src.dump"
as_pg "$(pg_bindir)/pg_dump" -h "$DIR_main/sock" -p "$PORT_main" -U postgres -Fc -f "$dump" src
as_pg "$(pg_bindir)/pg_dump" -h "$DIR_main/sock" -p "$PORT_main" -U postgres -Fp -f "$dump.sql" src

sql main -c "CREATE DATABASE from_custom" -c "CREATE DATABASE from_plain"
as_pg "$(pg_bindir)/pg_restore" -h "$DIR_main/sock" -p "$PORT_main" -U postgres -d from_custom --exit-on-error "$dump"
sqldb from_plain -v ON_ERROR_STOP=1 -f "$dump.sql" >/dev/null

for db in from_custom from_plain; do
  same "$db: the codebooks are restored byte for byte" "$want_books" "$(codebooks "$db")"
  same "$db: every pq value decodes and measures as before" "$want" "$(fingerprint "$db")"
  same "$db: restoring the codebooks registered them again, so its own dumps keep them" 2 "$(registered "$db")"
  check "$db: a new codebook gets a fresh id (the sequence is restored)" '$1 == 3' \
    "$(sqldb "$db" -c "SELECT lodestone.pq_train('items', 'v', 2, 4)")"
done

# Dropping the extension takes the codebooks with it; creating it again
# starts from an empty table.
sqldb from_plain -c "DROP TABLE items" -c "DROP EXTENSION lodestone" -c "CREATE EXTENSION lodestone"
check "a recreated extension starts with no codebooks" '$1 == 0' "$(sqldb from_plain -c "SELECT count(*) FROM lodestone.pq_codebooks")"

echo "$passes passed, 0 failed"
