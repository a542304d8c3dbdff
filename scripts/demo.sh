#!/usr/bin/env bash
# One command from a bare machine to a running lodestone:
#   installs what is missing, builds and installs the extension, starts a
#   throwaway cluster (as user postgres, private port and socket directory in
#   .demo/), loads sample embeddings, runs nearest-neighbour queries, prints
#   how to connect, and leaves the cluster running.
#
#   scripts/demo.sh        set up (or refresh) and run the demo
#   scripts/demo.sh stop   stop the demo cluster
#   scripts/demo.sh clean  stop it and delete .demo/
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DEMO_DIR="${LODESTONE_DEMO_DIR:-$LODESTONE_ROOT/.demo}"
PORT_FILE="$DEMO_DIR/port"

case "${1:-run}" in
  stop)
    cluster_stop "$DEMO_DIR"
    log "demo cluster stopped"
    exit 0
    ;;
  clean)
    cluster_stop "$DEMO_DIR"
    rm -rf "$DEMO_DIR"
    log "demo cluster removed"
    exit 0
    ;;
  run) ;;
  *) die "usage: $0 [run|stop|clean]" ;;
esac

"$LODESTONE_ROOT/scripts/setup.sh"
"$LODESTONE_ROOT/scripts/install.sh"

if [[ ! -f "$DEMO_DIR/data/PG_VERSION" ]]; then
  rm -rf "$DEMO_DIR"
  port="${LODESTONE_DEMO_PORT:-$(free_port 54329)}"
  log "creating a cluster in $DEMO_DIR on port $port"
  cluster_init "$DEMO_DIR" "$port"
  echo "$port" >"$PORT_FILE"
fi
port="$(cat "$PORT_FILE")"
if ! as_pg "$(pg_bindir)/pg_ctl" -D "$DEMO_DIR/data" status >/dev/null 2>&1; then
  log "starting the demo cluster"
  cluster_start "$DEMO_DIR"
fi

psql_demo() { cluster_psql "$DEMO_DIR" "$port" "$@"; }

psql_demo -d postgres -qtA -c "SELECT 1 FROM pg_database WHERE datname = 'demo'" | grep -q 1 \
  || psql_demo -d postgres -q -c "CREATE DATABASE demo"

log "loading sample data"
psql_demo -d demo -q <<'SQL'
SET client_min_messages = warning;
DROP TABLE IF EXISTS colors, items;
DROP EXTENSION IF EXISTS lodestone CASCADE;
CREATE EXTENSION lodestone;

-- Twenty colours as RGB vectors: nearest neighbours you can check by eye.
CREATE TABLE colors (name text PRIMARY KEY, rgb vector(3));
INSERT INTO colors VALUES
  ('black', '[0,0,0]'), ('white', '[1,1,1]'), ('red', '[1,0,0]'), ('green', '[0,0.5,0]'),
  ('lime', '[0,1,0]'), ('blue', '[0,0,1]'), ('navy', '[0,0,0.5]'), ('teal', '[0,0.5,0.5]'),
  ('cyan', '[0,1,1]'), ('magenta', '[1,0,1]'), ('purple', '[0.5,0,0.5]'), ('yellow', '[1,1,0]'),
  ('olive', '[0.5,0.5,0]'), ('orange', '[1,0.65,0]'), ('maroon', '[0.5,0,0]'), ('silver', '[0.75,0.75,0.75]'),
  ('gray', '[0.5,0.5,0.5]'), ('pink', '[1,0.75,0.8]'), ('brown', '[0.65,0.16,0.16]'), ('gold', '[1,0.84,0]');

-- 10,000 items with 64-dimensional embeddings in ten clusters, one per category.
SET seed = 0.42;
CREATE TABLE items (id bigint PRIMARY KEY, category text, embedding vector(64));
INSERT INTO items
SELECT i, 'category ' || (i % 10),
       ARRAY(SELECT sin(i % 10 + d) + 0.3 * (random() - 0.5) FROM generate_series(1, 64) d)::vector(64)
FROM generate_series(1, 10000) i;
CREATE INDEX items_embedding_idx ON items USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64);
ANALYZE items;
SQL

log "nearest colours to a dark teal, by Euclidean distance (<->)"
psql_demo -d demo -c "SELECT name, rgb, round((rgb <-> '[0.1,0.45,0.5]')::numeric, 4) AS distance
                      FROM colors ORDER BY rgb <-> '[0.1,0.45,0.5]' LIMIT 5"

log "the five items nearest to item 42 by cosine distance (<=>), through the hnsw index"
psql_demo -d demo -c "EXPLAIN (COSTS OFF) SELECT id FROM items
                      ORDER BY embedding <=> (SELECT embedding FROM items WHERE id = 42) LIMIT 5"
psql_demo -d demo -c "SELECT id, category, round((embedding <=> (SELECT embedding FROM items WHERE id = 42))::numeric, 5) AS cosine_distance
                      FROM items ORDER BY embedding <=> (SELECT embedding FROM items WHERE id = 42) LIMIT 5"

log "the average embedding of each category, first three dimensions"
psql_demo -d demo -c "SELECT category, subvector(avg(embedding), 1, 3) AS centroid_head
                      FROM items GROUP BY category ORDER BY category LIMIT 3"

cat <<EOF

The demo cluster is running. Connect with:

  runuser -u postgres -- psql -h $DEMO_DIR/sock -p $port demo

Stop it with:  make demo-stop   (or scripts/demo.sh stop)
EOF
