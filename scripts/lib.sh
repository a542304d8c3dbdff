# Shared shell helpers for lodestone's scripts: where Postgres is, and how to
# run throwaway clusters as the `postgres` user on a private port and socket.
# Source it; do not execute it.

set -euo pipefail

LODESTONE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export LODESTONE_ROOT

# Postgres is found through pg_config: $PG_CONFIG, else Debian's PG 15, else PATH.
if [[ -z "${PG_CONFIG:-}" ]]; then
  if [[ -x /usr/lib/postgresql/15/bin/pg_config ]]; then
    PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
  else
    PG_CONFIG="$(command -v pg_config || true)"
  fi
fi
export PG_CONFIG

pg_bindir() { "$PG_CONFIG" --bindir; }

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# Run a command as the postgres user (Postgres refuses to run as root). When
# we are not root we are presumably an ordinary user who can run it directly.
as_pg() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# A directory the postgres user owns.
pg_owned_dir() {
  mkdir -p "$1"
  if [[ $(id -u) -eq 0 ]]; then chown postgres:postgres "$1"; fi
}

# cluster_init DIR PORT [extra postgresql.conf lines...]
# Creates a cluster in DIR/data listening only on a unix socket in DIR/sock
# (and on 127.0.0.1:PORT, for replication tests).
cluster_init() {
  local dir=$1 port=$2; shift 2
  pg_owned_dir "$dir"
  pg_owned_dir "$dir/sock"
  as_pg "$(pg_bindir)/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; die "initdb failed in $dir"; }
  {
    echo "port = $port"
    echo "listen_addresses = '127.0.0.1'"
    echo "unix_socket_directories = '$dir/sock'"
    echo "fsync = off"
    echo "shared_buffers = 256MB"
    echo "maintenance_work_mem = 512MB"
    echo "max_wal_size = 4GB"
    echo "log_min_messages = warning"
    for line in "$@"; do echo "$line"; done
  } | as_pg tee -a "$dir/data/postgresql.conf" >/dev/null
}

# cluster_start DIR
cluster_start() {
  local dir=$1
  as_pg "$(pg_bindir)/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 120 start >/dev/null \
    || { tail -n 50 "$dir/server.log" >&2; die "could not start the cluster in $dir"; }
}

# cluster_stop DIR [mode]   (fast by default; never fails)
cluster_stop() {
  local dir=$1 mode=${2:-fast}
  if [[ -f "$dir/data/postmaster.pid" ]]; then
    as_pg "$(pg_bindir)/pg_ctl" -D "$dir/data" -m "$mode" -w -t 120 stop >/dev/null 2>&1 || true
  fi
}

# cluster_psql DIR PORT [psql args...]
cluster_psql() {
  local dir=$1 port=$2; shift 2
  as_pg "$(pg_bindir)/psql" -X -v ON_ERROR_STOP=1 -h "$dir/sock" -p "$port" -U postgres "$@"
}

# A free TCP port on 127.0.0.1, starting the search at $1.
free_port() {
  local port=${1:-54321}
  while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
  echo "$port"
}

# Whether pgvector itself is installed for $PG_CONFIG: a vector.control that is
# not lodestone's alias (scripts/install-vector-alias.sh writes one whose
# module_pathname is '$libdir/lodestone').
pgvector_installed() {
  local control
  control="$("$PG_CONFIG" --sharedir)/extension/vector.control"
  [[ -f "$control" ]] && ! grep -qE "^module_pathname *= *'\\\$libdir/lodestone'" "$control"
}
