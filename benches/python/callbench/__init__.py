"""The call-latency suite run by bench_calls.py: gatun against Py4J and JPype.
Modules: config (operations, modes, targets), peers and worker (inside each
worker process), driver (the interleaved rounds), report and plot (outputs)."""
