"""Write the documentation's generated reference pages from the code they describe.

    .venv/bin/python scripts/gen_reference.py           # rewrite docs/reference/ (make reference)
    .venv/bin/python scripts/gen_reference.py --check   # exit 1 naming each stale file

What each page is made from:

    protocol.md, schema.json   the wire types (msgspec JSON Schema: struct docstrings,
                               field Meta descriptions), enum members' comments, the
                               language table
    configuration.md           service.config.describe(): every setting's variable,
                               default and description
    metrics.md                 what EngineCollector yields, read from a stub engine
    cli.md                     service.cli's argparse parser
    statuses.md                wire.status: each member and its comment
    subjects.md                wire.subjects: each constant and its comment

The protocol pages are made in reference_protocol.py, the Markdown and the
reading of comments in reference_markdown.py, both beside this script.
tests/unit/test_docs_reference.py regenerates every page in memory and fails
when a checked-in file differs, so the reference cannot drift from the code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from types import SimpleNamespace

from reference_markdown import REGENERATE, banner, source_comments, table
from reference_protocol import protocol_page, schema_json

from gateway import settings as gateway_settings
from service import cli, config
from service.operations import metrics as metrics_module
from service.operations.discovery import Discovery
from service.operations.prometheus import EngineCollector
from wire import admin, stats, status, subjects

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "docs" / "reference"
__all__ = ["REFERENCE", "REGENERATE", "ROOT", "generate", "source_comments", "stale"]


def statuses_page() -> str:
    comments = source_comments(status, "Status")
    out = [
        banner("wire/status.py"),
        "# Statuses\n\n",
        "Every reply carries one `status`; a problems reply also one per test and per group. "
        "One enum, so a status means the same on both subjects. The columns say which "
        "replies may carry it: a compiler reply (also the reply to a problems request "
        "without tests) or a problems reply. How each verdict is reached: "
        "[Requests and replies](requests.md#verdicts).\n\n",
    ]
    heading = None
    rows: list[tuple[str, ...]] = []
    for member in status.Status:
        group, meaning = comments[member.name]
        if group != heading:
            if rows:
                out.append(table(("status", "meaning", "compiler", "problems"), rows) + "\n")
            out.append(f"## {group.rstrip('.')}\n\n")
            heading, rows = group, []
        rows.append(
            (
                f"`{member.value}`",
                meaning,
                "yes" if member in status.COMPILER_STATUSES else "",
                "yes" if member in status.PROBLEMS_STATUSES else "",
            )
        )
    out.append(table(("status", "meaning", "compiler", "problems"), rows))
    return "".join(out)


def subjects_page() -> str:
    comments = source_comments(subjects)
    constants = [
        (f"`{name}`", f"`{value}`", comments[name][1] or comments[name][0])
        for name, value in vars(subjects).items()
        if name.isupper() and isinstance(value, str) and name in comments
    ]
    instance = "<instance>"
    kinds = list(subjects.Kind)
    patterns = [
        (
            f"`{subjects.subject_for(kind)}`",
            f"{kind.value} requests (queue group `{subjects.QUEUE_GROUP}`)",
        )
        for kind in kinds
    ]
    patterns += [
        (f"`{subjects.stats_subject(instance)}`", "the instance's stats snapshot, once a second"),
        (f"`{subjects.admin_subject(instance)}`", "the instance's admin requests"),
        (
            f"`{subjects.LANGUAGES_SUBJECT}`",
            "the languages served, answered by every instance (any payload asks)",
        ),
    ]
    patterns += [
        (
            f"`{subjects.durable_subject(kind)}`",
            f"durable {kind.value} requests (JetStream stream `{subjects.DURABLE_STREAM}`)",
        )
        for kind in kinds
    ]
    patterns += [
        (
            f"`{subjects.dead_letter_subject(subjects.DEAD_LETTER_PREFIX, kind)}`",
            f"poison {kind.value} requests",
        )
        for kind in kinds
    ]
    service_api = Discovery(instance_id=instance, version="", endpoints={}).subjects()
    verbs = dict.fromkeys(subject.split(".")[1] for subject in service_api)
    patterns += [
        (
            ", ".join(f"`{s}`" for s in service_api if s.split(".")[1] == verb),
            f"the NATS service API's {verb}, answered by every instance",
        )
        for verb in verbs
    ]
    return (
        banner("wire/subjects.py") + "# NATS subjects and headers\n\n"
        "The subjects an instance listens and publishes on, and the constants they are made "
        "from. The execute subjects, the queue group, the durable stream and the dead-letter "
        "prefix can be changed in the [configuration](configuration.md).\n\n"
        "## Subjects\n\n"
        + table(("subject", "carries"), patterns)
        + "\n## Constants\n\n"
        + table(("name", "value", "meaning"), constants)
    )


# --- Configuration, metrics, command line ------------------------------------------


def _settings_table(cls: type, rows: list[tuple[str, str, str]]) -> str:
    secret = {f.metadata["env"] for f in fields(cls) if "env" in f.metadata and not f.repr}
    return table(
        ("variable", "default", "meaning"),
        [
            (
                f"`{env}`",
                f"`{default}`",
                meaning + (" (a secret: never printed with the settings)" if env in secret else ""),
            )
            for env, default, meaning in rows
        ],
    )


def configuration_page() -> str:
    return (
        banner("service/config.py") + "# Configuration\n\n"
        "Every setting comes from the environment, read once at start-up into one typed "
        "object (`service/config.py`); a value that does not parse, or is out of range, is a "
        "start-up error naming the variable. `code-engine serve --help` prints the same table.\n\n"
        + _settings_table(config.Settings, config.describe())
        + "\n## The gateway\n\n"
        "`code-engine gateway` and `code-engine mcp` read the daemon's NATS settings and "
        "subjects above (`NATSURL`, `CODE_ENGINE_NATS_*`, `CODE_ENGINE_COMPILER_SUBJECT`, "
        "`CODE_ENGINE_PROBLEMS_SUBJECT`) and limits (for Judge0's `/config_info`), and these "
        "of their own (`gateway/settings.py`); `code-engine gateway --help` prints them. "
        "See [Run the HTTP gateway](../how-to/gateway.md).\n\n"
        + _settings_table(gateway_settings.GatewaySettings, gateway_settings.describe())
    )


def _stub_collector() -> EngineCollector:
    figures = metrics_module.Metrics()
    for kind in subjects.Kind:  # one reply of each kind, so every label shows
        figures.record("job", "python", status.Status.OK, 1.0, kind=kind.value)
    return EngineCollector(
        instance_id="instance",
        version="version",
        concurrency=1,
        metrics=figures,
        pool=SimpleNamespace(containers=[], starting=0, workers=1, replaced_by={}, docker_ok=True),
        queue=SimpleNamespace(queued=0, capacity=1, in_flight=0),
        bus=SimpleNamespace(connected=True, reconnects=0),
        state=lambda: admin.EngineState.RUNNING,
        compile_cache=lambda: stats.CompileCache(),
    )


LABELS = {
    "status": "a [status](statuses.md)",
    "instance": "the instance's id",
    "version": "the engine's version",
}


def metrics_page() -> str:
    rows = []
    for family in _stub_collector().collect():
        name = family.name + ("_total" if family.type == "counter" else "")
        labels = []
        for label in dict.fromkeys(key for sample in family.samples for key in sample.labels):
            if label == "le":
                continue
            values = dict.fromkeys(sample.labels[label] for sample in family.samples)
            shown = LABELS.get(label) or ", ".join(f"`{value}`" for value in values)
            labels.append(f"`{label}`: {shown}")
        rows.append((f"`{name}`", family.type, "; ".join(labels), family.documentation))
    buckets = ", ".join(f"{bound:g}" for bound in metrics_module.DURATION_BUCKETS)
    return (
        banner("service/operations/prometheus.py") + "# Metrics\n\n"
        "With `CODE_ENGINE_METRICS_ADDR` set, `/metrics` serves these in the Prometheus text "
        "format. They are read at scrape time from the figures the stats snapshot is made "
        "of, so each reply is counted once. Why containers are replaced (`reason`): "
        "[Operations API](operations.md#why-containers-are-replaced).\n\n"
        + table(("metric", "type", "labels", "meaning"), rows)
        + f"\nThe duration histogram's buckets, in seconds: {buckets}.\n\n"
        "The `process_*` metrics of `prometheus_client` (the daemon's CPU time, memory, open "
        "file descriptors, start time) come with them.\n"
    )


def _usage(parser: argparse.ArgumentParser) -> str:
    formatter = argparse.HelpFormatter(parser.prog, width=100)
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups, prefix="")
    return formatter.format_help().strip()


def cli_page() -> str:
    parser = cli._parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    summaries = {action.dest: action.help for action in commands._choices_actions}
    out = [
        banner("service/cli.py"),
        "# Command line\n\n",
        f"`{parser.prog}`: {parser.description} Installed into the virtualenv as "
        "`.venv/bin/code-engine`.\n",
    ]
    for name, sub in commands.choices.items():
        out.append(f"\n## {parser.prog} {name}\n\n")
        out.append((sub.description or summaries.get(name) or "") + "\n\n")
        out.append(f"```\n{_usage(sub)}\n```\n\n")
        rows = []
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            shown = (
                ", ".join(f"`{option}`" for option in action.option_strings)
                or f"`{action.dest.upper()}`"
            )
            default = "" if action.default in (None, False) else f"`{action.default}`"
            kind = getattr(action.type, "__name__", "") if action.type else ""
            rows.append((shown, kind, action.help or "", default))
        out.append(table(("argument", "type", "meaning", "default"), rows))
        if name == "serve":
            out.append(
                "\n`code-engine serve --help` also prints every setting with its default: "
                "[Configuration](configuration.md).\n"
            )
    return "".join(out)


PAGES: dict[str, Callable[[], str]] = {
    "protocol.md": protocol_page,
    "schema.json": schema_json,
    "statuses.md": statuses_page,
    "subjects.md": subjects_page,
    "configuration.md": configuration_page,
    "metrics.md": metrics_page,
    "cli.md": cli_page,
}


def generate() -> dict[Path, str]:
    """Every generated file's path and its contents, as the code says now."""
    return {REFERENCE / name: make() for name, make in PAGES.items()}


def stale(pages: dict[Path, str]) -> list[Path]:
    """The files whose checked-in contents differ from ``pages`` (or that are missing)."""
    return [
        path
        for path, text in pages.items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write docs/reference/ from the code.")
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args(argv)
    pages = generate()
    if args.check:
        for path in stale(pages):
            print(f"stale: {path.relative_to(ROOT)} (run `{REGENERATE}`)", file=sys.stderr)
        return 1 if stale(pages) else 0
    for path, text in pages.items():
        path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
