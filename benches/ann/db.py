"""Everything the benchmark says to Postgres.

Only SQL that pgvector defines is used (the ``vector`` type and its binary
format, the distance operators, ``USING hnsw`` and ``USING ivfflat`` with their
opclasses, the ``hnsw.ef_search`` and ``ivfflat.probes`` settings), so the same
code measures pgvector and any drop-in replacement for it, each in a database
of its own.
"""

from __future__ import annotations

import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import psycopg
from psycopg import sql
from psycopg.adapt import Dumper
from psycopg.pq import Format
from psycopg.types import TypeInfo

TABLE = "items"
INDEX = "items_embedding_idx"
OPERATORS = {"l2": "<->", "cosine": "<=>", "ip": "<#>"}
OPCLASSES = {"l2": "vector_l2_ops", "cosine": "vector_cosine_ops", "ip": "vector_ip_ops"}
# The access methods measured, and the setting each one's searches sweep.
SEARCH_SETTINGS = {"hnsw": "hnsw.ef_search", "ivfflat": "ivfflat.probes"}

# Server settings recorded with every run (benches/ann/postgres.conf sets most).
SETTINGS = ("shared_buffers", "maintenance_work_mem", "max_parallel_maintenance_workers",
            "max_parallel_workers", "work_mem", "effective_cache_size", "jit", "fsync")

# COPY BINARY framing: signature, flags, header extension length; trailer.
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_COPY_TRAILER = struct.pack(">h", -1)


class VectorBinaryDumper(Dumper):
    """Sends a 1-D numpy array as a ``vector`` in binary: int16 dim, int16 0, float4s."""

    format = Format.BINARY

    def dump(self, obj: np.ndarray) -> bytes:
        return struct.pack(">hh", obj.shape[0], 0) + obj.astype(">f4", copy=False).tobytes()


def connect(dsn: str, wait: float = 60.0) -> psycopg.Connection:
    """An autocommit connection that sends numpy arrays as ``vector``.

    Retries for up to ``wait`` seconds, in case the server is still starting or
    recovering from another backend's crash.
    """
    deadline = time.monotonic() + wait
    while True:
        try:
            conn = psycopg.connect(dsn, autocommit=True)
            break
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
    info = TypeInfo.fetch(conn, "vector")
    if info is None:
        conn.close()
        raise RuntimeError(f"no type vector in {dsn!r}: CREATE EXTENSION vector (or lodestone) there first")
    dumper = type("VectorDumper", (VectorBinaryDumper,), {"oid": info.oid})
    conn.adapters.register_dumper(np.ndarray, dumper)
    return conn


@dataclass
class ServerInfo:
    """What a database offers: versions, which of ``SEARCH_SETTINGS``'s access methods exist, its settings."""

    server_version: str
    extension: str
    extension_version: str
    access_methods: frozenset[str]
    settings: dict[str, str]


def server_info(conn: psycopg.Connection) -> ServerInfo:
    """Reads the server's version, the vector extension's, and the settings in ``SETTINGS``."""
    version = conn.execute("SHOW server_version").fetchone()[0]
    ext = conn.execute(
        "SELECT e.extname, e.extversion FROM pg_extension e JOIN pg_type t ON t.typnamespace = e.extnamespace"
        " JOIN pg_depend d ON d.objid = t.oid AND d.refobjid = e.oid AND d.deptype = 'e'"
        " WHERE t.typname = 'vector' LIMIT 1").fetchone() or ("?", "?")
    methods = frozenset(r[0] for r in conn.execute(
        "SELECT amname FROM pg_am WHERE amname = ANY(%s)", (list(SEARCH_SETTINGS),)).fetchall())
    settings = {name: conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone()[0]
                for name in SETTINGS}
    return ServerInfo(version, ext[0], ext[1], methods, settings)


def create_table(conn: psycopg.Connection, dim: int) -> None:
    """(Re)creates the empty table ``items (id bigint, embedding vector(dim))``."""
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(TABLE)))
    conn.execute(sql.SQL("CREATE TABLE {} (id bigint NOT NULL, embedding vector({}))").format(
        sql.Identifier(TABLE), sql.Literal(dim)))


def copy_vectors(conn: psycopg.Connection, vectors: np.ndarray, on_rows: Callable[[int], None],
                 batch: int = 5000) -> None:
    """Loads ``vectors`` with ids 0.. by one ``COPY ... (FORMAT BINARY)``.

    The tuples are laid out by numpy in COPY's binary format (int16 field
    count, then per field an int32 length and the value; a vector is int16 dim,
    int16 0, dim big-endian float4), ``batch`` rows at a time.
    """
    n, dim = vectors.shape
    row = np.dtype([("fields", ">i2"), ("id_len", ">i4"), ("id", ">i8"), ("vec_len", ">i4"),
                    ("dim", ">i2"), ("unused", ">i2"), ("values", ">f4", (dim,))])
    stmt = sql.SQL("COPY {} (id, embedding) FROM STDIN (FORMAT BINARY)").format(sql.Identifier(TABLE))
    with conn.cursor() as cur, cur.copy(stmt) as copy:
        copy.write(_COPY_HEADER)
        for start in range(0, n, batch):
            chunk = vectors[start:start + batch]
            rows = np.empty(chunk.shape[0], dtype=row)
            rows["fields"], rows["id_len"], rows["vec_len"] = 2, 8, 4 + 4 * dim
            rows["id"] = np.arange(start, start + chunk.shape[0])
            rows["dim"], rows["unused"] = dim, 0
            rows["values"] = chunk
            copy.write(rows.tobytes())
            on_rows(chunk.shape[0])
        copy.write(_COPY_TRAILER)


def vacuum_analyze(conn: psycopg.Connection) -> None:
    """Sets hint bits and statistics after the load, as any production load would."""
    conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier(TABLE)))


@dataclass
class BuildProgress:
    """One sample of ``pg_stat_progress_create_index`` for the index build."""

    phase: str
    done: int
    total: int
    unit: str


@dataclass
class BuildResult:
    """How long ``CREATE INDEX`` took, and how long it was seen in each phase."""

    seconds: float
    phases: dict[str, float] = field(default_factory=dict)


def build_index(dsn: str, method: str, metric: str, options: dict[str, int],
                on_progress: Callable[[BuildProgress], None], poll: float = 0.25,
                extra: str | None = None) -> BuildResult:
    """Runs ``CREATE INDEX ... USING method (...) WITH (options)`` on its own
    connection and times it, while this thread samples its row of
    ``pg_stat_progress_create_index``.

    Raises the build's ``psycopg.Error`` if the build fails.
    """
    with_list = [sql.SQL("{} = {}").format(sql.Identifier(k), sql.Literal(v)) for k, v in options.items()]
    # ``extra``: more options from the command line (``--with``), trusted as SQL.
    if extra:
        with_list.append(sql.SQL(extra))
    stmt = sql.SQL("CREATE INDEX {} ON {} USING {} (embedding {}) WITH ({})").format(
        sql.Identifier(INDEX), sql.Identifier(TABLE), sql.Identifier(method), sql.SQL(OPCLASSES[metric]),
        sql.SQL(", ").join(with_list))
    builder, watcher = connect(dsn), connect(dsn)
    outcome: dict[str, object] = {}

    def run() -> None:
        start = time.perf_counter()
        try:
            builder.execute(stmt)
        except psycopg.Error as e:
            outcome["error"] = e
        outcome["seconds"] = time.perf_counter() - start

    try:
        builder.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(INDEX)))
        pid = builder.info.backend_pid
        thread = threading.Thread(target=run, name="create-index")
        phases: dict[str, float] = {}
        last = time.perf_counter()
        thread.start()
        while thread.is_alive():
            row = watcher.execute(
                "SELECT phase, blocks_done, blocks_total, tuples_done, tuples_total"
                " FROM pg_stat_progress_create_index WHERE pid = %s", (pid,)).fetchone()
            now = time.perf_counter()
            if row is not None:
                phase, blocks_done, blocks_total, tuples_done, tuples_total = row
                phases[phase] = phases.get(phase, 0.0) + (now - last)
                if tuples_total or not blocks_total:
                    on_progress(BuildProgress(phase, tuples_done or 0, tuples_total or 0, "tuples"))
                else:
                    on_progress(BuildProgress(phase, blocks_done or 0, blocks_total, "blocks"))
            last = now
            thread.join(poll)
    finally:
        builder.close()
        watcher.close()
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return BuildResult(float(outcome["seconds"]), {k: round(v, 2) for k, v in phases.items()})


def relation_sizes(conn: psycopg.Connection) -> dict[str, int]:
    """On-disk bytes of the table (with TOAST) and of the index, if any."""
    table, index = conn.execute(
        "SELECT pg_table_size(%s::regclass), pg_relation_size(to_regclass(%s))", (TABLE, INDEX)).fetchone()
    return {"table_bytes": int(table), "index_bytes": int(index or 0)}


def search_statement(metric: str, k: int, setting: str, value: int) -> sql.Composed:
    """The k-nearest-neighbour query, its vector as a binary parameter, to run
    under ``SET setting = value``.

    The setting is named in a comment so that each sweep point prepares a
    statement of its own: a prepared statement keeps the generic plan it
    settled on under the setting of its first executions, and a ``SET`` does
    not replan it, so a plan chosen at a large ``ivfflat.probes`` (a
    sequential scan, exact) would go on answering at every smaller one.
    """
    if setting not in SEARCH_SETTINGS.values():
        raise ValueError(f"not a search setting: {setting}")
    return sql.SQL("SELECT id FROM {} ORDER BY embedding {} %b LIMIT {} /* {} = {} */").format(
        sql.Identifier(TABLE), sql.SQL(OPERATORS[metric]), sql.Literal(k), sql.SQL(setting), sql.SQL(str(int(value))))


def insert_statement() -> sql.Composed:
    """A single-row INSERT of one (id, vector)."""
    return sql.SQL("INSERT INTO {} (id, embedding) VALUES (%b, %b)").format(sql.Identifier(TABLE))


def set_search(conn: psycopg.Connection, setting: str, value: int) -> None:
    """``SET`` one of ``SEARCH_SETTINGS`` (``hnsw.ef_search``, ``ivfflat.probes``) for this session."""
    conn.execute(sql.SQL("SET {} = {}").format(sql.Identifier(*setting.split(".")), sql.Literal(value)))


def uses_index(conn: psycopg.Connection, metric: str, k: int, setting: str, value: int,
               query: np.ndarray) -> bool:
    """Whether the planner answers the k-NN query through the index (under the
    ``SET setting = value`` this session has made). A query the planner sends
    to a sequential scan instead is exact and slow, and would be measured as if
    it were the index's."""
    plan = conn.execute(sql.SQL("EXPLAIN (COSTS OFF) {}").format(search_statement(metric, k, setting, value)),
                        (query,), binary=True).fetchall()
    return any(INDEX in row[0] for row in plan)
