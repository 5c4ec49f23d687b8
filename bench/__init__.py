"""Benchmarks, run by hand: each script prints its figures and their ratio to the
libsodium floor.  Performance is measured here only, never asserted in tests."""
