"""Python source that jobs run to look at their own container, shared by the suites."""

from __future__ import annotations

# engine(pid) says whether a process a job sees is the agent's Python fork
# server (agent/forkserver.py), root's and named so. No job process can be
# root's; what else a job sees beside itself and the agent is a job's.
IS_ENGINE_PROCESS = """
def engine(pid):
    try:
        uids = open(f"/proc/{pid}/status").read().split("Uid:")[1].split()[:4]
        command = open(f"/proc/{pid}/cmdline").read()
    except OSError:
        return False
    return uids == ["0"] * 4 and "/launchers/python_forkserver.py" in command
"""
