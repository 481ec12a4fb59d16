"""Benchmarks: protection and speed figures as ../shared/METRICS.md defines them."""
