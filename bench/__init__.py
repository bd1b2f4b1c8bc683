"""Benchmarks: each prints its figures as a ratio against a baseline run in the same process."""
