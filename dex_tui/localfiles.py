"""Local files that hold under attack: owner-only state folders, no followed links, no file another
user could have written, bounded reads, records appended whole or not at all, one process per lock.

The state directory (progress, audit trail, token cache, locks) belongs to the person running dex-tui.
Everything here treats what is found on disk as possibly planted: a symbolic link at a file's path is
refused (``O_NOFOLLOW``), as is a FIFO or a device (opened non-blocking, then checked), a file owned by
another user or writable by group or others, and a folder that is a link or belongs to someone else.
Folders are created ``0700`` and tightened to ``0700`` when found looser. On systems without POSIX
ownership (Windows) the ownership and mode checks are skipped, and links are refused only where the
system has ``O_NOFOLLOW``; the size limits hold everywhere.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
import threading
from pathlib import Path
from typing import IO

POSIX = os.name == "posix"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_BINARY = getattr(os, "O_BINARY", 0)
MAX_INPUT_FILE = 1024 * 1024  # a config or answers file; the shipped examples are under 2 KB


class UnsafePath(OSError):
    """A state file or folder was refused: a link, not a regular file, or writable by another user.

    An ``OSError`` (``EPERM``) so code that already copes with an unreadable or unwritable state file
    copes with a refused one; ``strerror`` says why, in words for the operator.
    """

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(errno.EPERM, reason, str(path))
        self.path = path
        self.reason = reason


class TooLarge(OSError):
    """A file is larger than dex-tui reads for its kind (``EFBIG``)."""

    def __init__(self, path: Path, limit: int) -> None:
        super().__init__(errno.EFBIG, f"larger than {_size(limit)}", str(path))
        self.path = path
        self.limit = limit


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MiB" if limit >= 1024 * 1024 else f"{limit // 1024} KiB"


def _euid() -> int:
    return os.geteuid() if POSIX else -1


def foreign_writer(st: os.stat_result) -> str | None:
    """Why another user could have written the file or folder ``st`` describes, or None."""
    if not POSIX:
        return None
    if st.st_uid != _euid():
        return f"it belongs to another user (uid {st.st_uid})"
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o022:
        return f"group or others may write to it (mode {mode:04o})"
    return None


def _tighten(path: Path, st: os.stat_result, what: str) -> str | None:
    """``chmod 0700`` a folder of ours found looser; a notice when others could write to it."""
    mode = stat.S_IMODE(st.st_mode)
    if not POSIX or not mode & 0o077:
        return None
    os.chmod(path, 0o700)
    if mode & 0o022:
        return (f"The {what} {path} was open to other users (mode {mode:04o}); it is now 0700, and any file "
                "in it that another user could have written is refused.")
    return None


def _state_root(root: Path) -> str | None:
    """Create the state directory (0700), or check one found: it may be a link (the person's own choice
    of location), but it must belong to them (then it is tightened to 0700) or to root, and nobody else
    may rename what is in it."""
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = os.stat(root)
    if not stat.S_ISDIR(st.st_mode):
        raise NotADirectoryError(errno.ENOTDIR, "Not a directory", str(root))
    if not POSIX:
        return None
    mode = stat.S_IMODE(st.st_mode)
    if st.st_uid == _euid():
        return _tighten(root, st, "state folder")
    others_can_replace = bool(mode & 0o022) and not mode & stat.S_ISVTX
    if st.st_uid != 0 or others_can_replace:
        reason = (f"it belongs to another user (uid {st.st_uid})" if st.st_uid != 0
                  else f"other users may replace what is in it (mode {mode:04o})")
        raise UnsafePath(root, f"the state folder is not private: {reason}")
    return None


def private_folder(root: Path, name: str) -> tuple[Path, str | None]:
    """``root/name`` as an owner-only folder (created 0700, tightened to 0700), with a notice when it
    or ``root`` was open to other users for writing. Raises :class:`UnsafePath` for a folder that is
    a symbolic link or belongs to another user, and ``OSError`` when it cannot be created."""
    notices = [_state_root(root)]
    folder = root / name
    with contextlib.suppress(FileExistsError):
        folder.mkdir(mode=0o700)
    st = os.lstat(folder)
    if stat.S_ISLNK(st.st_mode):
        raise UnsafePath(folder, "the folder is a symbolic link")
    if not stat.S_ISDIR(st.st_mode):
        raise NotADirectoryError(errno.ENOTDIR, "Not a directory", str(folder))
    if POSIX and st.st_uid != _euid():
        raise UnsafePath(folder, f"the folder belongs to another user (uid {st.st_uid})")
    notices.append(_tighten(folder, st, "folder"))
    found = [n for n in notices if n]
    return folder, " ".join(found) if found else None


def open_private(path: Path, flags: int, *, create: bool = False) -> int:
    """Open a state file without following a link or blocking on a FIFO, and refuse it unless it is a
    regular file that no other user could have written. Returns the descriptor (close it)."""
    all_flags = flags | _NOFOLLOW | _NONBLOCK | _CLOEXEC | _BINARY | (os.O_CREAT if create else 0)
    try:
        fd = os.open(path, all_flags, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP or (exc.errno == errno.EMLINK and _NOFOLLOW):  # EMLINK: FreeBSD
            raise UnsafePath(path, "it is a symbolic link") from None
        if exc.errno == errno.ENXIO:  # a FIFO without a reader, opened for writing
            raise UnsafePath(path, "it is not a regular file") from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafePath(path, "it is not a regular file")
        why = foreign_writer(st)
        if why:
            raise UnsafePath(path, why)
        if POSIX and stat.S_IMODE(st.st_mode) & 0o077:
            os.fchmod(fd, 0o600)  # readable by others (an older version, a umask): ours, so tightened
        if _NONBLOCK:
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_private(path: Path, limit: int) -> bytes | None:
    """The bytes of a state file (None when there is none), refused as :func:`open_private` says, and
    :class:`TooLarge` beyond ``limit`` bytes."""
    try:
        fd = open_private(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as handle:
        return _read_at_most(handle, path, limit)


def read_bounded(path: Path, limit: int = MAX_INPUT_FILE) -> bytes:
    """A file the operator named (config, answers), read to at most ``limit`` bytes: ``/dev/zero`` or a
    huge file is :class:`TooLarge`, never read until memory runs out. Pipes (``<(...)``) are fine."""
    with open(path, "rb") as handle:
        return _read_at_most(handle, path, limit)


class NotRegularFile(OSError):
    """A path names a directory, device, pipe or socket where a regular file was expected."""

    def __init__(self, path: Path, is_dir: bool) -> None:
        super().__init__(errno.EISDIR if is_dir else errno.EINVAL,
                         "a directory" if is_dir else "not a regular file (a device, pipe or socket)", str(path))
        self.path = path
        self.is_dir = is_dir


def read_regular(path: Path, limit: int) -> bytes:
    """A regular file the operator named (a certificate, a previous report), read to at most ``limit``
    bytes. Opened non-blocking so a FIFO cannot hang the read; :class:`NotRegularFile` for anything but a
    regular file, :class:`TooLarge` beyond ``limit``, the ``OSError`` of the open otherwise."""
    fd = os.open(path, os.O_RDONLY | _NONBLOCK | _CLOEXEC | _BINARY)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegularFile(path, stat.S_ISDIR(info.st_mode))
        if info.st_size > limit:
            raise TooLarge(path, limit)
        handle = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with handle:
        return _read_at_most(handle, path, limit)


def _read_at_most(handle: IO[bytes], path: Path, limit: int) -> bytes:
    data = handle.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(path, limit)
    return data


def replace_whole(path: Path, data: bytes) -> None:
    """Write ``path`` as ``data`` whole or not at all: written to a private temporary file beside it
    (mode 0600, a dot name), then renamed over it; the temporary file is removed when anything fails,
    and the error (an ``OSError``) is raised. For cache entries, which need no ``fsync``."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def append_whole(fd: int, data: bytes) -> None:
    """Append ``data`` to the file open (``O_APPEND``) on ``fd`` whole, or leave the file as it was.

    A short write (a full disk, a file size limit) is continued; when the rest cannot be written the
    file is cut back to its size before, so no torn record is left. The append holds an exclusive
    ``flock`` and ends with ``fsync``. Raises the ``OSError``; its ``torn`` attribute is True when the
    file could not even be cut back.
    """
    with _flocked(fd):
        start = os.fstat(fd).st_size
        view = memoryview(data)
        done = 0
        try:
            while done < len(view):
                written = os.write(fd, view[done:])
                if written <= 0:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                done += written
            os.fsync(fd)
        except OSError as exc:
            exc.torn = False  # type: ignore[attr-defined]
            try:
                os.ftruncate(fd, start)
            except OSError:
                exc.torn = True  # type: ignore[attr-defined]
            raise


@contextlib.contextmanager
def _flocked(fd: int):  # type: ignore[no-untyped-def]
    try:
        import fcntl
    except ImportError:  # Windows: one wizard per tenant already holds the tenant lock
        yield
        return
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def writable_folder(folder: Path) -> str | None:
    """Why nothing can be written in ``folder`` (a read-only file system, no permission), or None.
    Tried for real with a temporary file: ``access()`` is wrong for root and for some mounts."""
    try:
        handle, name = tempfile.mkstemp(dir=folder, prefix=".dex-tui-probe-")
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    os.close(handle)
    with contextlib.suppress(OSError):
        os.unlink(name)
    return None


class HeldLock:
    """A share of an exclusive lock on a lock file, held by this process until :meth:`release` (or its
    exit: the operating system drops the lock of a process that died, so a stale lock is simply taken
    over). The lock is per process, as POSIX record locks are: stores of one process share it.

    The lock file holds the holder's PID for the message the next process shows.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._held = True

    @property
    def held(self) -> bool:
        return self._held

    def release(self) -> None:
        if not self._held:
            return
        self._held = False
        with _HELD_GUARD:
            fd, shares = _HELD[self.path]
            if shares > 1:
                _HELD[self.path] = (fd, shares - 1)
                return
            del _HELD[self.path]
        os.close(fd)  # closing the descriptor drops the lock


class LockBusy(Exception):
    """Another process holds the lock; ``pid`` is what its lock file says (None when unreadable)."""

    def __init__(self, path: Path, pid: int | None) -> None:
        super().__init__(f"{path} is held by PID {pid}")
        self.path = path
        self.pid = pid


_HELD: dict[Path, tuple[int, int]] = {}  # lock path -> (descriptor, shares held in this process)
_HELD_GUARD = threading.Lock()


def take_lock(path: Path) -> HeldLock:
    """Take the lock at ``path`` without waiting; :class:`LockBusy` when another process holds it."""
    path = path.absolute()
    with _HELD_GUARD:
        if path in _HELD:
            fd, shares = _HELD[path]
            _HELD[path] = (fd, shares + 1)
            return HeldLock(path)
        fd = open_private(path, os.O_RDWR, create=True)
        try:
            if not _try_lock(fd):
                raise LockBusy(path, _pid_in(fd))
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        except BaseException:
            os.close(fd)
            raise
        _HELD[path] = (fd, 1)
    return HeldLock(path)


def _try_lock(fd: int) -> bool:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            return False
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _pid_in(fd: int) -> int | None:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 32).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
