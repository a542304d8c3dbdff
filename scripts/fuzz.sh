#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer) of the text parsers and binary
# decoders in src/format/, through the separate crate in fuzz/. Builds the
# targets with SanitizerCoverage (and AddressSanitizer: the parsers call
# strtof/strtol on raw C strings) on stable Rust, the way cargo-fuzz does,
# then runs each target for FUZZ_SECONDS (default 30) from the seed corpus
# in fuzz/corpus/<target>/ (new inputs go to a scratch copy, not the repo).
# Prints each target's exec count. Fails on any crash, panic or leak; the
# crashing input is left in fuzz/artifacts/<target>/.
#
#   scripts/fuzz.sh                       every target, 30 s each
#   FUZZ_SECONDS=1800 scripts/fuzz.sh     the long run (make fuzz-long)
#   scripts/fuzz.sh sparse_text           one target
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$LODESTONE_ROOT/fuzz"
seconds="${FUZZ_SECONDS:-30}"
targets=("$@")
((${#targets[@]})) || targets=(dense_text dense_binary sparse_text sparse_binary)
triple="$(rustc -vV | sed -n 's/^host: //p')"

# RUSTC_BOOTSTRAP only unlocks -Zsanitizer on the stable compiler; the
# coverage passes themselves are stable codegen options.
flags="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4"
flags+=" -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table"
flags+=" -Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
flags+=" -Zsanitizer=address"
log "building the fuzz targets ($triple)"
RUSTC_BOOTSTRAP=1 RUSTFLAGS="$flags" cargo build --release --target "$triple" --bins >"${TMPDIR:-/tmp}/lodestone-fuzz-build.log" 2>&1 \
  || { tail -n 40 "${TMPDIR:-/tmp}/lodestone-fuzz-build.log" >&2; die "building the fuzz targets failed"; }

status=0
for t in "${targets[@]}"; do
  work="$(mktemp -d "${TMPDIR:-/tmp}/lodestone-fuzz-$t.XXXXXX")"
  mkdir -p "artifacts/$t"
  cp -r "corpus/$t/." "$work/" 2>/dev/null || true
  log "fuzzing $t for ${seconds}s"
  if "target/$triple/release/$t" -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="artifacts/$t/" -print_final_stats=1 "$work" >"$work.log" 2>&1; then
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$work.log")"
    cov="$(grep -oE 'cov: [0-9]+' "$work.log" | tail -1)"
    printf '  %-14s ok      %12s execs  %s  %s corpus inputs\n' "$t" "$execs" "$cov" "$(ls "$work" | wc -l)"
  else
    printf '  %-14s FAILED\n' "$t"
    grep -E 'panicked|ERROR|SUMMARY|Test unit written' "$work.log" | head -n 20
    status=1
  fi
  rm -rf "$work" "$work.log"
done
exit "$status"
