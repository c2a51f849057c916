"""A problem package as one typed value: metadata, tests, validators, submissions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import MalformedPackage
from .expectations import Submission, read_submissions
from .generation import Missing
from .metadata import Metadata, read_metadata
from .programs import Program, load_program
from .testdata import TestData, read_testdata

DEFAULT_VALIDATOR_FLAGS = frozenset({"case_sensitive", "space_change_sensitive"})
DEFAULT_VALIDATOR_NUMBERS = {
    "float_tolerance": "float_tolerance",
    "float_absolute_tolerance": "float_absolute_tolerance",
    "float_relative_tolerance": "float_relative_tolerance",
}


@dataclass(frozen=True, slots=True)
class Package:
    root: Path
    meta: Metadata
    data: TestData
    output_validator: Program | None  # None: the default validator
    input_validators: tuple[Program, ...]
    submissions: tuple[Submission, ...]
    warnings: tuple[str, ...]
    # The request's comparison instead of the default validator (Polygon's standard checkers).
    compare: dict[str, Any] | None = None
    # The exit code of an input validator that accepts (testlib's validators: 0).
    valid_input_exit: int = 42
    # Polygon's interactive problems: what judges the interactor's output once it accepted
    # (a checker, or a comparison), as request fields (replay.check_interactions).
    interaction_check: dict[str, Any] | None = None
    # How the checker or interactor is called; None: told from its files (judging.convention).
    convention: str | None = None
    # Tests to be made in the sandbox before judging (Polygon's generated tests and answers).
    missing: tuple[Missing, ...] = ()


def read_package(root: Path) -> Package:
    """Read the package at ``root`` (a directory): a Polygon package when it has a
    ``problem.xml`` and no ``problem.yaml``, else the ICPC/Kattis format.

    Raises:
        MalformedPackage: naming the file that breaks the format.
    """
    if is_polygon(root):
        from .polygon import read_polygon

        return read_polygon(root)
    warnings: list[str] = []
    meta = read_metadata(root, warnings)
    data = read_testdata(root, meta, warnings)
    output_validator = _output_validator(root, meta)
    if meta.interactive and output_validator is None:
        raise MalformedPackage(root / "problem.yaml", "an interactive problem needs a validator")
    if meta.multi_pass and (output_validator is None or meta.interactive):
        raise MalformedPackage(
            root / "problem.yaml", "multi-pass needs a validator (and is not supported interactive)"
        )
    inputs = []
    for folder in ("input_validators", "input_format_validators"):
        for entry in sorted((root / folder).glob("*")) if (root / folder).is_dir() else ():
            if entry.name.startswith("."):
                continue
            if entry.suffix in (".ctd", ".viva"):
                warnings.append(f"{entry}: {entry.suffix} validators are not supported, skipped")
                continue
            inputs.append(load_program(entry))
    if not inputs:
        warnings.append(f"{root / 'input_validators'}: no input validator; inputs not checked")
    submissions = read_submissions(root, warnings)
    return Package(
        root, meta, data, output_validator, tuple(inputs), tuple(submissions), tuple(warnings)
    )


def is_polygon(root: Path) -> bool:
    """A Polygon package: its description is problem.xml, not problem.yaml."""
    return (root / "problem.xml").is_file() and not (root / "problem.yaml").exists()


def _output_validator(root: Path, meta: Metadata) -> Program | None:
    single = root / "output_validator"
    if not meta.legacy and single.is_dir():
        return load_program(single)
    folder = root / "output_validators"
    entries = (
        sorted(p for p in folder.glob("*") if not p.name.startswith(".")) if folder.is_dir() else []
    )
    if meta.custom_validation is False:
        return None
    if len(entries) > 1:
        raise MalformedPackage(folder, "holds more than one validator")
    if entries:
        return load_program(entries[0])
    if meta.custom_validation:
        raise MalformedPackage(folder, "validation is custom but there is no validator")
    return None


def default_validator_fields(args: tuple[str, ...], where: str) -> dict[str, Any]:
    """The request fields of ``compare: icpc`` for the default validator's ``args``."""
    fields: dict[str, Any] = {"compare": "icpc"}
    items = list(args)
    while items:
        flag = items.pop(0)
        if flag in DEFAULT_VALIDATOR_FLAGS:
            fields[flag] = True
        elif flag in DEFAULT_VALIDATOR_NUMBERS and items:
            try:
                fields[DEFAULT_VALIDATOR_NUMBERS[flag]] = float(items.pop(0))
            except ValueError:
                raise MalformedPackage(where, f"{flag} needs a number") from None
        else:
            raise MalformedPackage(where, f"unknown default validator argument {flag!r}")
    return fields
