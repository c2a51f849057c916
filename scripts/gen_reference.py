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

tests/unit/test_docs_reference.py regenerates them in memory and fails when a
checked-in file differs, so the reference cannot drift from the code.
"""

from __future__ import annotations

import argparse
import ast
import enum
import inspect
import io
import json
import sys
import tokenize
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import msgspec

from service import cli, config
from service.languages import LANGUAGES
from service.operations import metrics as metrics_module
from service.operations.discovery import Discovery
from service.operations.prometheus import EngineCollector
from wire import admin, replies, requests, stats, status, subjects

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "docs" / "reference"
REGENERATE = "make reference"  # what the currency test tells a contributor to run


def _banner(source: str) -> str:
    return (
        f"<!-- Generated from {source} by scripts/gen_reference.py: do not edit by hand, "
        f"run `{REGENERATE}`. -->\n\n"
    )


def _text(text: object) -> str:
    """Prose from the code as Markdown: ``<name>`` outside code spans is text, not HTML."""
    parts = str(text).split("`")
    return "`".join(part if i % 2 else part.replace("<", "&lt;") for i, part in enumerate(parts))


def _cell(text: object) -> str:
    """Text for one cell of a Markdown table."""
    return _text(text).replace("|", "\\|").replace("\n", " ")


def _table(header: tuple[str, ...], rows: Sequence[tuple[object, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


# --- Comments in source: what an enum member or a constant means ---------------------


def source_comments(
    module: ModuleType, class_name: str | None = None
) -> dict[str, tuple[str, str]]:
    """``NAME -> (heading, beside)`` for each ``NAME = ...`` of a module or one of its classes.

    ``beside`` is the comment on the assignment's own line; ``heading`` the block of
    comment lines above it, which also heads the assignments that follow it
    directly (a group), until a blank line.
    """
    source = inspect.getsource(module)
    full: dict[int, str] = {}
    beside: dict[int, str] = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            row = token.start[0]
            text = token.string.lstrip("#").strip()
            if token.line.strip().startswith("#"):
                full[row] = text
            else:
                beside[row] = text
    body: list[ast.stmt] = ast.parse(source).body
    if class_name is not None:
        body = next(
            node.body for node in body if isinstance(node, ast.ClassDef) and node.name == class_name
        )
    assigned = {
        node.lineno: node.targets[0].id
        for node in body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
    }
    found: dict[str, tuple[str, str]] = {}
    for row, name in assigned.items():
        above: list[str] = []
        cursor = row - 1
        while cursor in assigned:  # a member of a group: the group's heading is above it
            cursor -= 1
        while cursor in full:
            above.insert(0, full[cursor])
            cursor -= 1
        found[name] = (" ".join(above), beside.get(row, ""))
    return found


# --- Protocol: the wire types ------------------------------------------------------

REQUEST_TYPES: tuple[type, ...] = (
    requests.WireRequest,
    requests.WireProblemRequest,
    requests.WireTest,
    requests.WireFile,
    requests.WireTool,
)
REPLY_TYPES: tuple[type, ...] = (
    replies.Reply,
    replies.ProblemReply,
    replies.TestReport,
    replies.GroupReport,
)
ADMIN_TYPES: tuple[type, ...] = (admin.AdminRequest, admin.AdminReply)
STATS_TYPES: tuple[type, ...] = (stats.Snapshot,)
ENUMS: tuple[tuple[ModuleType, type[enum.Enum]], ...] = (
    (admin, admin.AdminAction),
    (admin, admin.EngineState),
    (stats, stats.ContainerState),
)


def schema() -> tuple[tuple[dict[str, Any], ...], dict[str, Any]]:
    every = REQUEST_TYPES + REPLY_TYPES + ADMIN_TYPES + STATS_TYPES
    return msgspec.json.schema_components(every, ref_template="#/$defs/{name}")


def schema_json() -> str:
    _, components = schema()
    document = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"code-engine protocol {requests.PROTOCOL_VERSION}",
        "description": (
            "The messages of code-engine's NATS protocol. compiler.execute.request takes a "
            "WireRequest and answers a Reply; problems.execute.request takes a "
            "WireProblemRequest and answers a ProblemReply (a Reply when it has no tests); "
            "code-engine.admin.<instance> takes an AdminRequest and answers an AdminReply; "
            "code-engine.stats.<instance> carries a Snapshot."
        ),
        "$defs": components,
    }
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


def _type_of(node: dict[str, Any]) -> str:
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        return "[status](statuses.md)" if name == "Status" else f"[{name}](#{name.lower()})"
    if "anyOf" in node:
        return " or ".join(_type_of(option) for option in node["anyOf"])
    kind = node.get("type")
    if kind == "array":
        return f"list of {_type_of(node['items'])}"
    if kind == "object" and "additionalProperties" in node:
        return f"object of {_type_of(node['additionalProperties'])}"
    return str(kind)


def _default(node: dict[str, Any], required: bool) -> str:
    if required:
        return "required"
    if "default" not in node:
        return "absent"
    if isinstance(node["default"], dict) and node["default"]:
        return "its defaults"
    return f"`{json.dumps(node['default'])}`"


def _meaning(node: dict[str, Any], components: dict[str, Any]) -> str:
    """A field's description, or else that of the type it refers to."""
    if node.get("description"):
        return str(node["description"])
    if "$ref" in node:
        return str(components[node["$ref"].rsplit("/", 1)[-1]].get("description", ""))
    return ""


def _struct_section(cls: type, components: dict[str, Any], shown: set[str]) -> str:
    node = components[cls.__name__]
    parent = next((base for base in cls.__mro__[1:] if base.__name__ in shown), None)
    required = set(node.get("required", []))
    out = [f"### {cls.__name__}\n"]
    if node.get("description"):
        out.append(_text(node["description"].strip()) + "\n")
    fields = node["properties"]
    if parent is not None:
        out.append(f"Every field of [{parent.__name__}](#{parent.__name__.lower()}), and:\n")
        fields = {
            k: v for k, v in fields.items() if k not in components[parent.__name__]["properties"]
        }
    rows = [
        (
            f"`{name}`",
            _type_of(field),
            _default(field, name in required),
            _meaning(field, components),
        )
        for name, field in fields.items()
    ]
    out.append(_table(("field", "type", "default", "meaning"), rows))
    shown.add(cls.__name__)
    return "\n".join(out)


def _nested(types: tuple[type, ...], components: dict[str, Any]) -> list[str]:
    """The struct components reachable from ``types``, in order of first mention."""
    order: list[str] = []

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if ref is not None:
                name = ref.rsplit("/", 1)[-1]
                if name not in order and components[name].get("type") == "object":
                    order.append(name)
                    visit(components[name])
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    for cls in types:
        if cls.__name__ not in order:
            order.append(cls.__name__)
        visit(components[cls.__name__])
    return order


def _enum_section(module: ModuleType, members: type[enum.Enum]) -> str:
    comments = source_comments(module, members.__name__)
    rows = [(f"`{member.value}`", comments.get(member.name, ("", ""))[1]) for member in members]
    return f"### {members.__name__}\n\n" + _table(("value", "meaning"), rows)


def protocol_page() -> str:
    _, components = schema()
    by_name = {cls.__name__: cls for cls in REQUEST_TYPES + REPLY_TYPES + ADMIN_TYPES}
    shown: set[str] = set()

    def sections(types: tuple[type, ...]) -> str:
        out = []
        for name in _nested(types, components):
            if name in shown:
                continue
            cls = by_name.get(name) or getattr(stats, name)
            out.append(_struct_section(cls, components, shown))
        return "\n".join(out)

    languages = [
        (
            f"`{lang.name}`",
            ", ".join(f"`{alias}`" for alias in lang.aliases),
            f"`{lang.source_file}`",
            "compiled" if lang.compiled else "interpreted",
            ", ".join(f"`{suffix}`" for suffix in lang.source_suffixes)
            or "imported by the program",
        )
        for lang in LANGUAGES
    ]
    return (
        _banner("wire/ and service/languages.py")
        + f"# Protocol {requests.PROTOCOL_VERSION}: messages\n\n"
        "Every message that crosses NATS, field by field, as the wire types in `wire/` define it. "
        "All are JSON objects; bytes (`code`, `stdin`, a file's `content`, a test's data) travel "
        "as base64. A request field its subject does not know is refused by name "
        "(`invalid_request`). The same definitions as JSON Schema (2020-12): "
        "[schema.json](schema.json). What the fields do, with examples: "
        "[Requests and replies](requests.md).\n\n"
        "## Languages\n\n"
        "`language` takes a name or an alias, in any case.\n\n"
        + _table(("name", "aliases", "main file", "kind", "extra files compiled"), languages)
        + "\n## Requests\n\n"
        + sections(REQUEST_TYPES)
        + "\n## Replies\n\n"
        + sections(REPLY_TYPES)
        + "\n## Admin\n\n"
        + sections(ADMIN_TYPES)
        + "\n## Stats snapshot\n\n"
        + sections(STATS_TYPES)
        + "\n## Enumerations\n\n"
        + "The statuses have a page of their own: [Statuses](statuses.md).\n\n"
        + "\n".join(_enum_section(module, enum) for module, enum in ENUMS)
    )


# --- Statuses, subjects ------------------------------------------------------------


def statuses_page() -> str:
    comments = source_comments(status, "Status")
    out = [
        _banner("wire/status.py"),
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
                out.append(_table(("status", "meaning", "compiler", "problems"), rows) + "\n")
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
    out.append(_table(("status", "meaning", "compiler", "problems"), rows))
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
        _banner("wire/subjects.py") + "# NATS subjects and headers\n\n"
        "The subjects an instance listens and publishes on, and the constants they are made "
        "from. The execute subjects, the queue group, the durable stream and the dead-letter "
        "prefix can be changed in the [configuration](configuration.md).\n\n"
        "## Subjects\n\n"
        + _table(("subject", "carries"), patterns)
        + "\n## Constants\n\n"
        + _table(("name", "value", "meaning"), constants)
    )


# --- Configuration, metrics, command line ------------------------------------------


def configuration_page() -> str:
    secret = {
        f.metadata["env"]
        for f in config.fields(config.Settings)
        if "env" in f.metadata and not f.repr
    }
    rows = [
        (
            f"`{env}`",
            f"`{default}`",
            meaning + (" (a secret: never printed with the settings)" if env in secret else ""),
        )
        for env, default, meaning in config.describe()
    ]
    return (
        _banner("service/config.py") + "# Configuration\n\n"
        "Every setting comes from the environment, read once at start-up into one typed "
        "object (`service/config.py`); a value that does not parse, or is out of range, is a "
        "start-up error naming the variable. `code-engine serve --help` prints the same table.\n\n"
        + _table(("variable", "default", "meaning"), rows)
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
        _banner("service/operations/prometheus.py") + "# Metrics\n\n"
        "With `CODE_ENGINE_METRICS_ADDR` set, `/metrics` serves these in the Prometheus text "
        "format. They are read at scrape time from the figures the stats snapshot is made "
        "of, so each reply is counted once. Why containers are replaced (`reason`): "
        "[Operations API](operations.md#why-containers-are-replaced).\n\n"
        + _table(("metric", "type", "labels", "meaning"), rows)
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
        _banner("service/cli.py"),
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
        out.append(_table(("argument", "type", "meaning", "default"), rows))
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
