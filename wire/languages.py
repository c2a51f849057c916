"""The languages an instance serves, as ``code-engine.languages`` answers them.

Request: any payload (it is not read). Reply: a :class:`LanguagesReply`. Every
instance answers (no queue group), so a request answered by the first reply
learns what that instance serves; ``$SRV.INFO`` carries the same list in its
metadata (``languages``, this reply as a JSON string). What Piston's
``/runtimes`` and Judge0's ``/languages`` give their clients.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from .decoding import decode


class LanguageInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One language a request may name."""

    name: Annotated[str, Meta(description="what replies call it; a request may use it")]
    display_name: Annotated[str, Meta(description="for people, e.g. 'C++17 (g++)'")]
    version: Annotated[
        str,
        Meta(description="what its version probe printed when the worker image was built"),
    ]
    aliases: Annotated[list[str], Meta(description="every name a request may use for it")]
    extensions: Annotated[list[str], Meta(description="file endings of its sources, no dot")]
    main_file: Annotated[str, Meta(description="the name its main source gets")]
    compiled: Annotated[bool, Meta(description="whether it has a compile step")]


class LanguagesReply(msgspec.Struct, frozen=True, kw_only=True):
    """The answer on code-engine.languages: the languages this instance serves, by name."""

    instance: Annotated[str, Meta(description="the instance that answered")]
    languages: Annotated[list[LanguageInfo], Meta(description="the languages served, by name")]


def decode_languages(payload: bytes) -> LanguagesReply:
    """A ``code-engine.languages`` reply.

    Raises:
        msgspec.DecodeError: not such a reply.
    """
    return decode(_decoder, payload)


_decoder = msgspec.json.Decoder(LanguagesReply)
