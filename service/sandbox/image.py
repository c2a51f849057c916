"""Building the worker image without a container registry.

The worker image (``worker/Dockerfile``) starts from a Debian base. When that base
is neither present nor pullable, ``scripts/bootstrap-base.sh`` makes it with
debootstrap from Debian's packages and imports it. The build itself goes through
the Engine API (``POST /build``), with progress printed as it streams.

The build context is ``worker/Dockerfile`` and the ``agent`` package beside it
(without ``__pycache__``); an image whose source-hash label matches that context
is not rebuilt.
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

import agent
from docker_api import BuildFailed, DockerClient, DockerError
from service.errors import ImageBuildError
from service.languages import (
    CPP_FLAGS,
    GO_CONFIG_DIR,
    NODE_SNAPSHOT_DIR,
    NODE_SNAPSHOT_MEMORY_MB,
    PCH_DIR,
    lookup,
    node_heap_mb,
)

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

Progress = Callable[[str], None]


def _print(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def context_files(
    worker_dir: Path = WORKER_DIR, agent_dir: Path = AGENT_DIR
) -> list[tuple[str, Path]]:
    """The build context: (name in the context, file) for each file, in a fixed order.

    ``Dockerfile`` from ``worker_dir``, then every file of the package in
    ``agent_dir`` under ``agent/``, leaving out bytecode.
    """
    files = [("Dockerfile", worker_dir / "Dockerfile")]
    for path in sorted(agent_dir.rglob("*")):
        relative = path.relative_to(agent_dir)
        if "__pycache__" in relative.parts or path.suffix == ".pyc" or not path.is_file():
            continue
        files.append((f"agent/{relative.as_posix()}", path))
    return files


def go_compile_env() -> str:
    """The Go compile step's own variables as ``NAME=value`` words, for ``env``.

    The worker image compiles the standard library under exactly these: an
    archive built under others (cgo on, another GODEBUG) would be stale to
    the compile step, which would build the whole library again.
    """
    go = lookup("go")
    assert go is not None
    words = [f"{name}={value}" for name, value in go.compile_env.items()]
    if any(char.isspace() for word in words for char in word):
        raise ValueError(f"a Go compile variable with a space cannot pass as a word: {words}")
    return " ".join(words)


def build_args() -> dict[str, str]:
    """What the Dockerfile takes from the host's language table: the C++ header's
    flags, the Go compile step's environment, and the Node heaps to make start-up
    snapshots for."""
    return {
        "CPP_PCH_FLAGS": " ".join(CPP_FLAGS),
        "CPP_PCH_DIR": PCH_DIR,
        "GO_COMPILE_ENV": go_compile_env(),
        "GO_CONFIG_DIR": GO_CONFIG_DIR,
        "NODE_SNAPSHOT_HEAPS_MB": " ".join(
            str(node_heap_mb(memory_mb)) for memory_mb in NODE_SNAPSHOT_MEMORY_MB
        ),
        "NODE_SNAPSHOT_DIR": NODE_SNAPSHOT_DIR,
    }


def source_hash(files: list[tuple[str, Path]] | None = None) -> str:
    """A digest of the build context's names and contents (default: :func:`context_files`)
    and of the build arguments."""
    digest = hashlib.sha256()
    for name, path in context_files() if files is None else files:
        digest.update(name.encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    for key, value in sorted(build_args().items()):
        digest.update(f"{key}={value}".encode() + b"\0")
    return digest.hexdigest()[:16]


def _plain(info: tarfile.TarInfo) -> tarfile.TarInfo:
    # Whole seconds and root: no PAX header for a fractional mtime, which the
    # docker CLI's context detection (`docker build - < context.tar`) cannot read,
    # and nothing of this host's users in the context.
    info.mtime = int(info.mtime)
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def context_tar(files: list[tuple[str, Path]] | None = None) -> bytes:
    """The build context as an uncompressed tar (default: :func:`context_files`)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, path in context_files() if files is None else files:
            tar.add(path, arcname=name, filter=_plain)
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
        async for event in docker.images.build(
            context_tar(files),
            tag=tag,
            labels={HASH_LABEL: wanted},
            buildargs=build_args(),
            nocache=force,
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
