"""The in-process reference: hnswlib on the same vectors, queries and graph
parameters as the Postgres systems, measured the same way but without SQL.

It is the floor an index inside Postgres can approach (no client/server round
trip, no executor, no buffer manager), not a system under test. Its 1-client
figures are one ``knn_query`` of one vector per call on one thread, as one SQL
client sends one query at a time; its N-client figures are N Python threads
doing the same on the one shared index (hnswlib releases the GIL while it
searches), as N backends share one index.
"""

from __future__ import annotations

import importlib.metadata
import sys
import threading
import time

import numpy as np
from tqdm import tqdm

from . import workload

# hnswlib's space for each of the benchmark's metrics. Its distances differ
# from pgvector's (cosine and ip are 1 - dot) but rank rows the same way, and
# recall is computed from the returned ids only.
SPACES = {"l2": "l2", "cosine": "cosine", "ip": "ip"}
# hnswlib's default, fixed so that the single-thread graph is the same every run.
RANDOM_SEED = 100

try:
    import hnswlib
except ImportError:  # outside benches/ann.sh's venv: the run goes on without it
    hnswlib = None


def available() -> bool:
    return hnswlib is not None


def _log(msg: str) -> None:
    print(f"\033[1;34m==>\033[0m {msg}", file=sys.stderr, flush=True)


def build(base: np.ndarray, metric: str, m: int, ef_construction: int, threads: int) -> tuple["hnswlib.Index", float]:
    """An hnswlib index of ``base`` (label ``i`` for row ``i``, as the tables'
    ids), built with ``add_items`` on ``threads`` threads, and its build time."""
    t0 = time.perf_counter()
    index = hnswlib.Index(space=SPACES[metric], dim=base.shape[1])
    index.init_index(max_elements=base.shape[0], ef_construction=ef_construction, M=m, random_seed=RANDOM_SEED)
    index.add_items(base, np.arange(base.shape[0]), num_threads=threads)
    return index, time.perf_counter() - t0


def search(index: "hnswlib.Index", queries: np.ndarray, k: int, first: int = 0, until: float | None = None,
           collect: list[list[int]] | None = None) -> workload.Run:
    """``workload.search`` for hnswlib: one query per ``knn_query`` call on one
    thread, each query once when ``until`` is None, else until
    ``time.monotonic()`` passes ``until``."""
    latencies = []
    nq = queries.shape[0]
    i = first
    start = time.monotonic()
    while True:
        t0 = time.monotonic()
        labels, _ = index.knn_query(queries[i % nq], k=k, num_threads=1)
        t1 = time.monotonic()
        latencies.append(t1 - t0)
        if collect is not None:
            collect.append(labels[0].tolist())
        i += 1
        if (until is None and i - first >= nq) or (until is not None and t1 >= until):
            break
    return workload.Run(np.array(latencies), start, time.monotonic())


def search_threads(index: "hnswlib.Index", queries: np.ndarray, k: int, threads: int, duration: float) -> workload.Run:
    """``ClientPool.search`` for hnswlib: ``threads`` Python threads, each from
    its own offset in ``queries``, query for ``duration`` seconds after a
    common start."""
    barrier = threading.Barrier(threads)
    step = max(1, queries.shape[0] // threads)
    runs: list[workload.Run | BaseException] = [RuntimeError("a reference search thread did not finish")] * threads

    def client(c: int) -> None:
        try:
            barrier.wait(timeout=120)
            runs[c] = search(index, queries, k, c * step, until=time.monotonic() + duration)
        except BaseException as e:  # re-raised in the caller's thread
            barrier.abort()
            runs[c] = e

    workers = [threading.Thread(target=client, args=(c,), name=f"reference-{c}") for c in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    for r in runs:
        if isinstance(r, BaseException):
            raise RuntimeError(f"a reference search thread failed: {r}") from r
    return workload.Run.merge(runs)


class Reference:
    """hnswlib as one more entry of the run's systems, with the interface of
    ``runner.System`` (prepare, warm_up, measure, insert, close). Its JSON is
    marked ``"in_process": true`` and has no load, table or INSERT figures."""

    def __init__(self, dataset, args, peers: list):
        self.dataset, self.args, self.peers = dataset, args, peers
        self.name = "hnswlib"
        self.result: dict = {
            "name": self.name, "in_process": True, "extension": "hnswlib",
            "extension_version": importlib.metadata.version("hnswlib"), "phases": {},
            "note": "in-process reference, not a Postgres system: hnswlib in the harness's own process; "
                    "1 client = one knn_query of one vector per call, num_threads=1; "
                    f"{args.clients} clients = {args.clients} Python threads doing the same on the shared index",
        }
        self.index = None
        self.searchable = False

    def _phase(self, name: str, t0: float) -> None:
        self.result["phases"][name] = round(self.result["phases"].get(name, 0.0) + time.perf_counter() - t0, 2)

    def _build_threads(self) -> int:
        """As many threads as a Postgres build may use: its leader and
        max_parallel_maintenance_workers workers (read from the servers)."""
        for peer in self.peers:
            workers = peer.result.get("settings", {}).get("max_parallel_maintenance_workers", "")
            if workers.isdigit():
                return int(workers) + 1
        return 1

    def prepare(self) -> None:
        """Builds on one thread (the index that is searched), then, if the
        Postgres builds may use more, again on as many threads, timed only."""
        ds, args = self.dataset, self.args
        base = np.ascontiguousarray(ds.base, dtype=np.float32)
        _log(f"{self.name}: building the in-process reference (m={args.m}, ef_construction={args.ef_construction}, "
             f"space {SPACES[args.metric]}), 1 thread")
        t0 = time.perf_counter()
        self.index, seconds = build(base, args.metric, args.m, args.ef_construction, threads=1)
        index = {"status": "ok", "build_seconds": round(seconds, 3), "build_threads": 1, "options": ""}
        threads = self._build_threads()
        if threads > 1:
            _log(f"{self.name}: building it again on {threads} threads (timed only)")
            _, parallel = build(base, args.metric, args.m, args.ef_construction, threads=threads)
            index["parallel_build"] = {"threads": threads, "seconds": round(parallel, 3)}
        self.result["index"] = index
        self._phase("build", t0)
        # What save_index would write: vectors, labels and links of every level.
        self.result["sizes"] = {"index_bytes": int(self.index.index_file_size())}
        _log(f"{self.name}: built in {seconds:.1f} s on 1 thread, {self.result['sizes']['index_bytes'] / 2**20:.0f} MB")
        self.searchable = True

    def warm_up(self) -> None:
        """Every query once at the largest ef_search, as ``System.warm_up`` (not measured)."""
        t0 = time.perf_counter()
        self.index.set_ef(max(self.args.sweep))
        search(self.index, self.dataset.queries, self.args.k)
        self.result["sweep"] = []
        self._phase("warmup", t0)

    def measure(self, value: int) -> None:
        """One repetition of a sweep point at ``ef = value``, as ``System.measure``."""
        args, ds, key = self.args, self.dataset, self.args.sweep_key
        t0 = time.perf_counter()
        self.index.set_ef(value)
        ids: list[list[int]] = []
        one = search(self.index, ds.queries, args.k, collect=ids)
        many = search_threads(self.index, ds.queries, args.k, args.clients, args.duration)
        point = workload.record_point(self.result["sweep"], key, value, lambda: ds.recall(ids, args.k),
                                      one, many, args.clients)
        self._phase("sweep", t0)
        tqdm.write(f"  {self.name:<12} {key}={value:<4} recall@{args.k}={point['recall']:.3f}  "
                   f"1 thread {one.rate:,.0f} QPS  {args.clients} threads {many.rate:,.0f} QPS", file=sys.stderr)

    def insert(self, clients: int) -> None:
        """Not measured: the INSERT figures are about Postgres's write path."""

    def close(self) -> None:
        self.index = None
