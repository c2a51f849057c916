"""Codeforces Polygon packages: problem.xml read into the same :class:`Package` as the
ICPC/Kattis format's, so that judging and verifying are the same.

What is read: the name, the ``tests`` testset (its time and memory limits, its
tests from the files the package carries, their points and groups, the groups'
points policy and dependencies), the checker (a testlib checker compiled with
the package's ``testlib.h``, or a standard checker by name, compared by the
engine itself where one of its modes is equivalent), the interactor, the
validators (testlib's: exit 0 on a valid input) and the solutions with their
tags, as the expectations of ``code-engine verify``.

What is refused, with the file named: a test whose input is not in the package
(a generated test: generators are not run here), a missing answer, named input
or output files (:func:`refuse_named_files`), a checker that is neither a
testlib program nor a standard checker the engine compares itself.
"""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree.ElementTree import Element

from service.languages import guess_from_filename

from .errors import MalformedPackage
from .expectations import ALL, Rule, Submission
from .metadata import Metadata
from .package import Package
from .polygon_xml import child, integer, number, read_xml
from .programs import MAX_PROGRAM_BYTES, Program
from .testdata import Group, Test, TestData

TESTSET = "tests"
# Standard checkers by name, where one of the engine's compare modes judges alike.
STANDARD_CHECKERS: dict[str, dict[str, object]] = {
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
_PATTERN = re.compile(r"[^%]*%0?[1-9]?d[^%]*")
_HEADERS = (".h", ".hpp")


def refuse_named_files(root: Path, judging: Element) -> None:
    """Named input and output files (``input-file``/``output-file``) are refused for now:
    the request protocol reads stdin and writes stdout only."""
    named = [judging.get(key) for key in ("input-file", "output-file") if judging.get(key)]
    if named:
        raise MalformedPackage(
            root / "problem.xml",
            f"file input/output not supported yet (the problem reads or writes {named})",
        )


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
    refuse_named_files(root, judging)
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
    headers = _headers(root, problem)
    data, scoring = _testdata(root, testset, interactive)
    checker, compare = _checker(root, assets, headers, interactive, warnings)
    if interactor_element is not None:
        checker = _tool(root, child(interactor_element, "source", xml), headers, "interactor")
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
    )
    return Package(
        root=root,
        meta=meta,
        data=data,
        output_validator=checker,
        input_validators=tuple(validators),
        submissions=tuple(_solutions(root, assets, warnings)),
        warnings=tuple(warnings),
        compare=compare,
        valid_input_exit=0,
    )


def _name(problem: Element, root: Path) -> str:
    names = problem.findall("names/name")
    english = [n for n in names if n.get("language") == "english"]
    for name in (*english, *names):
        if name.get("value"):
            return str(name.get("value"))
    return problem.get("short-name") or root.name


def _inside(root: Path, relative: str, where: Path) -> Path:
    """``root/relative``, refused when it leads outside the package."""
    path = root / relative
    if not relative or not path.resolve().is_relative_to(root.resolve()):
        raise MalformedPackage(where, f"path {relative[:80]!r} leads outside the package")
    return path


def _headers(root: Path, problem: Element) -> tuple[tuple[str, bytes], ...]:
    """The headers a checker, interactor or validator is compiled with: testlib.h and the
    package's other header resources, each under its own name."""
    xml = root / "problem.xml"
    paths = [
        _inside(root, str(f.get("path", "")), xml) for f in problem.findall("files/resources/file")
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
    path = _inside(root, str(source.get("path", "")), xml)
    if not path.is_file():
        raise MalformedPackage(path, f"missing: the {what}'s source")
    language = guess_from_filename(path.name)
    if language is None:
        raise MalformedPackage(path, f"cannot tell the {what}'s language from the extension")
    if language.name in ("cpp", "c") and "testlib.h" not in dict(headers):
        raise MalformedPackage(root / "files" / "testlib.h", f"missing: the {what} needs it")
    files = tuple((n, c) for n, c in headers if n != path.name) if language.name == "cpp" else ()
    program = Program(path, language.name, path.read_bytes(), files)
    if len(program.code) + sum(len(c) for _, c in files) > MAX_PROGRAM_BYTES:
        raise MalformedPackage(path, f"larger than {MAX_PROGRAM_BYTES} bytes with its headers")
    return program


def _checker(
    root: Path,
    assets: Element,
    headers: tuple[tuple[str, bytes], ...],
    interactive: bool,
    warnings: list[str],
) -> tuple[Program | None, dict[str, object] | None]:
    """The checker as a program, or a standard one as the engine's comparison."""
    xml = root / "problem.xml"
    element = assets.find("checker")
    if interactive:
        if element is not None:
            warnings.append(
                f"{xml}: the checker is not run on an interactive problem: "
                "the interactor's verdict is final"
            )
        return None, None
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


def _file_name(pattern: str, index: int, xml: Path, tag: str) -> str:
    if not _PATTERN.fullmatch(pattern):
        raise MalformedPackage(xml, f"<{tag}> must hold one %d or %0Nd, got {pattern[:80]!r}")
    return pattern % index


def _testdata(root: Path, testset: Element, interactive: bool) -> tuple[TestData, bool]:
    """The testset's tests and groups, and whether the problem is scored (any points)."""
    xml = root / "problem.xml"
    count = integer(testset, "test-count", xml)
    inputs = (child(testset, "input-path-pattern", xml).text or "").strip()
    answers = (child(testset, "answer-path-pattern", xml).text or "").strip()
    entries = testset.findall("tests/test")
    if len(entries) != count:
        raise MalformedPackage(xml, f"test-count is {count} but <tests> lists {len(entries)}")
    groups = _groups(testset, entries, xml)
    scoring = any(e.get("points") for e in entries) or any(
        e.get("points") for e in testset.findall("groups/group")
    )
    tests = []
    for index, entry in enumerate(entries, 1):
        input_name = _file_name(inputs, index, xml, "input-path-pattern")
        input_path = _inside(root, input_name, xml)
        answer_path = _inside(root, _file_name(answers, index, xml, "answer-path-pattern"), xml)
        if not input_path.is_file():
            if entry.get("method") == "generated":
                raise MalformedPackage(
                    input_path,
                    f"test {index} is generated ({entry.get('cmd', '')!r}) and its file is not "
                    "in the package: generators are not run; export the full package, "
                    "which carries the generated tests",
                )
            raise MalformedPackage(input_path, f"missing: test {index}'s input")
        if answer_path.is_file():
            answer = answer_path.read_bytes()
        elif interactive:
            answer = b""
        else:
            raise MalformedPackage(
                answer_path,
                f"missing: test {index}'s answer (answers are not generated from the main "
                "solution here; export the full package, which carries them)",
            )
        group = entry.get("group")
        points = number(entry, "points", xml)
        tests.append(
            Test(
                name=input_name,
                group=f"{TESTSET}/{group}" if group else TESTSET,
                input=input_path.read_bytes(),
                answer=answer,
                points=points if points is not None or not scoring else 0.0,
            )
        )
    return TestData(tuple(groups.values()), tuple(_shared(testset, tests, xml)), ()), scoring


def _groups(testset: Element, entries: list[Element], xml: Path) -> dict[str, Group]:
    """The testset as the top group, holding every Polygon group: complete-group ones
    pass-fail (and stopping at a rejected test), each-test ones summed."""
    top = Group(TESTSET, None, "sum", False, None, 1.0, (), ())
    groups = {TESTSET: top}
    declared = {g.get("name", ""): g for g in testset.findall("groups/group")}
    named = [e.get("group", "") for e in entries if e.get("group")]
    for name in [*declared, *named]:
        if f"{TESTSET}/{name}" in groups:
            continue
        element = declared.get(name)
        policy = element.get("points-policy", "complete-group") if element is not None else None
        if policy not in (None, "complete-group", "each-test"):
            raise MalformedPackage(xml, f"group {name!r}: unknown points-policy {policy!r}")
        whole = policy in (None, "complete-group")
        requires = [
            d.get("group", "")
            for d in (element.findall("dependencies/dependency") if element is not None else [])
        ]
        for needed in requires:
            if needed not in declared and needed not in named:
                raise MalformedPackage(xml, f"group {name!r} depends on unknown group {needed!r}")
        groups[f"{TESTSET}/{name}"] = Group(
            name=f"{TESTSET}/{name}",
            parent=TESTSET,
            aggregation="pass-fail" if whole else "sum",
            on_reject_break=whole,
            max_score=None,
            accept_score=1.0,
            output_validator_args=(),
            input_validator_args=(),
            requires=tuple(f"{TESTSET}/{n}" for n in requires),
        )
    return groups


def _shared(testset: Element, tests: list[Test], xml: Path) -> list[Test]:
    """Tests of a group that gives points as a whole and none to its tests: its points
    shared among them."""
    whole = {
        f"{TESTSET}/{g.get('name', '')}": number(g, "points", xml)
        for g in testset.findall("groups/group")
    }
    shared = []
    for test in tests:
        members = [t for t in tests if t.group == test.group]
        given = whole.get(test.group)
        if given is not None and all(not t.points for t in members):
            test = Test(test.name, test.group, test.input, test.answer, given / len(members))
        shared.append(test)
    return shared


def _solutions(root: Path, assets: Element, warnings: list[str]) -> list[Submission]:
    xml = root / "problem.xml"
    found = []
    for element in assets.findall("solutions/solution"):
        source = child(element, "source", xml)
        relative = str(source.get("path", ""))
        path = _inside(root, relative, xml)
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
