"""Markdown for the generated reference pages, and what the code's comments say.

Shared by scripts/gen_reference.py and scripts/reference_protocol.py.
"""

from __future__ import annotations

import ast
import inspect
import io
import tokenize
from collections.abc import Sequence
from types import ModuleType

REGENERATE = "make reference"  # what the currency test tells a contributor to run


def banner(source: str) -> str:
    return (
        f"<!-- Generated from {source} by scripts/gen_reference.py: do not edit by hand, "
        f"run `{REGENERATE}`. -->\n\n"
    )


def text(value: object) -> str:
    """Prose from the code as Markdown: ``<name>`` outside code spans is text, not HTML."""
    parts = str(value).split("`")
    return "`".join(part if i % 2 else part.replace("<", "&lt;") for i, part in enumerate(parts))


def cell(value: object) -> str:
    """Text for one cell of a Markdown table."""
    return text(value).replace("|", "\\|").replace("\n", " ")


def table(header: tuple[str, ...], rows: Sequence[tuple[object, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


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
