#!/usr/bin/env bash
# Hostile input: the catalogue in tests/hostile/cases.txt (malformed and
# extreme values of every type in text and, through COPY ... FROM (FORMAT
# binary) with crafted bytes, in binary; typmods; casts; operators and
# functions; index options and builds; GUC values). Each case runs in its own
# session and must fail with an ERROR whose SQLSTATE is not XX000 (an
# internal error, which is what a Rust panic turns into) and whose SQLSTATE
# and message are the ones in tests/hostile/expected.txt; the postmaster must
# never restart and no backend may die. The server runs with RUST_BACKTRACE=1
# in its environment, and no message may carry a Rust backtrace: what users
# see must not depend on the server's environment.
#
#   HOSTILE_ACCEPT=1 tests/reliability_hostile.sh   rewrite expected.txt (review the diff!)
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cases="$LODESTONE_ROOT/tests/hostile/cases.txt"
expected="$LODESTONE_ROOT/tests/hostile/expected.txt"

export RUST_BACKTRACE=1
new_cluster main
unset RUST_BACKTRACE
load_lodestone main
sql main -f "$LODESTONE_ROOT/tests/hostile/setup.sql" >/dev/null
started="$(sql main -c "SELECT pg_postmaster_start_time()")"

# copy_file HEX: a COPY binary file with one row of one field holding HEX.
copy_file() {
  local hex=${1// /} file="$TEST_ROOT/field.bin" escaped
  escaped="$(sed 's/../\\x&/g' <<<"$hex")"
  {
    printf 'PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0'
    printf '\0\001'
    printf "\\x$(printf %02x $(((${#hex} / 2) >> 24 & 255)))\\x$(printf %02x $(((${#hex} / 2) >> 16 & 255)))"
    printf "\\x$(printf %02x $(((${#hex} / 2) >> 8 & 255)))\\x$(printf %02x $(((${#hex} / 2) & 255)))"
    printf "$escaped"
    printf '\377\377'
  } >"$file"
  chmod 644 "$file"
  echo "$file"
}

actual="$TEST_ROOT/actual.txt"
all_output="$TEST_ROOT/all-output.txt"
: >"$actual"
: >"$all_output"
n=0
while IFS= read -r line; do
  [[ -z $line || $line == \#* ]] && continue
  n=$((n + 1))
  if [[ $line == "bin "* ]]; then
    read -r _ type hex <<<"$line"
    file="$(copy_file "$hex")"
    out="$(sql main -v VERBOSITY=verbose -c "CREATE TEMP TABLE field (v $type)" \
      -c "COPY field FROM '$file' (FORMAT binary)" 2>&1 >/dev/null || true)"
  else
    # LOAD first: before the library is loaded, SET hnsw.* only stores a
    # placeholder that nothing validates.
    out="$(sql main -v VERBOSITY=verbose -c "LOAD 'lodestone'" -c "$line" 2>&1 >/dev/null || true)"
  fi
  printf '%s\n%s\n' "$line" "$out" >>"$all_output"
  err="$(grep -m1 -E '^(psql:[^ ]* )?ERROR:' <<<"$out" | sed -E 's/^(psql:[^ ]* )?ERROR: +//' | cut -c1-240 || true)"
  if [[ -z $err ]]; then
    err="NO ERROR: ${out%%$'\n'*}"
  fi
  printf '%s\n    => %s\n' "$line" "$err" >>"$actual"
done <"$cases"
echo "  $n cases"
check "at least 150 hostile inputs" '$1 >= 150' "$n"

if [[ -n "${HOSTILE_ACCEPT:-}" ]]; then
  cp "$actual" "$expected"
  echo "  wrote $expected"
fi
same "every case raised an ERROR" "" "$(grep -B1 '=> NO ERROR' "$actual" || true)"
same "no case raised an internal error (XX000, e.g. a Rust panic)" "" "$(grep -B1 -E '=> XX000|panick' "$actual" || true)"
same "no message carries a Rust backtrace (RUST_BACKTRACE=1 on the server)" "" \
  "$(grep -v '^LOCATION:' "$all_output" | grep -B3 -E 'backtrace|\.rs:[0-9]+|^ +[0-9]+: ' | head -n 20 || true)"
same "the postmaster never restarted" "$started" "$(sql main -c "SELECT pg_postmaster_start_time()")"
same "no backend died" "" "$(grep -E 'terminated by signal|PANIC|was terminated' "$DIR_main/server.log" || true)"
same_lines "every case gave its expected SQLSTATE and message" "$(cat "$expected")" "$(cat "$actual")"

echo "$passes passed, 0 failed"
