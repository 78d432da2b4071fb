"""Benchmarks: ``python -m benchmarks.NAME [--quick]``; each prints a table and writes CSV."""
