"""The language list a daemon serves, asked on ``code-engine.languages``.

Any payload asks; every instance answers with a :class:`LanguageList` (the
first answer is enough: instances of one queue group serve the same image).
The gateway's language endpoints (Judge0's ``/languages``, Piston's
``/runtimes``, the native ``/v1/languages``, MCP's ``list_languages``) read it,
so they list only what the daemons serve.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from .decoding import decode
from .errors import WireError
from .subjects import LANGUAGES_SUBJECT

__all__ = ["LANGUAGES_SUBJECT", "LanguageInfo", "LanguageList", "decode_languages"]


class LanguageInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One language a daemon serves."""

    name: Annotated[str, Meta(description="the language's own name, as replies give it")]
    aliases: Annotated[
        list[str], Meta(description="every name a request may use for it, its own included")
    ]
    source_file: Annotated[str, Meta(description="the main file's name in the build directory")]
    compiled: Annotated[bool, Meta(description="it has a compile step")] = False
    version: Annotated[
        str, Meta(description="the toolchain's version, when the daemon knows it; else empty")
    ] = ""


class LanguageList(msgspec.Struct, frozen=True, kw_only=True):
    """The reply on code-engine.languages."""

    languages: Annotated[list[LanguageInfo], Meta(description="the languages served, in order")]


class LanguageListError(WireError):
    pass


_decoder = msgspec.json.Decoder(LanguageList)


def decode_languages(payload: bytes) -> LanguageList:
    """Raises: LanguageListError: the payload is not a language list."""
    try:
        return decode(_decoder, payload)
    except msgspec.DecodeError as exc:
        raise LanguageListError(f"not a language list: {exc}") from None
