"""code-engine: runs untrusted code snippets in pre-warmed, hardened Docker containers."""

__version__ = "0.1.0"
