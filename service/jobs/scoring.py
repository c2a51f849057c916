"""Scores: each test's score, and groups (subtasks, Kattis test data groups) that add up.

A test scores what its report says (its points when accepted, or what the
checker gave; 0 otherwise). A group aggregates its members (its tests and the
groups nested in it, in order of first appearance) by its rule: ``sum``,
``min``, or ``pass-fail`` (its members' maximum scores only when every test in
it, nested ones included, is accepted). A group that only tests name, and no
``groups`` entry declares, is pass-fail at the top level: the subtasks of
before. The request's score is the sum of its top-level members. The
request's ``status`` is not decided here: it stays the first non-accepted
verdict whatever the score (:func:`service.jobs.grading.summarize`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from wire import Status
from wire.replies import GroupReport, TestReport

from ..requests import TestCase
from ..requests.request import Aggregation, GroupRule

# Scores are sums of client-given decimals: rounded so that 0.1 + 0.2 reads 0.3.
DIGITS = 9


@dataclass(frozen=True, slots=True)
class Scores:
    score: float
    max_score: float
    groups: list[GroupReport] | None  # None: no test has a group


@dataclass(slots=True)
class _Member:
    score: float
    max_score: float
    status: Status


@dataclass(slots=True)
class _Group:
    rule: GroupRule
    members: list[int | str] = field(default_factory=list)  # a test's index, or a group


def _rules(rules: Sequence[GroupRule]) -> dict[str, GroupRule]:
    return {rule.id: rule for rule in rules}


def _chain(name: str | None, rules: dict[str, GroupRule]) -> list[str]:
    """``name`` and the groups it is nested in, innermost first."""
    chain: list[str] = []
    while name is not None and name not in chain:
        chain.append(name)
        name = rules.get(name, GroupRule(name)).parent
    return chain


def skips(
    test: TestCase,
    tests: Sequence[TestCase],
    reports: Sequence[TestReport],
    rules: Sequence[GroupRule] = (),
) -> bool:
    """Whether ``test`` need not run: a group it is in breaks on the failure of a test before.

    ``reports``: those of the tests before it, in test order.
    """
    by_id = _rules(rules)
    chain = _chain(test.group, by_id)
    if not chain:
        return False
    failed: set[str] = set()
    for earlier, report in zip(tests, reports, strict=False):
        if not report.passed:
            failed.update(_chain(earlier.group, by_id))
    return any(
        name in failed and by_id.get(name, GroupRule(name)).on_reject_break for name in chain
    )


def score(
    tests: Sequence[TestCase],
    reports: Sequence[TestReport],
    missing: Status = Status.SKIPPED,
    rules: Sequence[GroupRule] = (),
) -> Scores:
    """Score ``reports`` (in test order; tests past their end count as ``missing``)."""
    by_id = _rules(rules)
    groups: dict[str, _Group] = {}
    top: list[int | str] = []
    for index, test in enumerate(tests):
        chain = _chain(test.group, by_id)
        if not chain:
            top.append(index)
            continue
        # Outermost first, so that a group is listed before those nested in it.
        for name in reversed(chain):
            if name not in groups:
                rule = by_id.get(name, GroupRule(name))
                groups[name] = _Group(rule)
                parent = groups[rule.parent].members if rule.parent in groups else top
                parent.append(name)
        groups[chain[0]].members.append(index)

    def test_member(index: int) -> _Member:
        if index < len(reports):
            report = reports[index]
            return _Member(report.score, tests[index].points, report.status)
        return _Member(0.0, tests[index].points, missing)

    evaluated: dict[str, _Member] = {}

    def member(item: int | str) -> _Member:
        return test_member(item) if isinstance(item, int) else evaluate(item)

    def evaluate(name: str) -> _Member:
        group = groups[name]
        members = [member(item) for item in group.members]
        status = next((m.status for m in members if m.status is not Status.ACCEPTED), None)
        aggregation = group.rule.aggregation
        if aggregation is Aggregation.MIN:
            total = min(m.score for m in members)
            most = min(m.max_score for m in members)
        else:
            most = sum(m.max_score for m in members)
            total = sum(m.score for m in members)
            if aggregation is Aggregation.PASS_FAIL:
                total = most if status is None else 0.0
        evaluated[name] = _Member(
            round(total, DIGITS), round(most, DIGITS), status or Status.ACCEPTED
        )
        return evaluated[name]

    members = [member(item) for item in top]
    return Scores(
        score=round(sum(m.score for m in members), DIGITS),
        max_score=round(sum(m.max_score for m in members), DIGITS),
        groups=[
            GroupReport(
                id=name,
                score=evaluated[name].score,
                max_score=evaluated[name].max_score,
                status=evaluated[name].status,
                parent=group.rule.parent,
                aggregation=group.rule.aggregation.value,
            )
            for name, group in groups.items()
        ]
        or None,
    )
