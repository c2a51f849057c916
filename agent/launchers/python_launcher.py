"""A warm Python: started ahead of its job, it runs ``main.py`` once told to.

Run as ``python3 -E -s -B python_launcher.py <fd>``. It reads the program's argv
(``/work/build/main.py`` and the request's args, NUL-separated) from ``<fd>``
until EOF, then runs the script in ``__main__`` as ``python3 -E -s -B
/work/build/main.py`` does: ``sys.argv``, ``sys.orig_argv``, ``sys.path[0]`` and
the module's globals (``__name__``, ``__file__``, its loader, ...) as there, and
an uncaught exception printed from the script's first frame on (no frame of
this file), exit status 1. It imports nothing the interpreter had not already
(``runpy`` would bring ``pkgutil``, ``typing`` and ``re``: 10 ms at every run).
An empty message (the agent discarding the warm start) exits at once.
"""

import _frozen_importlib_external
import builtins
import os
import sys


def _argv(fd: int) -> list[str]:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    os.close(fd)
    data = b"".join(chunks)
    return [os.fsdecode(part) for part in data.split(b"\0")] if data else []


def _run(argv: list[str]) -> None:
    script = argv[0]
    flags = sys.orig_argv[1 : sys.orig_argv.index(sys.argv[0])]
    sys.argv = argv
    sys.orig_argv = [sys.orig_argv[0], *flags, *argv]
    sys.path[0] = os.path.dirname(script)
    with open(script, "rb") as f:
        source = f.read()
    namespace = sys.modules["__main__"].__dict__
    # Held in locals: this file's globals are the namespace, cleared for the program.
    excepthook, loader = sys.excepthook, _frozen_importlib_external.SourceFileLoader
    builtins_module = builtins
    namespace.clear()
    namespace.update(
        __name__="__main__",
        __doc__=None,
        __package__=None,
        __loader__=loader("__main__", script),
        __spec__=None,
        __annotations__={},
        __builtins__=builtins_module,
        __file__=script,
        __cached__=None,
    )
    try:
        exec(compile(source, script, "exec"), namespace)
    except SystemExit:
        raise
    except BaseException as exc:
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != script:
            tb = tb.tb_next
        # None for a SyntaxError in the script: printed as python3 prints it, no frames.
        excepthook(type(exc), exc.with_traceback(tb), tb)
        raise SystemExit(1) from None


def main() -> None:
    argv = _argv(int(sys.argv[1]))
    if not argv:
        os._exit(0)
    _run(argv)


if __name__ == "__main__":
    main()
