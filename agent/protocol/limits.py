"""What one step may use: the one typed home of a limit, from the host to the jail.

The host fills a :class:`StepLimits` for every step it sends
(``service/sandbox/job_messages.py``, from the request's ``RunLimits``); the
agent enforces each field where its description says. A limit the kernel
enforces from exec on is also part of :class:`JailLimits`, which the jail
applies between fork and exec (``agent/jail.py``) and which decides whether a
process started ahead of its job may serve it (``agent/warm.py``).

A new limit: a field of :class:`StepLimits` (declared with :func:`limit`, so
it travels on the wire and is validated there), its value in
``job_messages.step_limits()``, and its enforcement: the step runner's loop or a
field of :class:`JailLimits` applied in the jail.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .fields import ProtocolError, as_object

DEFAULT_TIMEOUT_MS = 10_000
DEFAULT_OUTPUT_LIMIT = 64 * 1024
DEFAULT_FILE_SIZE_LIMIT = 64 * 1024 * 1024


def limit(default: int | None, minimum: int, description: str) -> Any:
    """A field of :class:`StepLimits`: its default, smallest valid value and what enforces it.

    ``None`` as default: the limit is optional (the step has none of its own).
    """
    return dataclasses.field(
        default=default, metadata={"minimum": minimum, "description": description}
    )


@dataclass(frozen=True, slots=True)
class JailLimits:
    """The resource limits a job process gets before exec (``agent.jail.Jail``)."""

    cpu_seconds: int  # RLIMIT_CPU's soft limit; the hard one a second later
    file_size_bytes: int  # RLIMIT_FSIZE, under the container's own ceiling

    def to_argv(self) -> list[str]:
        """As arguments of a process that enters jails itself (the fork server)."""
        return [str(getattr(self, name)) for name in _JAIL_FIELDS]

    @classmethod
    def from_argv(cls, argv: list[str]) -> JailLimits:
        return cls(*(int(value) for value in argv))


_JAIL_FIELDS = tuple(f.name for f in dataclasses.fields(JailLimits))
JAIL_ARGC = len(_JAIL_FIELDS)


@dataclass(frozen=True, slots=True)
class StepLimits:
    """The limits of one step; every field is checked when read off the wire."""

    wall_ms: int = limit(
        DEFAULT_TIMEOUT_MS,
        1,
        "wall-clock time from start to the last process's exit; the step runner"
        " kills the step's processes at it (timed_out)",
    )
    cpu_ms: int | None = limit(
        None,
        1,
        "user plus system CPU time of all the step's processes together, metered"
        " by the step runner (cpu_exceeded); None: no limit of its own, the"
        " jail's RLIMIT_CPU backstop still applies per process",
    )
    output_bytes: int = limit(
        DEFAULT_OUTPUT_LIMIT,
        0,
        "bytes of stdout, and of stderr, kept each; more ends the step (output_exceeded)",
    )
    file_size_bytes: int = limit(
        DEFAULT_FILE_SIZE_LIMIT, 1, "the largest file a process may write (RLIMIT_FSIZE)"
    )

    def jail(self) -> JailLimits:
        """What the jail sets before exec: RLIMIT_CPU a second past the tighter time limit."""
        limit_ms = self.wall_ms if self.cpu_ms is None else min(self.wall_ms, self.cpu_ms)
        return JailLimits(
            cpu_seconds=-(-limit_ms // 1000) + 1, file_size_bytes=self.file_size_bytes
        )

    def to_wire(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_wire(cls, value: object) -> StepLimits:
        """Limits from their wire form: an absent field takes its default.

        Raises:
            ProtocolError: a field that is not an integer at or above its minimum
                (or null, for an optional one), or a field this end does not know.
        """
        obj = as_object(value, "limits")
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = set(obj) - set(known)
        if unknown:
            raise ProtocolError(f"unknown limit {sorted(unknown)[0]!r}")
        values: dict[str, int | None] = {}
        for name, spec in known.items():
            if name not in obj:
                continue
            item = obj[name]
            minimum = spec.metadata["minimum"]
            if item is None and spec.default is None:
                values[name] = None
            elif isinstance(item, int) and not isinstance(item, bool) and item >= minimum:
                values[name] = item
            else:
                optional = " or null" if spec.default is None else ""
                raise ProtocolError(f"limits.{name} must be an integer >= {minimum}{optional}")
        return cls(**values)  # type: ignore[arg-type]
