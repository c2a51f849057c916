"""The worker image's language layers, written from the language files.

``worker/Dockerfile`` holds the image's fixed parts and a ``# @LANGUAGES@`` line;
:func:`recipe` puts in its place what the chosen languages need, as
instructions and files of the build context:

1. one layer with every Debian package they name (``image.packages`` from the
   base's suite, ``image.backports`` from its backports suite);
2. one layer per language with its build steps (``image.build``, as root, at
   build time only: nothing of any job exists then), so that changing one
   language's steps rebuilds that layer and those after it only;
3. one layer per warm launcher built with the image (``warm.source`` and
   ``warm.build``: Java's jar), into the agent's launcher directory, once
   however many languages name it;
4. a last layer that runs each language's version probe and prints what it
   said on a line :data:`VERSION_MARK` starts, which the build reads into the
   image's label (:mod:`service.sandbox.image`); it is made again at every
   build (``PROBE_NONCE``), so the words are always in the stream.

Only what the image needs of a language is in the context: a change to its run
argv or self-tests does not rebuild the image.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..language_files import LAUNCHERS
from ..languages import Language
from . import npm_packs

MARKER = "# @LANGUAGES@"
VERSION_MARK = "code-engine-language-version "
VERSIONS_FILE = "/opt/code-engine/languages.json"
NPM_DIR = "/tmp/npm"
# Where the agent finds a launcher built with the image (agent/warm.py's LAUNCHER_DIR).
IMAGE_LAUNCHERS = "/opt/code-engine/agent/launchers"
_INSTALL = """\
RUN set -eu; \\
    mirror="$(awk '$1 == "deb" { print $2; exit }' /etc/apt/sources.list)"; \\
    suite="$(. /etc/os-release && echo "$VERSION_CODENAME")"; \\
    echo "deb ${mirror:-http://deb.debian.org/debian} $suite-backports main" \\
        > /etc/apt/sources.list.d/backports.list; \\
    apt-get update -qq; \\
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends %s >/dev/null; \\
    if [ -n "%s" ]; then DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \\
        --no-install-recommends -t "$suite-backports" %s >/dev/null; fi; \\
    rm -rf /etc/apt/sources.list.d/backports.list /var/lib/apt/lists/* \\
        /var/cache/apt/archives/*.deb
"""


@dataclass(frozen=True, slots=True)
class Recipe:
    """What replaces the marker, and the files those instructions copy (context name -> bytes)."""

    instructions: str
    files: dict[str, bytes]


def recipe(
    languages: tuple[Language, ...],
    fetch: Callable[[str], bytes] = npm_packs.pack,
    launchers: Path = LAUNCHERS,
) -> Recipe:
    """The language layers of an image holding ``languages``; ``fetch`` gets an npm tarball,
    ``launchers`` holds the launchers' sources."""
    data = [lang.data for lang in languages if lang.data is not None]
    packages = sorted({name for d in data for name in d.image.packages})
    backports = sorted({name for d in data for name in d.image.backports})
    lines = [
        f"# Languages: {', '.join(d.name for d in data)} (from languages/*.toml)",
        _INSTALL % (" ".join(packages), " ".join(backports), " ".join(backports)),
    ]
    files: dict[str, bytes] = {}
    for lang in languages:
        if lang.data is None or not lang.data.image.build:
            continue
        name = f"languages/build-{lang.name}.sh"
        files[name] = build_script(lang).encode()
        for spec in lang.data.image.npm:
            packed = f"npm/{npm_packs.file_name(spec)}"
            files[packed] = fetch(spec)
            lines.append(f"COPY {packed} {NPM_DIR}/")
        lines.append(
            f"COPY {name} /tmp/code-engine-build.sh\n"
            "RUN sh -eu /tmp/code-engine-build.sh && rm /tmp/code-engine-build.sh\n"
        )
    built: set[str] = set()
    for lang in languages:
        warm = lang.data.warm if lang.data is not None else None
        if warm is None or not warm.source or warm.launcher in built:
            continue  # one build of a launcher two languages share (Java's, Kotlin's)
        built.add(warm.launcher)
        source, script = f"launchers/{warm.source}", f"languages/launcher-{lang.name}.sh"
        files[source] = (launchers / warm.source).read_bytes()
        files[script] = launcher_script(lang).encode()
        lines.append(
            f"COPY {source} /tmp/code-engine-launcher/{warm.source}\n"
            f"COPY {script} /tmp/code-engine-launcher/build.sh\n"
            "RUN sh -eu /tmp/code-engine-launcher/build.sh && rm -rf /tmp/code-engine-launcher\n"
        )
    files["languages/versions.sh"] = versions_script(languages).encode()
    lines.append(
        "COPY languages/versions.sh /tmp/code-engine-versions.sh\n"
        "ARG PROBE_NONCE=0\n"
        'RUN echo "probe $PROBE_NONCE" >/dev/null && sh -eu /tmp/code-engine-versions.sh'
        " && rm /tmp/code-engine-versions.sh\n"
    )
    return Recipe("\n".join(lines), files)


def build_script(lang: Language) -> str:
    """A language's build steps as one shell script, its build environment exported."""
    assert lang.data is not None
    image = lang.data.image
    env = dict(image.build_env)
    if lang.data.memory.at_memory:
        heap = lang.data.memory.heap
        env["HEAPS_MB"] = " ".join(str(heap.mb(m)) for m in lang.data.memory.at_memory.memory_mb)
    if image.npm:
        env["NPM_DIR"] = NPM_DIR
    words = [
        f"{name}={value}"
        for name, value in (lang.data.compile.env if lang.data.compile else {}).items()
    ]
    if words and not any(char.isspace() for word in words for char in word):
        # The compile step's own variables as NAME=value words, for `env` (Go
        # compiles its standard library under exactly these).
        env["COMPILE_ENV"] = " ".join(words)
    lines = [f"# {lang.name}: image.build of languages/{lang.name}.toml", "set -eu"]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in sorted(env.items())]
    lines += list(image.build)
    if image.npm:
        lines.append(f"rm -rf {NPM_DIR}")
    return "\n".join(lines) + "\n"


def launcher_script(lang: Language) -> str:
    """The build of a language's warm launcher (warm.build), as one shell script."""
    assert lang.data is not None and lang.data.warm is not None
    warm = lang.data.warm
    env = {
        "LAUNCHER_SOURCE": f"/tmp/code-engine-launcher/{warm.source}",
        "LAUNCHER": f"{IMAGE_LAUNCHERS}/{warm.launcher}",
    }
    lines = [f"# {lang.name}: warm.build of languages/{lang.name}.toml", "set -eu"]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in sorted(env.items())]
    lines += [f"mkdir -p {IMAGE_LAUNCHERS}", "cd /tmp/code-engine-launcher", *warm.build]
    lines.append('chmod 0444 "$LAUNCHER"')
    return "\n".join(lines) + "\n"


def versions_script(languages: tuple[Language, ...]) -> str:
    """Each language's version probe; prints the versions and writes them to VERSIONS_FILE."""
    lines = [
        "set -eu",
        "probe() {",
        '    command -v "$1" >/dev/null || { echo "probe: no $1" >&2; exit 1; }',
        '    printf "%s" "$("$@" 2>&1 | head -n1)"',
        "}",
    ]
    parts = []
    for lang in languages:
        if lang.data is None:
            continue
        argv = " ".join(shlex.quote(word) for word in lang.data.version)
        lines.append(f"v_{lang.name}=$(probe {argv})")
        parts.append(lang.name)
    # JSON by hand: the base has no jq; the probes' words are escaped by python3.
    names = json.dumps(parts)
    values = " ".join(f'"$v_{name}"' for name in parts)
    lines.append(
        f"python3 -I -c 'import json, sys; print(json.dumps(dict(zip({names}, sys.argv[1:]))))' "
        f"{values} > {VERSIONS_FILE}"
    )
    lines.append(f'echo "{VERSION_MARK}$(cat {VERSIONS_FILE})"')
    return "\n".join(lines) + "\n"


def versions_from(line: str) -> dict[str, str] | None:
    """The versions a build's stream line carries, or None for any other line."""
    if not line.startswith(VERSION_MARK):
        return None
    try:
        found = json.loads(line[len(VERSION_MARK) :])
    except ValueError:
        return None
    if not isinstance(found, dict):
        return None
    return {str(name): str(value) for name, value in found.items()}
