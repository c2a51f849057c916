"""What goes wrong with a problem package: the one exception root of this package.

::

    PackageError                  anything this package refuses
    ├── MalformedPackage          a file of the package is not what the format says
    ├── StoredPackageError        a package named in an object store cannot be fetched
    └── EngineUnreachable         the engine did not answer a request
"""

from __future__ import annotations

from pathlib import Path


class PackageError(Exception):
    """The package cannot be read or judged as given."""


class MalformedPackage(PackageError):
    """A file of the package breaks the format; ``path`` names it."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


class StoredPackageError(PackageError):
    """A package named by bucket and object cannot be fetched, or is no zip."""


class EngineUnreachable(PackageError):
    """The engine did not answer over NATS."""
