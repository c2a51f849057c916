"""Problem packages verified over NATS: the request on packages.verify.request and the
report, which ``code-engine verify --json`` prints as well.

Each field's ``Meta(description=...)`` is what the generated protocol reference
says of it.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

PACKAGES_SUBJECT = "packages.verify.request"  # a package (zip or stored object) in, report out
PACKAGES_QUEUE = "code-engine-packages"


class WireStoredPackage(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A package kept as a zip in a JetStream object store bucket."""

    bucket: Annotated[str, Meta(description="the object store bucket's name")]
    name: Annotated[str, Meta(description="the object's name in it (the object itself, no link)")]


class WirePackageRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A request on packages.verify.request: verify one package, sent or named (one of them)."""

    package: Annotated[
        str | None,
        Meta(
            description="base64; the package as a zip (its directory, or its files at the "
            "top), within the server's payload limit"
        ),
    ] = None
    stored: Annotated[
        WireStoredPackage | None,
        Meta(
            description="the package by reference: a zip in a JetStream object store, at most "
            "serve-packages' --max-package-mb"
        ),
    ] = msgspec.field(default=None, name="object")
    id: Annotated[str | None, Meta(description="echoed in the report")] = None


class TestOutcome(msgspec.Struct, kw_only=True):
    """One test of a judged submission."""

    id: Annotated[str, Meta(description="the test's name under data/, e.g. secret/group1/01")]
    status: Annotated[str, Meta(description="the engine's verdict, skipped when not run")]
    score: Annotated[float, Meta(description="what the test scored")] = 0.0
    time_ms: Annotated[float | None, Meta(description="its CPU time")] = None
    message: Annotated[str, Meta(description="the validator's message or the error, cut")] = ""


class SubmissionOutcome(msgspec.Struct, kw_only=True):
    """One submission: its verdict, score, and what breaks its folder's rule."""

    submission: Annotated[str, Meta(description="its path under submissions/ (or as given)")]
    folder: Annotated[str, Meta(description="its folder, empty for a submission of one's own")]
    status: Annotated[
        str, Meta(description="the first verdict that is not accepted, else accepted")
    ]
    score: Annotated[float | None, Meta(description="scoring problems: its score")] = None
    max_score: Annotated[float | None, Meta(description="scoring problems: the most")] = None
    slowest_ms: Annotated[float, Meta(description="its slowest accepted test's CPU time")] = 0.0
    problems: Annotated[
        list[str], Meta(description="why it breaks its folder's rule; empty: as expected")
    ] = []
    tests: Annotated[list[TestOutcome], Meta(description="its tests in order")] = []
    compile_output: Annotated[str, Meta(description="the compiler's diagnostics")] = ""


class InputsOutcome(msgspec.Struct, kw_only=True):
    """The input validators' runs on the package's inputs."""

    checked: Annotated[int, Meta(description="input validator runs")] = 0
    problems: Annotated[
        list[str], Meta(description="inputs rejected, and invalid inputs every validator accepted")
    ] = []


class PackageReport(msgspec.Struct, kw_only=True):
    """The verification of a package: the reply on packages.verify.request."""

    id: Annotated[str, Meta(description="the request's id, or empty")] = ""
    package: Annotated[str, Meta(description="the problem's name")] = ""
    version: Annotated[str, Meta(description="its problem_format_version (legacy when none)")] = ""
    time_limit_s: Annotated[float, Meta(description="the time limit it was judged under")] = 0.0
    seconds: Annotated[float, Meta(description="how long the verification took")] = 0.0
    inputs: Annotated[InputsOutcome, Meta(description="the input validation")] = msgspec.field(
        default_factory=InputsOutcome
    )
    submissions: Annotated[
        list[SubmissionOutcome], Meta(description="each submission judged, in order")
    ] = []
    warnings: Annotated[list[str], Meta(description="what the package has that was ignored")] = []
    error: Annotated[
        str, Meta(description="why the package could not be verified (malformed, unreadable)")
    ] = ""

    @property
    def ok(self) -> bool:
        return (
            not self.error
            and not self.inputs.problems
            and not any(sub.problems for sub in self.submissions)
        )
