"""The languages this instance serves, as clients ask for them.

Answered on ``code-engine.languages`` (:mod:`wire.languages`) and carried in
``$SRV.INFO``'s metadata; ``code-engine languages`` prints the same list. The
versions are those the worker image's build probed (its label,
:func:`service.sandbox.image.image_languages`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import msgspec

from wire.languages import LanguageInfo, LanguagesReply

from ..languages import Language

_encoder = msgspec.json.Encoder()


def info(language: Language, version: str) -> LanguageInfo:
    data = language.data
    return LanguageInfo(
        name=language.name,
        display_name=data.display_name if data else language.name,
        version=version,
        aliases=list(language.aliases),
        extensions=list(data.extensions) if data else [],
        main_file=language.source_file,
        compiled=language.compiled,
    )


def catalog(
    instance: str, languages: tuple[Language, ...], versions: Mapping[str, str]
) -> LanguagesReply:
    """``languages`` with the versions of ``versions`` ("" for one it does not name)."""
    return LanguagesReply(
        instance=instance,
        languages=[info(lang, versions.get(lang.name, "")) for lang in languages],
    )


def handler(
    instance: str, languages: tuple[Language, ...], versions: Callable[[], Mapping[str, str]]
) -> Callable[[bytes], bytes]:
    """The ``code-engine.languages`` answer (the request's payload is not read)."""
    return lambda _request: _encoder.encode(catalog(instance, languages, versions()))


def table(reply: LanguagesReply) -> str:
    """The list as text columns: name, version, aliases, extensions."""
    rows = [("name", "version", "aliases", "extensions")] + [
        (
            lang.name,
            lang.version or "(not in the image)",
            ", ".join(lang.aliases),
            ", ".join(lang.extensions),
        )
        for lang in reply.languages
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join(
        "  ".join(f"{cell:<{width}}" for cell, width in zip(row[:3], widths, strict=True))
        + "  "
        + row[3]
        for row in rows
    )
