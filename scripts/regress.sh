#!/usr/bin/env bash
# Runs the pg_regress suite (pg_regress/sql, expected output in
# pg_regress/expected) against a temporary instance that pg_regress starts
# and stops itself, with lodestone installed in the test database.
#
#   scripts/regress.sh                 the whole schedule
#   scripts/regress.sh test1 test2     only these (after `setup`)
#   scripts/regress.sh --accept ...    copy the results over the expected files
#   LOAD_EXTENSION=vector scripts/regress.sh compat_test   run against pgvector
#
# Exits non-zero when any test's output differs; the diffs are printed and
# kept in pg_regress/regression.diffs.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
unset RUST_BACKTRACE

accept=0
if [[ "${1:-}" == "--accept" ]]; then accept=1; shift; fi
extension="${LOAD_EXTENSION:-lodestone}"
src="$LODESTONE_ROOT/pg_regress"
pg_regress="$("$PG_CONFIG" --pkglibdir)/pgxs/src/test/regress/pg_regress"
[[ -x "$pg_regress" ]] || die "pg_regress not found at $pg_regress (install postgresql-server-dev)"

work="$(mktemp -d "${TMPDIR:-/tmp}/lodestone-regress.XXXXXX")"
trap 'rm -rf "$work"' EXIT
pg_owned_dir "$work"
pg_owned_dir "$work/results"
mkdir -p "$work/expected" && cp "$src"/expected/*.out "$work/expected/" 2>/dev/null || true
if [[ $# -gt 0 ]]; then
  tests=(setup "$@")
  for t in "${tests[@]}"; do [[ -f "$work/expected/$t.out" ]] || touch "$work/expected/$t.out"; done
  selection=("${tests[@]}")
else
  while read -r word rest; do
    [[ "$word" == "test:" ]] || continue
    for t in $rest; do [[ -f "$work/expected/$t.out" ]] || touch "$work/expected/$t.out"; done
  done <"$src/schedule"
  selection=(--schedule="$src/schedule")
fi
chown -R postgres "$work" 2>/dev/null || true

port="$(free_port 56100)"
status=0
(cd "$work" && as_pg "$pg_regress" \
  --temp-instance="$work/instance" \
  --bindir="$(pg_bindir)" \
  --inputdir="$src" \
  --outputdir="$work" \
  --port="$port" \
  --load-extension="$extension" \
  "${selection[@]}") || status=$?

rm -f "$src/regression.diffs"
if [[ -f "$work/regression.diffs" ]]; then
  cp "$work/regression.diffs" "$src/regression.diffs"
  [[ $accept -eq 1 ]] || cat "$work/regression.diffs"
fi
if [[ $accept -eq 1 ]]; then
  mkdir -p "$src/expected"
  for f in "$work"/results/*.out; do cp "$f" "$src/expected/"; done
  log "copied $(ls "$work"/results/*.out | wc -l) results into pg_regress/expected"
  exit 0
fi
exit $status
