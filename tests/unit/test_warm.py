"""Warm starts: which runs a warm process may serve, and what the launchers show a program.

The launchers run here on the host's own interpreters, side by side with the
plain command, without the jail (the integration tests run them in the sandbox).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from agent import processes
from agent.jail import JOB_GID, JOB_UID
from agent.protocol import Step
from agent.warm import LAUNCHER_DIR, READY, Template, WarmProcess, templates_from
from service.config import Settings
from service.requests import limits_for, parse_request
from service.sandbox.job_messages import run_step
from service.sandbox.spec import container_config
from wire import Kind

SETTINGS = Settings.from_env({}, instance_id="unit")
PYTHON = "/usr/bin/python3"


def templates(settings: Settings = SETTINGS, memory_mb: int | None = None) -> list[Template]:
    env = container_config(settings, memory_mb=memory_mb)["Env"]
    (warm,) = [e.split("=", 1)[1] for e in env if e.startswith("CODE_ENGINE_WARM=")]
    return templates_from({"CODE_ENGINE_WARM": warm})


def by_launcher(found: list[Template]) -> dict[str, Template]:
    named = {template.launcher: template for template in found}
    assert len(named) == len(found)
    return named


def python_and_node(found: list[Template]) -> tuple[Template, Template]:
    named = by_launcher(found)
    return named["python_launcher.py"], named["node_launcher.js"]


def run_of(language: str, settings: Settings = SETTINGS, **fields: object) -> Step:
    body = {"language": language, "code": "cGFzcw==", **fields}
    request = parse_request(
        json.dumps(body).encode(), Kind.COMPILER, limits_for(Kind.COMPILER, settings)
    )
    return run_step(request, settings, request.stdin)


def test_each_interpreted_language_has_a_template_at_the_default_limits():
    named = by_launcher(templates())
    assert set(named) == {"python_launcher.py", "node_launcher.js", "java_launcher.jar"}
    python, node = python_and_node(templates())
    java = named["java_launcher.jar"]
    for template in (python, node):
        assert (Path(LAUNCHER_DIR) / template.launcher).is_file()
    # The JVM's is built with the image from its source (languages/java.toml).
    assert (Path(LAUNCHER_DIR) / "JavaLauncher.java").is_file()
    job = (JOB_UID, JOB_GID)
    assert java.matches(run_of("java"), job) and java.step.argv[-2:] == [
        "-jar",
        "/work/build/main.jar",
    ]
    assert not java.matches(run_of("java", memory_mb=256), job)  # -Xmx is fixed at start
    assert python.matches(run_of("python"), job)
    assert python.matches(run_of("python", args=["a", "b"], stdin="eA=="), job)
    assert node.matches(run_of("javascript"), job) and not python.matches(run_of("js"), job)
    # Other limits start cold: the interpreter's limits are fixed when it starts.
    assert not python.matches(run_of("python", timeout_ms=2000), job)
    assert not python.matches(run_of("python", cpu_time_limit_ms=500), job)
    assert not node.matches(run_of("js", memory_mb=128), job)  # V8's heap is sized at start
    assert not python.matches(run_of("python"), (JOB_UID + 100_000, JOB_GID + 100_000))
    assert python.matches(run_of("python", timeout_ms=9500), job)  # the same RLIMIT_CPU
    assert run_of("python", timeout_ms=9500).limits.jail() == python.step.limits.jail()


def test_python_alone_forks_from_a_server_unless_turned_off():
    named = by_launcher(templates())
    assert {name for name, t in named.items() if t.fork_server} == {"python_launcher.py"}
    off = Settings.from_env({"CODE_ENGINE_FORK_SERVER": "0"}, instance_id="unit")
    assert not any(t.fork_server for t in templates(off))
    # A server runs the Python launcher only: a template asking otherwise is refused.
    entry = json.loads(
        next(
            e for e in container_config(SETTINGS)["Env"] if e.startswith("CODE_ENGINE_WARM=")
        ).split("=", 1)[1]
    )
    (entry,) = [e for e in entry if e["launcher"] == "node_launcher.js"]
    entry["fork_server"] = True
    assert templates_from({"CODE_ENGINE_WARM": json.dumps([entry])}) == []


def test_the_kills_spare_an_engine_process_only_while_it_is_roots(monkeypatch):
    # By pid and uid: a job process given a dead server's pid is never root's.
    mine = os.getpid()
    monkeypatch.setattr(processes, "ENGINE_PIDS", {mine, 2**22 + 1})
    root = os.getuid() == 0
    assert processes.engine_pids() == ({mine} if root else set())
    assert (mine in processes.other_pids()) is not root
    assert not processes._root_owned(2**22 + 1)  # no such process


def test_a_container_made_to_measure_warms_at_its_own_memory():
    (_, node) = python_and_node(templates(memory_mb=128))
    assert node.matches(run_of("js", memory_mb=128), (JOB_UID, JOB_GID))


def test_a_container_too_small_for_a_language_starts_none_of_it():
    # Python's hello world fits in 32 MB; Node's needs 64 and a JVM 160: a container
    # made to measure for a small Python request starts no Node or JVM it cannot use.
    assert [t.launcher for t in templates(memory_mb=32)] == ["python_launcher.py"]
    assert sorted(by_launcher(templates(memory_mb=64))) == [
        "node_launcher.js",
        "python_launcher.py",
    ]


def test_no_templates_when_turned_off_or_unreadable():
    off = Settings.from_env({"CODE_ENGINE_WARM_STARTS": "0"}, instance_id="unit")
    assert not [e for e in container_config(off)["Env"] if e.startswith("CODE_ENGINE_WARM=")]
    assert templates_from({}) == []
    assert templates_from({"CODE_ENGINE_WARM": "{not json"}) == []
    assert templates_from({"CODE_ENGINE_WARM": '[{"launcher": "../x", "step": {}}]'}) == []
    one_part = json.dumps([{"launcher": "python_launcher.py", "step": {"argv": ["python3"]}}])
    assert templates_from({"CODE_ENGINE_WARM": one_part}) == []


def _warm(argv: list[str], launcher: str, program: list[str], stdin: bytes = b"") -> tuple:
    """As the agent starts a launcher: it says it is ready before it gets its program."""
    read_end, write_end = os.pipe()
    ready_r, ready_w = os.pipe()
    if "/" not in launcher:
        launcher = os.path.join(LAUNCHER_DIR, launcher)
    proc = subprocess.Popen(
        [*argv, launcher, str(read_end), str(ready_w)],
        pass_fds=(read_end, ready_w),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    os.close(read_end)
    os.close(ready_w)
    with os.fdopen(ready_r, "rb") as ready:
        assert ready.read() == READY  # a byte, then the end: it closed its end
    os.write(write_end, b"\0".join(p.encode() for p in program))
    os.close(write_end)
    out, err = proc.communicate(stdin, timeout=30)
    return proc.returncode, out, err


def _cold(argv: list[str], stdin: bytes = b"") -> tuple:
    done = subprocess.run(argv, input=stdin, capture_output=True, timeout=30)
    return done.returncode, done.stdout, done.stderr


PYTHON_PROGRAMS = {
    "identity": (
        "import sys\nprint(sys.argv, __name__, __file__, sys.path[0], sys.orig_argv[1:])\n"
        "print(__spec__, repr(sys.stdin.read()), sys.flags.ignore_environment)\n"
    ),
    "globals and modules": (
        "import sys\nprint(sorted(globals()), type(__loader__).__name__, __loader__.path)\n"
        "print(sorted(sys.modules))\n"
    ),
    "traceback": "def f():\n    raise ValueError('boom')\nf()\n",
    "in a module": "import helper\n",
    "syntax error": "x = (\n",
    "exit code": "import sys\nsys.exit(3)\n",
    "exit message": "import sys\nsys.exit('bye')\n",
    "signal": "import os, signal\nos.kill(os.getpid(), signal.SIGTERM)\n",
    "pickles __main__": (
        "import pickle\nclass P: pass\nprint(type(pickle.loads(pickle.dumps(P()))).__name__)\n"
    ),
    # What interpreter shutdown does that a program sees, and in which order.
    "shutdown": (
        "import atexit, sys, threading, time\n"
        "class Loud:\n    def __init__(self, n): self.n = n\n"
        "    def __del__(self): print('del', self.n)\n"
        "kept, _private = Loud('public'), Loud('private')\n"
        "atexit.register(print, 'atexit')\n"
        "threading.Thread(target=lambda: (time.sleep(0.05), print('thread'))).start()\n"
        "sys.stdout.write('buffered, no newline')\n"
    ),
    "exit without a code": "import sys\nprint('x')\nsys.exit()\n",
    "exit code past 255": "import sys\nsys.exit(258)\n",
    "exit message in atexit order": (
        "import atexit, sys\natexit.register(print, 'atexit')\nsys.exit('bye')\n"
    ),
    "keyboard interrupt": "print('before')\nraise KeyboardInterrupt\n",
    "stdout cannot be flushed": (
        "import sys\nprint('on the first stdout')\n"
        "sys.stdout = open('/dev/full', 'w')\nprint('lost')\n"
    ),
}


@pytest.mark.parametrize("code", PYTHON_PROGRAMS.values(), ids=PYTHON_PROGRAMS.keys())
def test_a_warm_python_shows_the_program_what_python3_main_py_would(tmp_path, code):
    script = tmp_path / "main.py"
    script.write_text(code)
    (tmp_path / "helper.py").write_text("raise KeyError('in a module')\n")
    flags = [PYTHON, "-E", "-s", "-B"]
    for stdin in (b"", b"some input\n"):
        cold = _cold([*flags, str(script), "a b", "c"], stdin)
        warm = _warm(flags, "python_launcher.py", [str(script), "a b", "c"], stdin)
        assert warm == cold


def test_an_empty_message_ends_a_warm_python_at_once(tmp_path):
    assert _warm([PYTHON, "-E", "-s", "-B"], "python_launcher.py", []) == (0, b"", b"")


NODE_PROGRAMS = {
    "identity": (
        "console.log(process.argv.slice(1), require.main === module, __filename, module.id,"
        " process.execArgv);\n"
        "let input = ''; process.stdin.on('data', d => input += d);"
        " process.stdin.on('end', () => console.log(JSON.stringify(input)));\n"
    ),
    "exit code": "process.exitCode = 4;\n",
    "throw": "function f() { throw new Error('boom'); }\nf();\n",
    "rejection": "Promise.reject(new Error('later'));\n",
    "module caches": (
        "const Module = require('module');\n"
        "console.log(Object.keys(require.cache), Object.values(Module._pathCache));\n"
    ),
    "no output at all": "",
}


@pytest.mark.skipif(shutil.which("node") is None, reason="no node on this machine")
@pytest.mark.parametrize("code", NODE_PROGRAMS.values(), ids=NODE_PROGRAMS.keys())
def test_a_warm_node_shows_the_program_what_node_launcher_js_would(tmp_path, code):
    script = tmp_path / "main.js"
    script.write_text(code)
    flags = ["node", "--max-old-space-size=200"]
    cold = _cold([*flags, str(script), "a b"], b"typed")
    warm = _warm(flags, "node_launcher.js", [str(script), "a b"], b"typed")
    assert warm[:2] == cold[:2]
    # The stack below the program's own frames is Node's internals, entered another
    # way (a fresh tick, not the main-module bootstrap); no frame of the launcher.
    assert b"node_launcher.js" not in warm[2]
    own = [line for line in cold[2].splitlines() if b"node:internal" not in line]
    assert [line for line in warm[2].splitlines() if b"node:internal" not in line] == own


def test_a_warm_process_that_died_waiting_is_reaped_and_says_so():
    (python,) = [t for t in templates() if t.launcher == "python_launcher.py"]
    read_end, write_end = os.pipe()
    pipe = subprocess.PIPE
    proc = subprocess.Popen(["sleep", "60"], stdin=pipe, stdout=pipe, stderr=pipe)
    os.close(read_end)  # nobody will ever read the program's argv
    warm = WarmProcess(python, proc, write_end)
    os.kill(proc.pid, signal.SIGKILL)
    assert warm.start(run_of("python")) is False
    assert warm.control == -1 and proc.returncode == -1
    with pytest.raises(ChildProcessError):
        os.waitpid(proc.pid, os.WNOHANG)  # reaped already


# Each a class of its own, compiled together; each jar runs one (its Main-Class).
JAVA_PROGRAMS = {
    "Identity": (
        "public class Identity { public static void main(String[] args) throws Exception {"
        ' System.out.println(String.join("|", args) + " " + System.getProperty("java.class.path")'
        ' + " " + System.getProperty("sun.java.command"));'
        ' System.out.println(new String(System.in.readAllBytes()) + " "'
        " + (Thread.currentThread().getContextClassLoader()"
        " == Identity.class.getClassLoader())); } }"
    ),
    "Throws": (
        'public class Throws { static void f() { throw new IllegalStateException("boom",'
        ' new RuntimeException("inner")); }'
        " public static void main(String[] args) { f(); } }"
    ),
    "Exits": "public class Exits { public static void main(String[] args) { System.exit(3); } }",
    "StaticInit": (
        'public class StaticInit { static int x = Integer.parseInt("nope");'
        " public static void main(String[] args) { System.out.println(x); } }"
    ),
    "NoMain": "public class NoMain { public static void helper(String[] args) {} }",
    "Lingers": (
        "public class Lingers { public static void main(String[] args) {"
        " new Thread(() -> { try { Thread.sleep(200); } catch (InterruptedException e) {}"
        ' System.out.println("after main"); }).start(); System.out.println("main done"); } }'
    ),
    "Invisible": (
        "public class Invisible { public static void main(String[] args) {"
        ' try { Class.forName("JavaLauncher"); System.out.println("seen"); }'
        ' catch (ClassNotFoundException e) { System.out.println("not seen"); } } }'
    ),
}


@pytest.fixture(scope="module")
def java_jars(tmp_path_factory) -> dict[str, Path]:
    """The launcher built by languages/java.toml's own warm.build, and a jar per program."""
    if shutil.which("javac") is None or shutil.which("java") is None:
        pytest.skip("no JDK on this machine")
    from service.languages import lookup

    java = lookup("java")
    assert java is not None and java.data is not None and java.data.warm is not None
    tmp = tmp_path_factory.mktemp("java")
    env = {
        **os.environ,
        "LAUNCHER_SOURCE": os.path.join(LAUNCHER_DIR, java.data.warm.source),
        "LAUNCHER": str(tmp / java.data.warm.launcher),
    }
    for step in java.data.warm.build:
        subprocess.run(["sh", "-eu", "-c", step], env=env, cwd=tmp, check=True, timeout=120)
    for name, code in JAVA_PROGRAMS.items():
        (tmp / f"{name}.java").write_text(code)
    classes = tmp / "classes"
    sources = [str(tmp / f"{name}.java") for name in JAVA_PROGRAMS]
    subprocess.run(["javac", "-d", str(classes), *sources], check=True, timeout=120)
    jars = {
        "launcher": Path(env["LAUNCHER"]),
        "no Main-Class": tmp / "none.jar",
        "no manifest": tmp / "bare.jar",
    }
    for name, flags in (("no Main-Class", []), ("no manifest", ["--no-manifest"])):
        subprocess.run(
            ["jar", "--create", *flags, "--file", str(jars[name]), "-C", str(classes), "."],
            check=True,
            timeout=120,
        )
    for name in JAVA_PROGRAMS:
        jars[name] = tmp / f"{name}.jar"
        subprocess.run(
            [
                "jar",
                "--create",
                "--file",
                str(jars[name]),
                "--main-class",
                name,
                "-C",
                str(classes),
                ".",
            ],
            check=True,
            timeout=120,
        )
    return jars


@pytest.mark.parametrize("name", [*JAVA_PROGRAMS, "no Main-Class", "no manifest"])
def test_a_warm_jvm_shows_the_program_what_java_dash_jar_would(java_jars, name):
    flags = ["java", "-Xmx128m", "-XX:+UseSerialGC", "-XX:-UsePerfData", "-jar"]
    jar = str(java_jars[name])
    cold = _cold([*flags, jar, "a", "b c"], b"typed")
    warm = _warm(flags, str(java_jars["launcher"]), [jar, "a", "b c"], b"typed")
    assert warm == cold


def test_languages_run_by_one_jvm_share_one_warm_start(monkeypatch):
    from service import languages

    monkeypatch.setattr(languages, "_served", languages.select("java,kotlin,python"))
    named = [template.launcher for template in templates()]
    assert sorted(named) == ["java_launcher.jar", "python_launcher.py"]
    (java,) = [t for t in templates() if t.launcher == "java_launcher.jar"]
    job = (JOB_UID, JOB_GID)
    assert java.matches(run_of("java"), job) and java.matches(run_of("kotlin"), job)
