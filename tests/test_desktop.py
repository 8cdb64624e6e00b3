"""One rule decides whether a browser may open here (dex_tui.desktop.local_desktop), and both places
that start a browser follow it: the browser sign-in (Authenticator.browser_policy) and the wizard's
"open a link" (screens.links.can_start_browser). A remote session is told by one function
(dex_tui.desktop.remote_session): the SSH variables, or on Linux the session itself, tested here on
fake /proc and utmp data."""

from __future__ import annotations

import functools
import struct
import sys
import webbrowser
from pathlib import Path

import pytest

import dex_tui.desktop
from dex_tui.demo import FakeCloud, load_scenario
from dex_tui.desktop import (
    controlling_terminal,
    local_desktop,
    remote_login_host,
    remote_session,
    session_evidence,
    ssh_daemon_ancestor,
)
from dex_tui.runtime import Runtime
from dex_tui.settings import Settings
from screens.links import can_start_browser

# (environment, platform, a local desktop?)
CASES = [
    ({"DISPLAY": ":0"}, "linux", True),
    ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", True),
    ({}, "linux", False),
    ({"DISPLAY": ""}, "linux", False),
    ({}, "freebsd14", False),
    ({}, "sunos5", False),  # neither Windows nor macOS: a display is needed
    ({}, "win32", True),
    ({}, "darwin", True),
    ({"SSH_CONNECTION": "10.0.0.1 5000 10.0.0.2 22", "DISPLAY": ":0"}, "linux", False),
    ({"SSH_TTY": "/dev/pts/1", "DISPLAY": ":0"}, "linux", False),
    ({"SSH_CLIENT": "10.0.0.1 5000 22", "DISPLAY": ":0"}, "linux", False),  # links.py used to miss this one
    ({"SSH_CLIENT": "10.0.0.1 5000 22"}, "darwin", False),
    ({"SSH_CONNECTION": "10.0.0.1 5000 10.0.0.2 22"}, "win32", False),
]


@pytest.mark.parametrize(("environ", "platform", "desktop"), CASES)
def test_the_rule_and_the_link_opener_agree(environ: dict[str, str], platform: str, desktop: bool) -> None:
    found = local_desktop(environ, platform)
    assert found.present is desktop
    assert bool(found.reason) is not desktop and bool(found.short) is not desktop
    assert can_start_browser(environ, platform) is desktop


@pytest.mark.parametrize(("environ", "platform", "desktop"), [c for c in CASES if c[1] == sys.platform])
def test_the_browser_sign_in_follows_the_same_rule(monkeypatch, environ: dict[str, str], platform: str,
                                                   desktop: bool) -> None:
    monkeypatch.setattr(webbrowser, "get", lambda using=None: webbrowser.BackgroundBrowser("xdg-open"))
    auth = Runtime(Settings(demo="ready"), fake_cloud=FakeCloud(load_scenario("ready")),
                   environ=environ).authenticator()
    policy = auth.browser_policy()
    assert policy.allowed is desktop
    if not desktop:
        assert (policy.reason, policy.short) == (local_desktop(environ).reason, local_desktop(environ).short)


def test_the_defaults_are_this_process(monkeypatch) -> None:
    for name in ("SSH_CONNECTION", "SSH_TTY", "SSH_CLIENT", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DISPLAY", ":0")
    assert local_desktop().present and can_start_browser()
    monkeypatch.setenv("SSH_CLIENT", "10.0.0.1 5000 22")
    assert not local_desktop().present and not can_start_browser()


# -- the session itself (Linux): an sshd ancestor, or a remote host in the terminal's login record ------


def fake_proc(root: Path, tree: dict[int, tuple[str, int]], tty_nr: int = 34816) -> Path:
    """A /proc with one ``stat`` per process: pid -> (name, parent pid); every process on the terminal
    ``tty_nr`` (default 34816: major 136, minor 0, that is pts/0)."""
    for pid, (name, parent) in tree.items():
        (root / str(pid)).mkdir(parents=True)
        (root / str(pid) / "stat").write_text(f"{pid} ({name}) S {parent} {pid} {pid} {tty_nr} 0 4194560 0\n")
    return root


UTMP = struct.Struct("<hxxi32s4s32s256shhiii16s20s")


def utmp_record(kind: int, line: str, host: str, user: str = "admin", pid: int = 4242) -> bytes:
    return UTMP.pack(kind, pid, line.encode(), line[-4:].encode(), user.encode(), host.encode(),
                     0, 0, 0, 1_800_000_000, 0, b"", b"")


def fake_utmp(path: Path, *records: bytes) -> Path:
    path.write_bytes(b"".join(records))
    return path


# The case: ``sudo dex-tui`` in an SSH login (sudo dropped SSH_*, kept DISPLAY).
SUDO_OVER_SSH = {1: ("systemd", 0), 610: ("sshd", 1), 4100: ("sshd", 610), 4101: ("bash", 4100),
                 4200: ("sudo", 4101), 4201: ("dex-tui", 4200)}


def test_the_record_layout_is_glibcs() -> None:
    assert UTMP.size == 384


def test_an_sshd_ancestor_is_found_through_sudo(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path / "proc", SUDO_OVER_SSH)
    assert ssh_daemon_ancestor(proc, 4201) == (4100, "sshd")
    assert session_evidence(proc, (), pid=4201, tty="") == "an ancestor process is sshd (pid 4100)"


def test_openssh_9_8_names_the_session_process_sshd_session(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path / "proc", {1: ("systemd", 0), 700: ("sshd", 1), 900: ("sshd-session", 700),
                                         901: ("zsh", 900), 950: ("python3", 901)})
    assert ssh_daemon_ancestor(proc, 950) == (900, "sshd-session")


def test_a_local_terminal_has_no_sshd_ancestor(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path / "proc", {1: ("systemd", 0), 300: ("gnome-terminal-", 1), 310: ("bash", 300),
                                         320: ("dex-tui", 310)})
    assert ssh_daemon_ancestor(proc, 320) is None
    assert session_evidence(proc, (), pid=320, tty="") == ""


def test_the_process_itself_is_not_its_own_ancestor(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path / "proc", {1: ("init", 0), 5: ("sshd", 1)})
    assert ssh_daemon_ancestor(proc, 5) is None


def test_names_with_spaces_and_parentheses_and_a_looping_tree(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path / "proc", {1: ("init", 0), 20: ("sshd", 1), 30: ("my (odd) sshd", 20),
                                         40: ("x", 30)})
    assert ssh_daemon_ancestor(proc, 40) == (20, "sshd")  # "my (odd) sshd" is not the daemon
    loop = fake_proc(tmp_path / "loop", {7: ("a", 8), 8: ("b", 7), 9: ("c", 7)})
    assert ssh_daemon_ancestor(loop, 9) is None


def test_unreadable_or_malformed_proc_is_no_evidence(tmp_path: Path) -> None:
    assert ssh_daemon_ancestor(tmp_path / "missing", 1234) is None
    proc = tmp_path / "proc"
    (proc / "50").mkdir(parents=True)
    (proc / "50" / "stat").write_text("garbage without parentheses")
    (proc / "60").mkdir()
    (proc / "60" / "stat").write_text("60 (bash) S not-a-number")
    assert ssh_daemon_ancestor(proc, 50) is None and ssh_daemon_ancestor(proc, 60) is None


def test_the_terminals_login_record_names_the_remote_host(tmp_path: Path) -> None:
    utmp = fake_utmp(tmp_path / "utmp", utmp_record(7, "pts/0", ":0"), utmp_record(8, "pts/1", "old.example"),
                     utmp_record(7, "pts/3", "198.51.100.7"))
    assert remote_login_host(utmp, "pts/3") == "198.51.100.7"
    assert remote_login_host(utmp, "pts/0") == ""  # a local X display
    local = fake_utmp(tmp_path / "local", utmp_record(7, "pts/5", "tmux(10371).%1"), utmp_record(7, "pts/6", ":1.0"),
                      utmp_record(7, "pts/7", "box:S.0"), utmp_record(7, "pts/8", "::1"),
                      utmp_record(7, "pts/9", "mosh [4242]"))
    # What tmux (through utempter), an X terminal and GNU screen write is local; IPv6 loopback and mosh are not.
    assert [remote_login_host(local, f"pts/{n}") for n in range(5, 10)] == ["", "", "", "::1", "mosh [4242]"]
    assert remote_login_host(utmp, "pts/1") == ""  # a dead process's record
    assert remote_login_host(utmp, "pts/9") == ""  # no record
    proc = fake_proc(tmp_path / "proc", {1: ("init", 0), 2: ("tmux: server", 1), 3: ("bash", 2)})
    assert session_evidence(proc, (tmp_path / "none", utmp), pid=3, tty="pts/3") == \
        "the login record of pts/3 names the remote host 198.51.100.7"


def test_a_utmp_that_is_not_glibcs_or_hostile_is_no_evidence(tmp_path: Path) -> None:
    assert remote_login_host(fake_utmp(tmp_path / "short", b"\x07" * 100), "pts/3") == ""
    assert remote_login_host(tmp_path / "missing", "pts/3") == ""
    hostile = fake_utmp(tmp_path / "hostile", utmp_record(7, "pts/4", "evil\x1b[2Jhost" + "x" * 200))
    host = remote_login_host(hostile, "pts/4")
    assert "\x1b" not in host and len(host) <= 80 and host.startswith("evil")


def test_remote_session_asks_the_session_only_on_linux(monkeypatch, tmp_path: Path) -> None:
    proc = fake_proc(tmp_path / "proc", SUDO_OVER_SSH)
    monkeypatch.setattr(dex_tui.desktop, "session_evidence",
                        functools.partial(session_evidence, proc, (), 4201, ""))
    assert remote_session({"DISPLAY": ":0"}, "linux") == \
        dex_tui.desktop.RemoteSession(True, "an ancestor process is sshd (pid 4100)")
    assert not remote_session({"DISPLAY": ":0"}, "darwin").remote
    assert remote_session({"SSH_TTY": "/dev/pts/1"}, "darwin").evidence == "SSH_TTY is set"
    desktop = local_desktop({"DISPLAY": ":0"}, "linux")
    assert not desktop.present and desktop.short == "this is an SSH session"
    assert "an ancestor process is sshd" in desktop.reason
    assert not can_start_browser({"DISPLAY": ":0"}, "linux")


def test_the_controlling_terminal_comes_from_proc_even_with_redirected_streams(tmp_path: Path) -> None:
    assert controlling_terminal(fake_proc(tmp_path / "a", {9: ("x", 1)}), 9) == "pts/0"
    assert controlling_terminal(fake_proc(tmp_path / "b", {9: ("x", 1)}, tty_nr=(137 << 8) | 44), 9) == "pts/300"
    assert controlling_terminal(fake_proc(tmp_path / "c", {9: ("x", 1)}, tty_nr=(4 << 8) | 2), 9) == "tty2"


def test_an_orphan_on_the_ssh_terminal_is_told_by_the_login_record(tmp_path: Path) -> None:
    """A process re-parented away from sshd (double fork, streams redirected) on the SSH login's
    terminal: no ancestor says it, the terminal's login record does (tried on a real sshd too)."""
    proc = fake_proc(tmp_path / "proc", {1: ("init", 0), 777: ("python3", 1)}, tty_nr=(136 << 8) | 1)
    utmp = fake_utmp(tmp_path / "utmp", utmp_record(7, "pts/1", "127.0.0.1"))
    assert session_evidence(proc, (utmp,), pid=777) == "the login record of pts/1 names the remote host 127.0.0.1"
    assert session_evidence(fake_proc(tmp_path / "none", {1: ("init", 0), 5: ("x", 1)}, tty_nr=0), (utmp,),
                            pid=5, tty="") == ""
