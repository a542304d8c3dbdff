# Helpers for the integration tests in tests/*.sh: throwaway clusters run as
# the `postgres` user on private ports, stopped on exit, and assertions.
# Each test sources this file.
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"
unset RUST_BACKTRACE

TEST_NAME="$(basename "$0" .sh)"
TEST_ROOT="$(mktemp -d "${TMPDIR:-/tmp}/lodestone-$TEST_NAME.XXXXXX")"
pg_owned_dir "$TEST_ROOT"
CLUSTERS=()

cleanup() {
  local status=$?
  for dir in "${CLUSTERS[@]}"; do cluster_stop "$dir" immediate; done
  if ((status == 0)); then rm -rf "$TEST_ROOT"; else echo "kept $TEST_ROOT for inspection" >&2; fi
}
trap cleanup EXIT

# new_cluster NAME [postgresql.conf lines...]: creates and starts a cluster;
# sets $DIR_<NAME> and $PORT_<NAME>.
new_cluster() {
  local name=$1; shift
  local dir="$TEST_ROOT/$name" port
  port="$(free_port $((55000 + RANDOM % 5000)))"
  cluster_init "$dir" "$port" "$@"
  CLUSTERS+=("$dir")
  cluster_start "$dir"
  printf -v "DIR_$name" '%s' "$dir"
  printf -v "PORT_$name" '%s' "$port"
}

# sql NAME [psql args...]: runs psql against cluster NAME, database postgres,
# unaligned and quiet.
sql() {
  local name=$1; shift
  local dir_var="DIR_$name" port_var="PORT_$name"
  cluster_psql "${!dir_var}" "${!port_var}" -d postgres -qAt "$@"
}

# Loads lodestone and the test data helpers into cluster NAME.
load_lodestone() {
  sql "$1" -c "CREATE EXTENSION IF NOT EXISTS lodestone" -f "$LODESTONE_ROOT/tests/sql/clustered.sql" >/dev/null
}

passes=0
# check DESCRIPTION CONDITION-AS-AWK-EXPRESSION VALUE: e.g. check "recall" '$1 >= 0.95' "$r"
check() {
  local what=$1 cond=$2 value=$3
  if awk -v v="$value" "BEGIN { \$0 = v; exit !($cond) }"; then
    printf '  ok    %-60s %s\n' "$what" "${value%%$'\n'*}"
    passes=$((passes + 1))
  else
    printf '  FAIL  %-60s %s (want %s)\n' "$what" "$value" "$cond"
    exit 1
  fi
}

# same DESCRIPTION A B: the two values must be equal.
same() {
  if [[ "$2" == "$3" ]]; then
    printf '  ok    %s\n' "$1"
    passes=$((passes + 1))
  else
    printf '  FAIL  %s\n--- %s\n+++ %s\n' "$1" "$2" "$3"
    exit 1
  fi
}
