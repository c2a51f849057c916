"""The agent's diagnostics: lines on stderr, which the host logs and never parses."""

from __future__ import annotations

import sys


def log(text: str) -> None:
    """Write one diagnostic line; a closed stderr is not worth failing a job over."""
    try:
        sys.stderr.write(f"agent: {text}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
