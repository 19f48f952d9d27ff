"""Helpers shared by the benchmark suites in benches/python: the machine a run
is on, the worker-pipe driver, percentiles and quiet-peer waiting. Each suite
imports the module it needs; nothing is re-exported here."""
