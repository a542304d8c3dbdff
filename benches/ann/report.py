"""The run's outputs: a JSON file with every number, a markdown report, and a
PNG plot of recall@k against QPS with one curve per system. A system marked
``in_process`` (hnswlib, reference.py) is labelled as the in-process floor
everywhere, so that it is not read as one more Postgres system."""


from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)

# The system every other is compared with, as benches/ann.sh labels pgvector.
BASELINE = "pgvector"


def write_json(run: dict, path: Path) -> None:
    path.write_text(json.dumps(run, indent=2) + "\n", encoding="utf-8")


def _mb(n: int | None) -> str:
    if n is None:
        return "–"
    return f"{n / 2**20:,.1f} MB" if n < 10 * 2**20 else f"{n / 2**20:,.0f} MB"


def _seconds(s: float | None) -> str:
    return "–" if s is None else f"{s:,.1f} s"


def _rate(r: float | None, unit: str) -> str:
    return "–" if r is None else f"{r:,.0f} {unit}"


def _label(system: dict) -> str:
    label = f"{system['name']} {system.get('extension_version', '')}".strip()
    return label + " (in-process floor)" if system.get("in_process") else label


def _build_times(index: dict) -> list[tuple[float, str]]:
    """The build's seconds, with its thread count for the in-process
    reference, which is built on 1 thread and again on as many as Postgres's."""
    if "build_threads" not in index:
        return [(index["build_seconds"], "")]
    times = [(index["build_seconds"], f" ({index['build_threads']} thread)")]
    if "parallel_build" in index:
        times.append((index["parallel_build"]["seconds"], f" ({index['parallel_build']['threads']} threads)"))
    return times


def _index_status(system: dict) -> str:
    index = system.get("index", {})
    if index.get("status") == "ok":
        return "; ".join(_seconds(t) + note for t, note in _build_times(index))
    return f"{index.get('status', 'not run')}: {index.get('reason', '')}".rstrip(": ")


def _index(p: dict) -> tuple[str, str, str]:
    """The run's access method, its build options as text, and its sweep's
    key (runs from before ``--index`` existed are hnsw)."""
    if p.get("index", "hnsw") == "ivfflat":
        return "ivfflat", f"lists = {p['lists']}", "probes"
    return "hnsw", f"m = {p['m']}, ef_construction = {p['ef_construction']}", "ef_search"


def _ratio(a: float | None, b: float | None) -> str:
    return "–" if a is None or not b else f"{a / b:.2f}×"


def _build_settings(method: str, settings: dict) -> list[str]:
    """What the build of every system was given, and, for ivfflat, how each
    implementation uses it: the parallelism differs, so a build-time ratio
    means little without it."""
    mwm = settings.get("maintenance_work_mem", "?")
    workers = settings.get("max_parallel_maintenance_workers", "?")
    text = (f"Every index build ran with maintenance_work_mem = {mwm} and max_parallel_maintenance_workers = "
            f"{workers} (benches/ann.sh sets them in benches/ann/postgres.conf).")
    if method == "ivfflat":
        threads = f"{int(workers) + 1}" if str(workers).isdigit() else f"{workers} + 1"
        text += (f" lodestone's ivfflat build runs k-means on max_parallel_maintenance_workers + 1 = {threads} "
                 "threads inside one backend; pgvector's k-means runs on one thread and only the assignment of "
                 "rows to lists uses its parallel workers.")
    return ["", text]


def _reference_note(systems: list[dict], n_clients: int) -> list[str]:
    """What the in-process reference is and how its columns were measured,
    which differ from the Postgres systems' (threads, not SQL clients)."""
    ref = next((s for s in systems if s.get("in_process")), None)
    if ref is None:
        return []
    parallel = ref.get("index", {}).get("parallel_build")
    again = (f", and again on {parallel['threads']} threads, as many as a Postgres build may use (its leader and "
             "max_parallel_maintenance_workers workers)") if parallel else ""
    return ["", f"{_label(ref)} is not a Postgres system: it is the same algorithm, hnswlib's HNSW, in the "
            "harness's own process, on the same vectors and queries with the same m, ef_construction, metric "
            "and ef_search, so with no SQL, client/server round trip, executor or buffer manager: the floor "
            "the Postgres systems can approach. Its build is `add_items` on 1 thread (the index searched)"
            f"{again}. Its \"1 client\" is one `knn_query` of one vector per call with num_threads=1; its "
            f"\"{n_clients} clients\" are {n_clients} Python threads doing the same on the one shared index "
            "(hnswlib releases the GIL while it searches). Its index size is hnswlib's `index_file_size()`: "
            "vectors, labels and links. It has no table and runs no INSERTs."]


def _comparison(systems: list[dict], key: str, n_clients: int, k: int) -> list[str]:
    """Each system against pgvector at equal sweep values: recall of both and
    the QPS ratio (above 1: faster than pgvector)."""
    base = next((s for s in systems if s["name"] == BASELINE and s.get("sweep")), None)
    others = [s for s in systems if s is not base and s.get("sweep")]
    if base is None or not others:
        return []
    by_value = {pt[key]: pt for pt in base["sweep"]}
    out = ["", f"| system / {_label(base)} | {key} | recall@{k} | recall@{k}, {BASELINE} | QPS ratio, 1 client "
           f"| QPS ratio, {n_clients} clients |", "|---|---:|---:|---:|---:|---:|"]
    for s in others:
        for pt in s["sweep"]:
            b = by_value.get(pt[key])
            if b is None:
                continue
            ratios = [_ratio(pt["clients"][c]["qps"], b["clients"][c]["qps"]) for c in ("1", str(n_clients))]
            out.append(f"| {_label(s)} | {pt[key]} | {pt['recall']:.3f} | {b['recall']:.3f} | "
                       + " | ".join(ratios) + " |")
    return out


def markdown(run: dict) -> str:
    """The report: dataset and settings, a per-system summary, the sweep of
    ef_search (hnsw) or probes (ivfflat), then each system against pgvector."""
    ds, p, systems = run["dataset"], run["params"], run["systems"]
    n_clients = p["clients"]
    k = p["k"]
    method, options, swept = _index(p)
    out = [
        f"### ANN benchmark, {method}: {ds['name']} ({ds['rows']:,} × {ds['dim']}, {ds['queries']:,} queries, "
        f"{ds['metric']}, k = {k})",
        "",
        f"{ds['description']}. {method} {options}; "
        f"recall@{k} against exact top-{ds['ground_truth_depth']} ground truth; 1 client runs every query once, "
        f"{n_clients} clients run for {p['duration']:g} s per point; {p['inserts']:,} single-row INSERTs "
        f"per measurement into the indexed table. Every measurement runs {p['repeats']} times, the systems "
        f"taking turns; the fastest is shown.",
        "",
        "| | " + " | ".join(_label(s) for s in systems) + " |",
        "|---|" + "---:|" * len(systems),
    ]

    def row(title: str, cell) -> None:
        out.append(f"| {title} | " + " | ".join(cell(s) for s in systems) + " |")

    row("load (binary COPY)", lambda s: f"{_seconds(s['load']['seconds'])} "
        f"({_rate(s['load']['rows_per_second'], 'rows/s')})" if "load" in s else "–")
    row("index build", _index_status)
    base = next((s for s in systems if s["name"] == BASELINE and s.get("index", {}).get("status") == "ok"), None)
    if base is not None and len(systems) > 1:
        row(f"index build time / {BASELINE}", lambda s: "–" if s is base or s.get("index", {}).get("status") != "ok"
            else "; ".join(_ratio(t, base["index"]["build_seconds"]) + note for t, note in _build_times(s["index"])))
    row("index size", lambda s: _mb(s.get("sizes", {}).get("index_bytes")) if s.get("index", {}).get("status") == "ok"
        else "–")
    row("index bytes per vector", lambda s: f"{s['sizes']['index_bytes'] / ds['rows']:,.0f}"
        if s.get("index", {}).get("status") == "ok" and s.get("sizes", {}).get("index_bytes") else "–")
    if any(s.get("index", {}).get("options") for s in systems):
        row("index options", lambda s: s.get("index", {}).get("options") or "–")
    row("table size", lambda s: _mb(s.get("sizes", {}).get("table_bytes")))
    for key, title in (("1", "INSERT, 1 client"), (str(n_clients), f"INSERT, {n_clients} clients")):
        row(title, lambda s, key=key: _rate(s.get("inserts", {}).get(key, {}).get("rows_per_second"), "rows/s"))
    if any("error" in s for s in systems):
        row("error", lambda s: s.get("error", ""))
    row("harness wall time per phase", lambda s: ", ".join(f"{k} {v:,.0f} s" for k, v in s.get("phases", {}).items()))
    out += ["", f"| system | {swept} | recall@{k} | QPS, 1 client | p50 ms | p99 ms "
            f"| QPS, {n_clients} clients | p50 ms | p99 ms |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s in systems:
        for point in s.get("sweep", []):
            one, many = point["clients"]["1"], point["clients"][str(n_clients)]
            out.append(f"| {_label(s)} | {point[swept]} | {point['recall']:.3f} | {one['qps']:,.0f} "
                       f"| {one['p50_ms']:.2f} | {one['p99_ms']:.2f} | {many['qps']:,.0f} "
                       f"| {many['p50_ms']:.2f} | {many['p99_ms']:.2f} |")
        if not s.get("sweep"):
            out.append(f"| {_label(s)} | – | – | – | – | – | – | – | – |")
    out += _comparison(systems, swept, n_clients, k)
    m = run["machine"]
    server = next((s for s in systems if "settings" in s), {})
    out += _build_settings(method, server.get("settings", {}))
    out += _reference_note(systems, n_clients)
    load = m.get("loadavg_1min", {})
    out += ["", f"Machine: {m['cores']} cores, {m['memory_gib']:.0f} GiB, {m['cpu']}; {m['os']}; "
            f"PostgreSQL {server.get('server_version', '?')}; load average {load.get('start')} at the start, "
            f"{load.get('end')} at the end. Settings: "
            + ", ".join(f"{k} = {v}" for k, v in server.get("settings", {}).items()) + "."]
    return "\n".join(out) + "\n"


def plot(run: dict, path: Path) -> None:
    """Recall@k (x) against QPS (y, log scale), one panel per client count and
    one curve per system, each point labelled with its ef_search or probes."""
    p = run["params"]
    method, options, key = _index(p)
    counts = ["1", str(p["clients"])]
    fig, axes = plt.subplots(1, len(counts), figsize=(6 * len(counts), 4.5), squeeze=False)
    for ax, count in zip(axes[0], counts):
        for system in run["systems"]:
            sweep = system.get("sweep", [])
            if not sweep:
                continue
            xs = [pt["recall"] for pt in sweep]
            ys = [pt["clients"][count]["qps"] for pt in sweep]
            # The in-process floor is drawn apart from the Postgres systems.
            style = {"linestyle": "--", "marker": "s", "color": "0.3"} if system.get("in_process") else {"marker": "o"}
            (line,) = ax.plot(xs, ys, label=_label(system), **style)
            for pt, x, y in zip(sweep, xs, ys):
                ax.annotate(str(pt[key]), (x, y), textcoords="offset points", xytext=(4, 4),
                            fontsize=7, color=line.get_color())
        skipped = [_label(s) for s in run["systems"] if not s.get("sweep")]
        if skipped:
            ax.text(0.02, 0.02, f"no {method} index: " + ", ".join(skipped), transform=ax.transAxes, fontsize=8,
                    color="gray")
        ax.set_yscale("log")
        ax.set_xlabel(f"recall@{p['k']}")
        ax.set_ylabel("queries per second")
        title = f"{count} client{'s' if count != '1' else ''}"
        if any(s.get("in_process") and s.get("sweep") for s in run["systems"]):
            title += f" (in-process floor: {count} thread{'s' if count != '1' else ''})"
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best")
    ds = run["dataset"]
    fig.suptitle(f"{ds['name']}: {ds['rows']:,} × {ds['dim']}, {ds['metric']}, {method} {options} "
                 f"(labels: {key})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
