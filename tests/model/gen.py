#!/usr/bin/env python3
"""Writes one phase of the model-based hnsw test as a psql script.

    gen.py --seed S --kind vector|halfvec|sparsevec|bit|quantized --steps N

A phase is a table `items_<kind>` with two hnsw indexes: a narrow column
(many nodes per page) and a wide one (a node per page, TOASTed values, and
builds that spill past the 1MB maintenance_work_mem after ~170 rows). Rows
are named by (c, k): column values are generated from them (see
model.sql), so equal (c, k) are exact duplicates, c = 0 is the zero vector
and c IS NULL a NULL. The script is a random sequence of INSERT (fresh
values, bursts of exact duplicates, zero vectors, NULLs), UPDATE, DELETE (by
id, every duplicate of a value, whole clusters), VACUUM and REINDEX, each
step followed by `SELECT model.check(step)`, which raises on any broken
invariant. The same seed and kind give the same script.
"""
import argparse
import random

# kind: (narrow column, wide column, WITH options of both indexes)
# a column: (SQL type, generating expression over c and k, opclass, operator)
KINDS = {
    "vector": (
        ("vector(6)", "model.vec(c, k, 6)", "vector_cosine_ops", "<=>"),
        ("vector(1500)", "model.vec(c, k, 1500)", "vector_l2_ops", "<->"),
        ("", ""),
    ),
    "halfvec": (
        ("halfvec(6)", "model.half(c, k, 6)", "halfvec_l2_ops", "<->"),
        ("halfvec(3000)", "model.half(c, k, 3000)", "halfvec_cosine_ops", "<=>"),
        ("", ""),
    ),
    "sparsevec": (
        ("sparsevec(1000)", "model.sparse(c, k, 6, 1000)", "sparsevec_cosine_ops", "<=>"),
        ("sparsevec(100000)", "model.sparse(c, k, 750, 100000)", "sparsevec_l2_ops", "<->"),
        ("", ""),
    ),
    "bit": (
        ("bit(64)", "model.bits(c, k, 64)::bit(64)", "bit_hamming_ops", "<~>"),
        ("bit(16000)", "model.bits(c, k, 16000)::bit(16000)", "bit_hamming_ops", "<~>"),
        ("", ""),
    ),
    "quantized": (
        ("vector(16)", "model.vec(c, k, 16)", "vector_l2_ops", "<->"),
        ("vector(1500)", "model.vec(c, k, 1500)", "vector_cosine_ops", "<=>"),
        (", quantizer = sq8", ", quantizer = bq"),
    ),
}

CLUSTERS = 6       # clusters 1..6; 0 is the zero vector
MAX_ROWS = 400     # live rows, duplicates included
MAX_NODES = 700    # distinct values alive or awaiting VACUUM: below ef_search 1000


class Phase:
    def __init__(self, seed, kind, steps):
        self.rng = random.Random(f"{seed}:{kind}")
        self.kind = kind
        self.table = f"items_{kind}"
        self.steps = steps
        self.rows = {}          # id -> (c, k), (None, None) for NULL
        self.next_id = 1
        self.next_k = 1
        self.dead = set()       # values deleted or updated away since the last VACUUM
        self.out = []
        narrow, wide, quant = KINDS[kind]
        self.columns = [("v", narrow, quant[0]), ("w", wide, quant[1])]
        self.m = self.rng.randint(2, 4)
        self.ef_construction = self.rng.randint(2 * self.m, 2 * self.m + 8)

    # ---- the model's state
    def values(self):
        """Live (c, k) values with how many rows hold each."""
        counts = {}
        for v in self.rows.values():
            if v[0] is not None:
                counts[v] = counts.get(v, 0) + 1
        return counts

    def nodes(self):
        return len(self.values()) + len(self.dead)

    def fresh(self):
        self.next_k += 1
        return (self.rng.randint(1, CLUSTERS), self.next_k)

    def some_value(self):
        """A value for an insert or update: fresh, a duplicate, zero or NULL."""
        r = self.rng.random()
        live = [v for v in self.values() if v[0] != 0]
        if r < 0.45 or not live:
            return self.fresh()
        if r < 0.80:
            return self.rng.choice(sorted(live))
        if r < 0.92:
            return (0, 0)
        return (None, None)

    # ---- emitting
    def emit(self, comment, *statements):
        self.out.append(f"-- {comment}")
        self.out.extend(statements)

    @staticmethod
    def lit(x):
        return "NULL" if x is None else str(x)

    def insert(self, values):
        tuples = []
        for c, k in values:
            self.rows[self.next_id] = (c, k)
            tuples.append(f"({self.next_id}, {self.lit(c)}, {self.lit(k)})")
            self.next_id += 1
        return f"INSERT INTO {self.table} (id, c, k) VALUES {', '.join(tuples)};"

    def forget(self, ids):
        for i in ids:
            v = self.rows.pop(i)
            if v[0] is not None and v not in self.values():
                self.dead.add(v)

    # ---- steps
    def step_insert(self):
        n = self.rng.choice([1, 1, 2, 3, 5, 8])
        values = [self.some_value() for _ in range(n)]
        return "insert", [self.insert(values)]

    def step_duplicates(self):
        live = sorted(v for v in self.values() if v[0] != 0)
        value = self.rng.choice(live) if live and self.rng.random() < 0.5 else self.fresh()
        # mostly enough to fill a node's inline slots and start a chain;
        # sometimes enough for a chain of several overflow tuples
        n = self.rng.choice([2, 5, 11, 12, 30, 40]) if self.rng.random() < 0.9 else self.rng.randint(130, 300)
        n = min(n, MAX_ROWS - len(self.rows))
        n, first = max(n, 1), self.next_id
        for _ in range(n):
            self.rows[self.next_id] = value
            self.next_id += 1
        return f"{n} exact duplicates of {value}", [
            f"INSERT INTO {self.table} (id, c, k) SELECT g, {value[0]}, {value[1]} FROM generate_series({first}, {self.next_id - 1}) g;"
        ]

    def step_update(self):
        ids = self.rng.sample(sorted(self.rows), min(len(self.rows), self.rng.choice([1, 1, 2, 4])))
        stmts = []
        for i in ids:
            c, k = self.some_value()
            self.forget([i])
            self.rows[i] = (c, k)
            stmts.append(f"UPDATE {self.table} SET c = {self.lit(c)}, k = {self.lit(k)} WHERE id = {i};")
        return "update values", stmts

    def step_update_note(self):
        # touches no indexed column: a HOT update where the page has room
        ids = self.rng.sample(sorted(self.rows), min(len(self.rows), 5))
        return "update a non-indexed column", [
            f"UPDATE {self.table} SET note = 'n{self.next_k}' WHERE id IN ({', '.join(map(str, sorted(ids)))});"
        ]

    def step_delete_ids(self):
        ids = sorted(self.rng.sample(sorted(self.rows), min(len(self.rows), self.rng.choice([1, 2, 5, 10]))))
        self.forget(ids)
        return "delete rows", [f"DELETE FROM {self.table} WHERE id IN ({', '.join(map(str, ids))});"]

    def step_delete_value(self):
        counts = self.values()
        if not counts:
            return self.step_delete_ids()
        # prefer the values with the most copies (nodes with overflow chains)
        ranked = sorted(counts, key=lambda v: (-counts[v], v))
        value = ranked[0] if self.rng.random() < 0.5 else self.rng.choice(ranked)
        self.forget([i for i, v in self.rows.items() if v == value])
        c, k = value
        return f"delete all {counts[value]} rows of {value}", [f"DELETE FROM {self.table} WHERE c = {c} AND k = {k};"]

    def step_delete_cluster(self):
        c = self.rng.randint(0, CLUSTERS)
        self.forget([i for i, v in self.rows.items() if v[0] == c])
        return f"delete cluster {c}", [f"DELETE FROM {self.table} WHERE c = {c};"]

    def step_vacuum(self, forced=False):
        # plain VACUUM may skip the indexes when few rows are dead
        how = self.rng.choice(["", "", "(INDEX_CLEANUP ON) ", "(INDEX_CLEANUP ON, TRUNCATE ON) "]) if not forced else "(INDEX_CLEANUP ON) "
        # only a VACUUM that removes rows reconnects (an insert-only one walks nothing)
        self.settled = "removed" if self.dead and "INDEX_CLEANUP ON" in how else None
        self.dead.clear()
        return "vacuum", [f"VACUUM {how}{self.table};"]

    def can_build(self):
        # a quantizer trains on the rows there are: keep a few to train on
        return self.kind != "quantized" or len([v for v in self.values() if v[0] != 0]) >= 4

    def step_reindex(self):
        if not self.can_build():
            return self.step_insert()
        self.dead.clear()
        r = self.rng.random()
        # a build reconnects like a VACUUM: verify is clean after one that
        # rebuilt both indexes
        self.settled = "build" if r < 0.6 else None
        if r < 0.4:
            return "reindex", [f"REINDEX TABLE {self.table};"]
        if r < 0.6:
            return "vacuum full (rewrites the table, rebuilds its indexes)", [f"VACUUM FULL {self.table};"]
        col = self.rng.choice(["v", "w"])
        return f"drop and create the index on {col}", [f"DROP INDEX {self.table}_{col};", self.create_index(col)]

    def create_index(self, col):
        for name, (_, _, opclass, _), quant in self.columns:
            if name == col:
                return (f"CREATE INDEX {self.table}_{col} ON {self.table} USING hnsw ({col} {opclass}) "
                        f"WITH (m = {self.m}, ef_construction = {self.ef_construction}{quant});")
        raise KeyError(col)

    def step(self):
        full = len(self.rows) >= MAX_ROWS or self.nodes() >= MAX_NODES
        if self.nodes() >= MAX_NODES - 50 and self.dead:
            return self.step_vacuum(forced=True)
        choices = [
            (self.step_insert, 0 if full else 20),
            (self.step_duplicates, 0 if full else 10),
            (self.step_update, 10 if self.rows else 0),
            (self.step_update_note, 3 if self.rows else 0),
            (self.step_delete_ids, 8 if self.rows else 0),
            (self.step_delete_value, 8 if self.rows else 0),
            (self.step_delete_cluster, 3 if self.rows else 0),
            (self.step_vacuum, 10),
            (self.step_reindex, 2),
        ]
        fns, weights = zip(*choices)
        return self.rng.choices(fns, weights)[0]()

    def script(self):
        t = self.table
        cols = ", ".join(f"{name} {typ} GENERATED ALWAYS AS ({expr}) STORED" for name, (typ, expr, _, _), _ in self.columns)
        self.emit(f"phase {self.kind}: m = {self.m}, ef_construction = {self.ef_construction}",
                  "SET maintenance_work_mem = '1MB';",
                  "SET client_min_messages = warning;",
                  f"DROP TABLE IF EXISTS {t};",
                  f"CREATE TABLE {t} (id int PRIMARY KEY, c int, k int, note text, {cols});")
        # some rows before the indexes, so that they are built on data
        initial = [self.some_value() for _ in range(self.rng.randint(5, 200))]
        if self.kind == "quantized":
            initial += [self.fresh() for _ in range(8)]
        self.emit("rows before the build", self.insert(initial))
        self.emit("the indexes", *(self.create_index(name) for name, _, _ in self.columns))
        for name, (_, expr, _, op), _ in self.columns:
            query = expr.replace("c, k", "%s, 1000000")
            self.out.append(f"INSERT INTO model.indexes VALUES ('{t}_{name}', '{t}', '{name}', '{op}', '{query}');")
        self.out.append("SELECT model.check(0, 'build');")
        for n in range(1, self.steps + 1):
            self.settled = None
            what, stmts = self.step()
            self.emit(f"step {n}: {what}", *stmts)
            settled = f", '{self.settled}'" if self.settled else ""
            self.out.append(f"SELECT model.check({n}{settled});")
        last = ", 'removed'" if self.dead else ""
        self.emit("the last step: vacuum", f"VACUUM (INDEX_CLEANUP ON) {t};", f"SELECT model.check({self.steps + 1}{last});")
        self.emit(f"end of phase {self.kind}", f"DELETE FROM model.indexes WHERE tbl = '{t}';", f"DROP TABLE {t};")
        return "\n".join(self.out) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", required=True)
    p.add_argument("--kind", required=True, choices=sorted(KINDS))
    p.add_argument("--steps", type=int, default=40)
    a = p.parse_args()
    print(Phase(a.seed, a.kind, a.steps).script(), end="")


if __name__ == "__main__":
    main()
