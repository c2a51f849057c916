"""The protocol reference: the wire types as JSON Schema and as Markdown tables.

msgspec's ``schema_components`` gives each struct's docstring and each field's
``Meta(description=...)``; enum members' meanings are the comments beside them.
"""

from __future__ import annotations

import enum
import json
from types import ModuleType
from typing import Any

import msgspec
from reference_markdown import banner, source_comments, table, text

from service.languages import Language, all_languages
from wire import admin, languages, packages, replies, requests, stats

REQUEST_TYPES: tuple[type, ...] = (
    requests.WireRequest,
    requests.WireProblemRequest,
    requests.WireTest,
    requests.WireFile,
    requests.WireTool,
    requests.WireGroup,
    packages.WirePackageRequest,
    packages.WireStoredPackage,
)
REPLY_TYPES: tuple[type, ...] = (
    replies.Reply,
    replies.ProblemReply,
    replies.TestReport,
    replies.GroupReport,
    packages.PackageReport,
    packages.InputsOutcome,
    packages.SubmissionOutcome,
    packages.TestOutcome,
)
ADMIN_TYPES: tuple[type, ...] = (admin.AdminRequest, admin.AdminReply)
LANGUAGE_TYPES: tuple[type, ...] = (languages.LanguagesReply, languages.LanguageInfo)
STATS_TYPES: tuple[type, ...] = (stats.Snapshot,)
ENUMS: tuple[tuple[ModuleType, type[enum.Enum]], ...] = (
    (admin, admin.AdminAction),
    (admin, admin.EngineState),
    (stats, stats.ContainerState),
)


def schema() -> tuple[tuple[dict[str, Any], ...], dict[str, Any]]:
    every = REQUEST_TYPES + REPLY_TYPES + ADMIN_TYPES + LANGUAGE_TYPES + STATS_TYPES
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
            "code-engine.languages answers a LanguagesReply; "
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
        out.append(text(node["description"].strip()) + "\n")
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
    out.append(table(("field", "type", "default", "meaning"), rows))
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
    return f"### {members.__name__}\n\n" + table(("value", "meaning"), rows)


def _command(argv: tuple[str, ...]) -> str:
    shown = " ".join(argv).replace("{build}", "/work/build").replace("{heap_mb}", "{heap}")
    return "`" + shown.replace("|", "\\|") + "`"


def _language_row(lang: Language) -> tuple[str, ...]:
    data = lang.data
    assert data is not None
    compile = _command(data.compile.argv) if data.compile else "(interpreted)"
    if data.check:
        compile = f"(interpreted; checked by {_command(data.check.argv[:1])})"
    program, *rest = data.run.argv
    run = _command((program, *data.memory.argv, *rest))
    notes = [data.note] if data.note else []
    if data.files.note:
        notes.append(f"extra files: {data.files.note}")
    if data.run.stack_mb:
        notes.append(f"stack {data.run.stack_mb} MB")
    if data.opt_in:
        notes.append("*opt-in*")
    return (
        f"`{lang.name}` ({data.display_name})",
        ", ".join(f"`{alias}`" for alias in lang.aliases),
        f"`{lang.source_file}`",
        compile,
        run,
        f"{lang.min_memory_mb} / {lang.min_memory_mb_gvisor}",
        "; ".join(notes),
    )


def protocol_page() -> str:
    _, components = schema()
    by_name = {
        cls.__name__: cls for cls in REQUEST_TYPES + REPLY_TYPES + ADMIN_TYPES + LANGUAGE_TYPES
    }
    shown: set[str] = set()

    def sections(types: tuple[type, ...]) -> str:
        out = []
        for name in _nested(types, components):
            if name in shown:
                continue
            cls = by_name.get(name) or getattr(stats, name)
            out.append(_struct_section(cls, components, shown))
        return "\n".join(out)

    rows = [_language_row(lang) for lang in all_languages()]
    return (
        banner("wire/ and languages/*.toml")
        + f"# Protocol {requests.PROTOCOL_VERSION}: messages\n\n"
        "Every message that crosses NATS, field by field, as the wire types in `wire/` define it. "
        "All are JSON objects; bytes (`code`, `stdin`, a file's `content`, a test's data) travel "
        "as base64. A request field its subject does not know is refused by name "
        "(`invalid_request`). The same definitions as JSON Schema (2020-12): "
        "[schema.json](schema.json). What the fields do, with examples: "
        "[Requests and replies](requests.md).\n\n"
        "## Languages\n\n"
        "`language` takes a name or an alias, in any case. Each language is a file, "
        "`languages/<name>.toml` ([Add a language](../how-to/add-a-language.md)); "
        "`CODE_ENGINE_LANGUAGES` chooses those an image holds and a daemon serves (*opt-in*: "
        "only when named), and `code-engine.languages` answers which, with the versions the "
        "image probed ([LanguagesReply](#languagesreply)). `{heap}` is a heap sized from the "
        "job's memory limit; minimum memory is per tier (runc / gVisor).\n\n"
        + table(("name", "aliases", "main file", "compile", "run", "min. memory MB", "notes"), rows)
        + "\n## Requests\n\n"
        + sections(REQUEST_TYPES)
        + "\n## Replies\n\n"
        + sections(REPLY_TYPES)
        + "\n## Admin\n\n"
        + sections(ADMIN_TYPES)
        + "\n## Languages served\n\n"
        + sections(LANGUAGE_TYPES)
        + "\n## Stats snapshot\n\n"
        + sections(STATS_TYPES)
        + "\n## Enumerations\n\n"
        + "The statuses have a page of their own: [Statuses](statuses.md).\n\n"
        + "\n".join(_enum_section(module, enum) for module, enum in ENUMS)
    )
