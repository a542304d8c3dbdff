#!/usr/bin/env bash
# `make compat`: runs the regress files that use only pgvector's SQL surface
# (listed in pg_regress/compat_schedule) against pgvector's own `vector`
# extension and compares with lodestone's expected output: any difference is
# a place where lodestone does not behave exactly as that pgvector build.
#
# lodestone's expected output is what pgvector's release v0.8.6 prints. A
# build of pgvector's development branch (whose vector.control also says
# 0.8.6) differs where pgvector has since fixed its own bugs, so the outcome
# depends on which pgvector build is installed: this is why the comparison
# is its own target and not part of `make test`. It names the build it
# compared with.
# Skips, with a message, when pgvector is not installed on this server.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
if ! pgvector_installed; then
  log "pgvector (extension \"vector\") is not installed here: skipping the compatibility run"
  exit 0
fi
control="$("$PG_CONFIG" --sharedir)/extension/vector.control"
library="$("$PG_CONFIG" --pkglibdir)/vector.so"
version="$(sed -n "s/^default_version *= *'\(.*\)'.*/\1/p" "$control")"
build="pgvector $version ($library"
if [[ -f "$library" ]]; then
  build+=", sha256 $(sha256sum "$library" | cut -c1-16), built $(date -u -r "$library" '+%Y-%m-%d %H:%M UTC')"
fi
build+=")"
log "comparing lodestone's expected output with $build"
mapfile -t tests < <(sed -n 's/^test: *//p' "$LODESTONE_ROOT/pg_regress/compat_schedule" | tr ' ' '\n' | grep -v '^setup$' | grep .)
status=0
LOAD_EXTENSION=vector "$LODESTONE_ROOT/scripts/regress.sh" "${tests[@]}" || status=$?
if ((status == 0)); then
  log "$build gives lodestone's expected output"
else
  log "$build differs from lodestone's expected output (above). The expected output is pgvector v0.8.6's;"
  log "a build of pgvector's development branch differs where pgvector fixed its own bugs after the release."
fi
exit "$status"
