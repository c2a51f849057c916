"""submissions/: each submission and what its folder (and submissions.yaml) expects of it.

A folder's default rule, as the format defines it: the verdicts every test
must have (``permitted``) and those at least one must have (``required``), in
Kattis's codes: AC, WA, TLE, RTE. ``submissions.yaml`` may replace a folder's
rule (its folder's name as the key) or add rules for the submissions a glob
matches, with ``permitted``, ``required`` and ``score``. Engine statuses map
onto the codes: memory_limit and output_limit are RTE as Kattis counts them;
checker_error and the like are judge errors, which no rule permits.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import MalformedPackage
from .source import read_yaml

ALL = frozenset({"AC", "WA", "TLE", "RTE"})
DEFAULT_RULES: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "accepted": (frozenset({"AC"}), ALL),
    "rejected": (ALL, frozenset({"RTE", "TLE", "WA"})),
    "wrong_answer": (frozenset({"AC", "WA"}), frozenset({"WA"})),
    "time_limit_exceeded": (frozenset({"AC", "TLE"}), frozenset({"TLE"})),
    "run_time_error": (frozenset({"AC", "RTE"}), frozenset({"RTE"})),
    "brute_force": (frozenset({"AC", "RTE", "TLE"}), frozenset({"RTE", "TLE"})),
}
CODES = {
    "accepted": "AC",
    "wrong_answer": "WA",
    "timeout": "TLE",
    "runtime_error": "RTE",
    "memory_limit": "RTE",
    "output_limit": "RTE",
}
RULE_KEYS = frozenset({"permitted", "required", "score"})
OTHER_KEYS = frozenset(
    {"language", "entrypoint", "authors", "model_solution", "message", "use_for_time_limit"}
)


def code(status: str) -> str:
    """The Kattis code of an engine status (JE for what is no verdict of the solution)."""
    return CODES.get(status, "CE" if status == "compile_error" else "JE")


@dataclass(slots=True)
class Rule:
    permitted: frozenset[str] = ALL
    required: frozenset[str] = ALL
    score: tuple[float, float] | None = None

    def problems(self, codes: list[str], score: float | None) -> list[str]:
        """Why ``codes`` (the judged tests' verdicts) and ``score`` break this rule."""
        found = []
        if bad := sorted(set(codes) - self.permitted):
            found.append(f"got {'/'.join(bad)}, permitted {'/'.join(sorted(self.permitted))}")
        if not set(codes) & self.required:
            found.append(f"no test got one of {'/'.join(sorted(self.required))}")
        if self.score is not None and score is not None:
            low, high = self.score
            if not low <= score <= high:
                found.append(f"score {score}, expected {low}..{high}")
        return found


@dataclass(slots=True)
class Submission:
    path: Path
    name: str  # relative to submissions/, e.g. "accepted/fast.py"
    folder: str
    rules: list[Rule] = field(default_factory=list)

    @property
    def sets_time_limit(self) -> bool:
        """An accepted one: the time limit is computed from it."""
        return self.folder == "accepted"

    @property
    def bounds_time_limit(self) -> bool:
        """It must time out: judged at the limit times time_limit_to_tle (the safety margin)."""
        return any(rule.required == frozenset({"TLE"}) for rule in self.rules)

    def problems(self, codes: list[str], score: float | None) -> list[str]:
        return [p for rule in self.rules for p in rule.problems(codes, score)]


def read_submissions(root: Path, warnings: list[str]) -> list[Submission]:
    folder = root / "submissions"
    if not folder.is_dir():
        raise MalformedPackage(folder, "missing: a package needs its submissions")
    config_path = folder / "submissions.yaml"
    config = read_yaml(config_path)
    found = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for entry in sorted(p for p in sub.iterdir() if not p.name.startswith(".")):
            name = entry.relative_to(folder).as_posix()
            found.append(
                Submission(
                    entry, name, sub.name, _rules(name, sub.name, config, config_path, warnings)
                )
            )
    if not any(s.folder == "accepted" for s in found):
        raise MalformedPackage(folder / "accepted", "missing: at least one accepted submission")
    for unruled in sorted({s.folder for s in found} - set(DEFAULT_RULES) - set(config)):
        warnings.append(f"{folder / unruled}: no rule for this folder; only judged")
    return found


def _rules(
    name: str, folder: str, config: dict[str, Any], path: Path, warnings: list[str]
) -> list[Rule]:
    rules = []
    base = DEFAULT_RULES.get(folder)
    override = config.get(folder)
    if base is not None or override is not None:
        permitted, required = base or (ALL, ALL)
        rules.append(_rule(path, folder, override or {}, Rule(permitted, required), warnings))
    for pattern, entry in config.items():
        if pattern != folder and (
            fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(folder, pattern)
        ):
            rules.append(_rule(path, pattern, entry, Rule(), warnings))
    return rules


def _rule(path: Path, key: str, entry: Any, rule: Rule, warnings: list[str]) -> Rule:
    if not isinstance(entry, dict):
        raise MalformedPackage(path, f"{key}: must be a mapping")
    for sub, value in entry.items():
        if sub in RULE_KEYS or sub in OTHER_KEYS:
            continue
        if isinstance(value, dict):
            warnings.append(f"{path}: {key}: rules for test group {sub!r} are not checked")
        else:
            warnings.append(f"{path}: {key}: unknown key {sub!r} ignored")
    for which in ("permitted", "required"):
        if which in entry:
            codes = entry[which]
            if not isinstance(codes, list) or not set(codes) <= ALL:
                raise MalformedPackage(path, f"{key}.{which} must be a list among {sorted(ALL)}")
            setattr(rule, which, frozenset(codes))
    if "score" in entry:
        score = entry["score"]
        if isinstance(score, int | float) and not isinstance(score, bool):
            rule.score = (float(score), float(score))
        elif isinstance(score, list) and len(score) == 2:
            rule.score = (float(score[0]), float(score[1]))
        else:
            raise MalformedPackage(path, f"{key}.score must be a number or [low, high]")
    return rule
