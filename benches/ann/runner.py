"""The ANN benchmark's command line and the sequence it runs.

For each ``--dsn NAME=DSN`` in turn: create the table, load the vectors by
binary COPY, build the ``--index`` index, hnsw (default) or ivfflat (timed,
its phase on screen) and record its size. Then, for all systems interleaved:
sweep that index's search setting (``hnsw.ef_search`` or ``ivfflat.probes``)
measuring recall@k, QPS and p50/p99 latency with 1 and N clients, and time
single-row INSERTs into the indexed table. A system without the access method
is loaded and reported as unsupported for the rest. With ``--index hnsw``,
hnswlib in this process (reference.py) is measured alongside, on the same
vectors and parameters, as the in-process floor (``--no-reference``: not).
Writes results.json, results.md and recall_qps.png to ``--out`` and prints the
markdown.
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

from . import datasets, db, reference, report, workload


DESCRIPTION = ("ANN benchmark over SQL: per system, load by binary COPY, build an hnsw (or, with --index ivfflat, "
               "an ivfflat) index, sweep hnsw.ef_search (ivfflat.probes) measuring recall, QPS and latency with "
               "1 and N clients, time single-row INSERTs; with hnsw, hnswlib in-process alongside as the floor.")

# Per access method: its sweep's key in results.json, which is also its --option.
SWEEP_KEYS = {"hnsw": "ef_search", "ivfflat": "probes"}
DEFAULT_SWEEPS = {"hnsw": [10, 20, 40, 80, 120, 200, 400], "ivfflat": [10, 20, 40]}


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
    p = argparse.ArgumentParser(prog="python -m ann", description=DESCRIPTION)
    p.add_argument("--dsn", type=_dsn, action="append", required=True, metavar="NAME=DSN",
                   help="a system to measure: a label and a libpq connection string to a database where "
                        "the vector type exists (repeat for each system)")
    p.add_argument("--dataset", choices=("synthetic", "debian", "file"), default="synthetic",
                   help="(default: %(default)s)")
    p.add_argument("--n", type=int, default=100_000, help="synthetic: rows (default: %(default)s)")
    p.add_argument("--dim", type=int, default=384, help="synthetic: dimensions (default: %(default)s)")
    p.add_argument("--clusters", type=int, default=100, help="synthetic: clusters (default: %(default)s)")
    p.add_argument("--base", type=Path, help="file: base vectors (.fvecs or .npy)")
    p.add_argument("--queries", type=Path,
                   help="file: query vectors (without it, --nq rows of --base are held out)")
    p.add_argument("--gt", type=Path, help="file: ground-truth ids, .ivecs or .npy (without it, computed)")
    p.add_argument("--nq", type=int, default=1000,
                   help="queries (synthetic, debian, file without --queries) (default: %(default)s)")
    p.add_argument("--seed", type=int, default=42, help="(default: %(default)s)")
    p.add_argument("--metric", choices=datasets.METRICS,
                   help="distance; cosine for debian, l2 otherwise when not given")
    p.add_argument("--k", type=int, default=10, help="neighbours per query; recall@k (default: %(default)s)")
    p.add_argument("--index", choices=tuple(db.SEARCH_SETTINGS), default="hnsw",
                   help="the access method to build and search (default: %(default)s)")
    p.add_argument("--m", type=int, default=16, help="hnsw m (default: %(default)s)")
    p.add_argument("--ef-construction", type=int, default=64, help="hnsw ef_construction (default: %(default)s)")
    p.add_argument("--lists", type=int, default=1000, help="ivfflat lists (default: %(default)s)")
    p.add_argument("--with", dest="index_options", type=_dsn, action="append", default=[], metavar="NAME=OPTIONS",
                   help="more index options for system NAME, e.g. 'lodestone-sq8=quantizer = sq8' (repeatable)")
    p.add_argument("--ef-search", type=_int_list,
                   help="hnsw: comma-separated hnsw.ef_search values to sweep (default: 10,20,40,80,120,200,400)")
    p.add_argument("--probes", type=_int_list,
                   help="ivfflat: comma-separated ivfflat.probes values to sweep (default: 10,20,40)")
    p.add_argument("--clients", type=int, default=4,
                   help="N, the concurrent client count; 1 client is always measured too (default: %(default)s)")
    p.add_argument("--duration", type=float, default=5.0,
                   help="seconds per concurrent measurement (default: %(default)s)")
    p.add_argument("--inserts", type=int, default=1000,
                   help="single-row INSERTs per measurement (default: %(default)s)")
    p.add_argument("--repeats", type=int, default=3,
                   help="repetitions of every search and insert measurement (systems take turns); "
                        "the fastest is reported (default: %(default)s)")
    p.add_argument("--no-reference", dest="reference", action="store_false",
                   help="hnsw: do not measure hnswlib in this process alongside (by default it is, as the floor "
                        "the Postgres systems can approach; ivfflat has none)")
    p.add_argument("--cache", type=Path, default=datasets.DEFAULT_CACHE,
                   help="dataset and ground-truth cache (default: target/bench-ann/data)")
    p.add_argument("--out", type=Path, help="output directory (default: target/bench-ann/results/DATASET, "
                                            "DATASET-ivfflat with --index ivfflat)")
    args = p.parse_args(argv)
    if args.dataset == "file" and args.base is None:
        p.error("--dataset file needs --base")
    if args.repeats < 1:
        p.error("--repeats must be at least 1")
    if args.clients < 2:
        p.error("--clients is N > 1 (a single client is always measured)")
    # Each index has its own sweep; a sweep given for the other index would be
    # silently ignored, so it is refused.
    key = SWEEP_KEYS[args.index]
    for method, other in SWEEP_KEYS.items():
        if method != args.index and getattr(args, other) is not None:
            p.error(f"--{other.replace('_', '-')} is for --index {method}")
    args.sweep_key, args.setting = key, db.SEARCH_SETTINGS[args.index]
    args.sweep = getattr(args, key) or DEFAULT_SWEEPS[args.index]
    setattr(args, key, args.sweep)
    if not args.sweep or min(args.sweep) < 1:
        p.error(f"--{key.replace('_', '-')} values must be positive")
    if args.lists < 1:
        p.error("--lists must be positive")
    args.metric = args.metric or ("cosine" if args.dataset == "debian" else "l2")
    return args


def load_dataset(args: argparse.Namespace) -> datasets.Dataset:
    if args.dataset == "synthetic":
        return datasets.synthetic(args.n, args.dim, args.nq, args.clusters, args.seed, args.metric, args.cache)
    if args.dataset == "debian":
        return datasets.debian(args.nq, args.seed, args.metric, args.cache)
    return datasets.from_files(args.base, args.queries, args.gt, args.nq, args.seed, args.metric, args.cache)


def _loadavg() -> float | None:
    """The 1-minute load average: other work on a shared machine skews the numbers."""
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


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


def index_options(args: argparse.Namespace) -> dict[str, int]:
    """The ``WITH (...)`` options of the ``--index`` build, the same for every system."""
    if args.index == "ivfflat":
        return {"lists": args.lists}
    return {"m": args.m, "ef_construction": args.ef_construction}


def _build(dsn: str, args: argparse.Namespace, extra: str | None = None) -> db.BuildResult:
    """Builds the index with a progress bar that names the build's current phase."""
    with tqdm(desc="create index", unit="", leave=True, dynamic_ncols=True) as bar:
        def show(p: db.BuildProgress) -> None:
            bar.set_description(f"create index: {p.phase}", refresh=False)
            bar.unit = f" {p.unit}"
            if p.total and bar.total != p.total:
                bar.total = p.total
            bar.n = p.done
            bar.refresh()
        return db.build_index(dsn, args.index, args.metric, index_options(args), show, extra=extra)


class System:
    """One system under test: its connection, its client pool and its part of
    the JSON report, which is filled in as measurements are made (so that a
    failure keeps what was measured before it)."""

    def __init__(self, name: str, dsn: str, dataset: datasets.Dataset, args: argparse.Namespace):
        self.name, self.dsn, self.dataset, self.args = name, dsn, dataset, args
        self.result: dict = {"name": name, "phases": {}}
        self.conn: psycopg.Connection | None = None
        self.pool: workload.ClientPool | None = None
        self.searchable = False
        self._inserted = 0

    def _phase(self, name: str, t0: float) -> None:
        self.result["phases"][name] = round(self.result["phases"].get(name, 0.0) + time.perf_counter() - t0, 2)

    def prepare(self) -> None:
        """Connects, loads the table by binary COPY and builds the ``--index`` index."""
        ds, args, name = self.dataset, self.args, self.name
        _log(f"{name}: connecting")
        self.conn = conn = db.connect(self.dsn)
        info = db.server_info(conn)
        self.result.update({"extension": info.extension, "extension_version": info.extension_version,
                            "server_version": info.server_version, "settings": info.settings})
        _log(f"{name}: loading {ds.n:,} rows by binary COPY")
        t0 = time.perf_counter()
        db.create_table(conn, ds.dim)
        with tqdm(total=ds.n, desc="copy", unit=" rows", unit_scale=True, dynamic_ncols=True) as bar:
            db.copy_vectors(conn, ds.base, bar.update)
        load_s = time.perf_counter() - t0
        self.result["load"] = {"seconds": round(load_s, 3), "rows_per_second": ds.n / load_s}
        self._phase("load", t0)
        t0 = time.perf_counter()
        db.vacuum_analyze(conn)
        self._phase("vacuum_analyze", t0)

        if args.index not in info.access_methods:
            _log(f"{name}: no {args.index} access method in this database: index build and searches skipped")
            self.result["index"] = {"status": "unsupported", "reason": f"no {args.index} access method"}
            self.result["sizes"] = db.relation_sizes(conn)
            return
        extra = dict(args.index_options).get(name)
        _log(f"{name}: building the {args.index} index ("
             + ", ".join(f"{k}={v}" for k, v in index_options(args).items()) + (f", {extra})" if extra else ")"))
        try:
            build = _build(self.dsn, args, extra)
        except psycopg.Error as e:
            _log(f"{name}: index build failed: {e}")
            self.result["index"] = {"status": "failed", "reason": _first_line(e)}
            return
        self.result["index"] = {"status": "ok", "build_seconds": round(build.seconds, 3), "phases": build.phases,
                                "options": extra or ""}
        self.result["phases"]["build"] = round(build.seconds, 2)
        self.result["sizes"] = db.relation_sizes(conn)
        _log(f"{name}: index built in {build.seconds:.1f} s, {self.result['sizes']['index_bytes'] / 2**20:.0f} MB")
        self.searchable = True

    def warm_up(self) -> None:
        """Starts the N clients, and runs every query once at the largest
        sweep value (ef_search, probes) to bring the index into the cache (not
        measured)."""
        t0 = time.perf_counter()
        self.pool = workload.ClientPool(self.dsn, self.args.clients)
        args, top = self.args, max(self.args.sweep)
        db.set_search(self.conn, args.setting, top)
        workload.search(self.conn, db.search_statement(args.metric, args.k, args.setting, top), self.dataset.queries)
        self.result["sweep"] = []
        self._phase("warmup", t0)

    def measure(self, value: int) -> None:
        """One repetition of a sweep point (``SET hnsw.ef_search`` or
        ``ivfflat.probes`` to ``value``): every query once from 1 client
        (recall, QPS, latency), then N clients for ``--duration`` seconds (QPS,
        latency). Of the repetitions, the fastest run per client count is kept
        (other work on the machine only ever slows a run down); the QPS of
        every repetition is kept too."""
        args, ds, key = self.args, self.dataset, self.args.sweep_key
        t0 = time.perf_counter()
        db.set_search(self.conn, args.setting, value)
        sweep = self.result["sweep"]
        new_point = not sweep or sweep[-1][key] != value
        if new_point and not db.uses_index(self.conn, args.metric, args.k, args.setting, value, ds.queries[0]):
            # The planner's cost of an ivfflat scan grows with probes; past
            # some value it prefers an exact sequential scan, whose numbers
            # would be reported as the index's.
            raise RuntimeError(f"the planner does not use the index for the k-NN query at {args.setting} = {value} "
                               "(a sequential scan is cheaper: sweep smaller values, or use more rows)")
        ids: list[list[int]] = []
        one = workload.search(self.conn, db.search_statement(args.metric, args.k, args.setting, value), ds.queries,
                              collect=ids)
        many = self.pool.search(args.metric, args.k, args.setting, value, ds.queries, args.duration)
        point = workload.record_point(sweep, key, value, lambda: ds.recall(ids, args.k), one, many, args.clients)
        self._phase("sweep", t0)
        tqdm.write(f"  {self.name:<12} {key}={value:<4} recall@{args.k}={point['recall']:.3f}  "
                   f"1 client {one.rate:,.0f} QPS  {args.clients} clients {many.rate:,.0f} QPS", file=sys.stderr)

    def insert(self, clients: int) -> None:
        """One repetition of ``--inserts`` single-row INSERTs into the indexed
        table from 1 or N clients, keeping the fastest repetition. The rows are
        query vectors (same distribution, not in the table) with fresh ids."""
        args, ds = self.args, self.dataset
        t0 = time.perf_counter()
        first = ds.n + self._inserted
        self._inserted += args.inserts
        ids = np.arange(first, first + args.inserts)
        rows = np.resize(ds.queries, (args.inserts, ds.dim))
        r = workload.insert(self.conn, ids, rows) if clients == 1 else self.pool.insert(ids, rows)
        workload.keep_fastest(self.result.setdefault("inserts", {}), str(clients), r, "rows_per_second", "rows")
        self._phase("inserts", t0)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
            self.pool = None
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def _each(systems: list[System | reference.Reference], step) -> None:
    """Runs ``step(system)`` for every system that can still search; a system
    that fails is reported, closed and left out of the remaining steps."""
    for system in systems:
        if not system.searchable:
            continue
        try:
            step(system)
        except (psycopg.Error, RuntimeError) as e:
            _log(f"{system.name}: failed: {e}")
            system.result["error"] = _first_line(e)
            system.searchable = False
            system.close()


def measure_all(systems: list[System | reference.Reference], args: argparse.Namespace) -> None:
    """Loads and builds each system in turn; then runs every search and insert
    measurement ``--repeats`` times with the systems taking turns, so that a
    slow spell on a shared machine does not fall on one system only."""
    for system in systems:
        try:
            system.prepare()
        except (psycopg.Error, RuntimeError) as e:
            _log(f"{system.name}: failed: {e}")
            system.result["error"] = _first_line(e)
            system.close()
    _each(systems, lambda s: s.warm_up())
    if any(s.searchable for s in systems):
        _log(f"sweeping {args.setting} over {args.sweep} with 1 and {args.clients} clients")
    for value in args.sweep:
        for _ in range(args.repeats):
            _each(systems, lambda s: s.measure(value))
    if any(s.searchable for s in systems):
        _log(f"{args.inserts:,} single-row INSERTs with 1 and then {args.clients} clients")
    for clients in (1, args.clients):
        for _ in range(args.repeats):
            _each(systems, lambda s: s.insert(clients))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = datetime.datetime.now(datetime.timezone.utc)
    t0 = time.perf_counter()
    load_start = _loadavg()
    _log(f"preparing the {args.dataset} dataset")
    dataset = load_dataset(args)
    if dataset.gt_ids.shape[1] < args.k:
        raise SystemExit(f"the ground truth holds {dataset.gt_ids.shape[1]} neighbours per query, fewer than k")
    dataset_s = time.perf_counter() - t0
    _log(f"{dataset.name}: {dataset.n:,} rows × {dataset.dim}, {dataset.queries.shape[0]:,} queries, "
         f"{dataset.metric} ({dataset_s:.1f} s)")
    # hnsw keeps its directory of old; ivfflat's results go next to it.
    out = args.out or (datasets.ROOT / "target" / "bench-ann" / "results"
                       / (dataset.name + ("" if args.index == "hnsw" else f"-{args.index}")))
    out.mkdir(parents=True, exist_ok=True)

    systems = [System(name, dsn, dataset, args) for name, dsn in args.dsn]
    if args.index == "hnsw" and args.reference:
        if reference.available():
            # Last, so that it reads the servers' build settings once they are known.
            systems.append(reference.Reference(dataset, args, peers=list(systems)))
        else:
            _log("hnswlib is not installed: the in-process reference is left out (benches/ann.sh installs it)")
    try:
        measure_all(systems, args)
    finally:
        for system in systems:
            system.close()
    run = {
        "started": started.isoformat(timespec="seconds"),
        "dataset": dataset.summary(),
        "params": {"index": args.index, "k": args.k, **index_options(args), args.sweep_key: args.sweep,
                   "clients": args.clients, "duration": args.duration, "inserts": args.inserts, "repeats": args.repeats,
                   "seed": args.seed},
        "machine": {**machine(), "loadavg_1min": {"start": load_start, "end": _loadavg()}},
        "dataset_seconds": round(dataset_s, 2),
        "systems": [system.result for system in systems],
    }
    report.write_json(run, out / "results.json")
    md = report.markdown(run)
    (out / "results.md").write_text(md, encoding="utf-8")
    report.plot(run, out / "recall_qps.png")
    print(md)
    _log(f"wrote {out}/results.json, results.md and recall_qps.png ({time.perf_counter() - t0:.0f} s in all)")
    return 0
