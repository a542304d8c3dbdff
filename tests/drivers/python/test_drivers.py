"""pgvector's Python clients, used as their README shows, against lodestone.

Run by tests/drivers.sh with PGHOST/PGPORT/PGUSER set to a lodestone cluster
and one database per client (PGDATABASE_<CLIENT>), each with
`CREATE EXTENSION lodestone` already done (the one line an application
changes: pgvector's README says `CREATE EXTENSION vector`).

Each client:
  * writes `vector`, `halfvec` and `sparsevec` values that stress the
    formats (the largest float4, the smallest subnormals, -0, a sparse vector
    of a million dimensions), reads them back and checks every bit, and checks
    that the server stored exactly those values (compared with text literals);
  * loads 300 vectors, builds an hnsw index, checks the plan uses it, and
    compares the k nearest neighbours with an exact computation in numpy.

And SQLAlchemy with the ivfflat index of pgvector-python's README, in
PGDATABASE_SQLALCHEMY_IVFFLAT: a database without the extension, where the
README's `CREATE EXTENSION IF NOT EXISTS vector` creates lodestone (its
`vector` alias); skipped when that variable is not set.

Prints one "ok"/"FAIL" line per check and a last line "N passed, M failed".
"""

import asyncio
import os
import sys
import traceback

import numpy as np

from pgvector import HalfVector, SparseVector

DIM = 8
N = 300
K = 10
SPARSE_DIM = 1_000_000

# Values chosen to break a lossy client or server: the largest float4, the
# smallest subnormal, a negative zero, values with no short decimal form.
VEC_EDGE = np.array([1.5, -0.25, 3.4028235e38, 1e-45, -0.0, 0.1, 123456.79, -1e-30], dtype=np.float32)
# halfvec: largest half, smallest subnormal half, -0, 0.1 rounded to half.
HALF_EDGE = np.array([1.5, -0.25, 65504, 5.9604645e-08, -0.0, 0.1, 2048, -1], dtype=np.float16)
# sparsevec: 0-based indices in the Python client, 1-based in SQL text.
SPARSE_EDGE = {0: 1.5, 1: -0.25, 499_999: float(np.float32(3.4028235e38)), SPARSE_DIM - 1: float(np.float32(1e-45))}

VEC_TEXT = "[1.5,-0.25,3.4028235e+38,1e-45,-0,0.1,123456.79,-1e-30]"
HALF_TEXT = "[1.5,-0.25,65504,5.9604645e-08,-0,0.099975586,2048,-1]"
SPARSE_TEXT = "{1:1.5,2:-0.25,500000:3.4028235e+38,1000000:1e-45}/1000000"

rng = np.random.default_rng(20260101)
DATA = rng.standard_normal((N, DIM)).astype(np.float32)
QUERY = (DATA[17] + rng.standard_normal(DIM).astype(np.float32) * 0.05).astype(np.float32)
SPARSE_DATA = [{int(i): float(v) for i, v in enumerate(row) if i % 3 != 1} for row in DATA]  # some zeros dropped

passed = 0
failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print(f"  ok    {name}")
    else:
        failed += 1
        print(f"  FAIL  {name} {detail}")


def as_array(a):
    # pgvector returns numpy arrays, Vector/HalfVector objects or lists
    # depending on the client and version
    return a.to_numpy() if hasattr(a, "to_numpy") else a


def bits32(a):
    return np.asarray(as_array(a), dtype=np.float32).view(np.uint32).tolist()


def bits16(a):
    return np.asarray(as_array(a), dtype=np.float16).view(np.uint16).tolist()


def exact_knn(data, query, k=K):
    d = np.sqrt(((data.astype(np.float64) - query.astype(np.float64)) ** 2).sum(axis=1))
    return [int(i) + 1 for i in np.argsort(d, kind="stable")[:k]]  # ids are 1-based


HALF_DATA = DATA.astype(np.float16)
HALF_QUERY = QUERY.astype(np.float16)
SPARSE_DENSE = np.array([[row.get(i, 0.0) for i in range(DIM)] for row in SPARSE_DATA], dtype=np.float32)


def check_knn(client, kind, got, want):
    overlap = len(set(got) & set(want))
    check(f"{client}: {kind} k-NN finds the nearest row first", got[:1] == want[:1], f"got {got} want {want}")
    check(f"{client}: {kind} k-NN agrees with exact search ({overlap}/{K})", overlap >= K - 1, f"got {got} want {want}")


def check_roundtrip(client, vec, half, sparse, stored_equal):
    check(f"{client}: vector round-trips bit for bit", bits32(vec) == bits32(VEC_EDGE), f"{vec!r}")
    check(f"{client}: halfvec round-trips bit for bit", bits16(half) == bits16(HALF_EDGE), f"{half!r}")
    check(
        f"{client}: sparsevec round-trips bit for bit",
        sparse.dimensions() == SPARSE_DIM
        and sparse.indices() == sorted(SPARSE_EDGE)
        and bits32(sparse.values()) == bits32([SPARSE_EDGE[i] for i in sorted(SPARSE_EDGE)]),
        f"{sparse!r}",
    )
    check(f"{client}: server stored exactly the values sent", stored_equal == (VEC_TEXT, HALF_TEXT, SPARSE_TEXT), f"{stored_equal!r}")


CREATE = f"""
DROP TABLE IF EXISTS items, edge;
CREATE TABLE edge (id bigint PRIMARY KEY, embedding vector({DIM}), half_embedding halfvec({DIM}), sparse_embedding sparsevec({SPARSE_DIM}));
CREATE TABLE items (id bigint PRIMARY KEY, embedding vector({DIM}), half_embedding halfvec({DIM}), sparse_embedding sparsevec({DIM}));
"""

# hnsw on halfvec and sparsevec where this lodestone has the operator classes;
# an exact scan otherwise (the k-NN answer is checked either way).
INDEXES = """
CREATE INDEX items_embedding_idx ON items USING hnsw (embedding vector_l2_ops);
DO $$ BEGIN
  IF EXISTS (SELECT 1 FROM pg_opclass c JOIN pg_am a ON a.oid = c.opcmethod WHERE a.amname = 'hnsw' AND c.opcname = 'halfvec_l2_ops') THEN
    CREATE INDEX items_half_idx ON items USING hnsw (half_embedding halfvec_l2_ops);
  END IF;
  IF EXISTS (SELECT 1 FROM pg_opclass c JOIN pg_am a ON a.oid = c.opcmethod WHERE a.amname = 'hnsw' AND c.opcname = 'sparsevec_l2_ops') THEN
    CREATE INDEX items_sparse_idx ON items USING hnsw (sparse_embedding sparsevec_l2_ops);
  END IF;
END $$;
ANALYZE items;
"""

STORED = "SELECT embedding::text, half_embedding::text, sparse_embedding::text FROM edge WHERE id = 1"


def plan_uses_index(plan_lines):
    text = "\n".join(plan_lines)
    return "Index Scan using items_embedding_idx" in text


# ---------------------------------------------------------------- psycopg 3


def test_psycopg():
    import psycopg
    from pgvector.psycopg import register_vector

    client = "psycopg3 (binary)"
    conn = psycopg.connect(dbname=os.environ["PGDATABASE_PSYCOPG"], autocommit=True)
    register_vector(conn)
    conn.execute(CREATE)
    conn.execute(
        "INSERT INTO edge (id, embedding, half_embedding, sparse_embedding) VALUES (%s, %s, %s, %s)",
        (1, VEC_EDGE, HalfVector(HALF_EDGE), SparseVector(SPARSE_EDGE, SPARSE_DIM)),
        binary=True,
    )
    row = conn.execute("SELECT embedding, half_embedding, sparse_embedding FROM edge WHERE id = 1", binary=True).fetchone()
    stored = conn.execute(STORED).fetchone()
    check_roundtrip(client, row[0], row[1], row[2], tuple(stored))
    # text format too (psycopg's default for results)
    row = conn.execute("SELECT embedding, half_embedding, sparse_embedding FROM edge WHERE id = 1").fetchone()
    check(f"{client}: text-format read equals binary read", bits32(row[0]) == bits32(VEC_EDGE) and bits16(row[1]) == bits16(HALF_EDGE))

    cur = conn.cursor()
    with cur.copy("COPY items (id, embedding, half_embedding, sparse_embedding) FROM STDIN WITH (FORMAT BINARY)") as copy:
        copy.set_types(["int8", "vector", "halfvec", "sparsevec"])
        for i in range(N):
            copy.write_row([i + 1, DATA[i], HalfVector(HALF_DATA[i]), SparseVector(SPARSE_DATA[i], DIM)])
    conn.execute(INDEXES)
    conn.execute("SET enable_seqscan = off")
    conn.execute("SET hnsw.ef_search = 100")
    plan = [r[0] for r in conn.execute("EXPLAIN SELECT id FROM items ORDER BY embedding <-> %s LIMIT 10", (QUERY,), binary=True)]
    check(f"{client}: k-NN plan uses the hnsw index", plan_uses_index(plan), "\n".join(plan))
    got = [r[0] for r in conn.execute("SELECT id FROM items ORDER BY embedding <-> %s LIMIT 10", (QUERY,), binary=True)]
    check_knn(client, "vector", got, exact_knn(DATA, QUERY))
    got = [r[0] for r in conn.execute("SELECT id FROM items ORDER BY half_embedding <-> %s LIMIT 10", (HalfVector(HALF_QUERY),), binary=True)]
    check_knn(client, "halfvec", got, exact_knn(HALF_DATA, HALF_QUERY))
    sq = SparseVector({i: float(v) for i, v in enumerate(QUERY)}, DIM)
    got = [r[0] for r in conn.execute("SELECT id FROM items ORDER BY sparse_embedding <-> %s LIMIT 10", (sq,), binary=True)]
    check_knn(client, "sparsevec", got, exact_knn(SPARSE_DENSE, QUERY))
    # the COPY stored the values exactly
    back = conn.execute("SELECT embedding FROM items ORDER BY id", binary=True).fetchall()
    check(f"{client}: binary COPY stored {N} vectors exactly", bits32(np.stack([as_array(r[0]) for r in back])) == bits32(DATA))
    conn.close()


# ---------------------------------------------------------------- psycopg2


def test_psycopg2():
    import psycopg2
    from pgvector.psycopg2 import register_vector

    client = "psycopg2"
    conn = psycopg2.connect(dbname=os.environ["PGDATABASE_PSYCOPG2"])
    conn.autocommit = True
    register_vector(conn)
    cur = conn.cursor()
    cur.execute(CREATE)
    cur.execute(
        "INSERT INTO edge (id, embedding, half_embedding, sparse_embedding) VALUES (%s, %s, %s, %s)",
        (1, VEC_EDGE, HalfVector(HALF_EDGE), SparseVector(SPARSE_EDGE, SPARSE_DIM)),
    )
    cur.execute("SELECT embedding, half_embedding, sparse_embedding FROM edge WHERE id = 1")
    row = cur.fetchone()
    cur.execute(STORED)
    check_roundtrip(client, row[0], row[1], row[2], tuple(cur.fetchone()))
    for i in range(N):
        cur.execute(
            "INSERT INTO items (id, embedding, half_embedding, sparse_embedding) VALUES (%s, %s, %s, %s)",
            (i + 1, DATA[i], HalfVector(HALF_DATA[i]), SparseVector(SPARSE_DATA[i], DIM)),
        )
    cur.execute(INDEXES)
    cur.execute("SET enable_seqscan = off; SET hnsw.ef_search = 100")
    cur.execute("EXPLAIN SELECT id FROM items ORDER BY embedding <-> %s LIMIT 10", (QUERY,))
    plan = [r[0] for r in cur.fetchall()]
    check(f"{client}: k-NN plan uses the hnsw index", plan_uses_index(plan), "\n".join(plan))
    cur.execute("SELECT id FROM items ORDER BY embedding <-> %s LIMIT 10", (QUERY,))
    check_knn(client, "vector", [r[0] for r in cur.fetchall()], exact_knn(DATA, QUERY))
    cur.execute("SELECT id FROM items ORDER BY half_embedding <-> %s LIMIT 10", (HalfVector(HALF_QUERY),))
    check_knn(client, "halfvec", [r[0] for r in cur.fetchall()], exact_knn(HALF_DATA, HALF_QUERY))
    sq = SparseVector({i: float(v) for i, v in enumerate(QUERY)}, DIM)
    cur.execute("SELECT id FROM items ORDER BY sparse_embedding <-> %s LIMIT 10", (sq,))
    check_knn(client, "sparsevec", [r[0] for r in cur.fetchall()], exact_knn(SPARSE_DENSE, QUERY))
    conn.close()


# ---------------------------------------------------------------- asyncpg


async def asyncpg_main():
    import asyncpg
    from pgvector.asyncpg import register_vector

    client = "asyncpg (binary)"
    conn = await asyncpg.connect(database=os.environ["PGDATABASE_ASYNCPG"])
    await register_vector(conn)
    await conn.execute(CREATE)
    await conn.execute(
        "INSERT INTO edge (id, embedding, half_embedding, sparse_embedding) VALUES ($1, $2, $3, $4)",
        1, VEC_EDGE, HalfVector(HALF_EDGE), SparseVector(SPARSE_EDGE, SPARSE_DIM),
    )
    row = await conn.fetchrow("SELECT embedding, half_embedding, sparse_embedding FROM edge WHERE id = 1")
    stored = await conn.fetchrow(STORED)
    check_roundtrip(client, row[0], row[1], row[2], tuple(stored))
    await conn.copy_records_to_table(
        "items",
        records=[(i + 1, DATA[i], HalfVector(HALF_DATA[i]), SparseVector(SPARSE_DATA[i], DIM)) for i in range(N)],
        columns=["id", "embedding", "half_embedding", "sparse_embedding"],
    )
    await conn.execute(INDEXES)
    await conn.execute("SET enable_seqscan = off; SET hnsw.ef_search = 100")
    plan = [r[0] for r in await conn.fetch("EXPLAIN SELECT id FROM items ORDER BY embedding <-> $1 LIMIT 10", QUERY)]
    check(f"{client}: k-NN plan uses the hnsw index", plan_uses_index(plan), "\n".join(plan))
    got = [r[0] for r in await conn.fetch("SELECT id FROM items ORDER BY embedding <-> $1 LIMIT 10", QUERY)]
    check_knn(client, "vector", got, exact_knn(DATA, QUERY))
    got = [r[0] for r in await conn.fetch("SELECT id FROM items ORDER BY half_embedding <-> $1 LIMIT 10", HalfVector(HALF_QUERY))]
    check_knn(client, "halfvec", got, exact_knn(HALF_DATA, HALF_QUERY))
    sq = SparseVector({i: float(v) for i, v in enumerate(QUERY)}, DIM)
    got = [r[0] for r in await conn.fetch("SELECT id FROM items ORDER BY sparse_embedding <-> $1 LIMIT 10", sq)]
    check_knn(client, "sparsevec", got, exact_knn(SPARSE_DENSE, QUERY))
    back = await conn.fetch("SELECT embedding FROM items ORDER BY id")
    check(f"{client}: binary COPY stored {N} vectors exactly", bits32(np.stack([as_array(r[0]) for r in back])) == bits32(DATA))
    await conn.close()


def test_asyncpg():
    asyncio.run(asyncpg_main())


# ---------------------------------------------------------------- SQLAlchemy


def test_sqlalchemy():
    from sqlalchemy import BigInteger, Index, create_engine, select, text
    from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
    from pgvector.sqlalchemy import HALFVEC, SPARSEVEC, Vector

    client = "SQLAlchemy (psycopg 3)"

    class Base(DeclarativeBase):
        pass

    class Item(Base):
        __tablename__ = "sa_items"
        id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
        embedding = mapped_column(Vector(DIM))
        half_embedding = mapped_column(HALFVEC(DIM))
        sparse_embedding = mapped_column(SPARSEVEC(SPARSE_DIM))

    index = Index(
        "sa_items_embedding_idx",
        Item.embedding,
        postgresql_using="hnsw",
        postgresql_with={"m": 16, "ef_construction": 64},
        postgresql_ops={"embedding": "vector_l2_ops"},
    )

    host, port, db = os.environ["PGHOST"], os.environ["PGPORT"], os.environ["PGDATABASE_SQLALCHEMY"]
    engine = create_engine(f"postgresql+psycopg://{os.environ['PGUSER']}@/{db}?host={host}&port={port}")
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)

    with Session(engine) as session:
        session.add(Item(id=0, embedding=VEC_EDGE, half_embedding=HalfVector(HALF_EDGE), sparse_embedding=SparseVector(SPARSE_EDGE, SPARSE_DIM)))
        session.add_all(
            [Item(id=i + 1, embedding=DATA[i], half_embedding=HalfVector(HALF_DATA[i])) for i in range(N)]
        )
        session.commit()
    with Session(engine) as session:
        edge = session.get(Item, 0)
        stored = session.execute(
            text("SELECT embedding::text, half_embedding::text, sparse_embedding::text FROM sa_items WHERE id = 0")
        ).one()
        check_roundtrip(client, edge.embedding, edge.half_embedding, edge.sparse_embedding, tuple(stored))
        session.execute(text("DELETE FROM sa_items WHERE id = 0"))
        session.commit()

    with Session(engine) as session:
        session.execute(text("SET enable_seqscan = off"))
        session.execute(text("SET hnsw.ef_search = 100"))
        query = select(Item.id).order_by(Item.embedding.l2_distance(QUERY)).limit(K)
        got = list(session.scalars(query))
        check_knn(client, "vector", got, exact_knn(DATA, QUERY))
        got = list(session.scalars(select(Item.id).order_by(Item.half_embedding.l2_distance(HalfVector(HALF_QUERY))).limit(K)))
        check_knn(client, "halfvec", got, exact_knn(HALF_DATA, HALF_QUERY))
        dists = list(session.scalars(select(Item.embedding.cosine_distance(QUERY)).order_by(Item.embedding.cosine_distance(QUERY)).limit(1)))
        a, b = DATA.astype(np.float64), QUERY.astype(np.float64)
        cos = 1 - (a @ b) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b))
        check(f"{client}: cosine_distance() matches numpy", abs(dists[0] - cos.min()) < 1e-6, f"{dists[0]} vs {cos.min()}")
    engine.dispose()
    # pg_stat counters are flushed at transaction end by the backend; read from a new session
    import time

    engine = create_engine(f"postgresql+psycopg://{os.environ['PGUSER']}@/{db}?host={host}&port={port}")
    with Session(engine) as session:
        for _ in range(50):
            scans = session.execute(text("SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = 'sa_items_embedding_idx'")).scalar()
            if scans and scans > 0:
                break
            time.sleep(0.1)
            session.rollback()
        check(f"{client}: k-NN query used the hnsw index (idx_scan = {scans})", bool(scans) and scans >= 1)
    engine.dispose()


# ---------------------------------------------------------------- SQLAlchemy, ivfflat


def test_sqlalchemy_ivfflat():
    """pgvector-python README's SQLAlchemy ivfflat index, in a database where
    lodestone is created by the README's `CREATE EXTENSION IF NOT EXISTS vector`
    (lodestone's `vector` alias)."""
    from sqlalchemy import BigInteger, Index, create_engine, select, text
    from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
    from pgvector.sqlalchemy import Vector

    client = "SQLAlchemy ivfflat"
    db = os.environ.get("PGDATABASE_SQLALCHEMY_IVFFLAT")
    if not db:
        print(f"  SKIPPED {client}: no PGDATABASE_SQLALCHEMY_IVFFLAT (needs the extension name vector)")
        return

    class Base(DeclarativeBase):
        pass

    class Item(Base):
        __tablename__ = "items"
        id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
        embedding = mapped_column(Vector(3))

    index = Index(
        "my_index",
        Item.embedding,
        postgresql_using="ivfflat",
        postgresql_with={"lists": 100},
        postgresql_ops={"embedding": "vector_l2_ops"},
    )

    n = 2000
    data = np.random.default_rng(7).standard_normal((n, 3)).astype(np.float32)
    query = np.array([0.5, -0.25, 1.0], dtype=np.float32)
    host, port = os.environ["PGHOST"], os.environ["PGPORT"]
    engine = create_engine(f"postgresql+psycopg://{os.environ['PGUSER']}@/{db}?host={host}&port={port}")
    with engine.begin() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
    with engine.connect() as conn:
        ext = conn.execute(text("SELECT extname, EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'lodestone_hnsw_info') FROM pg_extension WHERE extname IN ('vector', 'lodestone')")).all()
    check(f"{client}: CREATE EXTENSION IF NOT EXISTS vector created lodestone", [tuple(r) for r in ext] == [("vector", True)], f"{ext}")
    # the table and its index, as an application creates them on a new
    # database; the rows come after (ivfflat's lists then start from an empty
    # table, which is what such an application gets)
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add_all([Item(id=i + 1, embedding=data[i]) for i in range(n)])
        session.commit()
    with engine.connect() as conn:
        indexdef = conn.execute(text("SELECT indexdef FROM pg_indexes WHERE indexname = 'my_index'")).scalar()
    check(f"{client}: Index(postgresql_using='ivfflat') created the index", indexdef == "CREATE INDEX my_index ON public.items USING ivfflat (embedding) WITH (lists='100')", f"{indexdef}")

    d = np.sqrt(((data.astype(np.float64) - query.astype(np.float64)) ** 2).sum(axis=1))
    want = [int(i) + 1 for i in np.argsort(d, kind="stable")[:K]]
    with Session(engine) as session:
        session.execute(text("ANALYZE items"))
        session.execute(text("SET enable_seqscan = off"))
        session.execute(text("SET ivfflat.probes = 100"))  # every list: exact
        stmt = select(Item.id).order_by(Item.embedding.l2_distance(query)).limit(K)
        # the statement as SQLAlchemy renders it, with pgvector's literal for the query vector
        sql_text = str(stmt.compile(engine, compile_kwargs={"literal_binds": True}))
        plan = "\n".join(r[0] for r in session.execute(text("EXPLAIN " + sql_text)))
        check(f"{client}: EXPLAIN shows the ivfflat index my_index", "Index Scan using my_index" in plan, plan)
        got = list(session.scalars(stmt))
        check(f"{client}: k-NN with ivfflat.probes = lists equals the exact answer", got == want, f"got {got} want {want}")
        session.execute(text("SET ivfflat.probes = 1"))
        got = list(session.scalars(stmt))
        ds = [d[i - 1] for i in got]
        check(f"{client}: with ivfflat.probes = 1, {K} rows in distance order", len(got) == K and ds == sorted(ds), f"got {got}")
    engine.dispose()


def main():
    tests = [test_psycopg, test_psycopg2, test_asyncpg, test_sqlalchemy, test_sqlalchemy_ivfflat]
    only = sys.argv[1:]
    for t in tests:
        if only and t.__name__.removeprefix("test_") not in only:
            continue
        try:
            t()
        except Exception:
            global failed
            failed += 1
            print(f"  FAIL  {t.__name__} raised:")
            traceback.print_exc(file=sys.stdout)
    print(f"python drivers: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
