#!/usr/bin/env bash
# The checks `make lint` runs, and `make test` before any test:
#   1. formatting (cargo fmt --check)
#   2. clippy with warnings denied; Cargo.toml's [lints] deny unsafe
#      operations outside `unsafe` blocks and `unsafe` without a SAFETY comment
#   3. the pure core never names Postgres: the folders below are tested by
#      plain `cargo test` and must build and run without a server
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$LODESTONE_ROOT"

PURE_CORE=(src/distance src/format src/quant src/hnsw src/personalize/math.rs)

log "lint 1/3 cargo fmt --check"
cargo fmt --all -- --check

log "lint 2/3 cargo clippy -D warnings"
cargo clippy --quiet --all-targets -- -D warnings

log "lint 3/3 the pure core names neither pgrx nor pg_sys"
if offenders="$(grep -rnwE 'pgrx|pg_sys' "${PURE_CORE[@]}")"; then
  echo "$offenders" >&2
  die "Postgres named in the pure core: move this code under src/am/ or src/types/"
fi
log "lint passed"
