"""A package's files: a directory, or a .zip of one, and its YAML read with clear errors."""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from .errors import MalformedPackage, PackageError


@contextmanager
def opened(path: Path) -> Iterator[Path]:
    """The package's root directory; a .zip is extracted to a temporary one meanwhile.

    A zip holds the package's directory, or the package's files at its top
    (problem.yaml, or a Polygon package's problem.xml).
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
        with zipfile.ZipFile(path) as archive:
            for member in archive.infolist():
                target = (root / member.filename).resolve()
                if not target.is_relative_to(root.resolve()):
                    raise MalformedPackage(path, f"{member.filename!r} points outside the archive")
            archive.extractall(root)
        entries = [entry for entry in root.iterdir() if not entry.name.startswith(".")]
        described = (root / "problem.yaml").exists() or (root / "problem.xml").exists()
        if not described and len(entries) == 1 and entries[0].is_dir():
            root = entries[0]
        yield root


def read_yaml(path: Path, *, required: bool = False) -> dict[str, Any]:
    """A YAML mapping (an empty file or a missing optional one: empty)."""
    if not path.exists():
        if required:
            raise MalformedPackage(path, "missing")
        return {}
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
