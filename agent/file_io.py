"""File tasks: a run that reads its input from a named file and writes its output to one.

IOI and CMS tasks (and Polygon's ``input-file``/``output-file``) name the files
a program reads and writes in its working directory instead of stdin and
stdout. Before such a run the agent writes the step's input to
``step.input_file`` in the run directory: a new file (O_EXCL, O_NOFOLLOW,
relative to the directory's descriptor) of the job user's, mode 0600, so the
job reads it as its own file and nobody else's; its stdin is then empty. After
the run, once every job process is killed and reaped (nothing can swap the
entry between the check and the read), ``step.output_file`` is read relative to
the run directory's descriptor, never through a symlink, and only if it is a
regular file: at most the output limit, more being ``output_exceeded`` as a
flood on stdout would be. A missing file (or a symlink, a directory, a FIFO
planted in its place) is empty output, which the comparison or checker judges.
The result's stdout is that file; the program's own stdout was drained and
dropped (agent.step_runner).

The file is read only after the run, not watched while it grows: a program
cannot write more than its file size limit (RLIMIT_FSIZE) to it, and the run
directory is on the container's size-limited tmpfs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from agent.errors import AgentFailure
from agent.files import read_file, write_files
from agent.processes import kill_all
from agent.protocol import Step, StepResult


def place_input(step: Step, cwd: str, owner: tuple[int, int]) -> None:
    """Write ``step.stdin`` to its input file in ``cwd``, owned by ``owner`` (the job user).

    Raises:
        BadRequest: the file cannot be created (a name taken, the tmpfs full).
    """
    if step.input_file is not None:
        write_files(cwd, {step.input_file: step.stdin}, owner)


def take_output(
    step: Step, cwd: str, result: StepResult, kill: Callable[[], bool] = kill_all
) -> StepResult:
    """``result`` with its output file's contents as stdout (when the step has one).

    ``kill`` kills and reaps every job process first (True: none is left).

    Raises:
        AgentFailure: a job process survives SIGKILL, so the file cannot be read safely.
    """
    if step.output_file is None:
        return result
    if not kill():
        raise AgentFailure("job processes survive SIGKILL before the output file is read")
    limit = step.limits.output_bytes
    data, more = read_file(cwd, step.output_file, limit)
    return replace(
        result,
        stdout=data,
        stdout_truncated=more,
        output_exceeded=result.output_exceeded or more,
    )
