"""A package's files: a directory, or a .zip of one, and its YAML read with clear errors."""

from __future__ import annotations

import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from .errors import MalformedPackage, PackageError

# A zip is untrusted input (serve-packages takes them over NATS): what it may
# unpack to, and how many entries it may hold, are bounded before anything is
# written, so a small archive of zeros cannot fill the disk it is unpacked on.
# zipfile reads no more of a member than its header's size (then checks the CRC).
MAX_UNPACKED_BYTES = 2 << 30
MAX_MEMBERS = 50_000
MAX_YAML_BYTES = 1 << 20


@contextmanager
def opened(
    path: Path, *, max_bytes: int = MAX_UNPACKED_BYTES, max_members: int = MAX_MEMBERS
) -> Iterator[Path]:
    """The package's root directory; a .zip is extracted to a temporary one meanwhile.

    A zip holds the package's directory, or the package's files at its top
    (problem.yaml, or a Polygon package's problem.xml).

    Raises:
        MalformedPackage: not a zip, a member outside the archive, more than
            ``max_members`` entries or ``max_bytes`` unpacked.
    """
    if path.is_dir():
        yield path
        return
    if not path.is_file():
        raise PackageError(f"{path}: no such package (a directory or a .zip)")
    if not zipfile.is_zipfile(path):
        raise MalformedPackage(path, "not a directory and not a zip archive")
    with tempfile.TemporaryDirectory(prefix="code-engine-package-") as tmp:
        root = Path(tmp)
        try:
            _extract(path, root, max_bytes, max_members)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
            raise MalformedPackage(path, f"a broken zip archive: {exc}") from None
        except OSError as exc:
            raise PackageError(f"{path}: could not be unpacked: {exc.strerror or exc}") from None
        entries = [entry for entry in root.iterdir() if not entry.name.startswith(".")]
        described = (root / "problem.yaml").exists() or (root / "problem.xml").exists()
        if not described and len(entries) == 1 and entries[0].is_dir():
            root = entries[0]
        yield root


def _extract(path: Path, root: Path, max_bytes: int, max_members: int) -> None:
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
        if len(members) > max_members:
            raise MalformedPackage(path, f"more than {max_members} entries")
        unpacked = sum(member.file_size for member in members)
        if unpacked > max_bytes:
            raise MalformedPackage(
                path, f"unpacks to {unpacked} bytes, more than the {max_bytes} allowed"
            )
        for member in members:
            target = (root / member.filename).resolve()
            if not target.is_relative_to(root.resolve()):
                raise MalformedPackage(path, f"{member.filename!r} points outside the archive")
        archive.extractall(root)


def read_yaml(path: Path, *, required: bool = False) -> dict[str, Any]:
    """A YAML mapping (an empty file or a missing optional one: empty)."""
    if not path.exists():
        if required:
            raise MalformedPackage(path, "missing")
        return {}
    if path.stat().st_size > MAX_YAML_BYTES:
        raise MalformedPackage(path, f"larger than {MAX_YAML_BYTES} bytes")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise MalformedPackage(path, f"not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise MalformedPackage(path, f"must be a mapping, not {type(data).__name__}")
    return data


def unknown_keys(path: Path, data: dict[str, Any], known: frozenset[str]) -> list[str]:
    """A warning per key the format does not define here."""
    return [f"{path}: unknown key {key!r} ignored" for key in data if key not in known]
