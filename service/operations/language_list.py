"""The answer on ``code-engine.languages``: the languages this daemon serves (wire/languages.py)."""

from __future__ import annotations

import msgspec

from wire.languages import LanguageInfo, LanguageList

from ..languages import LANGUAGES


def language_list() -> LanguageList:
    return LanguageList(
        languages=[
            LanguageInfo(
                name=language.name,
                aliases=list(language.aliases),
                source_file=language.source_file,
                compiled=language.compile_argv is not None,
            )
            for language in LANGUAGES
        ]
    )


def answer_languages(_payload: bytes) -> bytes:
    """A service handler: any request gets the list."""
    return msgspec.json.encode(language_list())
