"""problem.xml read as untrusted input: no DTD, no entity, a bounded size.

The standard library's parsers expand internal entities (a "billion laughs"
document grows without bound) and accept a document type declaration; a
package is untrusted, so this module drives expat itself, refuses any
``<!DOCTYPE`` or entity declaration the moment expat meets one, never reads
external entities, and builds an :mod:`xml.etree.ElementTree` element from
what is left. The file is refused above :data:`MAX_XML_BYTES` before it is read.
"""

from __future__ import annotations

import xml.parsers.expat as expat
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, TreeBuilder

from .errors import MalformedPackage

MAX_XML_BYTES = 1024 * 1024
MAX_DEPTH = 64


class _Refused(Exception):
    """Raised from an expat handler: what the document may not hold."""


def read_xml(path: Path) -> Element:
    """The root element of the XML file at ``path``.

    Raises:
        MalformedPackage: missing, too large, not well-formed, or holding a
            document type or entity declaration.
    """
    if not path.is_file():
        raise MalformedPackage(path, "missing")
    size = path.stat().st_size
    if size > MAX_XML_BYTES:
        raise MalformedPackage(path, f"is {size} bytes, larger than {MAX_XML_BYTES}")
    return parse_xml(path.read_bytes(), path)


def parse_xml(data: bytes, path: Path | str) -> Element:
    """``data`` as an element tree; ``path`` names the file in errors."""
    builder = TreeBuilder()
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    depth = 0

    def refuse(what: str) -> Any:
        def handler(*_: Any) -> None:
            raise _Refused(what)

        return handler

    def start(tag: str, attributes: dict[str, str]) -> None:
        nonlocal depth
        depth += 1
        if depth > MAX_DEPTH:
            raise _Refused(f"elements nested deeper than {MAX_DEPTH}")
        builder.start(tag, attributes)

    def end(tag: str) -> None:
        nonlocal depth
        depth -= 1
        builder.end(tag)

    parser.StartDoctypeDeclHandler = refuse("a document type declaration (DTD) is refused")
    parser.EntityDeclHandler = refuse("an entity declaration is refused")
    parser.UnparsedEntityDeclHandler = refuse("an entity declaration is refused")
    parser.ExternalEntityRefHandler = refuse("an external entity is refused")
    parser.SkippedEntityHandler = refuse("an undeclared entity is refused")
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(data, True)
    except _Refused as exc:
        raise MalformedPackage(path, f"not accepted: {exc}") from None
    except expat.ExpatError as exc:
        raise MalformedPackage(path, f"not well-formed XML: {exc}") from None
    return builder.close()


def child(element: Element, tag: str, path: Path) -> Element:
    """The one ``tag`` child of ``element``, or a refusal naming it."""
    found = element.find(tag)
    if found is None:
        raise MalformedPackage(path, f"<{element.tag}> has no <{tag}>")
    return found


def integer(element: Element, tag: str, path: Path) -> int:
    """The integer text of ``element``'s ``tag`` child (at least 1)."""
    text = (child(element, tag, path).text or "").strip()
    if not text.isdigit() or int(text) < 1:
        raise MalformedPackage(path, f"<{tag}> must be a positive integer, got {text[:40]!r}")
    return int(text)


def number(element: Element, attribute: str, path: Path) -> float | None:
    """A non-negative number attribute of ``element``, or None when absent."""
    raw = element.get(attribute)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1e9:
        raise MalformedPackage(
            path, f"<{element.tag}> {attribute} must be a number from 0, got {raw[:40]!r}"
        )
    return value


def inside(root: Path, relative: str, where: Path) -> Path:
    """``root/relative``, refused when it leads outside the package."""
    path = root / relative
    if not relative or not path.resolve().is_relative_to(root.resolve()):
        raise MalformedPackage(where, f"path {relative[:80]!r} leads outside the package")
    return path
