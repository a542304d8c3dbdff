"""Query and insert loops, for one client in this process or N client processes.

Concurrent clients are separate processes (so Python's GIL does not limit
them), each holding its own connection for the whole run of one system. For
each measurement they set up, wait at a barrier, and then run: searches until
a time limit, or their share of inserts. Times are ``time.monotonic()``, one
clock for every process on Linux, so the run's wall time is the span from the
first client's start to the last client's end.
"""

from __future__ import annotations

import multiprocessing as mp
import sys
import time
import traceback
from dataclasses import dataclass

import numpy as np
import psycopg

from . import db


@dataclass
class Run:
    """Latencies (seconds) of the operations that ran between ``start`` and ``end``."""

    latencies: np.ndarray
    start: float
    end: float

    @property
    def count(self) -> int:
        return int(self.latencies.size)

    @property
    def rate(self) -> float:
        """Operations per second over the run's wall time."""
        return self.count / (self.end - self.start) if self.end > self.start else 0.0

    def percentile_ms(self, p: float) -> float:
        return float(np.percentile(self.latencies, p) * 1e3) if self.count else float("nan")

    @staticmethod
    def merge(runs: list["Run"]) -> "Run":
        return Run(np.concatenate([r.latencies for r in runs]), min(r.start for r in runs), max(r.end for r in runs))


def keep_fastest(into: dict, key: str, run: Run, rate: str, count: str) -> None:
    """Records ``run`` under ``into[key]`` if it is the fastest repetition so far."""
    entry = into.get(key)
    runs = (entry["all_" + rate] if entry else []) + [run.rate]
    if entry is None or run.rate > entry[rate]:
        entry = into[key] = {rate: run.rate, "p50_ms": run.percentile_ms(50), "p99_ms": run.percentile_ms(99),
                             count: run.count}
    entry["all_" + rate] = runs


def record_point(sweep: list, key: str, value: int, recall, one: Run, many: Run, clients: int) -> dict:
    """Adds one repetition of a sweep point (``key = value``) to ``sweep``:
    a new point takes ``recall()``, and each client count keeps its fastest
    run. Returns the point."""
    if not sweep or sweep[-1][key] != value:
        sweep.append({key: value, "recall": recall(), "clients": {}})
    point = sweep[-1]
    for n, run in ((1, one), (clients, many)):
        keep_fastest(point["clients"], str(n), run, "qps", "queries")
    return point


def search(conn: psycopg.Connection, statement, queries: np.ndarray, first: int = 0,
           until: float | None = None, collect: list[list[int]] | None = None) -> Run:
    """Runs k-NN queries starting with query ``first`` (wrapping around): each
    query once when ``until`` is None, else until ``time.monotonic()`` passes
    ``until``. Appends the returned ids to ``collect`` when given."""
    latencies = []
    nq = queries.shape[0]
    i = first
    start = time.monotonic()
    with conn.cursor(binary=True) as cur:
        while True:
            t0 = time.monotonic()
            cur.execute(statement, (queries[i % nq],), prepare=True)
            ids = [r[0] for r in cur.fetchall()]
            t1 = time.monotonic()
            latencies.append(t1 - t0)
            if collect is not None:
                collect.append(ids)
            i += 1
            if (until is None and i - first >= nq) or (until is not None and t1 >= until):
                break
    return Run(np.array(latencies), start, time.monotonic())


def insert(conn: psycopg.Connection, ids: np.ndarray, vectors: np.ndarray) -> Run:
    """Inserts one row per statement, each its own transaction (autocommit)."""
    latencies = []
    statement = db.insert_statement()
    start = time.monotonic()
    with conn.cursor() as cur:
        for row_id, vec in zip(ids, vectors):
            t0 = time.monotonic()
            cur.execute(statement, (int(row_id), vec), prepare=True)
            latencies.append(time.monotonic() - t0)
    return Run(np.array(latencies), start, time.monotonic())


def _client_main(dsn: str, pipe, barrier) -> None:
    """One client process: runs the commands the pool sends until it sends None."""
    conn = db.connect(dsn)
    pipe.send("ready")
    try:
        while (command := pipe.recv()) is not None:
            kind, args = command
            try:
                if kind == "search":
                    metric, k, setting, value, queries, first, duration = args
                    db.set_search(conn, setting, value)
                    statement = db.search_statement(metric, k, setting, value)
                    barrier.wait(timeout=120)
                    run = search(conn, statement, queries, first, until=time.monotonic() + duration)
                else:
                    ids, vectors = args
                    barrier.wait(timeout=120)
                    run = insert(conn, ids, vectors)
                pipe.send(("ok", run))
            except Exception:
                barrier.abort()
                pipe.send(("error", traceback.format_exc()))
    finally:
        conn.close()


class ClientPool:
    """N client processes connected to one database, measured together."""

    def __init__(self, dsn: str, clients: int):
        ctx = mp.get_context("spawn")
        self.clients = clients
        self._barrier = ctx.Barrier(clients)
        self._pipes = []
        self._procs = []
        for _ in range(clients):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_client_main, args=(dsn, child, self._barrier), daemon=True)
            proc.start()
            self._pipes.append(parent)
            self._procs.append(proc)
        # Measurements start only once every client has started and connected.
        for pipe in self._pipes:
            if pipe.recv() != "ready":
                raise RuntimeError("a benchmark client did not start")

    def __enter__(self) -> "ClientPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _run(self, commands: list) -> Run:
        self._barrier.reset()
        for pipe, command in zip(self._pipes, commands):
            pipe.send(command)
        replies = [pipe.recv() for pipe in self._pipes]
        errors = [detail for status, detail in replies if status == "error"]
        if errors:
            print(errors[0], file=sys.stderr)
            raise RuntimeError("a benchmark client failed: " + errors[0].strip().splitlines()[-1])
        return Run.merge([run for _, run in replies])

    def search(self, metric: str, k: int, setting: str, value: int, queries: np.ndarray, duration: float) -> Run:
        """All clients query for ``duration`` seconds with ``SET setting = value``
        (e.g. ``hnsw.ef_search``), each from its own offset in ``queries``."""
        step = max(1, queries.shape[0] // self.clients)
        return self._run([("search", (metric, k, setting, value, queries, c * step, duration))
                          for c in range(self.clients)])

    def insert(self, ids: np.ndarray, vectors: np.ndarray) -> Run:
        """The clients insert the rows between them, each a contiguous share."""
        shares = np.array_split(np.arange(ids.size), self.clients)
        return self._run([("insert", (ids[s], vectors[s])) for s in shares])

    def close(self) -> None:
        for pipe in self._pipes:
            try:
                pipe.send(None)
            except (BrokenPipeError, OSError):
                pass
        for proc in self._procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()
