"""The local stores under attack (issue 14, items 9-12, 15 and 17): links planted at the audit trail,
a full disk, state folders other users can write to and files they forged, two wizards on one tenant,
cache files that decrypt to the wrong shape, a damaged CA bundle, a NUL in a setting, /dev/zero as a
config or answers file, and keyrings that block, refuse to delete, or sit beside a read-only folder.

Each test plants the attack for real (links, FIFOs, modes, other owners when running as root, a file
size limit, a second process holding the lock, a read-only mount) and shows what now happens.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backend
import keyring.errors
import pytest
from cryptography.fernet import Fernet

from dex_tui.audit import AuditTrail, AuditWriteError, audit_path
from dex_tui.localfiles import UnsafePath, read_private
from dex_tui.progress import Progress, ProgressStore, TenantInUse
from dex_tui.settings import Settings
from dex_tui.token_cache import KEYRING_SERVICE, KEYRING_USERNAME, TokenCacheStore, default_cache_path
from screens.app import WizardApp
from screens.textdump import screen_text
from tests.test_secrets_support import assert_no_traceback, run_cli, server_args, start_server
from tests.test_token_cache import _add_sign_in
from tests.test_wizard_support import make_app, sign_in, wait_for

ROOT = Path(__file__).resolve().parent.parent
AS_ROOT = os.geteuid() == 0
OTHER_UID = 4242  # a user that is not us (files are given to it with chown when running as root)
NOW = "2026-11-24T10:00:00Z"


def _trail(state_dir: Path, key: str = "demo-ready") -> AuditTrail:
    return AuditTrail(audit_path(state_dir, key), clock=lambda: NOW)


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def _forge(path: Path, content: bytes) -> str:
    """Write ``content`` as another user could: owned by another uid (as root), else writable by all.
    Returns the reason dex-tui should give."""
    path.write_bytes(content)
    if AS_ROOT:
        os.chown(path, OTHER_UID, OTHER_UID)
        return f"it belongs to another user (uid {OTHER_UID})"
    path.chmod(0o666)
    return "group or others may write to it (mode 0666)"


def _subprocess_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SSH_", "DEX_TUI_"))}
    env["PYTHONPATH"] = str(ROOT)
    return env


# ------------------------------------------------------------------ 9. links at the audit trail


def test_a_link_planted_at_the_audit_trail_is_refused_and_its_target_untouched(state_dir: Path,
                                                                                tmp_path: Path) -> None:
    target = tmp_path / "precious.conf"
    target.write_text("root:x:0:0\n")
    target.chmod(0o644)
    trail = _trail(state_dir)
    trail.path.parent.mkdir(parents=True, mode=0o700)
    trail.path.symlink_to(target)
    with pytest.raises(AuditWriteError) as failed:
        trail.record("terms_accepted", by="admin@contoso.com")
    assert "it is a symbolic link" in failed.value.explanation
    assert "'terms_accepted' could not be written" in failed.value.explanation
    assert "if you did not put it there, remove it" in failed.value.next_step
    assert target.read_text() == "root:x:0:0\n" and _mode(target) == 0o644  # not appended to, not chmodded
    assert trail.path.is_symlink()  # refused, left for the operator to look at
    with pytest.raises(Exception, match="symbolic link"):
        trail.read()  # reading does not follow it either


def test_a_linked_audit_folder_is_refused(state_dir: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (state_dir / "audit").symlink_to(elsewhere)
    with pytest.raises(AuditWriteError, match="the folder is a symbolic link"):
        _trail(state_dir).record("terms_accepted", by="a")
    assert list(elsewhere.iterdir()) == []


def test_a_fifo_at_the_audit_trail_is_moved_aside_without_blocking(state_dir: Path) -> None:
    trail = _trail(state_dir)
    trail.path.parent.mkdir(parents=True, mode=0o700)
    os.mkfifo(trail.path, 0o600)
    trail.record("terms_accepted", by="a")  # returns: the FIFO was never opened for a blocking write
    assert "because it is not a regular file" in trail.pop_notices()[0]
    assert [r["event"] for r in trail.read()] == ["terms_accepted"]
    aside = list(trail.path.parent.glob("demo-ready.jsonl.set-aside-*"))
    assert len(aside) == 1 and stat.S_ISFIFO(os.lstat(aside[0]).st_mode)


# ------------------------------------------------------------------ 10. a full disk


def test_a_short_write_on_a_full_disk_leaves_the_trail_as_it_was(state_dir: Path, monkeypatch) -> None:
    trail = _trail(state_dir)
    trail.record("terms_accepted", by="admin@contoso.com")
    before = trail.path.read_bytes()
    real_write = os.write
    calls = []

    def full_disk(fd: int, data) -> int:
        calls.append(len(data))
        if len(calls) == 1:
            return real_write(fd, bytes(data[: len(data) // 2]))  # the disk takes half of the record
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("dex_tui.localfiles.os.write", full_disk)
    with pytest.raises(AuditWriteError) as failed:
        trail.record("role_skipped", by="admin@contoso.com", role="security_operator")
    assert len(calls) == 2  # the short write was continued, not ignored
    assert "No space left on device" in failed.value.explanation
    assert "the trail is unchanged" in failed.value.explanation
    assert trail.path.read_bytes() == before
    assert [r["event"] for r in trail.read()] == ["terms_accepted"]


_FSIZE_CHILD = """
import resource, signal, sys
from pathlib import Path
from dex_tui.audit import AuditTrail, AuditWriteError
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
trail = AuditTrail(Path(sys.argv[1]), clock=lambda: "2026-11-24T10:00:00Z")
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[2]), resource.RLIM_INFINITY))
try:
    trail.record("role_skipped", by="admin@contoso.com", role="security_operator", note="x" * 400)
except AuditWriteError as exc:
    print(exc.one_line())
    sys.exit(7)
"""


def test_a_real_file_size_limit_cuts_nothing_short(state_dir: Path) -> None:
    """A real short write: the kernel writes up to RLIMIT_FSIZE and refuses the rest (EFBIG)."""
    trail = _trail(state_dir)
    trail.record("terms_accepted", by="admin@contoso.com")
    before = trail.path.read_bytes()
    limit = len(before) + 100  # room for a part of the next record only
    child = subprocess.run([sys.executable, "-c", _FSIZE_CHILD, str(trail.path), str(limit)], cwd=ROOT,
                           env=_subprocess_env(), capture_output=True, text=True, timeout=60)
    assert child.returncode == 7, child.stderr
    assert "Not recorded in the audit trail: the decision 'role_skipped' could not be written" in child.stdout
    assert "File too large" in child.stdout and "the trail is unchanged" in child.stdout
    assert trail.path.read_bytes() == before
    trail.record("role_granted", by="admin@contoso.com", role="security_operator")  # room again
    assert [r["event"] for r in trail.read()] == ["terms_accepted", "role_granted"]


def test_a_torn_last_line_is_skipped_and_said(state_dir: Path) -> None:
    trail = _trail(state_dir)
    trail.record("terms_accepted", by="admin@contoso.com")
    whole = json.dumps({"at": NOW, "by": "evil\x1b\u202e\u00e9", "event": "role_skipped", "lost": ["a", "b"],
                        "n": -1.5e3, "ok": True, "no": False, "v": 1, "x": None}, sort_keys=True)
    head = trail.path.read_bytes()
    for cut in range(1, len(whole)):  # wherever a crash cut the last record, the trail still reads
        trail.path.write_bytes(head + whole[:cut].encode("ascii"))
        contents = trail.read_all()
        assert [r["event"] for r in contents.records] == ["terms_accepted"], whole[:cut]
        assert len(contents.notices) == 1 and "line 2 is a record cut short" in contents.notices[0]


def test_the_next_record_after_a_torn_one_starts_on_its_own_line(state_dir: Path) -> None:
    trail = _trail(state_dir)
    trail.record("terms_accepted", by="a")
    with trail.path.open("ab") as handle:
        handle.write(b'{"at": "2026-11-24T10:00:00Z", "by": "a", "ev')  # torn by a crash of an older version
    trail.record("role_granted", by="a", role="security_operator")
    contents = trail.read_all()
    assert [r["event"] for r in contents.records] == ["terms_accepted", "role_granted"]
    assert len(contents.notices) == 1 and "line 2" in contents.notices[0]


def test_damage_that_is_not_a_torn_record_is_still_an_error(state_dir: Path) -> None:
    from dex_tui.errors import UsageError

    trail = _trail(state_dir)
    trail.record("terms_accepted", by="a")
    with trail.path.open("a") as handle:
        handle.write('{"event": "terms_accepted"} junk\n')
    with pytest.raises(UsageError, match="line 2 is not JSON"):
        trail.read()


async def test_the_wizard_says_when_a_decision_could_not_be_recorded(state_dir: Path, monkeypatch) -> None:
    def full_disk(fd: int, data: bytes) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("dex_tui.audit.append_whole", full_disk)
    app = make_app(state_dir)
    app.notifications_enabled = True
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await sign_in(app, pilot)
        app.confirm("terms", service="xdr")
        await pilot.pause()
        messages = [str(n.message) for n in app._notifications]
        assert any(m.startswith("Not recorded in the audit trail: the decision 'terms_accepted' could not be "
                                "written") and "No space left on device" in m and "The decision itself was kept" in m
                   for m in messages), messages
        assert app.flow.answers.terms is not None  # the decision stands; only its record is missing
        await pilot.press("ctrl+c")
    assert app.return_value == 130


# ------------------------------------------------------------------ 11. folders and forged files


def test_a_world_writable_progress_folder_is_tightened_and_a_forged_file_refused(state_dir: Path) -> None:
    folder = state_dir / "progress"
    folder.mkdir(mode=0o777)
    folder.chmod(0o777)
    forged = json.dumps({"version": 1, "step": "review", "tenant": "demo-ready",
                         "answers": {"service": "xdr", "roles": {"security_operator": False}}}).encode()
    reason = _forge(folder / "demo-ready.json", forged)
    loaded = ProgressStore(state_dir, "demo-ready").load()
    assert loaded.progress is None  # a clean start: nothing forged is believed
    assert f"The folder {folder} was open to other users (mode 0777); it is now 0700" in loaded.notice
    assert f"was not loaded because {reason}: another user could have written it" in loaded.notice
    assert _mode(folder) == 0o700
    aside = list(folder.glob("demo-ready.json.set-aside-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == forged  # nothing lost: kept for a person to look at
    store = ProgressStore(state_dir, "demo-ready")
    store.save(Progress(step="terms"))
    assert store.load().progress.step == "terms" and store.load().notice is None


def test_a_world_writable_state_folder_is_tightened(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    state.chmod(0o777)
    loaded = ProgressStore(state, "demo-ready").load()
    assert f"The state folder {state} was open to other users (mode 0777); it is now 0700" in loaded.notice
    assert _mode(state) == 0o700


@pytest.mark.skipif(not AS_ROOT, reason="giving a folder to another user needs root")
def test_a_progress_folder_of_another_user_is_not_used(state_dir: Path) -> None:
    folder = state_dir / "progress"
    folder.mkdir(mode=0o700)
    os.chown(folder, OTHER_UID, OTHER_UID)
    store = ProgressStore(state_dir, "demo-ready")
    loaded = store.load()
    assert loaded.progress is None and f"belongs to another user (uid {OTHER_UID})" in loaded.notice
    with pytest.raises(UnsafePath):
        store.save(Progress(step="terms"))
    assert list(folder.iterdir()) == []


def test_links_and_fifos_at_the_progress_path_are_set_aside_not_followed(state_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.json"
    target.write_text(json.dumps({"version": 1, "step": "review"}))
    store = ProgressStore(state_dir, "demo-ready")
    store.path.parent.mkdir(parents=True, mode=0o700)
    store.path.symlink_to(target)
    loaded = store.load()
    assert loaded.progress is None and "because it is a symbolic link" in loaded.notice
    assert not store.path.is_symlink() and target.read_text().startswith('{"version"')
    store.save(Progress(step="terms"))
    assert json.loads(target.read_text())["step"] == "review"  # the save did not go through a link

    os.unlink(store.path)
    os.mkfifo(store.path, 0o600)
    outcome: list[object] = []
    reader = threading.Thread(target=lambda: outcome.append(ProgressStore(state_dir, "demo-ready").load()),
                              daemon=True)
    reader.start()
    reader.join(timeout=10)
    assert outcome, "reading a FIFO at the progress path blocked"
    assert "because it is not a regular file" in outcome[0].notice


def test_a_forged_audit_trail_is_moved_aside_and_a_new_one_begun(state_dir: Path) -> None:
    trail = _trail(state_dir)
    trail.path.parent.mkdir(parents=True, mode=0o700)
    forged = b'{"event": "role_granted", "by": "someone else", "role": "security_administrator"}\n'
    reason = _forge(trail.path, forged)
    trail.record("terms_accepted", by="admin@contoso.com")
    notices = trail.pop_notices()
    assert len(notices) == 1 and f"because {reason}, so its records cannot be trusted" in notices[0]
    assert [r["by"] for r in trail.read()] == ["admin@contoso.com"]
    aside = list(trail.path.parent.glob("demo-ready.jsonl.set-aside-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == forged


def test_a_forged_token_cache_is_set_aside_and_the_folder_tightened(memory_keyring, state_dir: Path) -> None:
    path = default_cache_path(state_dir)
    first = TokenCacheStore("keyring", path)
    first.load()
    _add_sign_in(first)
    first.save()
    path.parent.chmod(0o777)
    blob = path.read_bytes()
    reason = _forge(path, blob)  # a valid cache, but another user could have put it there
    store = TokenCacheStore("keyring", path)
    store.load()
    titles = {n.title: n.text for n in store.notices}
    assert "was open to other users (mode 0777); it is now 0700" in titles["The token cache folder was open to "
                                                                           "other users"]
    assert f"refused because {reason}" in titles["The saved sign-in was not used"]
    assert list(store.cache.search(store.cache.CredentialType.ACCOUNT)) == []
    assert _mode(path.parent) == 0o700
    aside = list(path.parent.glob("token_cache.bin.unreadable-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == blob


async def test_the_wizard_starts_clean_and_says_why_on_a_forged_progress_file(state_dir: Path) -> None:
    folder = state_dir / "progress"
    folder.mkdir(mode=0o700)
    folder.chmod(0o777)
    _forge(folder / "demo-ready.json", json.dumps({"version": 1, "step": "review"}).encode())
    app = make_app(state_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        text = " ".join(screen_text(app).split())
        assert "was open to other users" in text and "another user could have written it" in text
        assert app.flow.step == "welcome"
        await pilot.press("ctrl+c")
    assert app.return_value == 130
    assert _mode(folder) == 0o700


# ------------------------------------------------------------------ 12. two wizards on one tenant


_HOLDER = """
import sys
from pathlib import Path
from dex_tui.progress import ProgressStore
store = ProgressStore(Path(sys.argv[1]), sys.argv[2])
store.acquire()
print("held", flush=True)
sys.stdin.read()
"""


@contextlib.contextmanager
def _other_dex_tui(state_dir: Path, key: str = "demo-ready") -> Iterator[subprocess.Popen[str]]:
    """Another process holding the tenant's lock as a running wizard does."""
    process = subprocess.Popen([sys.executable, "-c", _HOLDER, str(state_dir), key], cwd=ROOT, env=_subprocess_env(),
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "held"
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def test_a_second_wizard_on_the_same_tenant_says_who_has_it_and_quits(state_dir: Path, capsys, monkeypatch) -> None:
    monkeypatch.setattr("dex_tui.cli.missing_terminal", lambda: None)  # as in a terminal: the lock is what refuses
    saved = ProgressStore(state_dir, "demo-ready")
    saved.save(Progress(step="terms"))
    saved.release()
    before = saved.path.read_bytes()
    with _other_dex_tui(state_dir) as other:
        result = run_cli(["--demo", "ready", "--state-dir", str(state_dir)], capsys)
        assert result.code == 4
        assert result.err.strip() == (
            f"dex-tui: This tenant is open in another dex-tui: another dex-tui (PID {other.pid}) has the tenant "
            "'demo-ready' open; two wizards on one tenant would overwrite each other's progress. Finish or quit "
            "that one first, or choose another tenant.")
        assert result.out == ""  # the terminal was never taken
        assert gc.isenabled()  # the start-up pause of the collector ended with the refusal
        assert_no_traceback(result.out, result.err, result.logs)
        assert saved.path.read_bytes() == before
        other_tenant = ProgressStore(state_dir, "contoso.onmicrosoft.com")
        other_tenant.acquire()  # another tenant is not blocked
        other_tenant.release()


def test_the_lock_of_a_dead_process_is_taken_over(state_dir: Path) -> None:
    with _other_dex_tui(state_dir) as other:
        with pytest.raises(TenantInUse, match=f"PID {other.pid}"):
            ProgressStore(state_dir, "demo-ready").acquire()
        other.send_signal(signal.SIGKILL)  # no chance to clean up: the lock file stays behind
        other.wait(timeout=10)
    lock = state_dir / "locks" / "demo-ready.lock"
    assert lock.read_text().strip() == str(other.pid)
    store = ProgressStore(state_dir, "demo-ready")
    store.acquire()
    assert store.locked and lock.read_text().strip() == str(os.getpid())
    store.release()


async def test_choosing_a_tenant_another_wizard_has_open_changes_nothing(state_dir: Path) -> None:
    from screens.dialogs import ErrorDialog

    with _other_dex_tui(state_dir, "contoso.onmicrosoft.com") as other:
        app = WizardApp(Settings(state_dir=state_dir, token_cache="memory"), now_iso=lambda: NOW)  # a real tenant
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            assert app.choose_target(service="xdr", cloud=None, tenant="contoso.onmicrosoft.com") is False
            expected = f"another dex-tui (PID {other.pid}) has the tenant 'contoso.onmicrosoft.com'"
            await wait_for(pilot, lambda: isinstance(app.screen, ErrorDialog)
                           and expected in " ".join(screen_text(app).split()))
            assert app.core.tenant_choice is None and app.core.store.key == "organizations" and app.core.store.locked
            await pilot.press("escape")
            await pilot.press("ctrl+c")
        assert app.return_value == 130
    assert not app.core.store.locked  # given back when the wizard ended


def _read_pty(fd: int, sink: list[bytes], stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            return
        if not chunk:
            return
        sink.append(chunk)


def test_two_real_wizards_in_terminals(state_dir: Path) -> None:
    """The real thing: a wizard running in a pseudo-terminal, then a second ``dex-tui`` on the tenant."""
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = _subprocess_env() | {"TERM": "xterm-256color", "TEXTUAL_ANIMATIONS": "none"}
    argv = [sys.executable, "-m", "dex_tui", "--demo", "ready", "--state-dir", str(state_dir)]
    first = subprocess.Popen(argv, cwd=ROOT, env=env, stdin=slave, stdout=slave, stderr=slave,
                             start_new_session=True)
    os.close(slave)
    screen: list[bytes] = []
    stop = threading.Event()
    drain = threading.Thread(target=_read_pty, args=(master, screen, stop), daemon=True)
    drain.start()
    lock = state_dir / "locks" / "demo-ready.lock"
    try:
        deadline = time.monotonic() + 60
        while not (lock.exists() and lock.read_text().strip() == str(first.pid) and b"Welcome" in b"".join(screen)):
            assert first.poll() is None, b"".join(screen)[-2000:]
            assert time.monotonic() < deadline, "the first wizard did not start"
            time.sleep(0.05)
        other_master, other_slave = pty.openpty()  # the second one has a terminal too: the lock refuses it
        try:
            second = subprocess.run(argv, cwd=ROOT, env=env, stdin=other_slave, stdout=other_slave,
                                    stderr=subprocess.PIPE, text=True, timeout=60)
        finally:
            os.close(other_slave)
            os.close(other_master)
        assert second.returncode == 4
        assert f"another dex-tui (PID {first.pid}) has the tenant 'demo-ready' open" in second.stderr
        assert_no_traceback(second.stderr)
        os.write(master, b"\x03")  # Ctrl+C in the first wizard: it saves and leaves
        assert first.wait(timeout=30) == 130
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(timeout=10)
        stop.set()
        os.close(master)
    assert json.loads((state_dir / "progress" / "demo-ready.json").read_text())["step"] == "welcome"


# ------------------------------------------------------------------ 15. bad files and settings


def _encrypted_cache(state_dir: Path, keyring_store: keyring.backend.KeyringBackend, body: bytes) -> Path:
    key = Fernet.generate_key()
    keyring_store.set_password(KEYRING_SERVICE, KEYRING_USERNAME, key.decode())
    path = default_cache_path(state_dir)
    path.parent.mkdir(parents=True, mode=0o700)
    path.write_bytes(Fernet(key).encrypt(body))
    path.chmod(0o600)
    return path


@pytest.mark.parametrize("body", [
    pytest.param(b'{"Account": [1, 2]}', id="section-a-list"),
    pytest.param(b'{"Account": {"k": "a string"}}', id="entry-a-string"),
    pytest.param(b'{"Account": {"k": {"home_account_id": ["nested"]}}}', id="nested-value"),
    pytest.param(b'{"AccessToken": {"k": {"secret": "x", "expires_on": "soon"}}}', id="expiry-not-a-time"),
    pytest.param(b'{"AccessToken": {"k": {"secret": "x"}}}', id="no-expiry"),
    pytest.param(b'"just a string"', id="not-an-object"),
])
def test_a_cache_that_decrypts_to_the_wrong_shape_is_set_aside_and_signout_works(memory_keyring, state_dir: Path,
                                                                                 capsys, body: bytes) -> None:
    path = _encrypted_cache(state_dir, memory_keyring, body)
    result = run_cli(["--state-dir", str(state_dir), "signout"], capsys)
    assert result.code == 0, result.err
    assert result.out.strip() == ("Signed out; removed 1 cache file set aside earlier (token_cache.bin.unreadable-*); "
                                  "the cache key in the OS keyring (service 'dex-tui').")
    assert not path.exists() and list(path.parent.iterdir()) == [] and memory_keyring.store == {}
    assert_no_traceback(result.out, result.err, result.logs)


def test_a_wrong_shape_cache_means_signing_in_again(memory_keyring, state_dir: Path, capsys) -> None:
    path = _encrypted_cache(state_dir, memory_keyring, b'{"Account": {"k": "a string"}}')
    server = start_server("ready")
    try:
        result = run_cli([*server_args(server, state_dir), "signin", "--no-interactive"], capsys)
    finally:
        server.stop()
    assert result.code == 3
    assert "Note: The saved sign-in could not be used: the token cache file could not be decrypted or read" in result.err
    assert "Internal error" not in result.err and not path.exists()
    assert_no_traceback(result.out, result.err, result.logs)


def test_a_ca_bundle_with_a_damaged_pem_body_is_a_usage_error(tmp_path: Path, capsys) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\nMIIBnotbase64!!\n-----END CERTIFICATE-----\n")
    result = run_cli(["--ca-bundle", str(bundle), "--state-dir", str(tmp_path), "check"], capsys)
    assert result.code == 4
    assert result.err.startswith(f"dex-tui: Invalid input: --ca-bundle: '{bundle}' holds a certificate that cannot "
                                 "be loaded: the PEM text between BEGIN and END CERTIFICATE is damaged")
    assert "Export the CA again in PEM (Base64) format." in result.err and "_ssl.c" not in result.err
    assert_no_traceback(result.out, result.err, result.logs)


def test_a_nul_in_the_state_dir_of_the_config_file_is_a_usage_error(tmp_path: Path, capsys) -> None:
    config = tmp_path / "config.toml"
    config.write_text('state_dir = "/tmp/a\\u0000b"\n')
    result = run_cli(["--config", str(config), "--demo", "ready", "signin"], capsys)
    assert result.code == 4
    assert result.err.strip() == (f"dex-tui: Invalid input: config file '{config}': state_dir: the value contains a "
                                  "NUL character, which no state_dir can hold.")


_BOUNDED_CHILD = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (2 * 1024 ** 3, resource.RLIM_INFINITY))  # a regression ends here, not the box
from dex_tui.cli import run
sys.exit(run(sys.argv[1:]))
"""


@pytest.mark.parametrize(("argv", "message"), [
    pytest.param(["--config", "/dev/zero", "check"],
                 "dex-tui: Invalid input: config file '/dev/zero' is larger than 1 MiB; it is not a dex-tui config "
                 "file.", id="config"),
    pytest.param(["--demo", "ready", "check", "--answers", "/dev/zero"],
                 "dex-tui: Invalid input: answers file '/dev/zero' is larger than 1 MiB; it is not an answers file.",
                 id="answers"),
])
def test_dev_zero_as_a_config_or_answers_file_is_refused_at_1_mib(argv: list[str], message: str) -> None:
    started = time.monotonic()
    child = subprocess.run([sys.executable, "-c", _BOUNDED_CHILD, *argv], cwd=ROOT, env=_subprocess_env(),
                           capture_output=True, text=True, timeout=120)
    assert child.returncode == 4, child.stderr
    assert child.stderr.strip().splitlines()[-1] == message
    assert time.monotonic() - started < 60


def test_an_oversized_progress_file_is_set_aside(state_dir: Path) -> None:
    store = ProgressStore(state_dir, "demo-ready")
    store.path.parent.mkdir(parents=True, mode=0o700)
    store.path.write_bytes(b" " * (1024 * 1024 + 1))
    loaded = store.load()
    assert loaded.progress is None and "larger than 1 MiB" in loaded.notice


# ------------------------------------------------------------------ 17. keyring edge cases


class _MemoryKeyring(keyring.backend.KeyringBackend):
    """In memory, as conftest's (imported from there, conftest would run a second time)."""

    priority = -10  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.store.pop((service, username), None)


class _BlockingKeyring(_MemoryKeyring):
    """A keyring whose get_password never answers (a locked keyring waiting on a prompt nobody sees)."""

    def __init__(self) -> None:
        super().__init__()
        self.released = threading.Event()

    def get_password(self, service: str, username: str) -> str | None:
        self.released.wait(60)
        return None


class _UndeletableKeyring(_MemoryKeyring):
    def delete_password(self, service: str, username: str) -> None:
        raise keyring.errors.PasswordDeleteError("the collection is locked")


class _ForgetfulDeleteKeyring(_MemoryKeyring):
    def delete_password(self, service: str, username: str) -> None:
        return None  # says nothing, deletes nothing


@contextlib.contextmanager
def _keyring(backend: keyring.backend.KeyringBackend) -> Iterator[keyring.backend.KeyringBackend]:
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)
        released = getattr(backend, "released", None)
        if released is not None:
            released.set()


def test_a_blocking_keyring_times_out_and_the_cache_stays_in_memory(state_dir: Path) -> None:
    with _keyring(_BlockingKeyring()):
        store = TokenCacheStore("keyring", default_cache_path(state_dir), keyring_timeout=0.3)
        started = time.monotonic()
        store.load()
        waited = time.monotonic() - started
    assert waited < 5
    assert not store.persistent
    assert store.notices[0].one_line().startswith(
        "Sign-in will not be remembered: the OS keyring did not answer within 0.3 seconds (it may be locked")
    assert store.describe().startswith("memory only (the OS keyring did not answer within 0.3 seconds)")
    assert not default_cache_path(state_dir).exists()


def test_signin_with_a_blocking_keyring_says_so_and_signs_in(state_dir: Path, capsys, monkeypatch) -> None:
    monkeypatch.setattr("dex_tui.token_cache.KEYRING_TIMEOUT", 0.5)
    server = start_server("ready")
    try:
        with _keyring(_BlockingKeyring()):
            result = run_cli([*server_args(server, state_dir), "signin"], capsys)
    finally:
        server.stop()
    assert result.code == 0, result.err
    assert "Signed in as Megan Bowen" in result.out
    assert "Note: Sign-in will not be remembered: the OS keyring did not answer within 0.5 seconds" in result.err
    assert "Token cache: memory only (the OS keyring did not answer within 0.5 seconds)" in result.err
    assert_no_traceback(result.out, result.err, result.logs)


def _signed_in_cache(state_dir: Path) -> Path:
    path = default_cache_path(state_dir)
    store = TokenCacheStore("keyring", path)
    store.load()
    _add_sign_in(store)
    store.save()
    return path


@pytest.mark.parametrize(("backend_type", "why"), [
    pytest.param(_UndeletableKeyring, "the keyring refused to delete it (PasswordDeleteError: the collection is "
                                      "locked)", id="refused"),
    pytest.param(_ForgetfulDeleteKeyring, "still holds it after deleting", id="silently-kept"),
])
def test_signout_tells_the_truth_when_the_key_could_not_be_deleted(state_dir: Path, capsys, backend_type: type,
                                                                   why: str) -> None:
    with _keyring(backend_type()) as backend:
        path = _signed_in_cache(state_dir)
        result = run_cli(["--state-dir", str(state_dir), "signout"], capsys)
        assert backend.store  # the key really is still there
    assert result.code == 3
    assert "Signed out" not in result.out
    assert result.out.startswith("Removed the account u1@contoso.test") and f"the token cache file {path}" in result.out
    assert "Not removed: the cache key in the OS keyring (service 'dex-tui', user 'token-cache-key') may " \
           "remain: " in result.err and why in result.err
    assert "keyring del dex-tui token-cache-key" in result.err
    assert result.err.strip().endswith("Not fully signed out: remove what is listed above, then run "
                                       "'dex-tui signout' again.")
    assert not path.exists()


def test_signout_removes_the_files_set_aside_as_unreadable(memory_keyring, state_dir: Path, capsys) -> None:
    path = _signed_in_cache(state_dir)
    for stamp in ("20260101T000000", "20260202T000000"):
        (path.parent / f"token_cache.bin.unreadable-{stamp}").write_bytes(path.read_bytes())  # refresh tokens
    result = run_cli(["--state-dir", str(state_dir), "signout"], capsys)
    assert result.code == 0, result.err
    assert "2 cache files set aside earlier (token_cache.bin.unreadable-*)" in result.out
    assert list(path.parent.iterdir()) == [] and memory_keyring.store == {}


@pytest.fixture
def read_only_state(tmp_path: Path) -> Iterator[Path]:
    """A state folder nothing can be written in: a read-only mount as root, mode 0500 otherwise."""
    state = tmp_path / "state"
    state.mkdir()
    if not AS_ROOT:
        state.chmod(0o500)
        try:
            yield state
        finally:
            state.chmod(0o700)
        return
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m,mode=0700", "tmpfs", str(state)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"no read-only folder as root without mount: {mounted.stderr.strip()}")
    try:
        yield state
    finally:
        subprocess.run(["umount", str(state)], check=True)


def test_signin_on_a_read_only_state_folder_says_why_and_leaves_no_key(read_only_state: Path, memory_keyring,
                                                                       capsys) -> None:
    server = start_server("ready")
    try:
        result = run_cli([*server_args(server, read_only_state), "signin"], capsys)
    finally:
        server.stop()
    assert result.code == 0, result.err
    why = "Read-only file system" if AS_ROOT else "Permission denied"
    auth = read_only_state / "auth"
    assert f"Note: Sign-in will not be remembered: the folder {auth} cannot be written ({why})" in result.err
    assert "no key was put in the OS keyring" in result.err
    assert f"Token cache: memory only (the folder {auth} cannot be written)" in result.err
    assert memory_keyring.store == {}  # no orphan key
    assert_no_traceback(result.out, result.err, result.logs)


def test_read_private_reads_a_private_file(state_dir: Path) -> None:
    path = state_dir / "file"
    path.write_bytes(b"data")
    path.chmod(0o640)
    assert read_private(path, 10) == b"data"
    assert _mode(path) == 0o600  # readable by the group: ours, so tightened


def test_a_cache_entry_is_replaced_whole_or_left_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dex_tui import localfiles

    entry = tmp_path / "entry"
    localfiles.replace_whole(entry, b"first")
    assert entry.read_bytes() == b"first" and stat.S_IMODE(entry.stat().st_mode) == 0o600
    localfiles.replace_whole(entry, b"second")
    assert entry.read_bytes() == b"second"

    def full_disk(src: object, dst: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(localfiles.os, "replace", full_disk)
    with pytest.raises(OSError, match="No space"):
        localfiles.replace_whole(entry, b"third")
    assert entry.read_bytes() == b"second"  # the old entry, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["entry"]  # and no temporary file left
