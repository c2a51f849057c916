"""The agent's requests: jobs, runs against a kept build, and the reset between them.

A job writes its files to /work/build, runs the compile step there as the job
user, then makes the build directory root-owned and read-only and runs each run
in a fresh /work/run. A failed compile answers with no runs. A job with
``finish=false`` keeps its build for later ``run`` messages; ``finish=true`` (or
a ``finish`` message) wipes everything.

Between steps every job process is killed and everything a job can write is
wiped: the scratch directories, /work (but the build, while it is kept), the
IPC namespace's objects and what the job parked in flight on unix sockets
(agent.leftovers); then the container is verified clean. A result says
CLEAN only when that verification passed; DIRTY tells the host to replace the
container.

A job's ``tool`` (a problem's checker) is written to /work/tool and compiled
there as the tool user (:func:`agent.jail.tool_ids`), then locked readable by
the tool user's group alone: the job user cannot read it. A run's checks run
the tool after the job's run, once every job process is gone, in /work/check,
a directory of the tool user's holding the run's input, its output and the
expected answer; the job user can read none of them.

With ``early_result``, the result goes out as soon as the last step is over,
with cleanup OWED, and the wipe follows (of everything with ``finish``, of all
but the build without): its outcome comes in a ``cleaned`` message before the
agent reads its next request. So the host can hold a run to its own deadline
and the wipe after it to another. Requests refused before anything ran are
answered CLEAN or DIRTY as usual.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass, replace

from agent import leftovers
from agent.checks import FEEDBACK_DIR, kattis_args, more_passes, run_check, with_feedback
from agent.errors import BadRequest
from agent.files import (
    check_file_name,
    lock_tree,
    make_job_dir,
    read_file,
    remove_entries,
    wipe_contents,
    write_files,
)
from agent.interaction import Interaction
from agent.ipc import ipc_objects, remove_ipc
from agent.jail import tool_ids
from agent.layout import BUILD_DIR, CHECK_DIR, RUN_DIR, SCRATCH_DIRS, TOOL_DIR, WORK_DIR
from agent.log import log
from agent.processes import kill_all, other_pids, require_none_but
from agent.protocol import (
    KATTIS,
    PROGRAM_LIMIT,
    AgentMessage,
    Check,
    Cleaned,
    Cleanup,
    Error,
    Finish,
    Finished,
    HostMessage,
    Job,
    Ping,
    Pong,
    ProtocolError,
    Result,
    Run,
    Shed,
    Step,
    StepResult,
    Tool,
)
from agent.step_runner import StepRunner
from agent.warm import WarmStarts, templates_from

KEPT = frozenset({"build", "tool"})  # what a kept build keeps of /work


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A line that was no valid message, as far as it could be read.

    Holds no part of the line: the decoding error's traceback does, and it must
    not outlive the decoding (see :meth:`from_error`).
    """

    reason: str
    kind: str | None = None
    id: str | None = None

    @classmethod
    def from_error(cls, exc: ProtocolError) -> Unreadable:
        return cls(str(exc), exc.kind, exc.id)


def _verified(clean: bool) -> Cleanup:
    return Cleanup.CLEAN if clean else Cleanup.DIRTY


class State(enum.Enum):
    """What the agent can vouch for about its container now."""

    UNVERIFIED = "unverified"  # a job may have run since the last verified reset
    PRISTINE = "pristine"  # a verified reset, and no job process since
    BUILD_KEPT = "build_kept"  # a job's build locked for later runs; the rest verified clean


@dataclass(frozen=True, slots=True)
class OwedWipe:
    """The wipe owed after an early result: its outcome goes out in a ``cleaned`` message."""

    id: str  # the request whose result went out first
    keeps_build: bool  # a run without finish: the build stays for the runs to come


class Agent:
    """Answers the host's messages, one at a time, and keeps the container clean."""

    def __init__(self, wake_fd: int) -> None:
        self.wake_fd = wake_fd
        self.state = State.UNVERIFIED
        self.owed: OwedWipe | None = None
        self.owed_program: str | None = None  # a compiled program to send with that wipe's report
        # Interpreters started ahead of the runs that will use them (agent.warm).
        self.warm = WarmStarts(templates_from())

    def handle(self, request: HostMessage | Unreadable) -> AgentMessage:
        """Answer one message; never raises."""
        if isinstance(request, Ping):
            return Pong()
        if isinstance(request, Shed):
            self.warm.close()
            return Pong()
        kind: str | None
        if isinstance(request, Unreadable):
            if request.id is None or request.kind not in (Job.TYPE, Run.TYPE):
                return Error(request.reason, request.id)
            kind, ident = request.kind, request.id
        else:
            kind, ident = request.TYPE, request.id
        try:
            if isinstance(request, Unreadable):
                return self.refuse(request, ident)
            if isinstance(request, Job):
                return self.job(request)
            if isinstance(request, Run):
                return self.run(request)
            return Finished(ident, self.reset())
        except Exception as exc:
            log(f"internal error on {kind} {ident!r}: {exc!r}")
            self.state = State.UNVERIFIED
            self.owed = None
            self.owed_program = None
            try:
                kill_all()
            except Exception:
                pass
            if kind == Finish.TYPE:
                return Finished(ident, False)
            return Result(ident, cleanup=Cleanup.DIRTY, error=f"internal: {exc}")

    def refuse(self, request: Unreadable, ident: str) -> Result:
        """The answer to a ``job`` or ``run`` that was malformed: nothing of it ran."""
        error = f"bad request: {request.reason}"
        if request.kind == Job.TYPE:
            return Result(ident, cleanup=_verified(self.reset()), error=error)
        kept = self.state is State.BUILD_KEPT
        return Result(ident, cleanup=_verified(self.verify(kept)), error=error)

    def job(self, job: Job) -> Result:
        """Write the files, compile, then run each run."""
        if self.state is State.BUILD_KEPT:
            self.state = State.UNVERIFIED  # a new job's build replaces it
        try:
            for name in [*job.files, *(job.tool.files if job.tool else ())]:
                check_file_name(name)
            if job.collect is not None:
                check_file_name(job.collect)
        except BadRequest as exc:
            return Result(job.id, cleanup=_verified(self.reset()), error=f"bad request: {exc}")
        # A verified reset since the last job (usually the cleanup owed after its
        # early result) leaves nothing to redo: no job process can have run since.
        if not (self.state is State.PRISTINE or self.reset()):
            return Result(
                job.id, cleanup=Cleanup.DIRTY, error="internal: the container is not clean"
            )
        self.state = State.UNVERIFIED
        self.alone("writing the job's files")
        make_job_dir(BUILD_DIR)
        try:
            write_files(BUILD_DIR, job.files)
            if job.program is not None and job.collect is not None:
                # A program the host compiled for an earlier job (its compile cache).
                write_files(BUILD_DIR, {job.collect: job.program}, mode=0o700)
        except BadRequest as exc:
            return Result(job.id, cleanup=_verified(self.reset()), error=f"bad request: {exc}")
        finally:
            # Everything a job process is forked with counts in its ru_maxrss.
            job.files.clear()
            job.program = None
        compiled = None
        if job.compile is not None:
            self.warm.discard()
            compiled = StepRunner(job.compile, BUILD_DIR, self.wake_fd).run()
            if compiled.failed:
                return Result(
                    job.id, compiled, cleanup=self.reset_now_or_owe(job.id, job.early_result)
                )
        # After a compile, nothing of it may be left. Without one nothing ran since
        # the container was verified clean (and the warm starts stay as they are).
        # No warm start after it: its runs are the compiled program, which none
        # serves (one started now would only be discarded by the first of them).
        if compiled is not None and not self.cleanup(keep_build=True, refill=False):
            return Result(job.id, compiled, cleanup=Cleanup.DIRTY)
        # A grader's sources go once built (or once a kept program stands in).
        remove_entries(BUILD_DIR, job.hidden)
        # The compiler and anything it started are gone (verified), no code of the
        # job's own has run in this container since its reset, and from here the
        # build is root's and read-only: the program is the compiler's alone.
        program = None
        if compiled is not None and job.collect is not None:
            if job.early_result or not job.runs:
                # Read with the wipe after this result or, for a build kept for
                # runs still to come, after the first of them: never on a
                # result's way (a Go program is 2 MB).
                self.owed_program = job.collect
            else:
                program = self.collect(job.collect)
        tool_compiled = None
        if job.tool is not None:
            tool_compiled = self.build_tool(job.tool)
            job.tool = None
            if tool_compiled is not None and tool_compiled.failed:
                return Result(
                    job.id,
                    compiled,
                    cleanup=self.reset_now_or_owe(job.id, job.early_result),
                    tool_compile=tool_compiled,
                )
            if not self.cleanup(keep_build=True):
                return Result(job.id, compiled, cleanup=Cleanup.DIRTY, tool_compile=tool_compiled)
            self.alone("locking the tool")
            lock_tree(TOOL_DIR, group=tool_ids()[1])
        self.alone("locking the build")
        lock_tree(BUILD_DIR)
        self.state = State.BUILD_KEPT
        runs, cleanup = self.execute_runs(job.id, job.runs, job.finish, job.early_result)
        if cleanup is Cleanup.DIRTY or (job.runs and cleanup is not Cleanup.OWED):
            self.owed_program = None  # no cleanup report will follow (a dirty container)
        return Result(job.id, compiled, runs, cleanup, tool_compile=tool_compiled, program=program)

    @staticmethod
    def collect(name: str) -> bytes | None:
        """The compiled program ``name``, when it is a regular file of a sane size."""
        data, more = read_file(BUILD_DIR, name, PROGRAM_LIMIT)
        return data if data and not more else None

    def build_tool(self, tool: Tool) -> StepResult | None:
        """Write the tool's files to its directory and compile them as the tool user.

        Raises:
            BadRequest: a file cannot be written.
        """
        self.alone("writing the tool's files")
        make_job_dir(TOOL_DIR, tool_ids())
        try:
            write_files(TOOL_DIR, tool.files, tool_ids())
        finally:
            tool.files.clear()
        if tool.compile is None:
            return None
        self.warm.discard()
        return StepRunner(tool.compile, TOOL_DIR, self.wake_fd, tool_ids()).run()

    def run(self, request: Run) -> Result:
        """Run each run against the kept build."""
        if self.state is not State.BUILD_KEPT:
            return Result(
                request.id, cleanup=_verified(self.verify(False)), error="no prepared build"
            )
        checked: list[StepResult | None] = []
        runs, cleanup = self.execute_runs(
            request.id, request.runs, request.finish, request.early_result, request.checks, checked
        )
        if cleanup is Cleanup.DIRTY:
            self.owed_program = None  # no cleanup report will bring it
        return Result(request.id, None, runs, cleanup, checks=checked)

    def execute_runs(
        self,
        ident: str,
        steps: list[Step],
        finish: bool,
        early: bool,
        checks: list[Check] | None = None,
        checked: list[StepResult | None] | None = None,
    ) -> tuple[list[StepResult], Cleanup]:
        """Run each step; with ``checks``, check each run's output (into ``checked``)."""
        results = []
        clean = True
        for index, step in enumerate(steps):
            interactive = checks is not None and checks[index].interactive
            warm = None if interactive else self.warm.take(step)
            if warm is None:
                self.warm.discard()
                self.alone("making the run directory")
                make_job_dir(RUN_DIR)  # a warm process runs in the one made for it
            if checks is not None and checked is not None and interactive:
                run, interactor = self.interact(step, checks[index])
                results.append(run)
                checked.append(interactor)
            else:
                results.append(StepRunner(step, RUN_DIR, self.wake_fd, warm=warm).run())
            stdin, step.stdin = step.stdin, b""
            if checks is not None and checked is not None and not interactive:
                # No job process may be alive while the tool runs or its files exist.
                if not self.cleanup(keep_build=True, refill=False):
                    self.state = State.UNVERIFIED
                    return results, Cleanup.DIRTY
                check = checks[index]
                verdict = None if results[-1].failed else self.check(check, stdin, results[-1])
                if verdict is not None and check.passes > 1:
                    results[-1], verdict = more_passes(
                        self, step, check, stdin, results[-1], verdict
                    )
                checked.append(verdict)
                check.answer = b""
            del stdin
            if (finish or early) and index == len(steps) - 1:
                break  # cleaned up below: after the result, when it is early
            clean = self.cleanup(keep_build=True)
            if not clean:
                self.state = State.UNVERIFIED
                return results, Cleanup.DIRTY
        if finish:
            return results, self.reset_now_or_owe(ident, early)
        if early:
            self.owed = OwedWipe(ident, keeps_build=True)
            return results, Cleanup.OWED
        return results, _verified(clean and self.verify(keep_build=True))

    def interact(self, step: Step, check: Check) -> tuple[StepResult, StepResult]:
        """Run ``step`` against the interactor, which gets the input and an output file.

        Under the Kattis convention it gets the input, the answer and a feedback
        directory instead; the run's output is then empty.
        """
        self.alone("an interactive run")
        make_job_dir(CHECK_DIR, tool_ids())
        kattis = check.convention == KATTIS
        files = {
            "input": step.stdin,
            "answer" if kattis else "output": check.answer if kattis else b"",
        }
        write_files(CHECK_DIR, files, tool_ids())
        step.stdin = b""
        tool = check.step
        if kattis:
            make_job_dir(FEEDBACK_DIR, tool_ids())
            tool.argv = [*tool.argv, *kattis_args(check)]
        else:
            tool.argv = [*tool.argv, f"{CHECK_DIR}/input", f"{CHECK_DIR}/output"]
        run, interactor = Interaction(
            step, tool, run_dir=RUN_DIR, tool_dir=CHECK_DIR, wake_fd=self.wake_fd
        ).run()
        if kattis:
            return replace(run, stdout=b"", stdout_truncated=False), with_feedback(interactor)
        output, cut = read_file(CHECK_DIR, "output", step.limits.output_bytes)
        return replace(run, stdout=output, stdout_truncated=cut), interactor

    def check(self, check: Check, stdin: bytes, run: StepResult) -> StepResult:
        """Run the tool on a run's input, output and answer (agent.checks), as the tool user."""
        self.warm.discard()
        self.alone("a check")
        return run_check(check, stdin, run, self.wake_fd)

    def alone(self, before: str) -> None:
        """Fail closed unless no job process is alive (warm ones have run nothing of a job).

        Raises:
            AgentFailure: one is; the request's answer is then DIRTY.
        """
        require_none_but(self.warm.pids(), before)

    def reset_now_or_owe(self, ident: str, early: bool) -> Cleanup:
        """reset() now; or, for an early result, once it is sent (OWED meanwhile)."""
        if not early:
            return _verified(self.reset())
        self.state = State.UNVERIFIED
        self.owed = OwedWipe(ident, keeps_build=False)
        return Cleanup.OWED

    def pay_cleanup(self) -> Cleaned | None:
        """The wipe owed after an early result, and the ``cleaned`` message saying how it went."""
        owed, self.owed = self.owed, None
        if owed is None:
            return None  # an owed program waits for the wipe after a run
        ident = owed.id
        name, self.owed_program = self.owed_program, None
        program = None
        try:
            if name is not None:
                # The run's processes go first; the build they could not change stays.
                self.warm.discard()
                kill_all()
                program = self.collect(name)
            if owed.keeps_build:
                clean = self.cleanup(keep_build=True)
                self.state = State.BUILD_KEPT if clean else State.UNVERIFIED
            else:
                clean = self.reset()
        except Exception as exc:
            log(f"internal error cleaning up after {ident!r}: {exc!r}")
            self.state = State.UNVERIFIED
            try:
                kill_all()
            except Exception:
                pass
            clean = False
        return Cleaned(ident, clean, program if clean else None)

    def reset(self) -> bool:
        """Wipe everything, the build included; True if verified clean."""
        self.state = State.UNVERIFIED
        self.owed_program = None  # the build goes, and the program with it
        if self.cleanup(keep_build=False):
            self.state = State.PRISTINE
        return self.state is State.PRISTINE

    def cleanup(self, *, keep_build: bool, refill: bool = True, keep_check: bool = False) -> bool:
        """Kill every job process and wipe what jobs can write; True if verified clean.

        Verified clean, the warm starts are started again (``refill``; agent.warm),
        in a fresh run directory of their own.
        """
        self.warm.discard()
        if not kill_all():
            log(f"processes survive SIGKILL: {other_pids()}")
            return False
        # No job process is left, so IPC found empty now stays empty.
        had_ipc = remove_ipc()
        for directory in SCRATCH_DIRS:
            wipe_contents(directory)
        kept = (KEPT if keep_build else frozenset()) | ({"check"} if keep_check else set())
        wipe_contents(WORK_DIR, keep=kept)
        # What the job parked in flight goes last: files it held lose their names first.
        leftovers.release()
        clean = self.verify(keep_build, check_ipc=had_ipc, keep_check=keep_check)
        if clean and refill and self.warm.wanted:
            make_job_dir(RUN_DIR)
            self.warm.refill(RUN_DIR)
        return clean

    def verify(self, keep_build: bool, *, check_ipc: bool = True, keep_check: bool = False) -> bool:
        """Check that nothing of a job is left; log what is.

        No job process, file, IPC object, socket (in flight or not) or tmpfs
        space that no name holds (agent.leftovers).

        Warm processes (engine code waiting for a later run) and their empty run
        directory are not leftovers.
        """
        problems = []
        warm = self.warm.pids()
        if strays := [pid for pid in other_pids() if pid not in warm]:
            problems.append(f"processes {strays}")
        for directory in SCRATCH_DIRS:
            if os.path.isdir(directory) and os.listdir(directory):
                problems.append(f"{directory} not empty")
        allowed = (KEPT if keep_build else frozenset()) | ({"check"} if keep_check else set())
        if warm and not os.listdir(RUN_DIR):
            allowed = allowed | {"run"}
        if set(os.listdir(WORK_DIR)) - allowed:
            problems.append(f"{WORK_DIR} holds {sorted(os.listdir(WORK_DIR))}")
        if check_ipc and (left := ipc_objects()):
            problems.append(f"IPC objects {left}")
        problems += leftovers.residue()
        for problem in problems:
            log(f"not clean: {problem}")
        return not problems
