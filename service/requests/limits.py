"""A request's limits: what the server allows a kind of request, and what one request gets.

The one path of a limit through the engine: a setting (``service/config.py``)
bounds it in :class:`Limits`; a request's value is clamped to that bound here
(:func:`run_limits`) into :class:`RunLimits`; every step of the request gets
them as the agent protocol's ``StepLimits`` (:meth:`RunLimits.step`), which the
agent enforces, in its step runner and in the jail.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.protocol import StepLimits
from wire import Kind
from wire.requests import WireProblemRequest, WireRequest

from ..config import Settings
from ..errors import InvalidRequest
from ..languages import Language, lookup
from ..sandbox.tier import Tier

# A number an error message spells out; one further from zero is only described.
_SHOWN_BELOW = 10**18


@dataclass(frozen=True, slots=True)
class RunLimits:
    """What one request's program may use in each run, every value within the server's bound."""

    timeout_ms: int  # wall-clock time of one run
    cpu_time_limit_ms: int  # user plus system time of all a run's processes
    memory_mb: int  # the container's memory while the request runs
    output_limit: int  # bytes of stdout, and of stderr, per run
    file_size_limit: int  # the largest file a run may write (the server's own)
    compile_timeout_ms: int  # wall-clock time of the compile step, where there is one

    def step(self) -> StepLimits:
        """The limits of one run of the program, as the agent enforces them."""
        return StepLimits(
            wall_ms=self.timeout_ms,
            cpu_ms=self.cpu_time_limit_ms,
            output_bytes=self.output_limit,
            file_size_bytes=self.file_size_limit,
        )


@dataclass(frozen=True, slots=True)
class Limits:
    """What one kind of request may ask for; built from the settings (:func:`limits_for`)."""

    max_code_bytes: int
    max_stdin_bytes: int
    max_args: int
    max_timeout_ms: int
    max_memory_mb: int
    tier: Tier  # the workers' runtime tier: its memory minimums apply
    output_limit: int
    max_cpu_time_ms: int
    file_size_limit: int
    max_compile_timeout_ms: int
    max_tests: int = 0  # problems requests only

    def defaults(self) -> RunLimits:
        """What a request that asks for no limit of its own gets: every maximum."""
        return RunLimits(
            timeout_ms=self.max_timeout_ms,
            cpu_time_limit_ms=min(self.max_timeout_ms, self.max_cpu_time_ms),
            memory_mb=self.max_memory_mb,
            output_limit=self.output_limit,
            file_size_limit=self.file_size_limit,
            compile_timeout_ms=self.max_compile_timeout_ms,
        )


def limits_for(kind: Kind, settings: Settings) -> Limits:
    """What a request of ``kind`` may ask for under ``settings``."""
    problems = kind is Kind.PROBLEMS
    return Limits(
        max_code_bytes=settings.problems_max_code_bytes if problems else settings.max_code_bytes,
        max_stdin_bytes=(
            settings.problems_max_stdin_bytes if problems else settings.max_stdin_bytes
        ),
        max_args=settings.max_args,
        max_timeout_ms=settings.timeout_ms,
        max_memory_mb=settings.memory_mb,
        tier=settings.tier,
        output_limit=settings.problems_output_limit if problems else settings.output_limit,
        max_cpu_time_ms=settings.cpu_time_ceiling_ms,
        file_size_limit=settings.file_size_limit,
        max_compile_timeout_ms=settings.compile_timeout_ms,
        max_tests=settings.problems_max_tests if problems else 0,
    )


def run_limits(wire: WireRequest, language: Language, limits: Limits) -> RunLimits:
    """The request's own limits, each clamped to the server's bound.

    Raises:
        InvalidRequest: a value below its minimum, naming the field.
    """
    timeout_ms = clamp("timeout_ms", wire.timeout_ms, limits.max_timeout_ms)
    ceiling = limits.max_cpu_time_ms
    return RunLimits(
        timeout_ms=timeout_ms,
        cpu_time_limit_ms=(
            min(timeout_ms, ceiling)
            if wire.cpu_time_limit_ms is None
            else clamp("cpu_time_limit_ms", wire.cpu_time_limit_ms, ceiling)
        ),
        memory_mb=_memory_mb(wire, language, limits),
        output_limit=limits.output_limit,
        file_size_limit=limits.file_size_limit,
        compile_timeout_ms=clamp(
            "compile_timeout_ms", wire.compile_timeout_ms, limits.max_compile_timeout_ms
        ),
    )


def _memory_mb(wire: WireRequest, language: Language, limits: Limits) -> int:
    """The request's memory limit: at most the server's, at least what its languages need.

    Less than a language's minimum (the smallest limit at which its hello world
    runs beside the agent, on this daemon's tier) is refused, not accepted and
    failed. A problem's checker or interactor runs under the same limit.
    """
    languages = [language]
    if isinstance(wire, WireProblemRequest) and (tool := wire.checker or wire.interactor):
        languages += [found for found in (lookup(tool.language),) if found is not None]
    needed = max(limits.tier.min_memory_mb(lang) for lang in languages)
    if wire.memory_mb is not None and wire.memory_mb < needed:
        names = "/".join(dict.fromkeys(lang.name for lang in languages))
        raise InvalidRequest(
            f"memory_mb must be at least {needed} for {names}{limits.tier.label},"
            f" got {wire.memory_mb}"
        )
    return clamp("memory_mb", wire.memory_mb, limits.max_memory_mb)


def clamp(name: str, value: int | None, maximum: int, *, minimum: int = 1) -> int:
    """``value`` capped at ``maximum`` (absent: the maximum); below ``minimum`` refused."""
    if value is None:
        return maximum
    if value < minimum:
        shown = str(value) if -_SHOWN_BELOW < value else f"less than {-_SHOWN_BELOW}"
        raise InvalidRequest(f"{name} must be at least {minimum}, got {shown}")
    return min(value, maximum)
