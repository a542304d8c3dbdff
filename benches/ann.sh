#!/usr/bin/env bash
# ANN benchmark: pgvector against lodestone through SQL only. Starts a
# throwaway cluster with the settings in benches/ann/postgres.conf, creates one
# database per installed extension (`vector` for pgvector, `lodestone`), and
# runs the Python harness in benches/ann/ on each in turn: binary COPY load,
# hnsw build, hnsw.ef_search sweep (recall@10, QPS, p50/p99 with 1 and N
# clients), single-row INSERTs. Writes results.md, results.json and
# recall_qps.png under target/bench-ann/results/DATASET/ (or --out DIR).
# With --index ivfflat the same run builds ivfflat (WITH (lists = --lists,
# default 1000)) and sweeps ivfflat.probes (--probes, default 10,20,40)
# instead, into results/DATASET-ivfflat/. Both systems build with the
# maintenance_work_mem and max_parallel_maintenance_workers of postgres.conf,
# which the report states: lodestone's ivfflat k-means uses workers + 1
# threads, pgvector's k-means one (its workers only assign rows to lists).
# hnsw runs also measure hnswlib inside the harness's process on the same
# vectors, queries, m, ef_construction and ef_search: the in-process floor,
# marked as such in the report, not a Postgres system (--no-reference: not).
#
#   benches/ann.sh                              synthetic, 100k x 384
#   benches/ann.sh --dataset debian             Debian package descriptions, MiniLM
#   benches/ann.sh --dataset file --base x.fvecs [--queries q.fvecs --gt gt.ivecs]
#   benches/ann.sh --index ivfflat [--lists 1000 --probes 10,20,40]
#                                               ivfflat instead of hnsw (any dataset)
#   benches/ann.sh --n 5000 --dim 64 --nq 100   a small synthetic set (smoke test)
#   benches/ann.sh --no-reference               without the in-process hnswlib floor
#   benches/ann.sh --help                       every option
#
#   SYSTEMS="lodestone" benches/ann.sh ...      only these extensions
#   QUANTIZERS="sq8 pq bq" benches/ann.sh ...   also lodestone with these index
#                                               quantizers (system lodestone-sq8, ...);
#                                               "sq8:0.25" also sets its lodestone.rerank_factor
#   RERANK_FACTOR=2 ...                         lodestone.rerank_factor of the others (default 1)
#   PQ_SUBVECTORS=96 ...                        their pq_subvectors (default: dims / 4)
#   PYTHON=python3.11 ...                       the interpreter for the venv
#   BENCH_ANN_CLUSTER=DIR ...                   where the throwaway cluster lives
#                                               (default target/bench-ann/cluster)
#
# Python dependencies live in a venv in target/bench-venv, (re)installed from
# benches/ann/requirements.txt whenever that file changes.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
unset RUST_BACKTRACE

venv="$LODESTONE_ROOT/target/bench-venv"
requirements="$LODESTONE_ROOT/benches/ann/requirements.txt"
reference="$LODESTONE_ROOT/benches/ann/requirements-reference.txt"

ensure_venv() {
  local python=${PYTHON:-python3}
  if [[ ! -x "$venv/bin/python" ]]; then
    log "creating the benchmark's Python venv in target/bench-venv"
    if ! "$python" -m venv "$venv" 2>/dev/null; then
      # Debian's own python3 ships venv separately.
      rm -rf "$venv"
      if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        apt-get install -y -q python3-venv >/dev/null
      fi
      "$python" -m venv "$venv" || die "$python -m venv failed"
    fi
  fi
  local want have
  want="$(sha256sum "$requirements" | cut -d' ' -f1)"
  have="$(cat "$venv/.requirements.sha256" 2>/dev/null || true)"
  if [[ "$want" != "$have" ]]; then
    log "installing benches/ann/requirements.txt into the venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$requirements" \
      || die "pip install -r benches/ann/requirements.txt failed"
    echo "$want" >"$venv/.requirements.sha256"
  fi
  # The in-process reference is optional: a machine without a C++ compiler
  # runs the benchmark without it.
  want="$(sha256sum "$reference" | cut -d' ' -f1)"
  have="$(cat "$venv/.reference.sha256" 2>/dev/null || true)"
  if [[ "$want" != "$have" ]]; then
    if "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$reference" >/dev/null 2>&1; then
      echo "$want" >"$venv/.reference.sha256"
    else
      log "could not install benches/ann/requirements-reference.txt (hnswlib): no in-process reference"
    fi
  fi
}

ensure_venv
export PYTHONPATH="$LODESTONE_ROOT/benches${PYTHONPATH:+:$PYTHONPATH}"
for arg in "$@"; do
  if [[ $arg == -h || $arg == --help ]]; then exec "$venv/bin/python" -m ann --dsn x=x --help; fi
done

sharedir="$("$PG_CONFIG" --sharedir)"
if [[ -z "${SYSTEMS:-}" ]]; then
  SYSTEMS=""
  for ext in vector lodestone; do
    [[ -f "$sharedir/extension/$ext.control" ]] && SYSTEMS+=" $ext"
  done
fi
read -r -a systems <<<"$SYSTEMS"
((${#systems[@]} > 0)) || die "neither pgvector (vector) nor lodestone is installed in $sharedir"

dir="${BENCH_ANN_CLUSTER:-$LODESTONE_ROOT/target/bench-ann/cluster}"
port="$(free_port 56432)"
cluster_stop "$dir" immediate
rm -rf "$dir"
conf=()
while IFS= read -r line; do conf+=("$line"); done < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$LODESTONE_ROOT/benches/ann/postgres.conf")
cluster_init "$dir" "$port" "${conf[@]}"
trap 'cluster_stop "$dir" immediate' EXIT
cluster_start "$dir"

dsn_args=()
for ext in "${systems[@]}"; do
  [[ -f "$sharedir/extension/$ext.control" ]] || die "extension $ext is not installed in $sharedir"
  cluster_psql "$dir" "$port" -d postgres -qc "CREATE DATABASE $ext" >/dev/null
  cluster_psql "$dir" "$port" -d "$ext" -qc "CREATE EXTENSION $ext" >/dev/null
  label=$ext
  [[ $ext == vector ]] && label=pgvector
  dsn_args+=(--dsn "$label=host=$dir/sock port=$port user=postgres dbname=$ext")
done

for spec in ${QUANTIZERS:-}; do
  # QUANTIZER[:RERANK_FACTOR], e.g. sq8:0.25
  q=${spec%%:*}
  factor=${RERANK_FACTOR:-1}
  name="lodestone-$q"
  if [[ $spec == *:* ]]; then factor=${spec#*:}; name+="-r$factor"; fi
  [[ $q =~ ^(sq8|pq|bq)$ ]] || die "unknown quantizer $q (sq8, pq or bq)"
  [[ $factor =~ ^[0-9.]+$ ]] || die "bad rerank factor $factor"
  [[ -f "$sharedir/extension/lodestone.control" ]] || die "lodestone is not installed in $sharedir"
  db="$(tr -c 'a-z0-9\n' '_' <<<"$name")"
  cluster_psql "$dir" "$port" -d postgres -qc "CREATE DATABASE $db" >/dev/null
  cluster_psql "$dir" "$port" -d "$db" -qc "CREATE EXTENSION lodestone" >/dev/null
  cluster_psql "$dir" "$port" -d "$db" -qc "ALTER DATABASE $db SET lodestone.rerank_factor = $factor" >/dev/null
  options="quantizer = $q"
  [[ $q == pq && -n "${PQ_SUBVECTORS:-}" ]] && options+=", pq_subvectors = $PQ_SUBVECTORS"
  dsn_args+=(--dsn "$name=host=$dir/sock port=$port user=postgres dbname=$db" --with "$name=$options")
  systems+=("$name")
done

log "measuring ${systems[*]} in one cluster ($("$PG_CONFIG" --version), port $port)"
"$venv/bin/python" -m ann "${dsn_args[@]}" "$@"
