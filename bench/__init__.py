"""Benchmarks: `make bench` (or `python -m bench [name …]`) prints medians and p95s."""
