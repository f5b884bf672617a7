"""Benchmarks (not tests): each bench_*.py prints figures as ratios to a baseline measured in the same run."""
