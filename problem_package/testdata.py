"""data/: the test cases and their groups, with each group's settings.

``data/sample`` and ``data/secret`` are groups; every directory below
``secret`` is a group nested in its parent. A group's settings come from its
``testdata.yaml`` (legacy, 2023-07) or ``test_group.yaml`` (2025-09); the
validators' arguments are inherited from the nearest ancestor that sets them.
Test cases are ``NAME.in`` with ``NAME.ans`` beside it, in lexicographic
order; ``data/invalid_input/*.in`` are inputs the input validators must reject.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .errors import MalformedPackage
from .metadata import Metadata
from .source import read_yaml, unknown_keys

LEGACY_KEYS = frozenset(
    {"on_reject", "grading", "grader_flags", "input_validator_flags", "output_validator_flags"}
    | {"accept_score", "reject_score", "range"}
)
NEW_KEYS = frozenset(
    {"max_score", "score_aggregation", "static_validation_score", "require_pass", "args"}
    | {"input_validator_args", "static_validator_args", "output_validator_args", "scoring"}
    | {"input_visualizer_args", "output_visualizer_args", "full_feedback", "static_validation"}
)
AGGREGATIONS = frozenset({"sum", "min", "pass-fail"})


@dataclass(frozen=True, slots=True)
class Group:
    """A test data group: ``sample``, ``secret``, or a directory below ``secret``."""

    name: str  # its path under data/, e.g. "secret/group1"
    parent: str | None
    aggregation: str  # sum, min or pass-fail
    on_reject_break: bool
    max_score: float | None  # None: unbounded (or not set)
    accept_score: float  # legacy: what an accepted test scores
    output_validator_args: tuple[str, ...]
    input_validator_args: tuple[str, ...]
    requires: tuple[str, ...] = ()  # Polygon: groups that must be all accepted for it to score


@dataclass(frozen=True, slots=True)
class Test:
    name: str  # its path under data/ without .in, e.g. "secret/group1/03-large"
    group: str
    input: bytes
    answer: bytes
    points: float | None = None  # Polygon: the test's own points; None: from its group


@dataclass(frozen=True, slots=True)
class TestData:
    groups: tuple[Group, ...]
    tests: tuple[Test, ...]
    invalid_inputs: tuple[Test, ...]

    def group(self, name: str) -> Group:
        return next(group for group in self.groups if group.name == name)


def read_testdata(root: Path, meta: Metadata, warnings: list[str]) -> TestData:
    data = root / "data"
    if not (data / "secret").is_dir():
        raise MalformedPackage(data / "secret", "missing: a package needs secret test data")
    groups: list[Group] = []
    tests: list[Test] = []
    top = _settings(data, None, meta, warnings, "data")
    for name in ("sample", "secret"):
        if (data / name).is_dir():
            _walk(data, data / name, top, meta, groups, tests, warnings)
    invalid: list[Test] = []
    if (data / "invalid_input").is_dir():
        folder = data / "invalid_input"
        for path in sorted(folder.glob("*.in")):
            name = f"invalid_input/{path.stem}"
            invalid.append(Test(name, "invalid_input", path.read_bytes(), b""))
    if not any(test.group.startswith("secret") for test in tests):
        raise MalformedPackage(data / "secret", "holds no test case (NAME.in with NAME.ans)")
    return TestData(tuple(groups), tuple(tests), tuple(invalid))


def _walk(
    data: Path,
    folder: Path,
    inherited: Group,
    meta: Metadata,
    groups: list[Group],
    tests: list[Test],
    warnings: list[str],
) -> None:
    name = folder.relative_to(data).as_posix()
    group = _settings(folder, inherited, meta, warnings, name)
    groups.append(group)
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir() and not entry.name.endswith(".files"):
            _walk(data, entry, group, meta, groups, tests, warnings)
        elif entry.suffix == ".in" and entry.is_file():
            answer = entry.with_suffix(".ans")
            if not answer.is_file():
                raise MalformedPackage(entry, f"has no answer file {answer.name}")
            test_name = entry.relative_to(data).with_suffix("").as_posix()
            tests.append(Test(test_name, name, entry.read_bytes(), answer.read_bytes()))


def _settings(
    folder: Path, inherited: Group | None, meta: Metadata, warnings: list[str], name: str
) -> Group:
    path = folder / ("testdata.yaml" if meta.legacy else "test_group.yaml")
    if not path.exists() and not meta.legacy:
        path = folder / "testdata.yaml"  # the 2023-07 draft's name
    config = read_yaml(path)
    warnings += unknown_keys(path, config, LEGACY_KEYS if meta.legacy else NEW_KEYS)
    parent = inherited.name if inherited is not None and inherited.name != "data" else None
    base = inherited or Group("data", None, "sum", True, None, 1.0, meta.validator_flags, ())
    if meta.legacy:
        return _legacy(path, config, replace(base, name=name, parent=parent), warnings)
    return _new(path, config, replace(base, name=name, parent=parent), name)


def _legacy(path: Path, config: dict[str, Any], group: Group, warnings: list[str]) -> Group:
    on_reject = config.get("on_reject", "break")
    if on_reject not in ("break", "continue"):
        raise MalformedPackage(path, f"on_reject must be break or continue, got {on_reject!r}")
    flags = str(config.get("grader_flags", "")).split()
    aggregation = "min" if "min" in flags else "sum"
    for flag in flags:
        if flag not in ("min", "sum", "ignore_sample"):
            warnings.append(f"{path}: grader flag {flag!r} not supported, ignored")
    accept = config.get("accept_score", group.accept_score)
    if not isinstance(accept, int | float) or isinstance(accept, bool) or accept < 0:
        raise MalformedPackage(path, f"accept_score must be a number of at least 0, got {accept}")
    return replace(
        group,
        aggregation=aggregation,
        on_reject_break=on_reject == "break",
        accept_score=float(accept),
        output_validator_args=_args(
            path, config, "output_validator_flags", group.output_validator_args
        ),
        input_validator_args=_args(
            path, config, "input_validator_flags", group.input_validator_args
        ),
    )


def _new(path: Path, config: dict[str, Any], group: Group, name: str) -> Group:
    default = "sum" if name == "secret" else "pass-fail"
    aggregation = config.get("score_aggregation", default)
    if aggregation not in AGGREGATIONS:
        raise MalformedPackage(path, f"score_aggregation must be one of {sorted(AGGREGATIONS)}")
    most = config.get("max_score", 100 if name == "secret" else "unbounded")
    if most != "unbounded" and (isinstance(most, bool) or not isinstance(most, int | float)):
        raise MalformedPackage(path, f"max_score must be a number or unbounded, got {most!r}")
    return replace(
        group,
        aggregation=aggregation,
        on_reject_break=False,
        max_score=None if most == "unbounded" else float(most),
        output_validator_args=_args(
            path, config, "output_validator_args", group.output_validator_args
        ),
        input_validator_args=_args(
            path, config, "input_validator_args", group.input_validator_args
        ),
    )


def _args(
    path: Path, config: dict[str, Any], key: str, inherited: tuple[str, ...]
) -> tuple[str, ...]:
    value = config.get(key)
    if value is None:
        return inherited
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, list) and all(isinstance(item, str | int | float) for item in value):
        return tuple(str(item) for item in value)
    raise MalformedPackage(path, f"{key} must be a string or a list of strings")
