"""Building the worker image without a container registry.

The worker image (``worker/Dockerfile``) starts from a Debian base. When that base
is neither present nor pullable, ``scripts/bootstrap-base.sh`` makes it with
debootstrap from Debian's packages and imports it. The build itself goes through
the Engine API (``POST /build``), with progress printed as it streams. An image
whose source-hash label matches the ``worker/`` directory is not rebuilt.
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import trio

from docker_api import BuildFailed, DockerClient, DockerError
from service.errors import ImageBuildError

# A checkout has worker/ and scripts/ beside the packages; the daemon's image
# points CODE_ENGINE_WORKER_DIR at its copy.
WORKER_DIR = Path(
    os.environ.get("CODE_ENGINE_WORKER_DIR") or Path(__file__).resolve().parent.parent / "worker"
)
BOOTSTRAP = WORKER_DIR.parent / "scripts" / "bootstrap-base.sh"
BASE_IMAGE = "code-engine-base:bookworm"
HASH_LABEL = "org.code-engine.source-hash"

Progress = Callable[[str], None]


def _print(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def source_hash(directory: Path = WORKER_DIR) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        if "__pycache__" in path.parts:
            continue
        digest.update(str(path.relative_to(directory)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def context_tar(directory: Path = WORKER_DIR) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in sorted(directory.rglob("*")):
            if "__pycache__" in path.parts or not path.is_file():
                continue
            tar.add(path, arcname=str(path.relative_to(directory)))
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
    wanted = source_hash()
    try:
        if not force and await docker.images.exists(tag):
            labels = (await docker.images.inspect(tag)).get("Config", {}).get("Labels") or {}
            if labels.get(HASH_LABEL) == wanted:
                progress(f"{tag} is up to date ({wanted})")
                return False
        await ensure_base(docker, progress)
        progress(f"building {tag} from {WORKER_DIR}")
        async for event in docker.images.build(
            context_tar(), tag=tag, labels={HASH_LABEL: wanted}, nocache=force
        ):
            line = (event.get("stream") or event.get("status") or "").rstrip()
            if line:
                progress(line)
    except BuildFailed as exc:
        raise ImageBuildError(f"building {tag} failed: {exc}") from exc
    except DockerError as exc:
        raise ImageBuildError(f"Docker failed while building {tag}: {exc}") from exc
    progress(f"built {tag}")
    return True
