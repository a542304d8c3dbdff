"""The ANN benchmark's command line and the sequence it runs for each system.

For each ``--dsn NAME=DSN`` in turn: create the table, load the vectors by
binary COPY, build the hnsw index (timed, its phase on screen), record its
size, sweep ``hnsw.ef_search`` measuring recall@k, QPS and p50/p99 latency
with 1 and N clients, then time single-row INSERTs into the indexed table.
A system without the ``hnsw`` access method is loaded and reported as
unsupported for the rest. Writes results.json, results.md and
recall_qps.png to ``--out`` and prints the markdown.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import psycopg
from tqdm import tqdm

from . import datasets, db, report, workload


DESCRIPTION = ("ANN benchmark over SQL: per system, load by binary COPY, build an hnsw index, sweep "
               "hnsw.ef_search (recall, QPS, latency with 1 and N clients), time single-row INSERTs.")


def _log(msg: str) -> None:
    print(f"\033[1;34m==>\033[0m {msg}", file=sys.stderr, flush=True)


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def _int_list(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def _dsn(text: str) -> tuple[str, str]:
    name, sep, dsn = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError("expected NAME=DSN, e.g. pgvector='host=/tmp dbname=vector'")
    return name, dsn


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m ann", description=DESCRIPTION,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--dsn", type=_dsn, action="append", required=True, metavar="NAME=DSN",
                   help="a system to measure: a label and a libpq connection string to a database where "
                        "the vector type exists (repeat for each system)")
    p.add_argument("--dataset", choices=("synthetic", "debian", "file"), default="synthetic")
    p.add_argument("--n", type=int, default=100_000, help="synthetic: rows")
    p.add_argument("--dim", type=int, default=384, help="synthetic: dimensions")
    p.add_argument("--clusters", type=int, default=100, help="synthetic: clusters")
    p.add_argument("--base", type=Path, help="file: base vectors (.fvecs or .npy)")
    p.add_argument("--queries", type=Path, help="file: query vectors (without it, --nq rows of --base are held out)")
    p.add_argument("--gt", type=Path, help="file: ground-truth ids, .ivecs or .npy (without it, computed)")
    p.add_argument("--nq", type=int, default=1000, help="number of queries (synthetic, debian, file without --queries)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--metric", choices=datasets.METRICS,
                   help="distance; cosine for debian, l2 otherwise when not given")
    p.add_argument("--k", type=int, default=10, help="neighbours per query; recall@k")
    p.add_argument("--m", type=int, default=16, help="hnsw m")
    p.add_argument("--ef-construction", type=int, default=64, help="hnsw ef_construction")
    p.add_argument("--ef-search", type=_int_list, default=[10, 20, 40, 80, 120, 200, 400],
                   help="comma-separated hnsw.ef_search values to sweep")
    p.add_argument("--clients", type=int, default=4, help="N, the concurrent client count (1 is always run)")
    p.add_argument("--duration", type=float, default=5.0, help="seconds per concurrent measurement")
    p.add_argument("--inserts", type=int, default=1000, help="single-row INSERTs per measurement")
    p.add_argument("--cache", type=Path, default=datasets.DEFAULT_CACHE, help="dataset and ground-truth cache")
    p.add_argument("--out", type=Path, help="output directory; target/bench-ann/results/DATASET when not given")
    args = p.parse_args(argv)
    if args.dataset == "file" and args.base is None:
        p.error("--dataset file needs --base")
    if args.clients < 2:
        p.error("--clients is N > 1 (a single client is always measured)")
    if min(args.ef_search) < 1:
        p.error("--ef-search values must be positive")
    args.metric = args.metric or ("cosine" if args.dataset == "debian" else "l2")
    return args


def load_dataset(args: argparse.Namespace) -> datasets.Dataset:
    if args.dataset == "synthetic":
        return datasets.synthetic(args.n, args.dim, args.nq, args.clusters, args.seed, args.metric, args.cache)
    if args.dataset == "debian":
        return datasets.debian(args.nq, args.seed, args.metric, args.cache)
    return datasets.from_files(args.base, args.queries, args.gt, args.nq, args.seed, args.metric, args.cache)


def machine() -> dict:
    """Cores, memory, CPU model and OS of the machine the client runs on."""
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                       if line.startswith("MemTotal"))
    except (OSError, StopIteration):
        mem_kib = 0
    os_name = platform.platform()
    try:
        os_name = next(line.split("=", 1)[1].strip('"') for line in Path("/etc/os-release").read_text().splitlines()
                       if line.startswith("PRETTY_NAME="))
    except (OSError, StopIteration):
        pass
    return {"cores": os.cpu_count(), "memory_gib": mem_kib / 2**20, "cpu": cpu, "os": os_name}


def _build(dsn: str, args: argparse.Namespace) -> db.BuildResult:
    """Builds the index with a progress bar that names the build's current phase."""
    with tqdm(desc="create index", unit="", leave=True, dynamic_ncols=True) as bar:
        def show(p: db.BuildProgress) -> None:
            bar.set_description(f"create index: {p.phase}", refresh=False)
            bar.unit = f" {p.unit}"
            if p.total and bar.total != p.total:
                bar.total = p.total
            bar.n = p.done
            bar.refresh()
        return db.build_index(dsn, args.metric, args.m, args.ef_construction, show)


def run_system(result: dict, dsn: str, dataset: datasets.Dataset, args: argparse.Namespace) -> None:
    """Every measurement for one system, recorded into ``result`` (its part of
    the JSON report) as it goes, so that a failure keeps what was measured."""
    name = result["name"]
    _log(f"{name}: connecting")
    conn = db.connect(dsn)
    info = db.server_info(conn)
    result.update({"extension": info.extension, "extension_version": info.extension_version,
                   "server_version": info.server_version, "settings": info.settings, "phases": {}})
    phases = result["phases"]
    try:
        _log(f"{name}: loading {dataset.n:,} rows by binary COPY")
        t0 = time.perf_counter()
        db.create_table(conn, dataset.dim)
        with tqdm(total=dataset.n, desc="copy", unit=" rows", unit_scale=True, dynamic_ncols=True) as bar:
            db.copy_vectors(conn, dataset.base, bar.update)
        load_s = time.perf_counter() - t0
        result["load"] = {"seconds": round(load_s, 3), "rows_per_second": dataset.n / load_s}
        phases["load"] = round(load_s, 2)
        t0 = time.perf_counter()
        db.vacuum_analyze(conn)
        phases["vacuum_analyze"] = round(time.perf_counter() - t0, 2)

        if not info.has_hnsw:
            _log(f"{name}: no hnsw access method in this database: index build and searches skipped")
            result["index"] = {"status": "unsupported", "reason": "no hnsw access method"}
            result["sizes"] = db.relation_sizes(conn)
            return
        _log(f"{name}: building the hnsw index (m={args.m}, ef_construction={args.ef_construction})")
        try:
            build = _build(dsn, args)
        except psycopg.Error as e:
            _log(f"{name}: index build failed: {e}")
            result["index"] = {"status": "failed", "reason": _first_line(e)}
            return
        result["index"] = {"status": "ok", "build_seconds": round(build.seconds, 3), "phases": build.phases}
        phases["build"] = round(build.seconds, 2)
        result["sizes"] = db.relation_sizes(conn)
        _log(f"{name}: index built in {build.seconds:.1f} s, {result['sizes']['index_bytes'] / 2**20:.0f} MB")

        statement = db.search_statement(args.metric, args.k)
        with workload.ClientPool(dsn, args.clients) as pool:
            t0 = time.perf_counter()
            db.set_ef_search(conn, max(args.ef_search))
            workload.search(conn, statement, dataset.queries)  # warms the caches; not measured
            phases["warmup"] = round(time.perf_counter() - t0, 2)

            t0 = time.perf_counter()
            result["sweep"] = []
            for ef in tqdm(args.ef_search, desc="ef_search sweep", dynamic_ncols=True):
                db.set_ef_search(conn, ef)
                ids: list[list[int]] = []
                one = workload.search(conn, statement, dataset.queries, collect=ids)
                many = pool.search(args.metric, args.k, ef, dataset.queries, args.duration)
                point = {"ef_search": ef, "recall": dataset.recall(ids, args.k), "clients": {
                    str(c): {"qps": r.rate, "p50_ms": r.percentile_ms(50), "p99_ms": r.percentile_ms(99),
                             "queries": r.count}
                    for c, r in ((1, one), (args.clients, many))}}
                result["sweep"].append(point)
                tqdm.write(f"  ef_search={ef:<4} recall@{args.k}={point['recall']:.3f}  "
                           f"1 client {one.rate:,.0f} QPS  {args.clients} clients {many.rate:,.0f} QPS",
                           file=sys.stderr)
            phases["sweep"] = round(time.perf_counter() - t0, 2)

            _log(f"{name}: {args.inserts:,} single-row INSERTs with 1 and {args.clients} clients")
            t0 = time.perf_counter()
            rows = np.resize(dataset.queries, (2 * args.inserts, dataset.dim))
            ids = np.arange(dataset.n, dataset.n + 2 * args.inserts)
            result["inserts"] = {}
            for c, run in ((1, lambda: workload.insert(conn, ids[:args.inserts], rows[:args.inserts])),
                           (args.clients, lambda: pool.insert(ids[args.inserts:], rows[args.inserts:]))):
                r = run()
                result["inserts"][str(c)] = {"rows_per_second": r.rate, "p50_ms": r.percentile_ms(50),
                                             "p99_ms": r.percentile_ms(99), "rows": r.count}
            phases["inserts"] = round(time.perf_counter() - t0, 2)
    finally:
        conn.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = datetime.datetime.now(datetime.timezone.utc)
    t0 = time.perf_counter()
    _log(f"preparing the {args.dataset} dataset")
    dataset = load_dataset(args)
    if dataset.gt_ids.shape[1] < args.k:
        raise SystemExit(f"the ground truth holds {dataset.gt_ids.shape[1]} neighbours per query, fewer than k")
    dataset_s = time.perf_counter() - t0
    _log(f"{dataset.name}: {dataset.n:,} rows × {dataset.dim}, {dataset.queries.shape[0]:,} queries, "
         f"{dataset.metric} ({dataset_s:.1f} s)")
    out = args.out or (datasets.ROOT / "target" / "bench-ann" / "results" / dataset.name)
    out.mkdir(parents=True, exist_ok=True)

    systems = []
    for name, dsn in args.dsn:
        result = {"name": name}
        systems.append(result)
        try:
            run_system(result, dsn, dataset, args)
        except (psycopg.Error, RuntimeError) as e:
            _log(f"{name}: failed: {e}")
            result["error"] = _first_line(e)
    run = {
        "started": started.isoformat(timespec="seconds"),
        "dataset": dataset.summary(),
        "params": {"k": args.k, "m": args.m, "ef_construction": args.ef_construction, "ef_search": args.ef_search,
                   "clients": args.clients, "duration": args.duration, "inserts": args.inserts,
                   "seed": args.seed},
        "machine": machine(),
        "dataset_seconds": round(dataset_s, 2),
        "systems": systems,
    }
    report.write_json(run, out / "results.json")
    md = report.markdown(run)
    (out / "results.md").write_text(md, encoding="utf-8")
    report.plot(run, out / "recall_qps.png")
    print(md)
    _log(f"wrote {out}/results.json, results.md and recall_qps.png ({time.perf_counter() - t0:.0f} s in all)")
    return 0
