"""pgvector-python's Django integration, used as its README shows, against lodestone.

Run by tests/drivers.sh with PGHOST/PGPORT/PGUSER set to a lodestone cluster
whose extension directory has the `vector` alias (scripts/install-vector-alias.sh)
and PGDATABASE_DJANGO naming an empty database: no CREATE EXTENSION has been
run there. Django's own migration machinery does the rest: settings
configured in code, django.setup(), call_command("migrate"), whose migration
vectorapp/migrations/0001_initial.py starts with pgvector.django's
VectorExtension() (CREATE EXTENSION IF NOT EXISTS "vector") and creates a
model with a VectorField, a HalfVectorField, two HnswIndex and an
IvfflatIndex. Rows go in through the ORM; L2Distance/CosineDistance queries
are compared with an exact computation in numpy, through each index.

Prints one "ok"/"FAIL" line per check and a last line "N passed, M failed".
"""

import os
import sys
import traceback

import numpy as np

N = 300
K = 10

passed = 0
failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print(f"  ok    django: {name}")
    else:
        failed += 1
        print(f"  FAIL  django: {name} {detail}")


rng = np.random.default_rng(20261203)
DATA = rng.standard_normal((N, 3)).astype(np.float32)
HALF = DATA.astype(np.float16)
QUERY = np.array([0.25, -0.5, 0.75], dtype=np.float32)


def l2_order(data, q):
    d = np.sqrt(((data.astype(np.float64) - q.astype(np.float64)) ** 2).sum(axis=1))
    return d, [int(i) + 1 for i in np.argsort(d, kind="stable")]


def cosine_order(data, q):
    a, b = data.astype(np.float64), q.astype(np.float64)
    d = 1 - (a @ b) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b))
    return d, [int(i) + 1 for i in np.argsort(d, kind="stable")]


def run():
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import django
    from django.conf import settings

    settings.configure(
        INSTALLED_APPS=["vectorapp"],
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": os.environ["PGDATABASE_DJANGO"],
                "HOST": os.environ["PGHOST"],
                "PORT": os.environ["PGPORT"],
                "USER": os.environ["PGUSER"],
            }
        },
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        USE_TZ=True,
    )
    django.setup()

    from django.core.management import call_command
    from django.db import connection, transaction
    from pgvector import HalfVector
    from pgvector.django import CosineDistance, L2Distance
    from vectorapp.models import Item

    def one(query, params=()):
        with connection.cursor() as cur:
            cur.execute(query, params)
            return cur.fetchall() if cur.description else None

    exts = one("SELECT extname FROM pg_extension WHERE extname IN ('vector', 'lodestone')")
    check("the database starts without the extension", exts == [], f"{exts}")

    call_command("migrate", verbosity=0)
    got = one("SELECT extname, extversion, EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'lodestone_hnsw_info') FROM pg_extension WHERE extname IN ('vector', 'lodestone')")
    check("migrate's VectorExtension() created lodestone, named vector", got == [("vector", "0.8.6", True)], f"{got}")
    applied = one("SELECT app, name FROM django_migrations")
    check("migration 0001 is recorded as applied", applied == [("vectorapp", "0001_initial")], f"{applied}")
    defs = dict(one("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'vectorapp_item' AND indexname LIKE %s", ("item_%",)))
    # vector_l2_ops is ivfflat's default operator class for vector (as in
    # pgvector), so pg_get_indexdef leaves it out.
    want = {
        "item_embedding_hnsw": "CREATE INDEX item_embedding_hnsw ON public.vectorapp_item USING hnsw (embedding vector_l2_ops) WITH (m='16', ef_construction='64')",
        "item_embedding_ivfflat": "CREATE INDEX item_embedding_ivfflat ON public.vectorapp_item USING ivfflat (embedding) WITH (lists='1')",
        "item_half_embedding_hnsw": "CREATE INDEX item_half_embedding_hnsw ON public.vectorapp_item USING hnsw (half_embedding halfvec_l2_ops)",
    }
    check("HnswIndex/IvfflatIndex created the indexes as written", defs == want, f"\n    got  {defs}\n    want {want}")
    # makemigrations finds nothing to do: 0001 is what Django derives from models.py
    try:
        call_command("makemigrations", "vectorapp", check=True, dry_run=True, verbosity=0)
        check("makemigrations --check: the model and migration 0001 agree", True)
    except SystemExit:
        check("makemigrations --check: the model and migration 0001 agree", False, "Django would write a new migration")

    Item.objects.bulk_create([Item(embedding=DATA[i], half_embedding=HalfVector(HALF[i])) for i in range(N)])
    check(f"bulk_create stored {N} rows", Item.objects.count() == N)
    back = np.stack([np.asarray(e, dtype=np.float32) for e in Item.objects.order_by("id").values_list("embedding", flat=True)])
    check("VectorField values read back bit for bit", back.view(np.uint32).tolist() == DATA.view(np.uint32).tolist())
    first = Item.objects.get(id=1).half_embedding
    first = first.to_numpy() if hasattr(first, "to_numpy") else np.asarray(first)
    check("HalfVectorField values read back bit for bit", np.asarray(first, dtype=np.float16).view(np.uint16).tolist() == HALF[0].view(np.uint16).tolist(), f"{first!r}")

    dist, want_l2 = l2_order(DATA, QUERY)
    one("ANALYZE vectorapp_item")
    one("SET enable_seqscan = off")
    one("SET hnsw.ef_search = 400")  # above N: the hnsw search is exhaustive

    # Each vector index alone: the other is dropped inside a transaction that
    # is rolled back, so the planner has one index to use.
    for keep, drop in (("item_embedding_hnsw", "item_embedding_ivfflat"), ("item_embedding_ivfflat", "item_embedding_hnsw")):
        with transaction.atomic():
            one(f"DROP INDEX {drop}")
            qs = Item.objects.order_by(L2Distance("embedding", QUERY))[:K]
            plan = qs.explain()
            check(f"L2Distance order_by runs through {keep}", f"Index Scan using {keep}" in plan, plan)
            got = list(qs.values_list("id", flat=True))
            check(f"L2Distance k-NN through {keep} equals the exact answer", got == want_l2[:K], f"got {got} want {want_l2[:K]}")
            transaction.set_rollback(True)

    rows = list(Item.objects.annotate(distance=L2Distance("embedding", QUERY)).order_by("distance")[:K])
    got = [r.distance for r in rows]
    check("annotate(distance=L2Distance) equals numpy's distances", np.allclose(got, dist[np.array(want_l2[:K]) - 1], rtol=1e-6, atol=0), f"{got}")
    radius = float(np.sort(dist)[25] + np.sort(dist)[26]) / 2  # 26 rows inside, far from any row's distance
    n = Item.objects.alias(distance=L2Distance("embedding", QUERY)).filter(distance__lt=radius).count()
    check("filter(distance__lt=r) counts the rows within r", n == 26, f"got {n}")

    cdist, want_cos = cosine_order(DATA, QUERY)
    got = list(Item.objects.order_by(CosineDistance("embedding", QUERY)).values_list("id", flat=True)[:K])
    check("CosineDistance k-NN equals the exact answer", got == want_cos[:K], f"got {got} want {want_cos[:K]}")
    got = list(Item.objects.annotate(d=CosineDistance("embedding", QUERY)).order_by("d").values_list("d", flat=True)[:K])
    # float4 sums on the server (as pgvector's): 1 - similarity loses relative
    # precision near 0, so compare absolutely.
    diff = np.abs(np.array(got) - cdist[np.array(want_cos[:K]) - 1]).max()
    check("annotate(CosineDistance) equals numpy's distances (to 1e-6)", diff < 1e-6, f"max difference {diff}: {got}")

    hq = HalfVector(QUERY.astype(np.float16))
    _, want_half = l2_order(HALF, QUERY.astype(np.float16))
    qs = Item.objects.order_by(L2Distance("half_embedding", hq))[:K]
    plan = qs.explain()
    check("HalfVectorField L2Distance runs through item_half_embedding_hnsw", "Index Scan using item_half_embedding_hnsw" in plan, plan)
    got = list(qs.values_list("id", flat=True))
    check("HalfVectorField k-NN equals the exact answer", got == want_half[:K], f"got {got} want {want_half[:K]}")


def main():
    global failed
    try:
        run()
    except Exception:
        failed += 1
        print("  FAIL  django: raised:")
        traceback.print_exc(file=sys.stdout)
    print(f"django: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
