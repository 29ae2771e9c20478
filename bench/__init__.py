"""Benchmarks for PCache (run from the repo root: `.venv/bin/python -m bench.s3_bench`)."""
