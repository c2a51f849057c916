"""Codeforces Polygon packages: problem.xml read into the same :class:`Package` as the
ICPC/Kattis format's, so that judging and verifying are the same.

What is read: the name, the ``tests`` testset (its time and memory limits; its
tests, groups and points: :mod:`.polygon_tests`), the checker (a testlib
checker compiled with the package's ``testlib.h`` and header resources, or a
standard checker by name, compared by the engine itself where one of its modes
is equivalent), the interactor, the validators (testlib's: exit 0 on a valid
input), the generators (``files/executables``, run in the sandbox for the
generated tests the package does not carry), the solutions with their tags,
as the expectations of ``code-engine verify``, and named input and output
files (a file task: :func:`named_files`).

What is refused, with the file named: named files in an interactive problem,
a checker that is neither a testlib program nor
a standard checker the engine compares itself, a missing manual test, a
generated one whose executable is not listed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

from service.languages import guess_from_filename

from .errors import MalformedPackage
from .expectations import ALL, Rule, Submission
from .metadata import Metadata
from .package import Package
from .polygon_tests import TESTSET, Testset, read_testset
from .polygon_xml import child, inside, integer, read_xml
from .programs import MAX_PROGRAM_BYTES, Program, load_program

# Standard checkers by name, where one of the engine's compare modes judges alike.
STANDARD_CHECKERS: dict[str, dict[str, Any]] = {
    "wcmp": {"compare": "tokens"},  # tokens, compared exactly
    "ncmp": {"compare": "tokens"},  # signed integers, token by token
    "hcmp": {"compare": "tokens"},  # huge integers, token by token
    "rcmp4": {"compare": "float", "float_tolerance": 1e-4},
    "rcmp6": {"compare": "float", "float_tolerance": 1e-6},
    "rcmp9": {"compare": "float", "float_tolerance": 1e-9},
    "yesno": {"compare": "icpc"},  # YES or NO, in any case
    "nyesno": {"compare": "icpc"},  # a sequence of them
}
# A solution's tag: the verdicts every test may have, and those one test must have.
TAG_RULES: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "main": (frozenset({"AC"}), ALL),
    "accepted": (frozenset({"AC"}), ALL),
    "rejected": (ALL, frozenset({"WA", "TLE", "RTE"})),
    "wrong-answer": (frozenset({"AC", "WA"}), frozenset({"WA"})),
    "presentation-error": (frozenset({"AC", "WA"}), frozenset({"WA"})),
    "time-limit-exceeded": (frozenset({"AC", "TLE"}), frozenset({"TLE"})),
    "time-limit-exceeded-or-accepted": (frozenset({"AC", "TLE"}), frozenset({"AC", "TLE"})),
    "memory-limit-exceeded": (frozenset({"AC", "RTE"}), frozenset({"RTE"})),
    "time-limit-exceeded-or-memory-limit-exceeded": (
        frozenset({"AC", "TLE", "RTE"}),
        frozenset({"TLE", "RTE"}),
    ),
}
_HEADERS = (".h", ".hpp")


def named_files(root: Path, judging: Element, interactive: bool) -> tuple[str | None, str | None]:
    """The files the problem's programs read and write (``input-file``, ``output-file``),
    None for stdin and stdout: a file task's ``input_file`` and ``output_file``.

    Raises:
        MalformedPackage: named files in an interactive problem (its solution talks to
            the interactor over stdin and stdout).
    """
    input_file = judging.get("input-file") or None
    output_file = judging.get("output-file") or None
    if interactive and (input_file or output_file):
        raise MalformedPackage(
            root / "problem.xml", "an interactive problem cannot read or write named files"
        )
    return input_file, output_file


def read_polygon(root: Path) -> Package:
    """The Polygon package at ``root`` (a directory holding problem.xml).

    Raises:
        MalformedPackage: naming the file that breaks the format or asks for
            what is not supported.
    """
    xml = root / "problem.xml"
    problem = read_xml(xml)
    if problem.tag != "problem":
        raise MalformedPackage(xml, f"the root element is <{problem.tag}>, not <problem>")
    warnings: list[str] = []
    judging = child(problem, "judging", xml)
    if judging.get("treat-points-from-checker-as-percent") == "true":
        warnings.append(f"{xml}: points from the checker are taken as points, not as a percentage")
    testsets = judging.findall("testset")
    testset = next((t for t in testsets if t.get("name") == TESTSET), None)
    if testset is None:
        raise MalformedPackage(xml, f"no <testset name={TESTSET!r}>")
    for other in testsets:
        if other is not testset:
            warnings.append(f"{xml}: testset {other.get('name')!r} is not judged")
    assets = child(problem, "assets", xml)
    interactor_element = assets.find("interactor")
    interactive = interactor_element is not None
    input_file, output_file = named_files(root, judging, interactive)
    headers = _headers(root, problem)
    solutions = _solutions(root, assets, warnings)
    # The main solution makes the answers the package does not carry.
    main = min(
        (s for s in solutions if s.folder in ("main", "accepted")),
        key=lambda s: s.folder != "main",
    )
    executables = {
        Path(str(source.get("path", ""))).stem: source
        for source in problem.findall("files/executables/executable/source")
    }

    def generator(name: str) -> Program | None:
        source = executables.get(name)
        return None if source is None else _tool(root, source, headers, "generator")

    data, scoring, missing = read_testset(
        testset, Testset(root, load_program(main.path), generator)
    )
    checker, compare = _checker(root, assets, headers)
    after: dict[str, Any] | None = None
    if interactor_element is not None:
        # The checker judges what the interactor wrote, once it accepted.
        after = {"checker": {**checker.wire(), "convention": "testlib"}} if checker else compare
        checker, compare = (
            _tool(root, child(interactor_element, "source", xml), headers, "interactor"),
            None,
        )
    validators = [
        _tool(root, child(element, "source", xml), headers, "validator")
        for element in (*assets.findall("validators/validator"), *assets.findall("validator"))
    ]
    if not validators:
        warnings.append(f"{xml}: no validator; inputs not checked")
    meta = Metadata(
        version="polygon",
        name=_name(problem, root),
        scoring=scoring,
        interactive=interactive,
        multi_pass=False,
        time_limit_s=integer(testset, "time-limit", xml) / 1000,
        ac_to_time_limit=1.0,
        time_limit_to_tle=1.0,  # a time-limit-exceeded solution times out at the limit itself
        time_resolution_s=0.001,
        memory_mb=max(1, integer(testset, "memory-limit", xml) // (1024 * 1024)),
        validation_passes=1,
        validator_flags=(),
        custom_validation=None,
        input_file=input_file,
        output_file=output_file,
    )
    return Package(
        root=root,
        meta=meta,
        data=data,
        output_validator=checker,
        input_validators=tuple(validators),
        submissions=tuple(solutions),
        warnings=tuple(warnings),
        compare=compare,
        valid_input_exit=0,
        missing=missing,
        convention="testlib",
        interaction_check=after,
    )


def _name(problem: Element, root: Path) -> str:
    names = problem.findall("names/name")
    english = [n for n in names if n.get("language") == "english"]
    for name in (*english, *names):
        if name.get("value"):
            return str(name.get("value"))
    return problem.get("short-name") or root.name


def _headers(root: Path, problem: Element) -> tuple[tuple[str, bytes], ...]:
    """The headers a checker, interactor or validator is compiled with: testlib.h and the
    package's other header resources, each under its own name."""
    xml = root / "problem.xml"
    paths = [
        inside(root, str(f.get("path", "")), xml) for f in problem.findall("files/resources/file")
    ]
    found: dict[str, Path] = {p.name: p for p in paths if p.suffix in _HEADERS}
    if "testlib.h" not in found and (root / "files" / "testlib.h").is_file():
        found["testlib.h"] = root / "files" / "testlib.h"
    for path in found.values():
        if not path.is_file():
            raise MalformedPackage(path, "missing: a resource problem.xml lists")
    return tuple((name, path.read_bytes()) for name, path in sorted(found.items()))


def _tool(
    root: Path, source: Element, headers: tuple[tuple[str, bytes], ...], what: str
) -> Program:
    """A checker, interactor or validator: its source and, compiled with it, the headers."""
    xml = root / "problem.xml"
    path = inside(root, str(source.get("path", "")), xml)
    if not path.is_file():
        raise MalformedPackage(path, f"missing: the {what}'s source")
    language = guess_from_filename(path.name)
    if language is None:
        raise MalformedPackage(path, f"cannot tell the {what}'s language from the extension")
    if language.name == "cpp" and "testlib.h" not in dict(headers):
        raise MalformedPackage(root / "files" / "testlib.h", f"missing: the {what} needs it")
    files = tuple((n, c) for n, c in headers if n != path.name) if language.name == "cpp" else ()
    program = Program(path, language.name, path.read_bytes(), files)
    if len(program.code) + sum(len(c) for _, c in files) > MAX_PROGRAM_BYTES:
        raise MalformedPackage(path, f"larger than {MAX_PROGRAM_BYTES} bytes with its headers")
    return program


def _checker(
    root: Path, assets: Element, headers: tuple[tuple[str, bytes], ...]
) -> tuple[Program | None, dict[str, Any] | None]:
    """The checker as a program, or a standard one as the engine's comparison."""
    xml = root / "problem.xml"
    element = assets.find("checker")
    if element is None:
        raise MalformedPackage(xml, "<assets> has no <checker>")
    name = element.get("name", "")
    standard = re.fullmatch(r"std::(\w+)\.cpp", name)
    if standard and standard.group(1) in STANDARD_CHECKERS:
        return None, dict(STANDARD_CHECKERS[standard.group(1)])
    source = element.find("source")
    if source is None:
        known = ", ".join(f"std::{n}.cpp" for n in STANDARD_CHECKERS)
        raise MalformedPackage(
            xml,
            f"checker {name!r} has no <source>, and only these standard checkers are "
            f"compared without one: {known}",
        )
    kind = element.get("type", "testlib")
    if kind != "testlib":
        raise MalformedPackage(xml, f"checker type {kind!r} is not supported (testlib only)")
    return _tool(root, source, headers, "checker"), None


def _solutions(root: Path, assets: Element, warnings: list[str]) -> list[Submission]:
    xml = root / "problem.xml"
    found = []
    for element in assets.findall("solutions/solution"):
        source = child(element, "source", xml)
        relative = str(source.get("path", ""))
        path = inside(root, relative, xml)
        if not path.is_file():
            raise MalformedPackage(path, "missing: a solution problem.xml lists")
        tag = element.get("tag", "")
        rules = []
        if tag in TAG_RULES:
            permitted, required = TAG_RULES[tag]
            rules.append(Rule(permitted, required))
        else:
            warnings.append(f"{xml}: solution {relative}: tag {tag!r} has no rule; only judged")
        found.append(Submission(path, relative, tag, rules))
    if not any(s.folder in ("main", "accepted") for s in found):
        raise MalformedPackage(xml, "no solution tagged main or accepted")
    return found
