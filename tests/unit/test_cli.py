"""The command line's user errors: one clear line on stderr, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.cli import main
from service.testing.nats_servers import free_port


def one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "hello.py"
    path.write_text("print(1)\n")
    return path


def test_run_of_a_missing_file(capsys, tmp_path):
    assert main(["run", str(tmp_path / "nope.py")]) == 125
    line = one_line(capsys)
    assert (
        line
        == f"code-engine: cannot read the source file {tmp_path}/nope.py: No such file or directory"
    )


def test_run_of_a_directory(capsys, tmp_path):
    (tmp_path / "dir.py").mkdir()
    assert main(["run", str(tmp_path / "dir.py")]) == 125
    assert one_line(capsys).endswith("dir.py: Is a directory")


def test_run_with_a_missing_stdin_file(capsys, source, tmp_path):
    assert main(["run", str(source), "--stdin", str(tmp_path / "in.txt")]) == 125
    assert "cannot read the --stdin file" in one_line(capsys)


def test_run_with_an_unknown_language(capsys, source):
    assert main(["run", str(source), "--lang", "cobol"]) == 125
    line = one_line(capsys)
    assert line.startswith("code-engine: unknown language 'cobol'; supported: ")
    assert "python" in line.split("supported: ")[1].split(", ")


def test_run_of_a_file_whose_language_cannot_be_guessed(capsys, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("x")
    assert main(["run", str(path)]) == 125
    assert "cannot tell the language of" in one_line(capsys)


def test_run_when_nats_does_not_answer(capsys, source):
    url = f"nats://127.0.0.1:{free_port()}"
    assert main(["run", str(source), "--nats", url]) == 125
    assert one_line(capsys) == (
        f"code-engine: cannot connect to NATS at {url}: "
        "connection refused (is nats-server running there?)"
    )


def test_run_with_an_unknown_nats_host(capsys, source):
    assert main(["run", str(source), "--nats", "nats://no-such-host.invalid:4222"]) == 125
    assert "unknown host" in one_line(capsys)


def test_serve_with_a_bad_setting(capsys, monkeypatch):
    monkeypatch.setenv("CODE_ENGINE_WORKERS", "many")
    assert main(["serve"]) == 1
    assert one_line(capsys) == "code-engine: CODE_ENGINE_WORKERS='many' is not an integer"


def test_serve_with_a_bad_metrics_address(capsys, monkeypatch):
    monkeypatch.setenv("CODE_ENGINE_METRICS_ADDR", "localhost")
    assert main(["serve"]) == 1
    assert "CODE_ENGINE_METRICS_ADDR must be host:port" in one_line(capsys)


def test_serve_and_build_image_when_docker_does_not_answer(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/docker.sock")
    monkeypatch.setenv("NATSURL", f"nats://127.0.0.1:{free_port()}")
    assert main(["serve"]) == 1
    assert one_line(capsys).startswith("code-engine: Docker daemon does not answer")
    assert main(["build-image"]) == 1
    assert "cannot talk to the Docker daemon" in one_line(capsys)


def test_a_bad_docker_host_is_one_line(capsys, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "tcp://10.0.0.1:2375")
    assert main(["build-image"]) == 1
    assert (
        one_line(capsys)
        == "code-engine: DOCKER_HOST must be unix:///path, got 'tcp://10.0.0.1:2375'"
    )


def test_run_with_a_url_that_is_not_nats(capsys, source):
    assert main(["run", str(source), "--nats", "http://127.0.0.1:4222"]) == 125
    assert one_line(capsys) == (
        "code-engine: NATSURL: 'http://127.0.0.1:4222' is not a NATS server URL "
        "(nats, tls, ws, wss)"
    )
