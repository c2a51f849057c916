"""The spine end to end: NATS request in, real hardened container, reply out."""

from __future__ import annotations

import base64
import json

import pytest

from engine_client import build_request
from service.testing.client import run_code, send, send_many
from service.testing.harness import instance_containers

HELLO = {
    "python": 'print("hello from python")',
    "javascript": 'console.log("hello from javascript")',
    "go": 'package main\nimport "fmt"\nfunc main() { fmt.Println("hello from go") }\n',
    "cpp": '#include <iostream>\nint main() { std::cout << "hello from cpp" << std::endl; }\n',
}
ALIASES = {
    "python": ["py", "PYTHON"],
    "javascript": ["js", "node"],
    "go": ["golang"],
    "cpp": ["c++"],
}


@pytest.mark.smoke
@pytest.mark.parametrize("language", sorted(HELLO))
def test_hello_world_in_every_language(daemon, language):
    reply = run_code(daemon.nats_url, language, HELLO[language])
    assert reply["status"] == "ok", reply
    assert reply["success"] is True
    assert reply["output"] == f"hello from {language}\n"
    assert reply["exit_code"] == 0
    assert reply["signal"] is None
    assert reply["language"] == language
    assert reply["execution_time_ms"] > 0
    assert reply["memory_kb"] > 0
    assert (reply["compile_time_ms"] is not None) == (language in ("go", "cpp"))


@pytest.mark.parametrize(
    ("language", "alias"), [(lang, alias) for lang, aliases in ALIASES.items() for alias in aliases]
)
def test_aliases(daemon, language, alias):
    reply = run_code(daemon.nats_url, alias, HELLO[language])
    assert reply["status"] == "ok", reply
    assert reply["language"] == language


@pytest.mark.smoke
def test_stdin_and_args(daemon):
    code = "import sys\nprint(sys.stdin.read().upper(), end='')\nprint(sys.argv[1:])"
    reply = run_code(daemon.nats_url, "python", code, stdin="shout\n", args=["a b", "c"])
    assert reply["output"] == "SHOUT\n['a b', 'c']\n"


def test_id_is_echoed(daemon):
    reply = run_code(daemon.nats_url, "js", "console.log(1)", request_id="my-id-7")
    assert reply["id"] == "my-id-7"


@pytest.mark.smoke
@pytest.mark.parametrize(
    ("language", "code", "needle"),
    [
        ("go", "package main\nfunc main() { undefined_thing() }\n", "undefined"),
        ("cpp", "int main() { return missing; }\n", "missing"),
    ],
)
def test_compile_errors(daemon, language, code, needle):
    reply = run_code(daemon.nats_url, language, code)
    assert reply["status"] == "compile_error", reply
    assert needle in reply["error"]
    assert reply["success"] is False
    assert reply["compile_time_ms"] > 0


COMPETITIVE_CPP = """#include <bits/stdc++.h>
using namespace std;
int main() {
    vector<long long> v{5, 3, 9, 1};
    sort(v.begin(), v.end());
    map<int, string> m{{1, "one"}};
    cout << v.front() << ' ' << accumulate(v.begin(), v.end(), 0LL) << ' ' << m[1] << endl;
}
"""


@pytest.mark.smoke
def test_bits_stdcpp_compiles_against_the_images_precompiled_header(daemon):
    reply = run_code(daemon.nats_url, "cpp", COMPETITIVE_CPP)
    assert reply["status"] == "ok", reply
    assert reply["output"] == "1 18 one\n"
    # The compile step passes -Winvalid-pch: a .gch that g++ found but could not
    # use (flags or compiler not those it was built with) would say so in the
    # compiler's output, which a problems reply carries even when it succeeds.
    checked = run_code(
        daemon.nats_url,
        "cpp",
        COMPETITIVE_CPP,
        tests=[{"stdin": "", "expected_output": base64.b64encode(b"1 18 one\n").decode()}],
        subject="problems.execute.request",
    )
    assert checked["status"] == "accepted", checked
    assert "pch" not in checked["compile_output"], checked["compile_output"]


@pytest.mark.smoke
def test_runtime_error_keeps_exit_code_and_stderr(daemon):
    reply = run_code(daemon.nats_url, "python", "import sys\nprint('out')\nsys.exit('bad thing')")
    assert reply["status"] == "runtime_error"
    assert reply["exit_code"] == 1
    assert reply["output"] == "out\n"
    assert "bad thing" in reply["error"]


@pytest.mark.smoke
def test_uncaught_exception_in_javascript(daemon):
    reply = run_code(daemon.nats_url, "js", "throw new Error('boom')")
    assert reply["status"] == "runtime_error"
    assert reply["exit_code"] == 1
    assert "boom" in reply["error"]


@pytest.mark.smoke
@pytest.mark.parametrize(
    ("language", "code"),
    [
        ("python", "while True: pass"),
        ("python", "import time\ntime.sleep(60)"),
    ],
)
def test_timeouts_end_within_limit_and_pool_recovers(daemon, language, code):
    reply = run_code(daemon.nats_url, language, code, timeout_ms=1000)
    assert reply["status"] == "timeout", reply
    assert reply["execution_time_ms"] < 1000 + 2000
    after = run_code(daemon.nats_url, "python", "print('next')")
    assert after["status"] == "ok"
    assert after["output"] == "next\n"


@pytest.mark.smoke
def test_memory_bomb_is_memory_limit(daemon):
    reply = run_code(daemon.nats_url, "python", "x = bytearray(1024 * 1024 * 1024)\nprint(len(x))")
    assert reply["status"] == "memory_limit", reply
    assert reply["success"] is False


@pytest.mark.smoke
def test_output_over_the_cap_is_output_limit(daemon):
    reply = run_code(daemon.nats_url, "python", "while True: print('y' * 1000)")
    assert reply["status"] == "output_limit", reply
    assert reply["truncated"] is True
    assert len(reply["output"].encode()) == 65536


@pytest.mark.smoke
def test_files_do_not_survive_into_the_next_job(daemon):
    write = (
        "import os\nopen('/tmp/secret', 'w').write('x')\nopen('left.txt', 'w').write('x')\n"
        "print(os.getcwd())"
    )
    first = run_code(daemon.nats_url, "python", write)
    assert first["status"] == "ok", first
    check = (
        "import os\nprint(os.path.exists('/tmp/secret'), os.path.exists('left.txt'), "
        "sorted(os.listdir('/tmp')))"
    )
    for _ in range(4):  # every container of the pool
        reply = run_code(daemon.nats_url, "python", check)
        assert reply["output"] == "False False []\n", reply


def test_invalid_requests_get_clear_replies(daemon):
    reply = send(daemon.nats_url, b"{nope")
    assert reply["status"] == "invalid_request"
    assert "not valid JSON" in reply["error"]
    reply = send(daemon.nats_url, build_request("cobol", "x", request_id="r1"))
    assert reply["status"] == "invalid_request"
    assert reply["id"] == "r1"
    assert "unknown language" in reply["error"]
    bad_b64 = json.dumps({"language": "py", "code": "%%%"}).encode()
    assert "base64" in send(daemon.nats_url, bad_b64)["error"]


def test_problems_subject_accepts_larger_code(daemon):
    padding = "#" * (100 << 10)
    code = f"{padding}\nprint('big')"
    small = run_code(daemon.nats_url, "python", code)
    assert small["status"] == "invalid_request"
    big = run_code(daemon.nats_url, "python", code, subject="problems.execute.request")
    assert big["status"] == "ok", big
    assert big["output"] == "big\n"


@pytest.mark.smoke
def test_concurrent_requests_are_all_answered(daemon):
    requests = [build_request("python", f"print({i} * 2)", request_id=str(i)) for i in range(12)]
    replies = send_many(daemon.nats_url, requests)
    assert sorted((r["id"], r["output"]) for r in replies) == sorted(
        (str(i), f"{i * 2}\n") for i in range(12)
    )


def test_pool_containers_are_labelled_and_hardened(daemon):
    import subprocess

    ids = instance_containers(daemon.instance_id)
    assert ids, "the pool has containers"
    info = json.loads(
        subprocess.run(["docker", "inspect", ids[0]], capture_output=True, check=True).stdout
    )[0]
    host = info["HostConfig"]
    assert host["NetworkMode"] == "none"
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"]
    assert "no-new-privileges" in host["SecurityOpt"]
    assert host["Memory"] == host["MemorySwap"] == 400 << 20
    assert host["PidsLimit"] > 0
    assert host["Privileged"] is False


def test_non_utf8_output_is_replaced(daemon):
    reply = run_code(daemon.nats_url, "python", "import sys\nsys.stdout.buffer.write(b'a\\xffb')")
    assert reply["output"] == "a\ufffdb"


@pytest.mark.smoke
def test_base64_stdin_binary(daemon):
    payload = json.dumps(
        {
            "language": "python",
            "code": base64.b64encode(b"import sys\nprint(len(sys.stdin.buffer.read()))").decode(),
            "stdin": base64.b64encode(bytes(range(256))).decode(),
        }
    ).encode()
    assert send(daemon.nats_url, payload)["output"] == "256\n"


@pytest.mark.smoke
def test_memory_mb_lowers_the_limit_for_that_request_only(daemon):
    code = (
        "x = bytearray(100 * 1024 * 1024)\n"
        "for i in range(0, len(x), 4096): x[i] = 1\nprint('allocated')"
    )
    for _ in range(3):  # reaches every container of the pool
        low = run_code(daemon.nats_url, "python", code, memory_mb=64)
        assert low["status"] == "memory_limit", low
        assert "64 MB" in low["error"]
    for _ in range(3):
        default = run_code(daemon.nats_url, "python", code)
        assert default["status"] == "ok", default
        assert default["memory_kb"] > 100 * 1024
