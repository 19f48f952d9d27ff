"""The Arrow transfer suite run by bench_arrow.py: gatun against JPype, Py4J
and memcpy. Modules: config, environment (java, helper, machine), data, peers,
worker (the pipe, both ends), driver (rounds), report and plot (outputs)."""
