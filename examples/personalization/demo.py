"""Personalized recommendations in one Postgres with lodestone.

Loads real film metadata (the `movies.json` of the npm package
`vega-datasets`: 3,201 films with title, genre, creative type, director,
distributor, MPAA rating, release date, IMDB rating), embeds every film
without a model (signed feature hashing of its metadata, IDF-weighted,
256 dimensions), simulates users who interact with films of their favourite
genres, learns each user's profile in SQL (`preference_ema`, `weighted_avg`)
and serves platform-filtered recommendations through the hnsw index with a
hybrid re-rank (`recommend()` in schema.sql).

    python demo.py [--movies PATH] [--users N] [--check]

Connection from the PG* environment variables (PGHOST, PGPORT, PGDATABASE,
PGUSER). The database must have lodestone installed or installable.
`--check` asserts what the demo shows (tests/personalization.sh runs it).

The films are real; the users and their interactions are simulated (no
public interaction log ships in a package registry), and the embeddings are
hashed metadata features, not a language model's.
"""

import argparse
import datetime as dt
import hashlib
import json
import math
import os
import re
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import psycopg
from pgvector.psycopg import register_vector

DIM = 256
ALPHA = 0.3
HERE = Path(__file__).resolve().parent
DEFAULT_MOVIES = HERE.parents[1] / "target/drivers/node/node_modules/vega-datasets/data/movies.json"


# ---------------------------------------------------------------- data


def parse_date(s):
    if not s:
        return None
    for fmt in ("%b %d %Y", "%d-%b-%y", "%Y-%m-%d"):
        try:
            d = dt.datetime.strptime(s, fmt).date()
            if d.year > 2015:  # two-digit years: 'Nov 17 30' style entries
                d = d.replace(year=d.year - 100)
            return d
        except ValueError:
            pass
    return None


def platforms_of(m):
    """Where a film was released, from its box-office and DVD figures."""
    out = []
    if (m.get("US Gross") or 0) > 0:
        out.append("theatrical")
    if (m.get("Worldwide Gross") or 0) > (m.get("US Gross") or 0):
        out.append("international")
    if m.get("US DVD Sales"):
        out.append("home video")
    return out


def features(m, released):
    """The film's metadata as weighted tokens."""
    f = Counter()
    for w in re.findall(r"[a-z0-9']+", str(m.get("Title") or "").lower()):
        if len(w) > 2:
            f["title:" + w] += 1.0
    for key, prefix, weight in (
        ("Major Genre", "genre:", 4.0),
        ("Creative Type", "type:", 2.0),
        ("Director", "director:", 2.0),
        ("Distributor", "distributor:", 1.0),
        ("MPAA Rating", "mpaa:", 1.0),
        ("Source", "source:", 1.0),
    ):
        if m.get(key):
            f[prefix + str(m[key]).lower()] += weight
    if released:
        f[f"decade:{released.year // 10 * 10}"] += 1.0
    if m.get("IMDB Rating") is not None:
        f[f"imdb:{int(m['IMDB Rating'])}"] += 0.5
    return f


def hashed(token):
    h = hashlib.blake2b(token.encode(), digest_size=8).digest()
    x = int.from_bytes(h, "little")
    return x % DIM, 1.0 if (x >> 32) & 1 else -1.0


def embed(all_features):
    """Signed feature hashing with IDF weights, L2-normalised rows."""
    df = Counter(t for f in all_features for t in f)
    n = len(all_features)
    out = np.zeros((n, DIM), dtype=np.float64)
    for i, f in enumerate(all_features):
        for t, w in f.items():
            j, sign = hashed(t)
            out[i, j] += sign * w * math.log(1 + n / df[t])
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    norms[norms == 0] = 1
    return (out / norms).astype(np.float32)


def simulate_users(items, n_users, rng):
    """Users with one or two favourite genres; 80% of their interactions are
    films of those genres (likes and views), the rest anything (views, skips)."""
    by_genre = {}
    for it in items:
        if it["genre"]:
            by_genre.setdefault(it["genre"], []).append(it["id"])
    popular = [g for g, ids in sorted(by_genre.items()) if len(ids) >= 100]
    all_ids = [it["id"] for it in items]
    users, events = [], []
    start = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
    for u in range(1, n_users + 1):
        favs = list(rng.choice(popular, size=int(rng.integers(1, 3)), replace=False))
        users.append((u, f"user {u}", favs))
        t = start + dt.timedelta(hours=int(rng.integers(0, 24 * 30)))
        seen = set()
        for _ in range(int(rng.integers(20, 60))):
            if rng.random() < 0.8:
                item = int(rng.choice(by_genre[favs[int(rng.integers(0, len(favs)))]]))
                kind = "like" if rng.random() < 0.4 else "view"
            else:
                item = int(rng.choice(all_ids))
                kind = "skip" if rng.random() < 0.5 else "view"
            if item in seen:
                continue
            seen.add(item)
            t += dt.timedelta(hours=int(rng.integers(1, 72)))
            events.append((u, item, kind, {"like": 3.0, "view": 1.0, "skip": 0.0}[kind], t))
    return users, events


# ---------------------------------------------------------------- load


def load(conn, movies_path, n_users):
    movies = json.loads(Path(movies_path).read_text())
    items = []
    for i, m in enumerate(movies, start=1):
        released = parse_date(m.get("Release Date"))
        items.append(
            {
                "id": i,
                "title": str(m.get("Title")),
                "genre": m.get("Major Genre"),
                "creative_type": m.get("Creative Type"),
                "mpaa": m.get("MPAA Rating"),
                "director": m.get("Director"),
                "released": released,
                "imdb": m.get("IMDB Rating"),
                "platforms": platforms_of(m),
                "features": features(m, released),
            }
        )
    vectors = embed([it["features"] for it in items])
    genres = sorted({it["genre"] for it in items if it["genre"]})
    platforms = ["theatrical", "international", "home video"]
    genre_id = {g: i for i, g in enumerate(genres, start=1)}
    platform_id = {p: i for i, p in enumerate(platforms, start=1)}

    conn.execute("DROP TABLE IF EXISTS user_profiles, interactions, users, media_items, platforms, genres CASCADE")
    conn.execute("DROP FUNCTION IF EXISTS learn_profiles, record_interaction, recommend")
    conn.execute((HERE / "schema.sql").read_text())
    register_vector(conn)
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO genres VALUES (%s, %s)", list((i, g) for g, i in genre_id.items()))
        cur.executemany("INSERT INTO platforms VALUES (%s, %s)", list((i, p) for p, i in platform_id.items()))
        with cur.copy(
            "COPY media_items (id, title, genre_id, creative_type, mpaa_rating, director, released, imdb_rating, platform_ids, embedding)"
            " FROM STDIN WITH (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["int8", "text", "int2", "text", "text", "text", "date", "float4", "int2[]", "vector"])
            for it, v in zip(items, vectors):
                copy.write_row(
                    [
                        it["id"], it["title"], genre_id.get(it["genre"]), it["creative_type"], it["mpaa"],
                        it["director"], it["released"], it["imdb"], [platform_id[p] for p in it["platforms"]], v,
                    ]
                )
    rng = np.random.default_rng(7)
    users, events = simulate_users(items, n_users, rng)
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO users (id, name) VALUES (%s, %s)", [(u, name) for u, name, _ in users])
        with cur.copy("COPY interactions (user_id, item_id, kind, weight, ts) FROM STDIN") as copy:
            for e in events:
                copy.write_row(e)
    conn.execute("ANALYZE")
    return items, vectors, users, events, genre_id


# ---------------------------------------------------------------- checks


def arr(v):
    """A vector from the database as float64 numpy (pgvector returns a Vector
    object or a numpy array depending on the format)."""
    return np.asarray(v.to_numpy() if hasattr(v, "to_numpy") else v, dtype=np.float64)


class Checks:
    def __init__(self, enabled):
        self.enabled, self.passed, self.failed = enabled, 0, 0

    def __call__(self, name, ok, detail=""):
        if not self.enabled:
            return
        if ok:
            self.passed += 1
            print(f"  ok    {name}")
        else:
            self.failed += 1
            print(f"  FAIL  {name} {detail}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--movies", default=os.environ.get("LODESTONE_MOVIES_JSON", str(DEFAULT_MOVIES)))
    ap.add_argument("--users", type=int, default=200)
    ap.add_argument("--check", action="store_true", help="assert what the demo shows")
    args = ap.parse_args()
    check = Checks(args.check)

    conn = psycopg.connect(autocommit=True)
    items, vectors, users, events, genre_id = load(conn, args.movies, args.users)
    n_items = conn.execute("SELECT count(*) FROM media_items").fetchone()[0]
    print(f"loaded {n_items} films, {len(genre_id)} genres, {len(users)} users, {len(events)} interactions")
    check("every film in movies.json is loaded", n_items == len(items), f"{n_items} vs {len(items)}")

    learned = conn.execute("SELECT learn_profiles(%s)", (ALPHA,)).fetchone()[0]
    active = len({e[0] for e in events if e[2] != "skip"})
    print(f"learned {learned} user profiles in SQL (preference_ema, weighted_avg)")
    check("a profile is learned for every user with interactions", learned == active, f"{learned} vs {active}")

    # The SQL profile is the exponential-decay update applied in time order.
    for u in (1, 2, 3):
        ev = sorted((e for e in events if e[0] == u and e[2] != "skip"), key=lambda e: e[4])
        p = None
        for e in ev:
            x = vectors[e[1] - 1].astype(np.float64)
            p = x if p is None else (1 - ALPHA) * p + ALPHA * x
            n = np.linalg.norm(p)
            p = (p / n if n else p).astype(np.float32).astype(np.float64)
        got = conn.execute("SELECT profile FROM user_profiles WHERE user_id = %s", (u,)).fetchone()[0]
        diff = float(np.max(np.abs(arr(got) - p)))
        check(f"user {u}: SQL profile equals the decay update computed in numpy (max diff {diff:.1e})", diff < 1e-5)

    # The candidate query goes through the hnsw index (with recommend()'s settings).
    def index_scans():
        with psycopg.connect(autocommit=True) as c:
            return c.execute(
                "SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = 'media_items_embedding_idx'"
            ).fetchone()[0]

    scans_before = index_scans()
    conn.execute("SET enable_seqscan = off")
    conn.execute("SET enable_sort = off")
    plan = "\n".join(
        r[0]
        for r in conn.execute(
            "EXPLAIN SELECT id FROM media_items m WHERE m.platform_ids @> ARRAY[3::smallint]"
            " AND NOT EXISTS (SELECT 1 FROM interactions i WHERE i.user_id = 1 AND i.item_id = m.id)"
            " ORDER BY m.embedding <=> (SELECT profile FROM user_profiles WHERE user_id = 1) LIMIT 100"
        )
    )
    check("candidates come from the hnsw index", "Index Scan using media_items_embedding_idx" in plan, plan)
    conn.execute("RESET enable_seqscan")
    conn.execute("RESET enable_sort")

    # Recommendations for every user, filtered to home video.
    item_platforms = {it["id"]: it["platforms"] for it in items}
    item_genre = {it["id"]: it["genre"] for it in items}
    genre_count = Counter(it["genre"] for it in items if "home video" in it["platforms"])
    n_hv = sum(1 for it in items if "home video" in it["platforms"])
    fav_share, base_share, short, bad_filter, seen_again = [], [], 0, 0, 0
    for u, _, favs in users:
        recs = conn.execute("SELECT item_id, title, genre, released, distance, score FROM recommend(%s, 'home video', 10)", (u,)).fetchall()
        seen = {e[1] for e in events if e[0] == u}
        short += len(recs) < 10
        bad_filter += sum("home video" not in item_platforms[r[0]] for r in recs)
        seen_again += sum(r[0] in seen for r in recs)
        if recs:
            fav_share.append(sum(item_genre[r[0]] in favs for r in recs) / len(recs))
            base_share.append(sum(genre_count[g] for g in favs) / n_hv)
        if u <= 3:
            print(f"\nuser {u} (favourite genres: {', '.join(favs)}), top 5 on home video:")
            for r in recs[:5]:
                print(f"  {r[1][:40]:40} {str(r[2]):18} {r[3]}  distance {r[4]:.3f}  score {r[5]:.3f}")
    conn.execute("SELECT pg_stat_force_next_flush()")
    conn.execute("SELECT 1")
    scans = index_scans() - scans_before
    check(f"recommend() scanned the hnsw index for every user ({scans} scans)", scans >= len(users), f"{scans} < {len(users)}")
    fav, base = float(np.mean(fav_share)), float(np.mean(base_share))
    print(f"\nshare of recommendations in the user's favourite genres: {fav:.2f} (catalogue base rate {base:.2f})")
    check(f"every user gets 10 recommendations ({short} short)", short == 0)
    check("every recommendation is on the requested platform", bad_filter == 0, f"{bad_filter} off-platform")
    check("no recommendation was already seen", seen_again == 0, f"{seen_again} seen")
    check(f"recommendations follow the users' tastes ({fav:.2f} vs base {base:.2f})", fav >= 0.6 and fav >= 2 * base)

    # Online learning: one new like moves the profile by preference_update.
    before = arr(conn.execute("SELECT profile FROM user_profiles WHERE user_id = 1").fetchone()[0])
    item = conn.execute("SELECT item_id FROM recommend(1, NULL, 1)").fetchone()[0]
    after = arr(conn.execute("SELECT record_interaction(1, %s, 'like', %s)", (item, ALPHA)).fetchone()[0])
    want = (1 - ALPHA) * before + ALPHA * vectors[item - 1].astype(np.float64)
    want /= np.linalg.norm(want)
    check("record_interaction moves the profile toward the item", float(np.max(np.abs(after - want))) < 1e-5)
    still = conn.execute("SELECT count(*) FROM recommend(1, NULL, 10) WHERE item_id = %s", (item,)).fetchone()[0]
    check("an item just liked is no longer recommended", still == 0)

    conn.close()
    if args.check:
        print(f"personalization demo: {check.passed} passed, {check.failed} failed")
        sys.exit(1 if check.failed else 0)


if __name__ == "__main__":
    main()
