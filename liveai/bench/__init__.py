"""Benchmarks: each prints one JSON object so runs can be compared."""
