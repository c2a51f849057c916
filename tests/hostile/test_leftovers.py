"""Hostile programs that leave things behind for the next job, or aim at its files.

Every case here ends well (the program did nothing a limit catches), so the
daemon keeps the container: the probe after it runs on the very container the
program tried to poison.
"""

from __future__ import annotations

import pytest

from .hostile_support import FollowUp, Hostile, HostileBench, ids

pytestmark = pytest.mark.hostile


def _output(expected: str):
    def check(reply: dict) -> None:
        assert reply["output"] == expected, reply["output"][-3000:] + reply["error"][-3000:]

    return check


FILL_EVERYTHING = r"""
import errno, os
block = b"x" * (1 << 20)
for place in ("/work/run", "/tmp", "/dev/shm", "/work", "/work/build", "/", "/var/tmp",
              "/dev", "/opt/code-engine", "/proc", "/sys/fs/cgroup", "/proc/acpi",
              "/sys/firmware", "/dev/pts"):
    written, outcome = 0, "no error"
    try:
        for n in range(1000):
            with open(os.path.join(place, f"fill{n}"), "wb") as f:
                for _ in range(8):
                    f.write(block)
                    written += 1
    except OSError as exc:
        outcome = errno.errorcode[exc.errno]
    print(place, outcome, written > 0)
try:
    for n in range(100000):
        fd = os.open(f"/dev/mqueue/q{n}", os.O_CREAT | os.O_RDWR, 0o600)
except OSError as exc:
    print("/dev/mqueue", errno.errorcode[exc.errno], n > 0)
"""

FILL_EVERYTHING_OUTPUT = """/work/run ENOSPC True
/tmp ENOSPC True
/dev/shm ENOSPC True
/work EACCES False
/work/build EACCES False
/ EROFS False
/var/tmp EROFS False
/dev EACCES False
/opt/code-engine EROFS False
/proc ENOENT False
/sys/fs/cgroup EACCES False
/proc/acpi EROFS False
/sys/firmware EROFS False
/dev/pts EACCES False
/dev/mqueue EMFILE True
"""

INODES = r"""
import errno, os
for place in ("/work/run", "/tmp", "/dev/shm"):
    n = 0
    try:
        while True:
            os.close(os.open(f"{place}/{n}", os.O_CREAT | os.O_WRONLY, 0o600))
            n += 1
    except OSError as exc:
        print(place, errno.errorcode[exc.errno], n > 500)
"""

TRAPS = r"""
import os, stat
# Symlinks at paths the agent or the host might write or chown, or the next job read.
os.symlink("/work/build/main.py", "/tmp/main.py")
os.symlink("/opt/code-engine/__main__.py", "/work/run/agent.py")
os.symlink("/etc/passwd", "/dev/shm/passwd")
os.symlink("/work", "/tmp/work")
os.symlink("/proc/1/fd/1", "/tmp/agent-stdout")
os.symlink("/work/run", "/work/run/loop")
# Hard links to files the job does not own are refused (and /work is a mount of its own).
for target in ("/work/build/main.py", "/etc/shadow"):
    try:
        os.link(target, f"/work/run/{os.path.basename(target)}.link")
    except OSError as exc:
        print("link", target, exc.strerror)
# Files nobody can read, in directories nobody can enter, with awkward names.
os.makedirs("/tmp/locked/inner")
with open("/tmp/locked/inner/secret", "w") as f:
    f.write("for the next job")
for path in ("/tmp/locked/inner/secret", "/tmp/locked/inner", "/tmp/locked"):
    os.chmod(path, 0)
os.mkfifo("/tmp/fifo")
with open(b"/dev/shm/\xff\xfe-not-utf8\n", "w") as f:
    f.write("x")
os.chdir("/tmp")
for _ in range(300):
    os.mkdir("d")
    os.chdir("d")
os.chmod("/work/run", 0)
print("planted")
"""

IPC_AND_SOCKETS = r"""
import ctypes, os, socket, time
libc = ctypes.CDLL(None, use_errno=True)
rt = ctypes.CDLL("librt.so.1", use_errno=True)
ipc = [libc.shmget(0, 1 << 20, 0o1000), libc.msgget(0, 0o1000), libc.semget(0, 4, 0o1000)]
mq = rt.mq_open(b"/left-behind", os.O_CREAT | os.O_RDWR, 0o600, None)
print(min(ipc) >= 0, mq >= 0, flush=True)
if os.fork() == 0:
    os.setsid()
    tcp = socket.socket()
    tcp.bind(("0.0.0.0", 8080))
    tcp.listen()
    tcp6 = socket.socket(socket.AF_INET6)
    tcp6.bind(("::", 8081))
    tcp6.listen()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 5353))
    abstract = socket.socket(socket.AF_UNIX)
    abstract.bind("\0code-engine-next-job")
    abstract.listen()
    named = socket.socket(socket.AF_UNIX)
    named.bind("/tmp/agent.sock")
    named.listen()
    time.sleep(1000)
time.sleep(0.3)
print("listening")
"""

PYTHON_POISON = r"""
import os, site
user_site = site.getusersitepackages()
os.makedirs(user_site)
planted = {
    os.path.join(user_site, "usercustomize.py"): "print('poisoned by usercustomize')",
    os.path.join(user_site, "evil.pth"): "import os; print('poisoned by pth')",
    "/tmp/sitecustomize.py": "print('poisoned by sitecustomize')",
    "/tmp/json.py": "print('poisoned json')",
    "/work/run/json.py": "print('poisoned json')",
    os.path.expanduser("~/.pythonrc.py"): "print('poisoned rc')",
}
for path, text in planted.items():
    with open(path, "w") as f:
        f.write(text)
for path in ("/work/build/json.py", "/usr/lib/python3/dist-packages/sitecustomize.py",
             "/usr/lib/python3.11/sitecustomize.py"):
    try:
        open(path, "w")
    except OSError as exc:
        print(path, exc.strerror)
"""

PYTHON_POISON_OUTPUT = """/work/build/json.py Permission denied
/usr/lib/python3/dist-packages/sitecustomize.py Read-only file system
/usr/lib/python3.11/sitecustomize.py Read-only file system
"""

PYTHON_AFTER = (
    "import json, sys\nprint(json.dumps([1]), sys.flags.ignore_environment, sys.flags.no_user_site)"
)

GO_POISON = """package main

import (
	"fmt"
	"os"
	"path/filepath"
)

func plant(dir string) {
	err := os.MkdirAll(dir, 0o777)
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, "poison-a"), []byte("garbage"), 0o666)
	}
	fmt.Println(dir, err == nil)
}

func main() {
	home, _ := os.UserHomeDir()
	plant(filepath.Join(home, ".cache", "go-build", "00"))
	plant("/tmp/go-build123/b001")
	plant("/work/build/.cache/go-build/00")
	plant("/work/build/.cache/gopath/src/fmt")
	plant("/usr/lib/go-1.23/pkg/linux_amd64")
	plant("/opt/code-engine/go-config/go")
}
"""

GO_POISON_OUTPUT = """/work/run/.cache/go-build/00 true
/tmp/go-build123/b001 true
/work/build/.cache/go-build/00 false
/work/build/.cache/gopath/src/fmt false
/usr/lib/go-1.23/pkg/linux_amd64 false
/opt/code-engine/go-config/go false
"""

GO_AFTER = 'package main\nimport "fmt"\nfunc main() { fmt.Println("built clean") }\n'

JS_POISON = """
const fs = require('fs');
const os = require('os');
for (const dir of [os.homedir() + '/.node_modules/evil', '/tmp/node_modules/evil',
                   '/work/run/node_modules/evil']) {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(dir + '/index.js', "console.log('poisoned')");
}
for (const dir of ['/work/build/node_modules', '/work/node_modules', '/node_modules']) {
  try { fs.mkdirSync(dir); console.log(dir, 'created'); } catch (e) { console.log(dir, e.code); }
}
"""

JS_AFTER = "try { require('evil'); } catch (e) { console.log(e.code); }\n"

CASES = [
    Hostile(
        "python-fills-every-writable-place",
        "python",
        FILL_EVERYTHING,
        "ok",
        timeout_ms=8000,
        check=_output(FILL_EVERYTHING_OUTPUT),
    ),
    Hostile(
        "python-inode-exhaustion",
        "python",
        INODES,
        "ok",
        timeout_ms=8000,
        check=_output("/work/run ENOSPC True\n/tmp ENOSPC True\n/dev/shm ENOSPC True\n"),
    ),
    Hostile(
        "python-plants-symlinks-and-traps",
        "python",
        TRAPS,
        "ok",
        check=_output(
            "link /work/build/main.py Operation not permitted\n"
            "link /etc/shadow Invalid cross-device link\n"
            "planted\n"
        ),
        then=FollowUp("python", "print(open(__file__).read())", "print(open(__file__).read())\n"),
    ),
    Hostile(
        "python-leaves-ipc-and-listening-sockets",
        "python",
        IPC_AND_SOCKETS,
        "ok",
        check=_output("True True\nlistening\n"),
    ),
    Hostile(
        "python-usercustomize-poisoning",
        "python",
        PYTHON_POISON,
        "ok",
        check=_output(PYTHON_POISON_OUTPUT),
        then=FollowUp("python", PYTHON_AFTER, "[1] 1 1\n"),
    ),
    Hostile(
        "go-build-cache-poisoning",
        "go",
        GO_POISON,
        "ok",
        check=_output(GO_POISON_OUTPUT),
        then=FollowUp("go", GO_AFTER, "built clean\n"),
    ),
    Hostile(
        "js-node-modules-poisoning",
        "javascript",
        JS_POISON,
        "ok",
        check=_output(
            "/work/build/node_modules EACCES\n/work/node_modules EACCES\n/node_modules EROFS\n"
        ),
        then=FollowUp("javascript", JS_AFTER, "MODULE_NOT_FOUND\n"),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_leftovers(sandbox: HostileBench, baseline, case: Hostile) -> None:
    sandbox.exercise(case)
