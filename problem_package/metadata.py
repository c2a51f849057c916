"""problem.yaml in the legacy layout and in the 2023-07 and 2025-09 versions.

Only what judging needs is kept: the type (pass-fail or scoring; interactive;
multi-pass), the time limit or how to compute it, the memory limit, and the
legacy ``validation`` and ``validator_flags``. Every other key the format
defines is accepted silently; a key it does not define is a warning.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import MalformedPackage
from .source import read_yaml, unknown_keys

LEGACY = "legacy"
COMMON_KEYS = frozenset(
    {"name", "uuid", "type", "source", "license", "rights_owner", "limits", "keywords"}
    | {"languages", "problem_format_version"}
)
LEGACY_KEYS = COMMON_KEYS | frozenset(
    {"author", "source_url", "validation", "validator_flags", "grading", "libraries"}
)
NEW_KEYS = COMMON_KEYS | frozenset(
    {"version", "credits", "embargo_until", "allow_file_writing", "constants"}
)
LEGACY_LIMITS = frozenset(
    {"time_multiplier", "time_safety_margin", "memory", "output", "code", "compilation_time"}
    | {"compilation_memory", "validation_time", "validation_memory", "validation_output"}
)
NEW_LIMITS = frozenset(
    {"time_multipliers", "time_limit", "time_resolution", "memory", "output", "code"}
    | {"compilation_time", "compilation_memory", "validation_time", "validation_memory"}
    | {"validation_output", "validation_passes"}
)
TYPES = frozenset({"pass-fail", "scoring", "multi-pass", "interactive", "submit-answer"})


@dataclass(frozen=True, slots=True)
class Metadata:
    """What problem.yaml says about judging."""

    version: str  # "legacy", "2023-07-draft", "2025-09", ...
    name: str
    scoring: bool
    interactive: bool
    multi_pass: bool
    time_limit_s: float | None  # given; None: computed from the accepted submissions
    ac_to_time_limit: float
    time_limit_to_tle: float
    time_resolution_s: float
    memory_mb: int | None
    validation_passes: int  # multi-pass: the most runs per test
    validator_flags: tuple[str, ...]  # legacy: the default or custom validator's flags
    custom_validation: bool | None  # legacy only: validation is custom; None: by folders
    # A file task's files (Polygon's input-file and output-file; the ICPC format
    # has none): the requests' input_file and output_file. None: stdin, stdout.
    input_file: str | None = None
    output_file: str | None = None

    @property
    def legacy(self) -> bool:
        return self.version.startswith(LEGACY)

    def file_task_fields(self) -> dict[str, str]:
        """The request fields of a file task: the files the package's programs read and write."""
        names = {"input_file": self.input_file, "output_file": self.output_file}
        return {field: name for field, name in names.items() if name is not None}


def read_metadata(root: Path, warnings: list[str]) -> Metadata:
    """Read ``root/problem.yaml``; unknown keys become ``warnings``."""
    path = root / "problem.yaml"
    data = read_yaml(path, required=True)
    version = str(data.get("problem_format_version", LEGACY))
    legacy = version.startswith(LEGACY)
    warnings += unknown_keys(path, data, LEGACY_KEYS if legacy else NEW_KEYS)
    limits = data.get("limits") or {}
    if not isinstance(limits, dict):
        raise MalformedPackage(path, "limits must be a mapping")
    warnings += unknown_keys(path, limits, LEGACY_LIMITS if legacy else NEW_LIMITS)
    types = _types(path, data.get("type", "pass-fail"))
    name = data.get("name", root.name)
    if isinstance(name, dict):
        name = name.get("en") or next(iter(name.values()), root.name)
    custom: bool | None = None
    if legacy:
        validation = str(data.get("validation", "default")).split()
        if not validation or validation[0] not in ("default", "custom"):
            raise MalformedPackage(path, f"validation must be default or custom, got {validation}")
        custom = validation[0] == "custom"
        types |= {"interactive"} if "interactive" in validation else set()
        multipliers = {"ac_to_time_limit": _number(path, limits, "time_multiplier", 5.0)}
        multipliers["time_limit_to_tle"] = _number(path, limits, "time_safety_margin", 2.0)
        time_limit = None
    else:
        given = limits.get("time_multipliers") or {}
        if not isinstance(given, dict):
            raise MalformedPackage(path, "limits.time_multipliers must be a mapping")
        multipliers = {
            "ac_to_time_limit": _number(path, given, "ac_to_time_limit", 2.0),
            "time_limit_to_tle": _number(path, given, "time_limit_to_tle", 1.5),
        }
        time_limit = _number(path, limits, "time_limit", None)
    flags = data.get("validator_flags", "")
    return Metadata(
        version=version,
        name=str(name),
        scoring="scoring" in types,
        interactive="interactive" in types,
        multi_pass="multi-pass" in types,
        time_limit_s=time_limit,
        ac_to_time_limit=multipliers["ac_to_time_limit"],
        time_limit_to_tle=multipliers["time_limit_to_tle"],
        time_resolution_s=_number(path, limits, "time_resolution", 1.0) or 1.0,
        memory_mb=int(_number(path, limits, "memory", None) or 0) or None,
        validation_passes=int(_number(path, limits, "validation_passes", 2)),
        validator_flags=tuple(str(flags).split()) if legacy else (),
        custom_validation=custom,
    )


def _types(path: Path, raw: Any) -> set[str]:
    types = set(raw.split() if isinstance(raw, str) else raw if isinstance(raw, list) else [])
    if not types or not types <= TYPES:
        raise MalformedPackage(path, f"type must be among {sorted(TYPES)}, got {raw!r}")
    if {"pass-fail", "scoring"} <= types:
        raise MalformedPackage(path, "type cannot be both pass-fail and scoring")
    if "submit-answer" in types:
        raise MalformedPackage(path, "submit-answer problems are not supported")
    return types


def _number(path: Path, data: dict[str, Any], key: str, default: float | None) -> Any:
    value = data.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise MalformedPackage(path, f"{key} must be a number, got {value!r}")
    if value <= 0:
        raise MalformedPackage(path, f"{key} must be above 0, got {value}")
    return float(value)
