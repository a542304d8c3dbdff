"""lodestone's ANN benchmark harness: pgvector's SQL only, so it measures
pgvector and lodestone alike. Run it through benches/ann.sh, which starts a
throwaway cluster; ``python -m ann --help`` (with benches/ on PYTHONPATH)
measures databases of your own."""
