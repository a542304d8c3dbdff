#!/usr/bin/env bash
# Installs what building and testing lodestone needs, skipping what is there:
#   PostgreSQL 15 server and headers, clang, gdb (tests/hnsw_scan_entry.sh
#   holds backends at chosen points with it) (Debian packages, as root),
#   cargo-pgrx 0.18.1, and `cargo pgrx init` pointed at that server;
#   then the client libraries of tests/drivers.sh (scripts/setup-drivers.sh;
#   LODESTONE_SKIP_DRIVERS=1 skips them, as docker/Dockerfile does).
# Safe to re-run: each step checks first.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PGRX_VERSION=0.18.1
DEBIAN_PACKAGES=(postgresql-15 postgresql-server-dev-15 libclang-dev clang gdb)

missing=()
if command -v dpkg-query >/dev/null; then
  for pkg in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
fi
if ((${#missing[@]})); then
  [[ $(id -u) -eq 0 ]] || die "missing Debian packages (${missing[*]}); run this as root or install them"
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian's package starts a cluster of its own on 5432; we never use it.
  if command -v pg_ctlcluster >/dev/null && pg_lsclusters -h 2>/dev/null | grep -q '^15 *main'; then
    pg_ctlcluster 15 main stop >/dev/null 2>&1 || true
  fi
fi

# Re-read PG_CONFIG now that Postgres may have been installed.
if [[ ! -x "${PG_CONFIG:-}" ]]; then
  PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
fi
[[ -x "$PG_CONFIG" ]] || die "no pg_config found; set PG_CONFIG"

if ! command -v cargo >/dev/null; then
  die "cargo is not installed (Rust 1.95 or newer is needed)"
fi

if [[ "$(cargo pgrx --version 2>/dev/null || true)" != *"$PGRX_VERSION"* ]]; then
  log "installing cargo-pgrx $PGRX_VERSION (a few minutes, once)"
  cargo install cargo-pgrx --version "$PGRX_VERSION" --locked --quiet
fi

pgrx_home="${PGRX_HOME:-$HOME/.pgrx}"
pg_major="$("$PG_CONFIG" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')"
if ! grep -qs "^pg${pg_major} = \"$PG_CONFIG\"" "$pgrx_home/config.toml"; then
  log "registering $PG_CONFIG with pgrx"
  cargo pgrx init "--pg${pg_major}" "$PG_CONFIG" >/dev/null
fi

if [[ -z "${LODESTONE_SKIP_DRIVERS:-}" ]]; then
  "$LODESTONE_ROOT/scripts/setup-drivers.sh"
fi

log "toolchain ready: $("$PG_CONFIG" --version), $(cargo pgrx --version)"
