"""File work in directories a job could write: never following a symlink.

Directories are opened with O_NOFOLLOW and everything below them is reached
relative to that descriptor, so a symlink a job planted in place of a file or
directory is at most unlinked or chowned itself, never followed. Run these only
while no job process is alive: nothing can then swap an entry between the
check and the use.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator

from agent.errors import BadRequest
from agent.jail import JOB_GID, JOB_UID
from agent.log import log

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


MAX_FILE_DEPTH = 8
MAX_SEGMENT_BYTES = 255


def check_file_name(name: object) -> str:
    """A job's file name: a relative path of plain, visible segments.

    Raises:
        BadRequest: not a non-empty string, not UTF-8, absolute, too deep, or a
            segment that is empty, hidden (``.``, ``..``, ``.x``) or too long.
    """
    if not isinstance(name, str) or not name:
        raise BadRequest("file name must be a non-empty string")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest(f"file name is not valid UTF-8: {name!r}") from None
    segments = name.split("/")
    if "\0" in name or len(segments) > MAX_FILE_DEPTH:
        raise BadRequest(f"bad file name: {name!r}")
    for segment in segments:
        if not segment or segment.startswith(".") or len(segment.encode()) > MAX_SEGMENT_BYTES:
            raise BadRequest(f"bad file name: {name!r}")
    return name


def _is_dir(name: str, dir_fd: int) -> bool:
    return stat.S_ISDIR(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)


def _hoist_name(top_fd: int, counter: list[int]) -> str:
    while True:
        counter[0] += 1
        name = f".wipe-{counter[0]}"
        try:
            os.stat(name, dir_fd=top_fd, follow_symlinks=False)
        except FileNotFoundError:
            return name


def remove_entries(directory: str, names: list[str]) -> None:
    """Delete ``names`` in ``directory``, trees included, without following symlinks.

    Rather than recursing, each subdirectory is renamed up into ``directory`` and
    emptied there, so any depth of tree takes two fds and no stack. Run it only
    while no job process is alive. Errors are left for the verification to find.
    """
    try:
        top_fd = os.open(directory, _DIR_FLAGS)
    except FileNotFoundError:
        return
    counter = [0]
    pending = list(names)
    try:
        while pending:
            name = pending.pop()
            try:
                if not _is_dir(name, top_fd):
                    os.unlink(name, dir_fd=top_fd)
                    continue
                pending.extend(_empty_dir(top_fd, name, counter))
                os.rmdir(name, dir_fd=top_fd)
            except FileNotFoundError:
                continue
            except OSError as exc:
                log(f"cannot remove {directory}/{name}: {exc}")
    finally:
        os.close(top_fd)


def _empty_dir(top_fd: int, name: str, counter: list[int]) -> list[str]:
    """Unlink the non-directories in top/name; hoist its subdirectories into top."""
    hoisted = []
    fd = os.open(name, _DIR_FLAGS, dir_fd=top_fd)
    try:
        for child in os.listdir(fd):
            if _is_dir(child, fd):
                new_name = _hoist_name(top_fd, counter)
                os.rename(child, new_name, src_dir_fd=fd, dst_dir_fd=top_fd)
                hoisted.append(new_name)
            else:
                os.unlink(child, dir_fd=fd)
    finally:
        os.close(fd)
    return hoisted


def remove_path(path: str) -> None:
    """Delete ``path``, a tree included, without following symlinks."""
    remove_entries(os.path.dirname(path), [os.path.basename(path)])


def wipe_contents(directory: str, keep: frozenset[str] = frozenset()) -> None:
    """Delete everything in ``directory`` but the entries named in ``keep``."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return
    remove_entries(directory, [name for name in names if name not in keep])


def make_job_dir(path: str, owner: tuple[int, int] = (JOB_UID, JOB_GID)) -> None:
    """Create ``path`` afresh for the job user, or ``owner`` (only while no job process lives)."""
    remove_path(path)
    os.mkdir(path, 0o700)
    # Changed through a descriptor of what was just made, never by path again.
    fd = os.open(path, _DIR_FLAGS)
    try:
        os.fchown(fd, *owner)
        os.fchmod(fd, 0o700)
    finally:
        os.close(fd)


def write_files(
    directory: str,
    files: dict[str, bytes],
    owner: tuple[int, int] = (JOB_UID, JOB_GID),
    *,
    mode: int = 0o600,
) -> None:
    """Create each file new in ``directory`` (and its directories), owned by the job user.

    ``owner``: another user's ids (a problem's tool) instead; ``mode``: 0o700
    for a program to execute.

    Names are paths checked by :func:`check_file_name`; directories on the way
    are created (mode 0700) or entered, never through a symlink.

    Raises:
        BadRequest: a file cannot be created or written (a duplicate, a file
            where a directory should be, the tmpfs full).
    """
    top_fd = os.open(directory, _DIR_FLAGS)
    try:
        for name, data in files.items():
            *parents, leaf = name.split("/")
            dir_fd = _enter_dirs(top_fd, parents, name, owner)
            try:
                _write_new(dir_fd, leaf, name, data, owner, mode)
            finally:
                if dir_fd != top_fd:
                    os.close(dir_fd)
    finally:
        os.close(top_fd)


def _enter_dirs(top_fd: int, parents: list[str], name: str, owner: tuple[int, int]) -> int:
    """A descriptor of top/parents..., each created for the job user when missing."""
    fd = top_fd
    try:
        for part in parents:
            try:
                os.mkdir(part, 0o700, dir_fd=fd)
                created = True
            except FileExistsError:
                created = False
            except OSError as exc:
                raise BadRequest(
                    f"cannot create the directories of {name}: {exc.strerror}"
                ) from None
            try:
                child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError:
                raise BadRequest(f"cannot create {name}: {part} is not a directory") from None
            if fd != top_fd:
                os.close(fd)
            fd = child
            if created:
                os.fchown(fd, *owner)
    except BaseException:
        if fd != top_fd:
            os.close(fd)
        raise
    return fd


def _write_new(
    dir_fd: int, leaf: str, name: str, data: bytes, owner: tuple[int, int], mode: int
) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(leaf, flags, mode, dir_fd=dir_fd)
    except OSError as exc:
        raise BadRequest(f"cannot create {name}: {exc.strerror}") from None
    try:
        os.fchown(fd, *owner)
        os.fchmod(fd, mode)  # whatever the umask took
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    except OSError as exc:
        raise BadRequest(f"cannot write {name}: {exc.strerror}") from None
    finally:
        os.close(fd)


def read_file(directory: str, name: str, limit: int) -> tuple[bytes, bool]:
    """At most ``limit`` bytes of ``directory/name``, never through a symlink.

    Returns the bytes and whether the file held more; nothing when it is gone
    or not a regular file.
    """
    try:
        dir_fd = os.open(directory, _DIR_FLAGS)
    except OSError:
        return b"", False
    try:
        fd = os.open(
            name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd
        )
    except OSError:
        return b"", False
    finally:
        os.close(dir_fd)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return b"", False
        chunks = []
        left = limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        return data[:limit], len(data) > limit
    finally:
        os.close(fd)


def _lock_file(dir_fd: int, entry: os.DirEntry[str], gid: int, private: bool) -> None:
    os.chown(entry.name, 0, gid, dir_fd=dir_fd, follow_symlinks=False)
    mode = entry.stat(follow_symlinks=False).st_mode
    if not stat.S_ISLNK(mode):
        # Not a symlink, and no job process is alive to swap it for one.
        new_mode = 0o755 if mode & 0o111 else 0o644
        os.chmod(entry.name, new_mode & 0o750 if private else new_mode, dir_fd=dir_fd)


def lock_tree(top: str, *, group: int | None = None) -> None:
    """Hand the build tree to root, read-only for the job, never following a symlink.

    With ``group`` the tree is for that group alone (a problem's tool): root
    with that group, no access at all for anyone else, the job user included.

    Directories are opened with O_NOFOLLOW and changed through their fd; the walk
    holds one fd per level of depth.
    """
    fds: list[int] = []
    pending: list[Iterator[os.DirEntry[str]]] = []
    gid = 0 if group is None else group
    private = group is not None

    def enter(fd: int) -> None:
        fds.append(fd)
        os.fchown(fd, 0, gid)
        os.fchmod(fd, 0o750 if private else 0o755)
        pending.append(iter(list(os.scandir(fd))))

    try:
        enter(os.open(top, _DIR_FLAGS))
        while pending:
            entry = next(pending[-1], None)
            if entry is None:
                pending.pop()
                os.close(fds.pop())
            elif entry.is_dir(follow_symlinks=False):
                enter(os.open(entry.name, _DIR_FLAGS, dir_fd=fds[-1]))
            else:
                _lock_file(fds[-1], entry, gid, private)
    finally:
        for fd in fds:
            os.close(fd)
