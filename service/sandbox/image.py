"""Building the worker image without a container registry.

The worker image (``worker/Dockerfile``) starts from a Debian base. When that base
is neither present nor pullable, ``scripts/bootstrap-base.sh`` makes it with
debootstrap from Debian's packages and imports it. The build itself goes through
the Engine API (``POST /build``), with progress printed as it streams.

The build context is ``worker/Dockerfile``, the layers of the languages it is
to hold (``CODE_ENGINE_LANGUAGES``, written from their files by
:mod:`service.sandbox.image_recipe`) and the ``agent`` package (without
``__pycache__``); an image whose source-hash label matches that context is not
rebuilt. The image's ``org.code-engine.languages`` label names the languages it
holds and the version each one's probe printed at its build.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

import trio

import agent
from docker_api import BuildFailed, DockerClient, DockerError
from service.errors import ImageBuildError
from service.languages import Language, served

from .image_recipe import MARKER, recipe, versions_from

# A checkout has worker/ and scripts/ beside the packages; the daemon's image
# points CODE_ENGINE_WORKER_DIR at its copy.
WORKER_DIR = Path(
    os.environ.get("CODE_ENGINE_WORKER_DIR") or Path(__file__).resolve().parents[2] / "worker"
)
# The agent goes into the image as this process imports it: the checkout's
# package, or the copy installed with the daemon (its image has no checkout).
AGENT_DIR = Path(agent.__file__).resolve().parent
BOOTSTRAP = WORKER_DIR.parent / "scripts" / "bootstrap-base.sh"
BASE_IMAGE = "code-engine-base:bookworm"
HASH_LABEL = "org.code-engine.source-hash"
# The languages the image holds and what each one's version probe said (JSON).
LANGUAGES_LABEL = "org.code-engine.languages"

Progress = Callable[[str], None]


def _print(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def context_files(
    worker_dir: Path = WORKER_DIR,
    agent_dir: Path = AGENT_DIR,
    languages: tuple[Language, ...] | None = None,
) -> list[tuple[str, bytes]]:
    """The build context: (name in the context, content) for each file, in a fixed order.

    ``Dockerfile`` from ``worker_dir`` with the layers of ``languages`` (default:
    the served ones, ``CODE_ENGINE_LANGUAGES``) in place of its marker, the
    files those layers copy, then every file of the package in ``agent_dir``
    under ``agent/``, leaving out bytecode.
    """
    made = recipe(served() if languages is None else languages)
    template = (worker_dir / "Dockerfile").read_text()
    if MARKER not in template:
        raise ImageBuildError(f"{worker_dir / 'Dockerfile'} has no {MARKER!r} line")
    files = [("Dockerfile", template.replace(MARKER, made.instructions).encode())]
    files += sorted(made.files.items())
    for path in sorted(agent_dir.rglob("*")):
        relative = path.relative_to(agent_dir)
        if "__pycache__" in relative.parts or path.suffix == ".pyc" or not path.is_file():
            continue
        files.append((f"agent/{relative.as_posix()}", path.read_bytes()))
    return files


def source_hash(files: list[tuple[str, bytes]] | None = None) -> str:
    """A digest of the build context's names and contents (default: :func:`context_files`)."""
    digest = hashlib.sha256()
    for name, content in context_files() if files is None else files:
        digest.update(name.encode() + b"\0")
        digest.update(content + b"\0")
    return digest.hexdigest()[:16]


def _plain(info: tarfile.TarInfo) -> tarfile.TarInfo:
    # Whole seconds and root: no PAX header for a fractional mtime, which the
    # docker CLI's context detection (`docker build - < context.tar`) cannot read,
    # and nothing of this host's users in the context.
    info.mtime = int(info.mtime)
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def context_tar(files: list[tuple[str, bytes]] | None = None) -> bytes:
    """The build context as an uncompressed tar (default: :func:`context_files`)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, content in context_files() if files is None else files:
            info = _plain(tarfile.TarInfo(name))
            info.size = len(content)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


async def ensure_base(docker: DockerClient, progress: Progress = _print) -> None:
    """Make the Debian base image when it is missing (about a minute)."""
    if await docker.images.exists(BASE_IMAGE):
        return
    progress(f"base image {BASE_IMAGE} missing: bootstrapping it with debootstrap")
    env = dict(os.environ)
    result = await trio.run_process(
        ["bash", str(BOOTSTRAP), BASE_IMAGE], check=False, stdout=None, stderr=None, env=env
    )
    if result.returncode != 0:
        raise ImageBuildError(f"bootstrap-base.sh failed with exit code {result.returncode}")


async def build_worker_image(
    docker: DockerClient, tag: str, *, force: bool = False, progress: Progress = _print
) -> bool:
    """Build the worker image unless an up-to-date one exists. Returns True when built.

    Raises:
        ImageBuildError: the base could not be made or the build failed.
    """
    files = context_files()
    wanted = source_hash(files)
    try:
        if not force and await docker.images.exists(tag):
            labels = (await docker.images.inspect(tag)).get("Config", {}).get("Labels") or {}
            if labels.get(HASH_LABEL) == wanted:
                progress(f"{tag} is up to date ({wanted})")
                return False
        await ensure_base(docker, progress)
        progress(f"building {tag} from {WORKER_DIR / 'Dockerfile'} and {AGENT_DIR}")
        versions: dict[str, str] = {}
        async for event in docker.images.build(
            context_tar(files),
            tag=tag,
            # Not a source: the version probe's layer is made again at every build.
            buildargs={"PROBE_NONCE": str(time.time_ns())},
            nocache=force,
        ):
            line = (event.get("stream") or event.get("status") or "").rstrip()
            versions = versions_from(line) or versions
            if line:
                progress(line)
        if not versions:
            raise ImageBuildError(f"building {tag}: no language reported its version")
        # Labelled last: an image whose build broke off before this is not up to date.
        labels = {HASH_LABEL: wanted, LANGUAGES_LABEL: json.dumps(versions, sort_keys=True)}
        async for event in docker.images.build(
            context_tar([("Dockerfile", f"FROM {tag}\n".encode())]), tag=tag, labels=labels
        ):
            progress(str(event.get("stream") or "").rstrip())
    except BuildFailed as exc:
        raise ImageBuildError(f"building {tag} failed: {exc}") from exc
    except DockerError as exc:
        raise ImageBuildError(f"Docker failed while building {tag}: {exc}") from exc
    progress(f"built {tag}")
    return True


async def image_languages(docker: DockerClient, tag: str) -> dict[str, str]:
    """The languages image ``tag`` holds and their versions (its label); {} when it has none."""
    labels = (await docker.images.inspect(tag)).get("Config", {}).get("Labels") or {}
    try:
        found = json.loads(labels.get(LANGUAGES_LABEL) or "{}")
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}
