"""The container's other processes: finding, killing and reaping them, and OOM kills.

The agent is PID 1 of the container's PID namespace, so every other process in
it is a job process (or an orphan of one, adopted by the agent), but the
engine's own: a fork server (agent.forkserver), which the kills here spare while
it is root's.
"""

from __future__ import annotations

import os
import signal
import time

from agent.errors import AgentFailure

# How long a SIGKILLed process may take to disappear before the agent gives up.
KILL_SECONDS = 2.0
# cgroup v1, then v2: whichever the host mounts. The OOM killer's kills, and
# the times the memory usage reached the limit (v1 failcnt, v2 "max").
OOM_COUNTERS = ("/sys/fs/cgroup/memory/memory.oom_control", "/sys/fs/cgroup/memory.events")
LIMIT_COUNTERS = (
    ("/sys/fs/cgroup/memory/memory.failcnt", None),
    ("/sys/fs/cgroup/memory.events", "max"),
)
# The pids of the engine's processes beside the agent (its fork servers).
ENGINE_PIDS: set[int] = set()


def _root_owned(pid: int) -> bool:
    """Whether every uid of ``pid`` (real, effective, saved, filesystem) is root's."""
    status = status_of(pid)
    return status is not None and bool(status[1]) and not any(status[1])


def engine_pids() -> set[int]:
    """The engine's own processes alive now: by pid and by uid.

    By pid alone, a job process that got a dead server's pid would be spared; no
    job process is ever root's (no capabilities, no-new-privileges).
    """
    return {pid for pid in ENGINE_PIDS if _root_owned(pid)}


def other_pids() -> list[int]:
    """Every process of the container but the agent and the engine's own."""
    spared = engine_pids() if ENGINE_PIDS else set()
    return [
        int(name)
        for name in os.listdir("/proc")
        if name.isdigit() and name != "1" and int(name) not in spared
    ]


def status_of(pid: int | str, proc: str = "/proc") -> tuple[str, tuple[int, ...]] | None:
    """The state letter and the uids (real, effective, saved, filesystem) of ``pid``."""
    state = ""
    uids: tuple[int, ...] = ()
    try:
        with open(f"{proc}/{pid}/status") as f:
            for line in f:
                if line.startswith("State:"):
                    state = line.split()[1]
                elif line.startswith("Uid:"):
                    uids = tuple(int(uid) for uid in line.split()[1:])
                    break
    except (OSError, ValueError, IndexError):
        return None
    return state, uids


def pids_of_user(uid: int) -> list[int]:
    """The live (not zombie) processes any of whose uids is ``uid``."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or name == "1":
            continue
        status = status_of(name)
        if status is not None and status[0] != "Z" and uid in status[1]:
            found.append(int(name))
    return found


def kill_user(uid: int, limit: float = KILL_SECONDS) -> bool:
    """SIGKILL every process of ``uid`` until none is alive; False if some survive ``limit``.

    By pid, from the agent itself (it keeps CAP_KILL): no child is forked for
    it, so a user that filled the container's process limit is killed all
    the same (a forked helper failed there with EAGAIN). A process forked
    meanwhile by one not yet killed is found by the next pass.
    """
    end = time.monotonic() + limit
    while pids := pids_of_user(uid):
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if time.monotonic() > end:
            return False
    return True


def require_none_but(spared: set[int], before: str) -> None:
    """Fail closed unless no process but the agent's, the engine's and ``spared`` is alive.

    File work in the directories a job writes (agent.files) and a tool's run
    rest on it: with no job process alive, nothing can swap an entry between a
    check and its use, or watch a tool's files. ``spared``: warm processes,
    which have run nothing of any job.

    Raises:
        AgentFailure: some are; ``before`` says what was about to happen.
    """
    if alive := [pid for pid in other_pids() if pid not in spared]:
        raise AgentFailure(f"job processes {alive} alive before {before}")


def reap_orphans() -> None:
    """Collect every exited child (PID 1 adopts all orphans of the container)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def signal_everyone() -> None:
    """SIGKILL every process of the container but the agent and the engine's own."""
    if not ENGINE_PIDS:
        # From PID 1 of a PID namespace this reaches every other process in the
        # container and nothing outside it. main() refuses to run as another PID.
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return
    # One by one: what a process forks meanwhile is found by the next call
    # (kill_all calls until none is left; a killed process forks no more).
    for pid in other_pids():
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def kill_all(limit: float = KILL_SECONDS) -> bool:
    """Kill and reap every process but the agent and the engine's own.

    Returns:
        False if some survive ``limit`` seconds.
    """
    end = time.monotonic() + limit
    while True:
        signal_everyone()
        reap_orphans()
        if not other_pids():
            return True
        if time.monotonic() > end:
            return False
        time.sleep(0.002)


def read_oom_kills() -> int | None:
    """The container's OOM kill count so far, or None when no counter is readable."""
    for path in OOM_COUNTERS:
        try:
            with open(path) as f:
                for line in f:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
        except (OSError, ValueError):
            continue
    return None


def read_limit_hits() -> int | None:
    """How often the container's memory usage reached its limit so far, or None."""
    for path, key in LIMIT_COUNTERS:
        try:
            with open(path) as f:
                if key is None:
                    return int(f.read())
                for line in f:
                    name, _, value = line.partition(" ")
                    if name == key:
                        return int(value)
        except (OSError, ValueError):
            continue
    return None
