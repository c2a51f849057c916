"""Scores: points per test, IOI-style groups (subtasks) scored all or nothing.

A test without a group scores its points when accepted; a group scores the sum
of its tests' points only when every test in it is accepted. The request's
``status`` is not decided here: it stays the first non-accepted verdict
whatever the score (:func:`service.jobs.grading.summarize`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from wire import Status
from wire.replies import GroupReport, TestReport

from ..requests import TestCase

# Scores are sums of client-given decimals: rounded so that 0.1 + 0.2 reads 0.3.
DIGITS = 9


@dataclass(frozen=True, slots=True)
class Scores:
    score: float
    max_score: float
    groups: list[GroupReport] | None  # None: no test has a group


def failed_groups(tests: Sequence[TestCase], reports: Sequence[TestReport]) -> set[str]:
    """The groups with a test that was not accepted (``reports`` in test order)."""
    return {
        test.group
        for test, report in zip(tests, reports, strict=False)
        if test.group is not None and not report.passed
    }


def score(
    tests: Sequence[TestCase],
    reports: Sequence[TestReport],
    missing: Status = Status.SKIPPED,
) -> Scores:
    """Score ``reports`` (in test order; tests past their end count as ``missing``)."""
    total = 0.0
    groups: dict[str, GroupReport] = {}
    for index, test in enumerate(tests):
        status = reports[index].status if index < len(reports) else missing
        if test.group is None:
            total += test.points if status is Status.ACCEPTED else 0.0
            continue
        group = groups.setdefault(
            test.group, GroupReport(id=test.group, score=0.0, max_score=0.0, status=Status.ACCEPTED)
        )
        group.max_score += test.points
        if group.status is Status.ACCEPTED and status is not Status.ACCEPTED:
            group.status = status
    for group in groups.values():
        group.max_score = round(group.max_score, DIGITS)
        group.score = group.max_score if group.status is Status.ACCEPTED else 0.0
        total += group.score
    return Scores(
        score=round(total, DIGITS),
        max_score=round(sum(test.points for test in tests), DIGITS),
        groups=list(groups.values()) if groups else None,
    )
