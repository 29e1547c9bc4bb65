"""Benchmarks (not tests): each module's main() prints `BENCH <name> <value> <unit>` lines and records
its rows in BENCHMARKS.md. `python -m bench` runs them all; `python -m bench listing` runs one."""
