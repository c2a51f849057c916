"""Judge0 CE 1.13's language ids, mapped to code-engine's languages.

Data, not code: one row per Judge0 id whose language code-engine has (or is
adding) under some name. An id is served only while the daemons report its
language as served (``code-engine.languages``), so the list widens by itself
as languages are added to the image. Judge0 clients map language names to ids
by the version ``/about`` reports (1.13.1), so the ids are that release's.
Several Judge0 ids may map to one engine language (Judge0 had a row per
compiler version); the engine runs its own version of it, named in the
``name`` served (the Judge0 name's version is replaced by the engine's when
the daemons report one).
"""

from __future__ import annotations

from dataclasses import dataclass

from wire.languages import LanguageInfo


@dataclass(frozen=True, slots=True)
class Judge0Language:
    id: int
    engine: str  # code-engine's language name
    label: str  # Judge0's name without its version
    judge0_version: str  # the version Judge0 1.13 named: shown when the engine knows none
    archived: bool = False  # an older compiler row, kept so old clients' ids still work


# Judge0 CE 1.13.1's ids for the languages code-engine has or is adding.
TABLE: tuple[Judge0Language, ...] = (
    Judge0Language(46, "bash", "Bash", "5.0.0"),
    Judge0Language(50, "c", "C (GCC", "9.2.0"),
    Judge0Language(49, "c", "C (GCC", "8.3.0", archived=True),
    Judge0Language(48, "c", "C (GCC", "7.4.0", archived=True),
    Judge0Language(51, "csharp", "C# (Mono", "6.6.0.161"),
    Judge0Language(54, "cpp", "C++ (GCC", "9.2.0"),
    Judge0Language(53, "cpp", "C++ (GCC", "8.3.0", archived=True),
    Judge0Language(52, "cpp", "C++ (GCC", "7.4.0", archived=True),
    Judge0Language(60, "go", "Go", "1.13.5"),
    Judge0Language(61, "haskell", "Haskell (GHC", "8.8.1"),
    Judge0Language(62, "java", "Java (OpenJDK", "13.0.1"),
    Judge0Language(63, "javascript", "JavaScript (Node.js", "12.14.0"),
    Judge0Language(78, "kotlin", "Kotlin", "1.3.70"),
    Judge0Language(64, "lua", "Lua", "5.3.5"),
    Judge0Language(67, "pascal", "Pascal (FPC", "3.0.4"),
    Judge0Language(85, "perl", "Perl", "5.28.1"),
    Judge0Language(68, "php", "PHP", "7.4.1"),
    Judge0Language(71, "python", "Python", "3.8.1"),
    Judge0Language(72, "ruby", "Ruby", "2.7.0"),
    Judge0Language(73, "rust", "Rust", "1.40.0"),
    Judge0Language(82, "sql", "SQL (SQLite", "3.27.2"),
    Judge0Language(74, "typescript", "TypeScript", "3.7.4"),
)
BY_ID = {row.id: row for row in TABLE}


def display_name(row: Judge0Language, engine_version: str) -> str:
    """``Python (3.11.2)``, ``C++ (GCC 12.2.0)``: Judge0's form, the engine's version if known."""
    version = engine_version or row.judge0_version
    if "(" in row.label:
        return f"{row.label} {version})"
    return f"{row.label} ({version})"


def served(languages: list[LanguageInfo]) -> list[tuple[Judge0Language, LanguageInfo]]:
    """The rows whose engine language the daemons serve, in Judge0's id order."""
    by_name = {info.name: info for info in languages}
    rows = [(row, by_name[row.engine]) for row in TABLE if row.engine in by_name]
    return sorted(rows, key=lambda pair: pair[0].id)


def lookup(
    language_id: int, languages: list[LanguageInfo]
) -> tuple[Judge0Language, LanguageInfo] | None:
    row = BY_ID.get(language_id)
    if row is None:
        return None
    for info in languages:
        if info.name == row.engine:
            return row, info
    return None
