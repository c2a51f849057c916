"""Benchmarks: code-engine's latency, throughput and cost against the bare host, `docker run`
and llm-sandbox, a soak at saturation, and a problems request against separate requests.

Run it with ``.venv/bin/python -m benchmarks.bench`` (see ``benchmarks/README.md``).
"""


class BenchError(Exception):
    """A contender could not be measured (a tool is missing, a run failed, a start timed out)."""
