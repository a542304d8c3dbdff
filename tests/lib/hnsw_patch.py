#!/usr/bin/env python3
"""Damages a stopped lodestone hnsw index file in place, for tests/hnsw_corruption.sh.

usage: hnsw_patch.py FILE WHAT VALUE
  WHAT  link   the first layer-0 link of every live node (inline links only)
        entry  the meta page's entry point
        chain  the overflow-chain pointer of every live node that has one
        cycle  the next pointer of every live overflow tuple, to itself (VALUE unused)
  VALUE past (the index's block count + 5) or huge (0xFFFFFFFE)
Prints how many references it rewrote; fails when none.

Offsets follow src/hnsw/layout.rs (tuples) and src/am/hnsw/meta.rs (RawMeta,
at the start of the meta page's contents).
"""
import struct
import sys

BLCKSZ = 8192
HEADER = 24  # page header; PageGetContents is MAXALIGN(24)
KIND_NODE, KIND_TIDS = 1, 3

path, what, value = sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "past"
data = bytearray(open(path, "rb").read())
nblocks = len(data) // BLCKSZ
bad = {"past": nblocks + 5, "huge": 0xFFFFFFFE}.get(value, 0)
links0_inline = data[HEADER + 11]
(max_tids,) = struct.unpack_from("<H", data, HEADER + 20)
links0_at = (24 + max_tids * 6 + 3) // 4 * 4


def items(block):
    """(offset number, byte position, length) of each normal item."""
    base = block * BLCKSZ
    (lower,) = struct.unpack_from("<H", data, base + 12)
    for i in range(max(0, (lower - HEADER) // 4)):
        (lp,) = struct.unpack_from("<I", data, base + HEADER + 4 * i)
        off, flags, length = lp & 0x7FFF, (lp >> 15) & 3, lp >> 17
        if flags == 1 and length > 0:
            yield i + 1, base + off, length


patched = 0
if what == "entry":
    struct.pack_into("<I", data, HEADER + 28, bad)
    patched = 1
for block in range(1, nblocks):
    for offset, at, length in items(block):
        kind, flags = data[at], data[at + 1]
        if flags != 0:
            continue  # deleted or free
        if what == "link" and kind == KIND_NODE and links0_inline:
            (n,) = struct.unpack_from("<H", data, at + 6)
            if n > 0:
                struct.pack_into("<I", data, at + links0_at, bad)
                patched += 1
        elif what == "chain" and kind == KIND_NODE:
            (block_ref,) = struct.unpack_from("<I", data, at + 16)
            if block_ref != 0xFFFFFFFF:
                struct.pack_into("<I", data, at + 16, bad)
                patched += 1
        elif what == "cycle" and kind == KIND_TIDS:
            struct.pack_into("<IH", data, at + 4, block, offset)
            patched += 1
open(path, "r+b").write(data)
print(patched)
sys.exit(0 if patched else 1)
