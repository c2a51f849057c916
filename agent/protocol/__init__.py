"""The agent protocol: every message between the host and the in-container agent.

One package, imported by both ends: the host (``service/sandbox/agent_link.py``),
the agent itself (this package, run as PID 1 of each worker container) and the
test double (``service/testing/fake_agent.py``). Standard library only, so the
worker image needs nothing beyond Python.

On the wire each message is one line of JSON with a ``type`` tag; bytes travel
as base64, except a compiled program (a job's ``program``, a result's or a
``cleaned`` message's), whose raw bytes follow the line, the line's ``program``
field giving their length. Host to agent::

    ping                                           are you there?
    job     id, files, compile, runs, finish, early_result, tool,
            collect, program                       a kept program in place of a compile
    run     id, runs, finish, early_result, checks  against the build a job kept
    finish  id                                     wipe everything, the build too
    shed                                           stop the warm processes (answered pong)

Agent to host::

    ready     version                              once, at start-up
    pong
    result    id, compile, runs, cleanup, error,   the answer to job and run
              tool_compile, checks, program
    cleaned   id, clean, program                   after a result whose cleanup is OWED
    finished  id, clean                            the answer to finish
    error     message, id                          a line it could not read at all

A ``job`` writes ``files`` into the build directory, runs ``compile`` there
(when given) and then each of ``runs`` in a fresh run directory. A run step of
a file task names its ``input_file`` and ``output_file`` there: its stdin is
written to the one and the other is read back as its stdout (agent.file_io). With
``finish=false`` the build is kept for later ``run`` messages. With
``early_result`` (and ``finish``) the agent answers as soon as the last step is
over, with ``cleanup`` OWED, and reports the wipe in a ``cleaned`` message
before it reads its next request.

A job's ``tool`` (a problem's checker) is written to its own directory and
compiled there as the tool user, a uid other than the job's; both builds are
then locked, the tool's readable by the tool user only. A run's ``checks``
run the tool after each run that ended cleanly, once no job process is left,
with the run's input, output and the expected answer as files only the tool
user can read.

:func:`decode_host_message` and :func:`decode_agent_message` turn what
:func:`encode` wrote back into a message. A reader of a stream takes the line
(:func:`parse_line`), then the bytes :func:`attachment_size` says follow it
(:func:`attach`), then makes the message (``host_message_from`` or
``agent_message_from``); :class:`MessageBuffer` does the first two for bytes
that arrive in pieces. Anything malformed raises :class:`ProtocolError` with a
reason, and nothing half-parsed gets further.
"""

from .agent_messages import (
    AgentMessage,
    Cleaned,
    Cleanup,
    Error,
    Finished,
    Pong,
    Ready,
    Result,
)
from .codec import (
    PROGRAM_LIMIT,
    PROTOCOL_VERSION,
    Message,
    MessageBuffer,
    agent_message_from,
    attach,
    attachment_size,
    decode_agent_message,
    decode_host_message,
    encode,
    host_message_from,
    parse_line,
)
from .fields import ProtocolError
from .host_messages import (
    CONVENTIONS,
    KATTIS,
    TESTLIB,
    Check,
    Finish,
    HostMessage,
    Job,
    Ping,
    Run,
    Shed,
    Tool,
)
from .limits import (
    DEFAULT_FILE_SIZE_LIMIT,
    DEFAULT_OUTPUT_LIMIT,
    DEFAULT_TIMEOUT_MS,
    JailLimits,
    StepLimits,
)
from .steps import FEEDBACK_FILES, FEEDBACK_LIMIT, Step, StepResult

__all__ = [
    "CONVENTIONS",
    "DEFAULT_FILE_SIZE_LIMIT",
    "DEFAULT_OUTPUT_LIMIT",
    "DEFAULT_TIMEOUT_MS",
    "FEEDBACK_FILES",
    "FEEDBACK_LIMIT",
    "KATTIS",
    "PROGRAM_LIMIT",
    "PROTOCOL_VERSION",
    "TESTLIB",
    "AgentMessage",
    "Check",
    "Cleaned",
    "Cleanup",
    "Error",
    "Finish",
    "Finished",
    "HostMessage",
    "JailLimits",
    "Job",
    "Message",
    "MessageBuffer",
    "Ping",
    "Pong",
    "ProtocolError",
    "Ready",
    "Result",
    "Run",
    "Shed",
    "Step",
    "StepLimits",
    "StepResult",
    "Tool",
    "agent_message_from",
    "attach",
    "attachment_size",
    "decode_agent_message",
    "decode_host_message",
    "encode",
    "host_message_from",
    "parse_line",
]
