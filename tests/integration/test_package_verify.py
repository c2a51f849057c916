"""``code-engine verify`` and ``judge`` on the team's test packages (tests/packages),
through the real daemon: every submission's verdict as its folder says."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGES = Path(__file__).resolve().parents[1] / "packages"
# The ICPC/Kattis packages (Polygon's are test_polygon_verify's).
NAMES = sorted(p.name for p in PACKAGES.iterdir() if (p / "problem.yaml").is_file())


def code_engine(daemon, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "service.cli", *args, "--nats", daemon.nats_url]
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("name", NAMES)
def test_every_submission_is_judged_as_its_folder_says(daemon, name):
    done = code_engine(daemon, "verify", str(PACKAGES / name), "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["inputs"]["problems"] == []
    assert all(not sub["problems"] for sub in report["submissions"]), report
    folders = {sub["folder"] for sub in report["submissions"]}
    assert folders == {p.name for p in (PACKAGES / name / "submissions").iterdir() if p.is_dir()}


def test_scores_add_up_through_nested_groups(daemon):
    done = code_engine(daemon, "verify", str(PACKAGES / "scoring_groups"), "--json")
    scores = {s["submission"]: s["score"] for s in json.loads(done.stdout)["submissions"]}
    assert scores == {"accepted/double.py": 100.0, "partial/small_only.py": 30.0}


def test_a_rejected_input_and_a_wrong_folder_are_mismatches(daemon, tmp_path):
    package = tmp_path / "passfail"
    shutil.copytree(PACKAGES / "passfail", package)
    (package / "data/secret/05.in").write_text("1 2 3\n")
    (package / "data/secret/05.ans").write_text("3\n")
    shutil.copy(package / "submissions/accepted/add.py", package / "submissions/wrong_answer/")
    done = code_engine(daemon, "verify", str(package), "--json")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert any("secret/05: rejected by validate.py" in p for p in report["inputs"]["problems"])
    mismatched = [s["submission"] for s in report["submissions"] if s["problems"]]
    assert "wrong_answer/add.py" in mismatched


def test_a_malformed_package_names_the_file(daemon, tmp_path):
    package = tmp_path / "broken"
    shutil.copytree(PACKAGES / "case_insensitive", package)
    (package / "problem.yaml").write_text("name: [unclosed\n")
    done = code_engine(daemon, "verify", str(package))
    assert done.returncode == 2
    assert f"{package / 'problem.yaml'}: not valid YAML" in done.stderr


def test_judge_a_zipped_package(daemon, tmp_path):
    archive = shutil.make_archive(str(tmp_path / "float_nan"), "zip", PACKAGES, "float_nan")
    submission = PACKAGES / "float_nan/submissions/wrong_answer/no_nan.py"
    done = code_engine(daemon, "judge", archive, str(submission), "--json")
    assert done.returncode == 0, done.stderr
    (result,) = json.loads(done.stdout)["submissions"]
    assert result["status"] == "wrong_answer"
    assert [t["status"] for t in result["tests"]] == ["accepted"] * 2 + ["wrong_answer"] + [
        "skipped"
    ] * 2, result


def test_a_package_sent_over_nats_is_verified(daemon, tmp_path):
    import base64
    import time

    from wire.packages import PACKAGES_SUBJECT

    command = [sys.executable, "-m", "service.cli", "serve-packages", "--nats", daemon.nats_url]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        archive = shutil.make_archive(str(tmp_path / "pkg"), "zip", PACKAGES, "custom_kattis")
        package = base64.b64encode(Path(archive).read_bytes()).decode()
        deadline = time.monotonic() + 60
        while True:  # until the service has subscribed
            try:
                report = send(daemon.nats_url, {"package": package, "id": "p1"}, PACKAGES_SUBJECT)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        assert (report["id"], report["error"]) == ("p1", "")
        assert report["package"] == "Split a number"
        assert all(not s["problems"] for s in report["submissions"]), report
        assert len(report["submissions"]) == 3
        broken = send(
            daemon.nats_url, {"package": base64.b64encode(b"no zip").decode()}, PACKAGES_SUBJECT
        )
        assert "not a directory and not a zip archive" in broken["error"]
        refused = send(daemon.nats_url, {"pakage": ""}, PACKAGES_SUBJECT)
        assert refused["error"].startswith("invalid request")
    finally:
        server.terminate()
        server.wait(timeout=10)


def send(url: str, request: dict, subject: str) -> dict:
    import asyncio

    import nats

    async def ask() -> dict:
        nc = await nats.connect(url)
        try:
            msg = await nc.request(subject, json.dumps(request).encode(), timeout=120)
        finally:
            await nc.close()
        return json.loads(msg.data)

    return asyncio.run(ask())
