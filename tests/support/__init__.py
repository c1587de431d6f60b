"""Helpers shared by the whole test suite (and the benchmarks): real servers, contracts."""
