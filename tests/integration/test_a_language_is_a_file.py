"""Adding a language is adding a file: awk, defined in a temporary directory, end to end.

An image is built from that directory alone (CODE_ENGINE_LANGUAGES_DIR; its own
tag, removed afterwards), a daemon serves it, and clients learn it on
code-engine.languages and in $SRV.INFO. No Python is edited anywhere.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from service.testing.client import run_code
from service.testing.harness import ROOT, Daemon, nats_request
from service.testing.languages import AWK
from service.testing.nats_servers import NatsServer
from wire.subjects import LANGUAGES_SUBJECT


@pytest.fixture(scope="module")
def awk_engine(tmp_path_factory):
    directory = tmp_path_factory.mktemp("languages")
    (directory / "awk.toml").write_text(AWK)
    image = os.environ.get("CODE_ENGINE_IMAGE", "code-engine-worker:latest") + "-awk"
    env = {
        **os.environ,
        "CODE_ENGINE_LANGUAGES_DIR": str(directory),
        "CODE_ENGINE_LANGUAGES": "awk",
        "CODE_ENGINE_IMAGE": image,
    }
    build = subprocess.run(
        [sys.executable, "-m", "service", "build-image"], env=env, cwd=ROOT, capture_output=True
    )
    assert build.returncode == 0, build.stderr.decode(errors="replace")[-3000:]
    # NATS of its own: the session's daemons share the execute subjects' queue group.
    nats_server = NatsServer(directory)
    daemon = Daemon(
        nats_server.url, directory / "daemon.log", env={**env, "CODE_ENGINE_WORKERS": "1"}
    )
    try:
        yield daemon
    finally:
        assert daemon.stop() == 0
        nats_server.stop()
        subprocess.run(["docker", "image", "rm", image], capture_output=True)


def test_a_language_defined_in_a_file_runs(awk_engine):
    reply = run_code(
        awk_engine.nats_url,
        "mawk",
        'BEGIN { print "hello, world" }\n{ print NR": "$0 }',
        stdin="a\nb\n",
    )
    assert (reply["status"], reply["output"]) == ("ok", "hello, world\n1: a\n2: b\n"), reply


def test_a_language_not_served_is_refused_naming_those_that_are(awk_engine):
    reply = run_code(awk_engine.nats_url, "python", "print(1)")
    assert reply["status"] == "invalid_request"
    assert reply["error"].endswith("supported: awk"), reply


def test_clients_learn_the_served_languages_and_the_images_versions(awk_engine):
    answer = nats_request(awk_engine.nats_url, f"{LANGUAGES_SUBJECT}.{awk_engine.instance_id}")
    (awk,) = answer["languages"]
    assert awk["name"] == "awk" and awk["version"].startswith("mawk 1.3")
    assert awk["extensions"] == ["awk"] and awk["aliases"] == ["awk", "mawk"]
    info = nats_request(awk_engine.nats_url, f"$SRV.INFO.code-engine.{awk_engine.instance_id}")
    assert json.loads(info["metadata"]["languages"])[0]["version"] == awk["version"]
