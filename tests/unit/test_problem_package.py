"""Problem packages read as the format says: problem.yaml in each version, data/ and its
groups, programs, what each folder expects, the time limit; malformed ones named."""

import shutil
import zipfile
from pathlib import Path

import pytest

from problem_package import MalformedPackage, read_package
from problem_package.expectations import code
from problem_package.judging import convention, points, requests_for, time_limit
from problem_package.package import default_validator_fields
from problem_package.programs import load_program
from problem_package.source import opened

PACKAGES = Path(__file__).resolve().parents[1] / "packages"


def test_each_version_is_read():
    legacy = read_package(PACKAGES / "scoring_groups")
    assert (legacy.meta.version, legacy.meta.scoring, legacy.meta.time_limit_s) == (
        "legacy",
        True,
        None,
    )
    assert legacy.meta.ac_to_time_limit == 5.0
    draft = read_package(PACKAGES / "float_nan")
    assert draft.meta.version == "2023-07-draft"
    assert draft.data.group("secret").output_validator_args == ("float_tolerance", "1e-6")
    current = read_package(PACKAGES / "interactive_kattis")
    assert (current.meta.interactive, current.meta.time_limit_s) == (True, 1.0)
    assert current.output_validator is not None


def test_nested_groups_and_their_points():
    package = read_package(PACKAGES / "scoring_groups")
    groups = {g.name: (g.parent, g.aggregation, g.accept_score) for g in package.data.groups}
    assert groups["secret/2-large/b-huge"] == ("secret/2-large", "min", 60.0)
    assert groups["secret/1-small"] == ("secret", "min", 20.0)
    by_name = {t.name: points(package, t) for t in package.data.tests}
    assert by_name["secret/2-large/a-medium/1"] == 10.0
    scored = read_package(PACKAGES / "testlib_points")
    assert {points(scored, t) for t in scored.data.tests} == {30.0}


def test_requests_follow_the_validator_and_the_groups():
    package = read_package(PACKAGES / "passfail")
    program = load_program(package.root / "submissions/accepted/add.py")
    pieces = requests_for(package, program, 1.0, 10_000)
    assert [len(tests) for tests, _ in pieces] == [2, 4]  # sample, secret
    request = pieces[0][1]
    assert (request["compare"], request["cpu_time_limit_ms"], request["timeout_ms"]) == (
        "icpc",
        1000,
        3000,
    )
    assert request["stop_on_first_failure"] is True
    kattis = read_package(PACKAGES / "custom_kattis")
    tool = requests_for(kattis, program, 1.0, 10_000)[0][1]["checker"]
    assert (tool["convention"], tool["args"]) == ("kattis", ["positive"])
    testlib = read_package(PACKAGES / "interactive_testlib")
    assert convention(testlib.output_validator) == "testlib"


def test_default_validator_arguments():
    assert default_validator_fields(("case_sensitive", "float_tolerance", "1e-4"), "x") == {
        "compare": "icpc",
        "case_sensitive": True,
        "float_tolerance": 1e-4,
    }
    with pytest.raises(MalformedPackage, match="unknown default validator argument 'fuzzy'"):
        default_validator_fields(("fuzzy",), "x")


@pytest.mark.parametrize(
    ("slowest_ms", "expected"), [(0, 1.0), (150, 1.0), (210, 2.0), (1000, 5.0)]
)
def test_the_time_limit_is_computed_as_the_format_does(slowest_ms, expected):
    legacy = read_package(PACKAGES / "case_insensitive")  # multiplier 5, resolution 1 s
    assert time_limit(legacy, slowest_ms) == expected
    assert time_limit(read_package(PACKAGES / "passfail"), 5000) == 1.0  # given


def test_statuses_map_to_kattis_codes():
    assert [code(s) for s in ("accepted", "timeout", "memory_limit", "checker_error")] == [
        "AC",
        "TLE",
        "RTE",
        "JE",
    ]


def test_folder_rules_and_submissions_yaml():
    package = read_package(PACKAGES / "testlib_points")
    rules = {s.name: s for s in package.submissions}
    assert rules["partial/least_first.py"].problems(["AC", "AC"], 60.0) == []
    assert rules["partial/least_first.py"].problems(["AC", "WA"], 70.0) == [
        "got WA, permitted AC",
        "score 70.0, expected 45.0..60.0",
    ]
    assert rules["wrong_answer/reverse.py"].problems(["AC"], 0.0) == ["no test got one of WA"]


def copy(tmp_path: Path, name: str) -> Path:
    return Path(shutil.copytree(PACKAGES / name, tmp_path / name))


@pytest.mark.parametrize(
    ("change", "named", "reason"),
    [
        (lambda p: (p / "problem.yaml").write_text("- a list\n"), "problem.yaml", "mapping"),
        (lambda p: (p / "problem.yaml").write_text("type: puzzle\n"), "problem.yaml", "type"),
        (lambda p: (p / "data/secret/1.ans").unlink(), "data/secret/1.in", "no answer file"),
        (lambda p: shutil.rmtree(p / "submissions/accepted"), "submissions/accepted", "missing"),
        (
            lambda p: (p / "data/secret/testdata.yaml").write_text("on_reject: maybe\n"),
            "data/secret/testdata.yaml",
            "on_reject",
        ),
        (lambda p: shutil.rmtree(p / "data/secret"), "data/secret", "missing"),
    ],
)
def test_a_malformed_package_names_its_file(tmp_path, change, named, reason):
    package = copy(tmp_path, "case_insensitive")
    change(package)
    with pytest.raises(MalformedPackage) as info:
        read_package(package)
    assert info.value.path == str(package / named)
    assert reason in info.value.reason


def test_unknown_keys_are_warnings(tmp_path):
    package = copy(tmp_path, "case_insensitive")
    (package / "problem.yaml").write_text("name: x\nsparkle: true\n")
    assert any("unknown key 'sparkle'" in w for w in read_package(package).warnings)


def test_a_zip_is_read_like_its_directory(tmp_path):
    archive = shutil.make_archive(str(tmp_path / "pkg"), "zip", PACKAGES, "custom_kattis")
    with opened(Path(archive)) as root:
        assert read_package(root).meta.name == "Split a number"


def test_a_zip_that_unpacks_past_the_bound_is_refused_before_anything_is_written(tmp_path):
    archive = tmp_path / "zeros.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("problem.yaml", "name: zeros\n")
        out.writestr("data/secret/big.in", b"\0" * (4 << 20))  # 4 MiB from a few kB
    assert archive.stat().st_size < 64 << 10
    with pytest.raises(MalformedPackage, match="more than the 1048576 allowed"):
        with opened(archive, max_bytes=1 << 20):
            pass
    with pytest.raises(MalformedPackage, match="more than 1 entries"):
        with opened(archive, max_members=1):
            pass
    with opened(archive) as root:  # within the default bounds
        assert (root / "data/secret/big.in").stat().st_size == 4 << 20


def test_a_corrupt_zip_is_a_malformed_package(tmp_path):
    archive = tmp_path / "broken.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("problem.yaml", "name: broken\n" * 1000)
    data = bytearray(archive.read_bytes())
    data[60:80] = b"\xff" * 20  # inside the member's compressed bytes
    archive.write_bytes(bytes(data))
    with pytest.raises(MalformedPackage, match="broken zip"):
        with opened(archive):
            pass


def test_an_oversized_problem_yaml_is_refused(tmp_path):
    package = copy(tmp_path, "case_insensitive")
    (package / "problem.yaml").write_text("name: x\n" + "# padding\n" * 200_000)
    with pytest.raises(MalformedPackage, match="larger than"):
        read_package(package)
