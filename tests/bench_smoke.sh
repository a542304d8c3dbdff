#!/usr/bin/env bash
# Smoke test of the ANN benchmark harness (benches/ann.sh), so that it does not
# rot: a tiny synthetic set, end to end, against every installed system
# (lodestone, which the test suite has just installed, and pgvector when it is
# there, and the in-process hnswlib reference). Fails if the harness breaks or
# its outputs are missing or malformed; measures nothing worth reading.
# Installs the harness's Python dependencies from PyPI into target/bench-venv
# on first run (idempotent afterwards).
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

out="$LODESTONE_ROOT/target/bench-ann/smoke"
venv="$LODESTONE_ROOT/target/bench-venv"
rm -rf "$out"

BENCH_ANN_CLUSTER="$LODESTONE_ROOT/target/bench-ann/smoke-cluster" \
  "$LODESTONE_ROOT/benches/ann.sh" --n 2000 --dim 16 --clusters 10 --nq 50 \
  --ef-search 10,40 --clients 2 --duration 0.5 --inserts 50 --repeats 1 --out "$out"

log "checking the harness's outputs"
"$venv/bin/python" -m pyflakes "$LODESTONE_ROOT/benches/ann" || die "pyflakes found problems in benches/ann"
"$venv/bin/python" - "$out" <<'PY'
import json, sys
from pathlib import Path

out = Path(sys.argv[1])
run = json.loads((out / "results.json").read_text())
assert run["dataset"]["rows"] == 2000 and run["dataset"]["dim"] == 16, run["dataset"]
names = [s["name"] for s in run["systems"]]
assert "lodestone" in names, names
# The reference is optional (benches/ann/requirements-reference.txt needs a
# C++ compiler); when hnswlib is installed it must be in the run.
try:
    import hnswlib  # noqa: F401
    assert "hnswlib" in names, f"no in-process reference: {names}"
except ImportError:
    print("hnswlib is not installed: no in-process reference to check")
for s in run["systems"]:
    # The in-process reference (hnswlib) has no table and runs no INSERTs.
    in_process = s.get("in_process", False)
    assert in_process or s["load"]["rows_per_second"] > 0, s
    status = s["index"]["status"]
    assert status in ("ok", "unsupported"), f"{s['name']}: index {status}: {s['index'].get('reason')}"
    if status == "ok":
        assert [p["ef_search"] for p in s["sweep"]] == [10, 40], s["sweep"]
        for p in s["sweep"]:
            assert p["recall"] > 0.5, f"{s['name']}: recall {p['recall']} at ef_search {p['ef_search']}"
            assert p["clients"]["1"]["qps"] > 0 and p["clients"]["2"]["qps"] > 0, p
        assert in_process or s["inserts"]["1"]["rows"] == 50 and s["inserts"]["2"]["rows"] == 50, s["inserts"]
        assert s["sizes"]["index_bytes"] > 0, s["sizes"]
    print(f"{s['name']}: index {status}")
md = (out / "results.md").read_text()
assert "| system | ef_search | recall@10 |" in md, md
assert "hnswlib" not in names or "(in-process floor)" in md, md
assert (out / "recall_qps.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", "recall_qps.png is not a PNG"
print("bench smoke: ok")
PY
