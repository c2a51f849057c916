"""A warm Python: started ahead of its job, it runs ``main.py`` once told to.

Run as ``python3 -E -s -B python_launcher.py <fd> <ready fd>``; it writes a byte
down ``<ready fd>`` (the agent's sign that it waits) and reads the program's argv
(``/work/build/main.py`` and the request's args, NUL-separated) from ``<fd>``
until EOF, then runs the script in ``__main__`` as ``python3 -E -s -B
/work/build/main.py`` does: ``sys.argv``, ``sys.orig_argv``, ``sys.path[0]`` and
the module's globals (``__name__``, ``__file__``, its loader, ...) as there, and
an uncaught exception printed from the script's first frame on (no frame of
this file), exit status 1. It imports nothing the interpreter had not already
(``runpy`` would bring ``pkgutil``, ``typing`` and ``re``: 10 ms at every run).
An empty message (the agent discarding the warm start) exits at once.

At the end it does what interpreter shutdown does that a program can see, in
the same order: a ``SystemExit``'s message printed, non-daemon threads joined,
``atexit`` handlers run, the standard streams flushed (exit status 120 when
stdout cannot be), the main module's globals released in their order (so their
``__del__`` runs), a collection, a last flush; an uncaught ``KeyboardInterrupt``
ends the process by SIGINT. Then it leaves with ``os._exit``, skipping the
teardown of the interpreter's own modules, which nothing of the program's
observes and which was a third of a warm hello world's run step (1.2 ms).
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
        if isinstance(exc, KeyboardInterrupt):
            raise KeyboardInterrupt from None
        raise SystemExit(1) from None


def _ending():  # -> Callable[[BaseException | None], NoReturn]
    """The end of the run, as interpreter shutdown does it.

    Made before the program runs: the program's namespace is this file's
    globals, cleared for it, so what runs after it refers to nothing global.
    """
    modules = sys.modules

    def unraisable(exc: BaseException, obj: object) -> None:
        """Report ``exc`` as the interpreter's default unraisable hook does."""
        import traceback

        try:
            stream = modules["sys"].stderr
            stream.write(f"Exception ignored in: {obj!r}\n")
            stream.write("".join(traceback.format_exception_only(type(exc), exc)))
            stream.flush()
        except Exception:
            pass

    def flush_streams(report: bool) -> bool:
        """Flush stdout and stderr; False when stdout could not be.

        The last flush also takes the original streams, when the program put
        others in their place (their destructors flush them at shutdown).
        """
        ok, system = True, modules["sys"]
        streams = [system.stdout, system.stderr]
        if not report:
            streams += [system.__stdout__, system.__stderr__]
        for stream in streams:
            if stream is None or getattr(stream, "closed", True):
                continue
            try:
                stream.flush()
            except Exception as exc:
                if report and stream is system.stdout:
                    ok = False
                    unraisable(exc, stream)
        return ok

    def exit_status(exc: BaseException | None) -> int:
        """What the interpreter exits with, printing a SystemExit's message as it does."""
        if exc is None:
            return 0
        if not isinstance(exc, SystemExit):
            return 1
        if exc.code is None:
            return 0
        if isinstance(exc.code, int):
            return exc.code & 0xFF
        try:
            print(exc.code, file=modules["sys"].stderr)
        except Exception:
            pass
        return 1

    def end(exc: BaseException | None) -> None:
        # Imported only now: sys.modules stays as the program would find it.
        import _signal  # not signal: that one imports enum, 2 ms
        import atexit
        import gc

        status = exit_status(exc)
        threading = modules.get("threading")
        if threading is not None:
            try:
                threading._shutdown()
            except BaseException as error:
                unraisable(error, threading._shutdown)
        atexit._run_exitfuncs()
        if not flush_streams(report=True):
            status = 120
        # Dropped as the main module's dictionary is when it goes: in insertion order.
        modules["__main__"].__dict__.clear()
        gc.collect()
        flush_streams(report=False)
        if isinstance(exc, KeyboardInterrupt):
            _signal.signal(_signal.SIGINT, _signal.SIG_DFL)
            os_kill(os_getpid(), _signal.SIGINT)
        os_exit(status)

    os_kill, os_getpid, os_exit = os.kill, os.getpid, os._exit
    return end


def fresh_stdio() -> None:
    """Make sys.stdin, stdout and stderr anew over descriptors 0, 1 and 2.

    For a process forked from a server that started on /dev/null and then got
    the job's pipes as 0, 1 and 2: streams made over /dev/null keep what they
    learnt of it (seekable, the buffer size), and a program would find its
    stdin seekable. Made as the interpreter makes them at start, with the
    settings the old ones had (encoding, errors, line buffering).
    """
    import io

    for fd, name, mode in ((0, "stdin", "r"), (1, "stdout", "w"), (2, "stderr", "w")):
        old = getattr(sys, name)
        # As the interpreter opens them: the buffer sized from the descriptor's block size.
        buffer = open(fd, mode + "b", closefd=False)
        buffer.raw.name = f"<{name}>"  # type: ignore[attr-defined]
        stream = io.TextIOWrapper(
            buffer,
            encoding=old.encoding,
            errors=old.errors,
            newline="\n",
            line_buffering=old.line_buffering,
            write_through=old.write_through,
        )
        setattr(stream, "mode", mode)  # noqa: B010 (read-only in the IO stubs)
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)


def serve(fd: int) -> None:
    """Wait for the program's argv on ``fd``, run it, exit; never returns.

    Also what a process of the fork server runs (python_forkserver.py).
    """
    argv = _argv(fd)
    if not argv:
        os._exit(0)
    end = _ending()
    try:
        _run(argv)
    except (SystemExit, KeyboardInterrupt) as exc:  # anything else: printed, SystemExit(1)
        end(exc)
    end(None)


if __name__ == "__main__":
    if len(sys.argv) > 2:  # started by the agent: it is told when this one waits
        os.write(int(sys.argv[2]), b"r")
        os.close(int(sys.argv[2]))
    serve(int(sys.argv[1]))
