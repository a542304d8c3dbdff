#!/usr/bin/env bash
# The whole test suite, in the order a failure is cheapest to find:
#   0. lint (formatting, clippy, the pure core's independence of Postgres)
#   1. unit and property tests of the pure core (plain `cargo test`)
#   2. build and install the extension (release)
#   3. pg_regress: the SQL surface against expected output
#   4. integration tests in tests/*.sh, each starting the clusters it needs
# Prints each runner's summary and a last line "N passed, M failed".
# Exits non-zero on any failure.
#
#   scripts/test.sh                  everything
#   LODESTONE_SKIP_SETUP=1 ...       skip scripts/setup.sh (tools already there)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$LODESTONE_ROOT"
unset RUST_BACKTRACE

passed=0
failed=0
failures=()
record() { # record NAME PASSED FAILED
  passed=$((passed + $2))
  failed=$((failed + $3))
  if (($3 > 0)); then failures+=("$1"); fi
}

if [[ -z "${LODESTONE_SKIP_SETUP:-}" ]]; then
  "$LODESTONE_ROOT/scripts/setup.sh"
fi

log "0/4 lint (scripts/lint.sh: fmt, clippy, the pure core names no Postgres)"
if "$LODESTONE_ROOT/scripts/lint.sh"; then record "lint" 1 0; else record "lint" 0 1; fi

log "1/4 unit tests of the pure core (cargo test --lib)"
out="$(mktemp)"
if cargo test --lib 2>&1 | tee "$out" | grep -E '^test result:|FAILED|panicked'; then :; fi
count_word() { awk -v w="$1;" '/^test result:/ { for (i = 1; i < NF; i++) if ($(i + 1) == w) n += $i } END { print n + 0 }' "$out"; }
unit_pass=$(count_word passed)
unit_fail=$(count_word failed)
if ! grep -qE '^test result:' "$out"; then
  tail -n 40 "$out"
  unit_fail=1
fi
record "cargo test" "${unit_pass:-0}" "${unit_fail:-0}"
rm -f "$out"

log "2/4 building and installing the extension"
"$LODESTONE_ROOT/scripts/install.sh"

log "3/4 pg_regress"
out="$(mktemp)"
if "$LODESTONE_ROOT/scripts/regress.sh" >"$out" 2>&1; then regress_status=0; else regress_status=1; fi
grep -E '^(test |     |parallel group)' "$out" || true
grep -E 'tests passed|tests failed|of [0-9]+ tests' "$out" | sed 's/^ *//' || true
ok_tests=$(grep -cE '\.\.\. ok' "$out" || true)
bad_tests=$(grep -cE '\.\.\. FAILED|\.\.\. failed' "$out" || true)
if ((regress_status != 0)); then
  [[ -f pg_regress/regression.diffs ]] && cat pg_regress/regression.diffs || tail -n 40 "$out"
  ((bad_tests > 0)) || bad_tests=1
fi
record "pg_regress" "$ok_tests" "$bad_tests"
rm -f "$out"

# The comparison with pgvector itself is not part of this suite: its outcome
# depends on which pgvector build is installed (a build of pgvector's
# development branch differs from the v0.8.6 release lodestone's expected
# output follows). Run it with `make compat`, which names the build.

log "4/4 integration tests (tests/*.sh)"
shopt -s nullglob
for t in tests/*.sh; do
  name="$(basename "$t" .sh)"
  start=$(date +%s)
  if bash "$t" >"/tmp/lodestone-$name.log" 2>&1; then
    printf '  %-40s ok      %4ss\n' "$name" $(($(date +%s) - start))
    record "$name" 1 0
  else
    printf '  %-40s FAILED  %4ss\n' "$name" $(($(date +%s) - start))
    tail -n 60 "/tmp/lodestone-$name.log"
    record "$name" 0 1
  fi
done

echo
if ((failed > 0)); then
  echo "failed: ${failures[*]}"
fi
echo "lodestone: $passed passed, $failed failed"
((failed == 0))
