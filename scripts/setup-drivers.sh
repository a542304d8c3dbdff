#!/usr/bin/env bash
# Installs the client libraries that tests/drivers.sh and the personalization
# demo use, from their registries, into target/drivers/ (never system-wide):
#   target/drivers/venv   Python: psycopg 3, psycopg2, asyncpg, SQLAlchemy, Django, pgvector
#   target/drivers/node   Node.js: pg, pgvector, vega-datasets (the demo's films)
#   the Rust crates of tests/drivers/rust (cargo fetch: tokio-postgres, pgvector)
# and, as root on Debian, python3-venv / nodejs / npm when they are missing.
# Safe to re-run: each part is skipped while its manifest is unchanged.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$LODESTONE_ROOT"

out="$LODESTONE_ROOT/target/drivers"
mkdir -p "$out"

# Debian packages, only when the tool is missing.
apt_missing=()
python3 -c 'import venv, ensurepip' 2>/dev/null || apt_missing+=(python3-venv)
command -v node >/dev/null || apt_missing+=(nodejs)
command -v npm >/dev/null || apt_missing+=(npm)
if ((${#apt_missing[@]})); then
  [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null || die "missing ${apt_missing[*]}; install them"
  log "installing ${apt_missing[*]} (Debian)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${apt_missing[@]}" >/dev/null
fi

# stamp NAME FILE...: true when FILEs are unchanged since the last `stamp_write NAME`.
stamp_of() { cat "$@" | sha256sum | cut -d' ' -f1; }
fresh() { local name=$1; shift; [[ -f "$out/.$name.stamp" && "$(cat "$out/.$name.stamp")" == "$(stamp_of "$@")" ]]; }
stamp_write() { local name=$1; shift; stamp_of "$@" >"$out/.$name.stamp"; }

req=tests/drivers/python/requirements.txt
if ! fresh python "$req" || [[ ! -x "$out/venv/bin/python" ]]; then
  log "installing the Python clients into target/drivers/venv (PyPI)"
  [[ -x "$out/venv/bin/python" ]] || python3 -m venv "$out/venv"
  "$out/venv/bin/pip" install -q --disable-pip-version-check -r "$req"
  stamp_write python "$req"
fi

pkg=tests/drivers/node/package.json
if ! fresh node "$pkg" || [[ ! -d "$out/node/node_modules/pgvector" ]]; then
  log "installing the Node.js clients into target/drivers/node (npm)"
  mkdir -p "$out/node"
  cp "$pkg" "$out/node/package.json"
  (cd "$out/node" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
  stamp_write node "$pkg"
fi

manifest=tests/drivers/rust/Cargo.toml
if ! fresh rust "$manifest"; then
  log "fetching the Rust client crates (crates.io)"
  cargo fetch --manifest-path "$manifest" --quiet
  stamp_write rust "$manifest"
fi
log "driver clients ready in target/drivers"
