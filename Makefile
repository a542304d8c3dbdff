# lodestone — the commands a developer and CI use. Each target is a thin
# wrapper over a script in scripts/ or benches/, which documents itself.

.PHONY: help demo demo-personalization demo-stop demo-clean test setup install regress regress-accept compat bench-kernels bench-quant bench-graph bench-sql bench-pq bench-ann bench-ivfflat bench-citus fmt lint \
	reliability soak crash fuzz fuzz-long stress

help:            ## list the targets
	@grep -E '^[a-z-]+: .*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 22

demo:            ## set up everything, start a throwaway cluster, run a demo, leave it running
	scripts/demo.sh

demo-personalization: ## film recommendations in SQL (examples/personalization) in the demo cluster
	examples/personalization/run.sh

demo-stop:       ## stop the demo cluster
	scripts/demo.sh stop

demo-clean:      ## stop the demo cluster and delete its data
	scripts/demo.sh clean

test:            ## the whole test suite (unit, pg_regress, integration)
	scripts/test.sh

setup:           ## install Postgres 15, clang and cargo-pgrx 0.18.1 where missing
	scripts/setup.sh

install:         ## build (release) and install the extension
	scripts/install.sh

regress:         ## only the pg_regress suite
	scripts/regress.sh

regress-accept:  ## overwrite pg_regress/expected with the current output (review the diff!)
	scripts/regress.sh --accept

compat:          ## run the pgvector-compatible regress files against pgvector itself
	scripts/compat.sh

bench-kernels:   ## criterion benchmarks of the distance kernels
	cargo bench --bench kernels

bench-quant:     ## criterion benchmarks of the quantizers (ADC distances, training)
	cargo bench --bench quant

bench-graph:     ## recall and cost of the in-memory HNSW build; ARGS="VECTORS.npy cosine 1000 [--seed=N]"
	cargo bench --bench graph_quality -- $(ARGS)

bench-pq:        ## the pq type: bytes per row and scan time against vector; ARGS="ROWS DIM SUBVECTORS"
	benches/pq_scan.sh $(ARGS)

bench-sql:       ## sequential-scan distance benchmark, lodestone vs pgvector
	benches/sql_scan.sh

bench-citus:     ## single node vs Citus with 1 and 2 workers (needs Citus); ARGS="ROWS DIM"
	benches/citus_scale.sh $(ARGS)

bench-ann:       ## ANN benchmark (hnsw build, recall/QPS sweep, inserts), pgvector vs lodestone; ARGS="--dataset debian"
	benches/ann.sh $(ARGS)

bench-ivfflat:   ## the ANN benchmark with ivfflat (lists 1000, probes 10,20,40) instead of hnsw; ARGS="--dataset debian"
	benches/ann.sh --index ivfflat $(ARGS)

reliability:     ## only the reliability tests (replication, crash, soak, hostile input, backups, logical, fuzz); docs/reliability.md
	@for t in tests/reliability_*.sh tests/format_fuzz.sh; do echo "== $$t"; bash $$t || exit 1; done

soak:            ## the long concurrency soak: pgbench, 8 clients, SOAK_SECONDS (default 600)
	SOAK_SECONDS=$${SOAK_SECONDS:-600} bash tests/reliability_soak.sh

crash:           ## crash-recovery cycles; CRASH_CYCLES (default 20, as in the suite)
	CRASH_CYCLES=$${CRASH_CYCLES:-20} bash tests/reliability_crash.sh

stress:          ## the model-based hnsw test at length: make stress SEED=123 STEPS=5000 (steps per element type; default 400, random seed)
	MODEL_SEED=$(or $(SEED),random) MODEL_STEPS=$(or $(STEPS),400) bash tests/hnsw_model.sh

fuzz:            ## coverage-guided fuzzing of the text parsers and binary decoders, 30 s per target
	scripts/fuzz.sh

fuzz-long:       ## the long fuzzing run: FUZZ_SECONDS per target (default 900)
	FUZZ_SECONDS=$${FUZZ_SECONDS:-900} scripts/fuzz.sh

fmt:             ## format the code
	cargo fmt --all

lint:            ## fmt check, clippy (warnings and undocumented unsafe denied), the pure core names no Postgres
	scripts/lint.sh
