"""Benchmarks: each measures ragstream beside a baseline run on the same data in the same run,
prints a table and records it in BENCHMARKS.md (`make bench`, or `python -m bench NAME...`)."""
