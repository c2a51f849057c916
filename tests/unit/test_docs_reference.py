"""The documentation's generated reference pages are what the code says now.

The pages under docs/reference/ that scripts/gen_reference.py writes (the protocol
and its JSON Schema, statuses, subjects, configuration, metrics, command line) are
checked in, so the site builds without running code. Regenerated here in memory,
each must equal its checked-in file: a change to a wire type, a setting, a metric
or the command line that leaves its page behind fails this test.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def _generator() -> ModuleType:
    """scripts/gen_reference.py, which imports its helpers from beside it."""
    if str(SCRIPTS) not in sys.path:
        sys.path.append(str(SCRIPTS))
    return importlib.import_module("gen_reference")


gen = _generator()
PAGES = gen.generate()


@pytest.mark.parametrize("path", sorted(PAGES), ids=lambda path: path.name)
def test_the_checked_in_page_is_current(path: Path):
    assert path.exists(), f"{path} is missing: run `{gen.REGENERATE}` and commit it"
    current = path.read_text(encoding="utf-8")
    assert current == PAGES[path], (
        f"{path.relative_to(gen.ROOT)} no longer matches the code it is generated from: "
        f"run `{gen.REGENERATE}` (.venv/bin/python scripts/gen_reference.py) and commit the result"
    )


def test_the_schema_defines_every_message_a_subject_carries():
    schema = json.loads(PAGES[gen.REFERENCE / "schema.json"])
    for name in ("WireRequest", "WireProblemRequest", "Reply", "ProblemReply"):
        assert name in schema["$defs"]
    for name in ("AdminRequest", "AdminReply", "Snapshot", "Status"):
        assert name in schema["$defs"]


def test_every_wire_field_has_a_description():
    schema = json.loads(PAGES[gen.REFERENCE / "schema.json"])
    undocumented = [
        f"{name}.{field}"
        for name, definition in schema["$defs"].items()
        for field, node in definition.get("properties", {}).items()
        if not node.get("description") and "$ref" not in node
    ]
    assert not undocumented, f"fields without a Meta(description=...): {undocumented}"


def test_every_setting_is_in_the_configuration_page():
    from service.config import describe

    page = PAGES[gen.REFERENCE / "configuration.md"]
    for variable, _, _ in describe():
        assert f"`{variable}`" in page


def test_comments_beside_members_and_above_groups_are_read():
    from wire import status

    comments = gen.source_comments(status, "Status")
    group, meaning = comments["BUSY"]
    assert group == "The request never ran."
    assert "retry later" in meaning
    assert comments["OK"][0].startswith("How a program run ended")
