"""The benchmark of issue #7: code-engine against the bare host, `docker run` and llm-sandbox.

Run it with ``.venv/bin/python -m benchmarks.bench`` (see ``benchmarks/README.md``).
"""


class BenchError(Exception):
    """A contender could not be measured (a tool is missing, a run failed, a start timed out)."""
