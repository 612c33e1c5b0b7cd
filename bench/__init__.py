"""Benchmarks: the API side by side with a bare Django baseline.

See docs/PERFORMANCE.md.
"""
