"""Programs of a package (submissions, validators): a file, or a directory of files.

The language comes from the extension (the engine's language table). A
directory's main file is ``main.<ext>``, ``__main__.py``, or its one source
file in a known language; every other file goes beside it, as the protocol's
``files``. Validators with ``build``/``run`` scripts are not supported.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.languages import guess_from_filename

from .errors import MalformedPackage

# Bytes of a program's files together (the problems subject's code limit).
MAX_PROGRAM_BYTES = 512 * 1024


@dataclass(frozen=True, slots=True)
class Program:
    path: Path
    language: str
    code: bytes
    files: tuple[tuple[str, bytes], ...] = ()

    def wire(self) -> dict[str, Any]:
        """The program as a request's ``language``, ``code`` and ``files``."""
        fields: dict[str, Any] = {"language": self.language, "code": _b64(self.code)}
        if self.files:
            fields["files"] = [{"name": n, "content": _b64(c)} for n, c in self.files]
        return fields


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def load_program(path: Path) -> Program:
    """The program at ``path`` (a file or a directory).

    Raises:
        MalformedPackage: no language can be told, no main file, build scripts.
    """
    if path.is_file():
        language = guess_from_filename(path.name)
        if language is None:
            raise MalformedPackage(path, "cannot tell its language from the extension")
        return Program(path, language.name, path.read_bytes())
    if (path / "build").exists() or (path / "run").exists():
        raise MalformedPackage(path, "programs with build or run scripts are not supported")
    files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
    sources = [p for p in files if guess_from_filename(p.name) is not None]
    main = _main(path, sources)
    language = guess_from_filename(main.name)
    assert language is not None
    extra = tuple(
        (p.relative_to(path).as_posix(), p.read_bytes())
        for p in files
        if p != main and p.relative_to(path).as_posix() != language.source_file
    )
    program = Program(path, language.name, main.read_bytes(), extra)
    if len(program.code) + sum(len(content) for _, content in extra) > MAX_PROGRAM_BYTES:
        raise MalformedPackage(path, f"larger than {MAX_PROGRAM_BYTES} bytes")
    return program


def _main(path: Path, sources: list[Path]) -> Path:
    top = [p for p in sources if p.parent == path]
    named = [p for p in top if p.stem in ("main", "__main__")]
    if named:
        return named[0]
    if len(top) == 1:
        return top[0]
    with_main = _one_with_main(top)
    if with_main is not None:
        return with_main
    if not top:
        raise MalformedPackage(path, "holds no source file in a known language")
    raise MalformedPackage(path, "cannot tell its main file: name it main.<ext>")


def _one_with_main(files: list[Path]) -> Path | None:
    """The one source file that defines main (C, C++, Go, Java, Rust, Kotlin...), among several."""
    found = [p for p in files if b"main(" in p.read_bytes()]
    return found[0] if len(found) == 1 else None
