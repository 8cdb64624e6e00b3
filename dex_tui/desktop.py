"""Whether a browser opened here would open in front of the operator: a local desktop session.

The one rule for both the browser sign-in and opening a link in the wizard: never in a remote session
(:func:`remote_session`), and outside Windows and macOS only with a ``DISPLAY`` or ``WAYLAND_DISPLAY``
(without one, ``webbrowser`` could start a console browser inside the very terminal the tool runs in).
Whether a graphical browser is installed is another question
(:func:`dex_tui.loopback.graphical_browser_available`).

A remote session is told from the environment (``SSH_CONNECTION``, ``SSH_TTY``, ``SSH_CLIENT``) and,
on Linux, from the session itself, because ``sudo`` with its default settings drops the SSH variables
but keeps ``DISPLAY`` (an X11-forwarded or inherited one): an ancestor process is the SSH daemon, or
the controlling terminal's login record (utmp) names a remote host.
"""

from __future__ import annotations

import os
import re
import struct
import sys
from collections.abc import Mapping
from pathlib import Path

from dex_tui.records import dataclass

SSH_VARIABLES = ("SSH_CONNECTION", "SSH_TTY", "SSH_CLIENT")
# The SSH daemon's process names: ``sshd``, and OpenSSH 9.8's per-session ``sshd-session`` (a
# process's name in /proc is cut at 15 characters).
SSH_DAEMON_NAMES = ("sshd", "sshd-session", "sshd-auth")
PROC_ROOT = Path("/proc")
UTMP_PATHS = (Path("/run/utmp"), Path("/var/run/utmp"))
MAX_ANCESTORS = 64  # a process tree is shallow; a loop in a broken /proc must not spin
MAX_UTMP_BYTES = 4 * 1024 * 1024

# glibc's ``struct utmp`` on Linux (x86-64, arm64 and the other 64-bit ABIs with 32-bit time fields):
# type, pid, line[32], id[4], user[32], host[256], exit, session, tv, addr_v6[4], unused[20].
_UTMP = struct.Struct("<hxxi32s4s32s256shhiii16s20s")
_USER_PROCESS = 7
# What terminals on this machine write as the "host" of their login record: an X display (``:0``,
# ``:0.0``), a tmux pane (``tmux(1234).%0``), a GNU screen window (``myhost:S.0``). Anything else (an
# address or name, ``::1`` included, or mosh's ``mosh [1234]``) is a remote login.
LOCAL_LOGIN_HOST = re.compile(r"^(:\d+(\.\d+)?|tmux\(\d+\)\.%\d+|.*:S\.\d+)$")


@dataclass(frozen=True)
class RemoteSession:
    """Whether this process runs in a remote (SSH) session, and the evidence in a few words."""

    remote: bool
    evidence: str = ""


@dataclass(frozen=True)
class Desktop:
    """The answer: ``present``, or why not (``reason`` in a sentence, ``short`` in a few words)."""

    present: bool
    reason: str = ""
    short: str = ""


def remote_session(environ: Mapping[str, str] | None = None, platform: str | None = None) -> RemoteSession:
    """Whether this process runs in a remote session: the one function every "may a browser start here"
    answer asks (``environ`` and ``platform`` default to this process's; the process itself is always
    this one)."""
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    for name in SSH_VARIABLES:
        if environ.get(name):
            return RemoteSession(True, f"{name} is set")
    if platform.startswith("linux"):
        evidence = session_evidence()
        if evidence:
            return RemoteSession(True, evidence)
    return RemoteSession(False)


def session_evidence(proc_root: Path = PROC_ROOT, utmp_paths: tuple[Path, ...] = UTMP_PATHS,
                     pid: int | None = None, tty: str | None = None) -> str:
    """Linux: what in the session itself shows it is remote ('' when nothing does): an ancestor of
    ``pid`` (default: this process) named like the SSH daemon, or a login record of the controlling
    terminal ``tty`` (default: this process's, e.g. ``pts/3``) naming a remote host. Unreadable or
    malformed data is no evidence."""
    pid = os.getpid() if pid is None else pid
    daemon = ssh_daemon_ancestor(proc_root, pid)
    if daemon is not None:
        return f"an ancestor process is {daemon[1]} (pid {daemon[0]})"
    line = controlling_terminal(proc_root, pid) if tty is None else tty
    if line:
        for path in utmp_paths:
            host = remote_login_host(path, line)
            if host:
                return f"the login record of {line} names the remote host {host}"
    return ""


def ssh_daemon_ancestor(proc_root: Path, pid: int) -> tuple[int, str] | None:
    """The nearest ancestor of ``pid`` (not ``pid`` itself) whose name is an SSH daemon's, as (pid, name)."""
    seen: set[int] = set()
    current = _parent_of(proc_root, pid)
    while current is not None and current > 1 and current not in seen and len(seen) < MAX_ANCESTORS:
        seen.add(current)
        stat = _read_stat(proc_root, current)
        if stat is None:
            return None
        name, parent = stat
        if name in SSH_DAEMON_NAMES:
            return current, name
        current = parent
    return None


def _parent_of(proc_root: Path, pid: int) -> int | None:
    stat = _read_stat(proc_root, pid)
    return None if stat is None else stat[1]


def _read_stat(proc_root: Path, pid: int) -> tuple[str, int] | None:
    """(name, parent pid) from ``/proc/PID/stat``: ``PID (NAME) STATE PPID …``; the name may hold spaces
    and parentheses, so it ends at the last ')'."""
    try:
        text = (proc_root / str(pid) / "stat").read_bytes()[:4096].decode("utf-8", "replace")
    except OSError:
        return None
    start, end = text.find("("), text.rfind(")")
    if start < 0 or end < start:
        return None
    fields = text[end + 1:].split()
    if len(fields) < 2 or not fields[1].isdigit():
        return None
    return text[start + 1:end], int(fields[1])


def controlling_terminal(proc_root: Path = PROC_ROOT, pid: int | None = None) -> str:
    """The controlling terminal of ``pid`` (default: this process) as a login record names it (``pts/3``):
    from ``/proc/PID/stat`` (it stays the session's terminal when the standard streams are redirected),
    else from the first standard stream that is a terminal; '' when there is none."""
    device = _terminal_device(proc_root, os.getpid() if pid is None else pid)
    if device is not None:
        major, minor = device
        if 136 <= major <= 143:  # Unix 98 pseudo-terminal slaves
            return f"pts/{(major - 136) * 256 + minor}"
        if major == 4 and minor < 64:  # virtual consoles
            return f"tty{minor}"
    for fd in (0, 1, 2):
        try:
            if os.isatty(fd):
                return os.ttyname(fd).removeprefix("/dev/")
        except OSError:
            continue
    return ""


def _terminal_device(proc_root: Path, pid: int) -> tuple[int, int] | None:
    """(major, minor) of the ``tty_nr`` field of ``/proc/PID/stat``; None without a terminal or a /proc."""
    try:
        text = (proc_root / str(pid) / "stat").read_bytes()[:4096].decode("utf-8", "replace")
    except OSError:
        return None
    fields = text[text.rfind(")") + 1:].split()
    if len(fields) < 5 or not fields[4].lstrip("-").isdigit() or int(fields[4]) <= 0:
        return None
    number = int(fields[4])
    return (number >> 8) & 0xFFF, (number & 0xFF) | ((number >> 12) & 0xFFF00)


def remote_login_host(utmp_path: Path, line: str) -> str:
    """The remote host that the live login record of terminal ``line`` names in ``utmp_path`` ('' when
    there is none, the host is a local terminal's (:data:`LOCAL_LOGIN_HOST`), or the file is not a glibc
    utmp)."""
    try:
        with utmp_path.open("rb") as handle:
            data = handle.read(MAX_UTMP_BYTES + 1)
    except OSError:
        return ""
    if not data or len(data) > MAX_UTMP_BYTES or len(data) % _UTMP.size:
        return ""
    host = ""
    for record in _UTMP.iter_unpack(data):
        kind, _pid, raw_line, _id, _user, raw_host = record[:6]
        if kind != _USER_PROCESS or _text(raw_line) != line:
            continue
        host = _text(raw_host)  # the last record of a terminal is the current login
    if not host or LOCAL_LOGIN_HOST.match(host):
        return ""
    return "".join(ch for ch in host[:80] if ch.isprintable())


def _text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def local_desktop(environ: Mapping[str, str] | None = None, platform: str | None = None) -> Desktop:
    """Whether this process runs on a local desktop (``environ`` and ``platform`` default to this process's)."""
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    remote = remote_session(environ, platform)
    if remote.remote:
        return Desktop(False, f"this is an SSH session ({remote.evidence}): a browser would open on the remote "
                              "machine, not in front of you", "this is an SSH session")
    if platform not in ("win32", "darwin") and not (environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY")):
        return Desktop(False, "there is no desktop session here (no DISPLAY or WAYLAND_DISPLAY)",
                       "there is no desktop session here")
    return Desktop(True)
