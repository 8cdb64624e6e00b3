"""MSAL's token cache kept in memory or persisted as a Fernet-encrypted file whose key is in the OS keyring.

Design (reference/tech.md §2.5): the whole MSAL cache is several KB, too big for some OS credential
stores, so only a 44-byte Fernet key goes into the keyring (service ``dex-tui``) and the cache itself
is written encrypted to ``<state dir>/auth/token_cache.bin`` (file 0600, directory 0700, atomic
replace). The key is read back after it is written because some backends drop writes silently.

When no secure keyring answers (headless Linux raises ``NoKeyringError``; the ``null`` backend drops
writes; ``keyrings.alt`` stores plaintext; a keyring that does not answer within
:data:`KEYRING_TIMEOUT` seconds) the cache stays in memory for this run and one notice says so. So it
does when the cache folder cannot be written (a read-only state folder): then no key is put in the
keyring, so none is left behind. Nothing is ever written in plaintext. A cache file that cannot be
decrypted or parsed, has not the shape of an MSAL cache, or that another user could have written, is
renamed aside (``token_cache.bin.unreadable-<time>``) with a notice and the run starts signed out;
sign-out removes those files too, and says what it could not remove.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import msal

from dex_tui import TOOL_NAME
from dex_tui.localfiles import TooLarge, UnsafePath, private_folder, read_private, writable_folder
from dex_tui.records import dataclass

KEYRING_SERVICE = TOOL_NAME
KEYRING_USERNAME = "token-cache-key"
CACHE_DIR_NAME = "auth"
CACHE_FILE_NAME = "token_cache.bin"
KEYRING_TIMEOUT = 10.0  # seconds for the keyring to answer (a locked keyring may wait on a hidden prompt)
MAX_CACHE_FILE = 8 * 1024 * 1024  # an MSAL cache is a few KB per account
# MSAL cache entries (in sections such as AccessToken, Account) hold plain values; times are digits.
_TIME_FIELDS = ("cached_at", "expires_on", "extended_expires_on", "refresh_on", "last_modification_time")

# Backends that do not protect a secret: they fail, drop writes, or store plaintext or prompt on the TTY.
_INSECURE_BACKEND_PREFIXES = ("keyring.backends.fail", "keyring.backends.null", "keyrings.alt")

log = logging.getLogger(__name__)
_T = TypeVar("_T")


@dataclass(frozen=True)
class CacheNotice:
    """Something the operator should read once about where sign-ins are (not) remembered."""

    title: str
    text: str

    def one_line(self) -> str:
        return f"{self.title}: {self.text}"


class _KeyUnavailable(Exception):
    """No secure keyring could store and return the cache key; the message says why."""


def backend_name(backend: object) -> str:
    """The dotted class name of a keyring backend, for notices."""
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def insecure_reason(backend: object) -> str | None:
    """Why ``backend`` cannot hold the cache key, or None when it is a real credential store.

    The chainer backend is judged by every backend it chains, since writes go to the first one
    that accepts them.
    """
    chained = getattr(type(backend), "backends", None)
    if type(backend).__name__ == "ChainerBackend" and isinstance(chained, list):
        if not chained:
            return "no keyring backend is available"
        for member in chained:
            reason = insecure_reason(member)
            if reason:
                return reason
        return None
    name = backend_name(backend)
    if name.startswith("keyring.backends.fail"):
        return "no keyring backend is available (for example a headless SSH session without a Secret Service)"
    if name.startswith("keyring.backends.null"):
        return "the keyring is disabled (the null backend drops every secret)"
    if name.startswith("keyrings.alt"):
        return f"the keyring backend {name} stores secrets without OS protection"
    return None


def default_cache_path(state_dir: Path) -> Path:
    """Where the encrypted cache file lives under a state directory."""
    return state_dir / CACHE_DIR_NAME / CACHE_FILE_NAME


class TokenCacheStore:
    """One MSAL ``SerializableTokenCache`` and where it is persisted.

    ``mode`` is ``"keyring"`` (encrypted file, key in the OS keyring, memory when no secure keyring
    answers) or ``"memory"`` (nothing stored). Call :meth:`load` once before building MSAL apps on
    :attr:`cache`, :meth:`save` after every acquisition, :meth:`clear` to sign everyone out.
    Thread-safe: the wizard's workers may save concurrently.
    """

    def __init__(self, mode: str, path: Path | None, *, keyring_service: str = KEYRING_SERVICE,
                 keyring_timeout: float | None = None) -> None:
        if mode not in ("keyring", "memory"):
            raise ValueError(f"unknown token cache mode {mode!r}")
        if mode == "keyring" and path is None:
            raise ValueError("the keyring mode needs a cache file path")
        self.mode = mode
        self.path = path
        self.keyring_service = keyring_service
        self.keyring_timeout = KEYRING_TIMEOUT if keyring_timeout is None else keyring_timeout
        self.cache = msal.SerializableTokenCache()
        self.notices: list[CacheNotice] = []
        self.not_removed: list[str] = []  # after clear(): what is left behind, and why
        self._fernet: object | None = None
        self._loaded = False
        self._lock = threading.RLock()
        self._memory_reason: str | None = None  # why the cache is in memory only, in a few words
        self._created_key = False  # this run put the key in the keyring (removed again if nothing is saved)
        self._keyring_stuck: str | None = None  # the keyring did not answer in time: not asked again

    @property
    def persistent(self) -> bool:
        """Whether sign-ins are remembered across runs (known after :meth:`load`)."""
        return self._fernet is not None

    def describe(self) -> str:
        """Where the cache lives, in one sentence for the operator (and why not on disk)."""
        if self.persistent and self.path is not None:
            return f"encrypted file {self.path} (key in the OS keyring, service {self.keyring_service!r})"
        if self._memory_reason:
            return f"memory only ({self._memory_reason}): the sign-in is not remembered after this run"
        return "memory only: the sign-in is not remembered after this run"

    def load(self, *, create_key: bool = True) -> msal.SerializableTokenCache:
        """Open the key and read the cache file; idempotent. Never raises for keyring or file trouble.

        ``create_key=False`` (sign-out) never writes a key: without one nothing can be read. A key is
        created only when the cache folder can be written, so a read-only state folder leaves none.
        """
        with self._lock:
            if self._loaded:
                return self.cache
            self._loaded = True
            if self.mode == "memory":
                return self.cache
            assert self.path is not None
            try:
                key = self._keyring(self._get_or_create_key, False)
                if key is None and create_key:
                    unwritable = self._prepare_folder()
                    if unwritable is not None:
                        self._memory(f"the folder {self.path.parent} cannot be written",
                                     "Sign-in will not be remembered",
                                     f"the folder {self.path.parent} cannot be written ({unwritable}). The token "
                                     "cache is kept in memory for this run only, and no key was put in the OS "
                                     "keyring. Make the state folder writable (or choose another with "
                                     "--state-dir) to be remembered.")
                        return self.cache
                    key = self._keyring(self._get_or_create_key, True)
                elif key is not None:
                    self._prepare_folder()  # tightened when found looser; a read-only one is read only
                if key is None:
                    return self.cache
            except _KeyUnavailable as why:
                self._memory(str(why).split(" (", 1)[0], "Sign-in will not be remembered",
                             f"{why}. The token cache is kept in memory for this run only and "
                             "nothing is written to disk. Use a desktop session with a keyring (GNOME "
                             "Keyring, KWallet, macOS Keychain, Windows Credential Manager) to be "
                             "remembered, or pass --token-cache memory to silence this notice.")
                return self.cache
            from cryptography.fernet import Fernet

            self._fernet = Fernet(key)
            self._read_file()
            return self.cache

    def save(self) -> None:
        """Persist the cache when it changed; a write failure becomes a notice, not an exception.

        When nothing could ever be written (no cache file), a key this run put in the keyring is
        taken out again, so no orphan key is left."""
        with self._lock:
            if not self.cache.has_state_changed:
                return
            state = self.cache.serialize()
            if self._fernet is None or self.path is None:
                return
            try:
                self._write_file(self._fernet.encrypt(state.encode("utf-8")))  # type: ignore[attr-defined]
            except OSError as exc:
                self._fernet = None
                self._memory("the cache file could not be written", "Sign-in could not be saved",
                             f"writing {self.path} failed ({exc.strerror or exc}); this run goes on "
                             "with the token cache in memory." + self._drop_unused_key())

    def forget_account(self, home_account_id: str) -> bool:
        """Remove one account and every token of it from the cache (offline); saves. True if found."""
        kinds = msal.TokenCache.CredentialType
        removers = (
            (kinds.ACCESS_TOKEN, self.cache.remove_at),
            (kinds.REFRESH_TOKEN, self.cache.remove_rt),
            (kinds.ID_TOKEN, self.cache.remove_idt),
            (kinds.ACCOUNT, self.cache.remove_account),
        )
        with self._lock:
            found = False
            for kind, remove in removers:
                for item in list(self.cache.search(kind, query={"home_account_id": home_account_id})):
                    remove(item)
                    found = True
            self.save()
            return found

    def clear(self) -> list[str]:
        """Sign everyone out: empty the cache, delete the file, the files set aside as unreadable (they
        hold encrypted refresh tokens too) and the keyring key. Returns what was removed; what could
        not be removed is in :attr:`not_removed`, each with the reason."""
        removed: list[str] = []
        self.not_removed = []
        with self._lock:
            self.cache.deserialize(None)
            self._fernet = None
            if self.path is not None:
                removed += self._remove_files()
            if self.mode == "keyring":
                try:
                    if self._keyring(self._delete_key):
                        removed.append(f"the cache key in the OS keyring (service {self.keyring_service!r})")
                except _KeyUnavailable as why:
                    self.not_removed.append(
                        f"the cache key in the OS keyring (service {self.keyring_service!r}, user "
                        f"{KEYRING_USERNAME!r}) may remain: {why}. Remove it with your keyring's own tool, "
                        f"for example 'keyring del {self.keyring_service} {KEYRING_USERNAME}'")
        return removed

    def _remove_files(self) -> list[str]:
        assert self.path is not None
        removed: list[str] = []
        targets = [self.path]
        try:
            targets += sorted(p for p in self.path.parent.iterdir()
                              if p.name.startswith(f"{self.path.name}.unreadable-")
                              or (p.name.startswith(f".{self.path.name}.") and p.name.endswith(".tmp")))
        except OSError:
            pass  # no folder, or it cannot be listed: the cache file alone is tried
        aside = 0
        for target in targets:
            try:
                target.unlink()  # a link is removed itself, never its target
            except FileNotFoundError:
                continue
            except OSError as exc:
                self.not_removed.append(f"{target} ({exc.strerror or exc}); delete it by hand")
                self._notice("The token cache file could not be removed",
                             f"{target}: {exc.strerror or exc}. Delete it by hand.")
                continue
            if target == self.path:
                removed.append(f"the token cache file {self.path}")
            else:
                aside += 1
        if aside:
            removed.append(f"{aside} cache file{'s' if aside > 1 else ''} set aside earlier "
                           f"({self.path.name}.unreadable-*)")
        return removed

    # -- keyring -----------------------------------------------------------------------------------

    def _keyring(self, call: Callable[..., _T], *args: object) -> _T:
        """Run a keyring call in a daemon thread and give up after :attr:`keyring_timeout` seconds: a
        keyring waiting on an unlock prompt nobody can see (or a stuck D-Bus) must not hang the run.
        Once it timed out the keyring is not asked again this run."""
        if self._keyring_stuck:
            raise _KeyUnavailable(self._keyring_stuck)
        outcome: dict[str, Any] = {}
        done = threading.Event()

        def run() -> None:
            try:
                outcome["value"] = call(*args)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread below
                outcome["error"] = exc
            finally:
                done.set()

        threading.Thread(target=run, name="dex-tui keyring", daemon=True).start()
        if not done.wait(self.keyring_timeout):
            seconds = f"{self.keyring_timeout:g} second{'' if self.keyring_timeout == 1 else 's'}"
            self._keyring_stuck = (f"the OS keyring did not answer within {seconds} (it may be locked and "
                                   "waiting for an unlock prompt that cannot be seen here)")
            raise _KeyUnavailable(self._keyring_stuck)
        if "error" in outcome:
            raise outcome["error"]
        return outcome.get("value")  # type: ignore[return-value]

    def _get_or_create_key(self, create: bool = True) -> bytes | None:
        """The Fernet key from the keyring, created (and read back) when absent (None if not ``create``)."""
        import keyring

        # Any keyring failure (NoKeyringError, KeyringLocked, D-Bus errors, WinError 1783) means
        # "no secure store" for this run; the notice names it.
        try:
            backend = keyring.get_keyring()
            reason = insecure_reason(backend)
            if reason:
                raise _KeyUnavailable(reason)
            stored = backend.get_password(self.keyring_service, KEYRING_USERNAME)
            if stored and _valid_key(stored):
                return stored.encode("ascii")
            if not create:
                return None
            if stored:
                log.warning("the token cache key in the keyring is malformed; replacing it")
            from cryptography.fernet import Fernet

            key = Fernet.generate_key().decode("ascii")
            backend.set_password(self.keyring_service, KEYRING_USERNAME, key)
            self._created_key = True
            if backend.get_password(self.keyring_service, KEYRING_USERNAME) != key:
                raise _KeyUnavailable(f"the keyring {backend_name(backend)} did not keep the key it was given")
            return key.encode("ascii")
        except _KeyUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - see the comment above
            raise _KeyUnavailable(f"the OS keyring did not answer ({type(exc).__name__}: {str(exc)[:160]})") from exc

    def _delete_key(self) -> bool:
        """Delete the key: True when one was deleted, False when there was none (or no secure keyring
        holds keys here); :class:`_KeyUnavailable` when the keyring failed to delete it."""
        import keyring

        try:
            backend = keyring.get_keyring()
            if insecure_reason(backend):
                return False
            if backend.get_password(self.keyring_service, KEYRING_USERNAME) is None:
                return False
            backend.delete_password(self.keyring_service, KEYRING_USERNAME)
            if backend.get_password(self.keyring_service, KEYRING_USERNAME) is not None:
                raise _KeyUnavailable(f"the keyring {backend_name(backend)} still holds it after deleting")
            return True
        except _KeyUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - any keyring failure is reported, never raised
            log.info("could not delete the token cache key from the keyring: %s", type(exc).__name__)
            raise _KeyUnavailable(f"the keyring refused to delete it ({type(exc).__name__}: {str(exc)[:160]})") from exc

    def _drop_unused_key(self) -> str:
        """After a failed first write: take out the key this run created, when no file uses it."""
        if not self._created_key or (self.path is not None and self._file_present()):
            return ""
        try:
            self._keyring(self._delete_key)
        except _KeyUnavailable as why:
            return (f" The key this run put in the OS keyring could not be taken out again ({why}); remove "
                    f"it with 'dex-tui signout'.")
        self._created_key = False
        return " The key this run put in the OS keyring was taken out again."

    # -- file --------------------------------------------------------------------------------------

    def _prepare_folder(self) -> str | None:
        """Make the cache folder owner-only (0700; created when absent); why it cannot be written, or None."""
        assert self.path is not None
        try:
            folder, notice = private_folder(self.path.parent.parent, self.path.parent.name)
        except OSError as exc:
            return exc.strerror or type(exc).__name__
        if notice:
            self._notice("The token cache folder was open to other users", notice)
        return writable_folder(folder)

    def _file_present(self) -> bool:
        assert self.path is not None
        return os.path.lexists(self.path)

    def _read_file(self) -> None:
        assert self.path is not None and self._fernet is not None
        try:
            blob = read_private(self.path, MAX_CACHE_FILE)
        except UnsafePath as refused:
            aside = self._set_aside()
            self._notice("The saved sign-in was not used",
                         f"{self.path} was refused because {refused.reason}: another user could have written "
                         f"it. It was moved to {aside} and you will be asked to sign in again.")
            return
        except TooLarge:
            blob = b""  # not a cache: set aside below
        except OSError as exc:
            self._notice("The saved sign-in could not be read",
                         f"{self.path}: {exc.strerror or exc}. You will be asked to sign in again.")
            return
        if blob is None:
            return
        from cryptography.fernet import InvalidToken

        try:
            state = self._fernet.decrypt(blob).decode("utf-8")  # type: ignore[attr-defined]
            _check_cache_shape(json.loads(state))
            self.cache.deserialize(state)
        except (InvalidToken, UnicodeDecodeError, ValueError, TypeError):
            self.cache.deserialize(None)
            aside = self._set_aside()
            self._notice("The saved sign-in could not be used",
                         "the token cache file could not be decrypted or read (the keyring key was "
                         f"replaced, or the file is damaged); it was moved to {aside} and you will be "
                         "asked to sign in again.")

    def _set_aside(self) -> Path:
        assert self.path is not None
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        aside = self.path.with_name(f"{self.path.name}.unreadable-{stamp}")
        counter = 1
        while aside.exists():
            aside = self.path.with_name(f"{self.path.name}.unreadable-{stamp}-{counter}")
            counter += 1
        try:
            os.replace(self.path, aside)
        except OSError:
            with contextlib.suppress(OSError):
                self.path.unlink()
            return self.path
        return aside

    def _write_file(self, blob: bytes) -> None:
        assert self.path is not None
        directory, _ = private_folder(self.path.parent.parent, self.path.parent.name)
        handle, temp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(blob)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temp, 0o600)
            os.replace(temp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise

    def _memory(self, reason: str, title: str, text: str) -> None:
        """The cache stays in memory this run, for ``reason`` (a few words for :meth:`describe`)."""
        self._memory_reason = reason
        self._notice(title, text)

    def _notice(self, title: str, text: str) -> None:
        notice = CacheNotice(title, text)
        if notice not in self.notices:
            self.notices.append(notice)
            log.info("%s", notice.one_line())


def _check_cache_shape(data: object) -> None:
    """Raise ValueError unless ``data`` has the shape MSAL reads back: sections of entries of plain
    values, with access token times as digits (MSAL calls ``int()`` on them). A file that decrypts
    but holds anything else would make MSAL (and so sign-in and sign-out) fail later."""
    if not isinstance(data, dict):
        raise ValueError("not a token cache")
    for section, entries in data.items():
        if not isinstance(entries, dict):
            raise ValueError(f"section {section!r} is not a mapping")
        for entry in entries.values():
            if not isinstance(entry, dict) or not all(isinstance(name, str) for name in entry):
                raise ValueError(f"an entry of {section!r} is not a mapping")
            if any(isinstance(value, (dict, list)) for value in entry.values()):
                raise ValueError(f"an entry of {section!r} holds nested data")
            if section == "AccessToken" and "expires_on" not in entry:
                raise ValueError("an access token has no expiry")
            for name in _TIME_FIELDS:
                if name in entry and not str(entry[name]).isdigit():
                    raise ValueError(f"an entry of {section!r} has a {name} that is not a time")


def _valid_key(value: str) -> bool:
    from cryptography.fernet import Fernet

    try:
        Fernet(value.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return False
    return True
