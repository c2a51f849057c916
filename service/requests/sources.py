"""A submission's extra ``files``: which names a request may use, per language.

Names are relative paths of at most 4 segments, each of ``[A-Za-z0-9._-]`` not
starting with ``.`` or ``-``; no duplicates, nothing that clashes with the main
file or the build's output, and each language's own rules (``files`` in its
``languages/<name>.toml``: Go's one package main). The agent checks names again
on its side (:mod:`agent.files`); these rules are the ones a client reads in an
error.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from wire.requests import WireFile

from ..errors import InvalidRequest
from ..languages import Language
from .request import SourceFile

MAX_FILES = 32
MAX_SEGMENTS = 4
MAX_NAME_CHARS = 255
_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
# What the compiled languages write into the build directory.
BUILD_OUTPUT = "main"


def check_files(
    language: Language,
    files: Sequence[WireFile] | None,
    budget: int,
    decode: Callable[[str, str | None, int], bytes],
    *,
    limit: int,
    what: str = "files",
) -> tuple[SourceFile, ...]:
    """Checked extra files of ``language``, their contents within ``budget`` bytes together.

    ``decode`` is the request's base64 decoder (name, value, limit); ``limit``
    is the code limit the budget is what is left of, for errors. ``what`` names
    the list in errors (``checker.files`` for a checker's).

    Raises:
        InvalidRequest: saying which file and why.
    """
    if not files:
        return ()
    if len(files) > MAX_FILES:
        raise InvalidRequest(f"{what} holds {len(files)} files, more than {MAX_FILES}")
    names: set[str] = set()
    out = []
    left = budget
    for index, wire in enumerate(files):
        where = f"{what}[{index}]"
        name = wire.name
        _check_name(where, name, language)
        if name in names:
            raise InvalidRequest(f"{where}: {name!r} appears twice")
        names.add(name)
        try:
            content = decode(f"{where} ({name})", wire.content, left)
        except InvalidRequest as exc:
            if "larger than" in str(exc):
                raise InvalidRequest(
                    f"{where} ({name}): the code and files together are larger than "
                    f"the limit of {limit} bytes"
                ) from None
            raise
        left -= len(content)
        out.append(SourceFile(name, content))
    _check_tree(what, [f.name for f in out])
    return tuple(out)


def _check_name(where: str, name: str, language: Language) -> None:
    shown = repr(name[:60])
    if not name or len(name) > MAX_NAME_CHARS:
        raise InvalidRequest(f"{where}: a name must be 1 to {MAX_NAME_CHARS} characters")
    segments = name.split("/")
    if len(segments) > MAX_SEGMENTS:
        raise InvalidRequest(
            f"{where}: {shown} has more than {MAX_SEGMENTS} path segments "
            f"({MAX_SEGMENTS - 1} directories and a file)"
        )
    for segment in segments:
        if not _SEGMENT.fullmatch(segment):
            raise InvalidRequest(
                f"{where}: {shown}: each path segment must be of [A-Za-z0-9._-] "
                "and not start with '.' or '-'"
            )
    if segments[0] == language.source_file:
        raise InvalidRequest(f"{where}: {shown} clashes with the main file {language.source_file}")
    if language.compiled and segments[0] == BUILD_OUTPUT:
        raise InvalidRequest(f"{where}: {shown} clashes with the build output {BUILD_OUTPUT!r}")
    data = language.data
    if data is None:
        return
    rules = data.files
    if segments[-1] in rules.refused:
        raise InvalidRequest(f"{where}: {shown}: {segments[-1]} is refused ({rules.why})")
    if len(segments) > 1 and name.endswith(rules.beside_main or ("\0",)):
        raise InvalidRequest(
            f"{where}: {shown}: {data.display_name} files must be beside "
            f"{language.source_file} ({rules.why})"
        )


def _check_tree(what: str, names: list[str]) -> None:
    """No name may be both a file and a directory of another."""
    files = set(names)
    for name in names:
        parts = name.split("/")
        for depth in range(1, len(parts)):
            parent = "/".join(parts[:depth])
            if parent in files:
                raise InvalidRequest(
                    f"{what}: {name!r} needs {parent!r} to be a directory, but it is a file"
                )
