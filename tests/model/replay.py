#!/usr/bin/env python3
"""Replays of a failing model-test phase (tests/hnsw_model.sh).

    replay.py cut SCRIPT OUTPUT
        prints SCRIPT's blocks (a `-- ...` comment and the statements after
        it) up to the one OUTPUT (psql -a) shows failing, its check included.
    replay.py shrink REPLAY SECONDS MINIMAL -- PSQL...
        removes blocks from REPLAY while it still fails the same way (delta
        debugging, for at most SECONDS), each attempt run by `PSQL -f FILE`
        in a database of its own, and writes the smallest failing script to
        MINIMAL. Replays are not always exact (a node's level is drawn from
        the backend's random state), so a failure may not reproduce.
"""
import re
import subprocess
import sys
import time


def blocks_of(text):
    """[(comment, [lines])]: a block starts at each `-- ` comment line."""
    blocks = []
    for line in text.splitlines():
        if line.startswith("-- ") or not blocks:
            blocks.append((line, []))
        else:
            blocks[-1][1].append(line)
    return blocks


def render(blocks):
    return "\n".join(line for comment, lines in blocks for line in [comment, *lines]) + "\n"


def cut(script, output):
    markers = re.findall(r"^(-- .*)$", open(output).read(), re.M)
    blocks = blocks_of(open(script).read())
    last = markers[-1] if markers else None
    for i, (comment, _) in enumerate(blocks):
        if comment == last:
            return render(blocks[: i + 1])
    return render(blocks)


def signature(output):
    """What kind of failure: a model violation, or the first ERROR's words."""
    m = re.search(r"ERROR:\s+(model violation|model:)", output)
    if m:
        return m.group(1)
    m = re.search(r"ERROR:\s+([^:\n]*)", output)
    if m:
        return re.sub(r"\d+", "N", m.group(1))
    if "server closed the connection" in output or "terminated" in output:
        return "crash"
    return None


def shrink(replay, seconds, minimal, psql):
    deadline = time.monotonic() + seconds
    text = open(replay).read()
    blocks = blocks_of(text)
    # The helpers and the phase's start always stay, and so does the block
    # that failed and the one creating the indexes.
    first = next(i for i, (c, _) in enumerate(blocks) if c.startswith("-- phase "))
    head, body = blocks[: first + 1], blocks[first + 1 :]
    keep = lambda b: b[0] == "-- the indexes"
    tail = body[-1]
    body = body[:-1]
    tries = 0

    def run(candidate):
        nonlocal tries
        tries += 1
        subprocess.run(psql + ["-d", "postgres", "-c", "DROP DATABASE IF EXISTS model_shrink", "-c", "CREATE DATABASE model_shrink"],
                       capture_output=True, text=True)
        r = subprocess.run(psql + ["-d", "model_shrink", "-v", "ON_ERROR_STOP=1", "-f", "-"],
                           input=render(head + candidate + [tail]), capture_output=True, text=True)
        return r.returncode != 0 and signature(r.stdout + r.stderr)

    wanted = run(body)
    if not wanted:
        print("    the failure did not reproduce on a fresh run of the replay: no shrinking")
        return
    # Checks after every step are slow and rarely needed to fail: first try
    # with only the failing step's.
    unchecked = [(c, [l for l in lines if not l.startswith("SELECT model.check(")]) for c, lines in body]
    if run(unchecked) == wanted:
        body = unchecked
    n = 2
    while len(body) >= 1 and time.monotonic() < deadline:
        size = max(1, -(-len(body) // n))
        for i in range(0, len(body), size):
            if time.monotonic() >= deadline:
                break
            candidate = body[:i] + [b for b in body[i : i + size] if keep(b)] + body[i + size :]
            if len(candidate) < len(body) and run(candidate) == wanted:
                body = candidate
                n = max(n - 1, 2)
                break
        else:
            if size == 1:
                break
            n = min(len(body), 2 * n)
    with open(minimal, "w") as f:
        f.write(f"-- a smaller replay of {replay}: {len(body)} steps kept, {tries} runs; fails with: {wanted}\n")
        f.write(render(head))
        f.write(f"-- minimal steps\n")
        f.write(render(body + [tail]))
    print(f"    {len(body)} steps kept after {tries} runs ({'done' if time.monotonic() < deadline else 'out of time'})")


def main():
    if sys.argv[1] == "cut":
        sys.stdout.write(cut(sys.argv[2], sys.argv[3]))
    elif sys.argv[1] == "shrink":
        sep = sys.argv.index("--")
        shrink(sys.argv[2], float(sys.argv[3]), sys.argv[4], sys.argv[sep + 1 :])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
