"""Benchmarks that print figures; timings live here, never in tests."""
