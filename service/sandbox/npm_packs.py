"""Packages from npm for the worker image, fetched on the host like the wheelhouses.

A language file names them (``image.npm``: ``name@version``, pinned); the image
cannot reach npm (no certificate authority of this host in it), so the host's
own ``npm pack`` fetches each tarball once into a cache
(``$XDG_CACHE_HOME/code-engine/npm``, or ``~/.cache/...``), and the build
context carries it to the language's build steps as ``$NPM_DIR/<file>``
(:func:`file_name`). The tarball's bytes are part of the image's source hash.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..errors import ImageBuildError

CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "code-engine" / "npm"


def file_name(spec: str) -> str:
    """The tarball's name in ``$NPM_DIR``: ``@types/node@18.19.1`` -> ``types-node.tgz``."""
    name = spec[: spec.rindex("@")] if spec.rfind("@") > 0 else spec
    return name.lstrip("@").replace("/", "-") + ".tgz"


def pack(spec: str, cache: Path = CACHE) -> bytes:
    """The tarball of ``spec`` (``name@version``), from the cache or fetched with ``npm pack``.

    Raises:
        ImageBuildError: there is no npm on this host, or it could not fetch ``spec``.
    """
    cached = cache / f"{spec.lstrip('@').replace('/', '-')}.tgz"
    if cached.is_file():
        return cached.read_bytes()
    npm = shutil.which("npm")
    if npm is None:
        raise ImageBuildError(
            f"{spec} comes from npm, and this host has no npm to fetch it "
            "(apt-get install npm, or leave its language out of CODE_ENGINE_LANGUAGES)"
        )
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as scratch:
        done = subprocess.run(
            [npm, "pack", "--silent", spec, "--pack-destination", scratch],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        made = list(Path(scratch).glob("*.tgz"))
        if done.returncode != 0 or len(made) != 1:
            raise ImageBuildError(f"npm pack {spec} failed: {done.stderr.strip()[-500:]}")
        made[0].replace(cached)
    return cached.read_bytes()
