"""MSAL's token cache kept in memory or persisted as a Fernet-encrypted file whose key is in the OS keyring.

Design (reference/tech.md §2.5): the whole MSAL cache is several KB, too big for some OS credential
stores, so only a 44-byte Fernet key goes into the keyring (service ``dex-tui``) and the cache itself
is written encrypted to ``<state dir>/auth/token_cache.bin`` (file 0600, directory 0700, atomic
replace). The key is read back after it is written because some backends drop writes silently.

When no secure keyring answers (headless Linux raises ``NoKeyringError``; the ``null`` backend drops
writes; ``keyrings.alt`` stores plaintext) the cache stays in memory for this run and one notice says
so. Nothing is ever written in plaintext. A cache file that cannot be decrypted or parsed is renamed
aside with a notice and the run starts signed out.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import msal

from dex_tui import TOOL_NAME

KEYRING_SERVICE = TOOL_NAME
KEYRING_USERNAME = "token-cache-key"
CACHE_DIR_NAME = "auth"
CACHE_FILE_NAME = "token_cache.bin"

# Backends that do not protect a secret: they fail, drop writes, or store plaintext or prompt on the TTY.
_INSECURE_BACKEND_PREFIXES = ("keyring.backends.fail", "keyring.backends.null", "keyrings.alt")

log = logging.getLogger(__name__)


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

    def __init__(self, mode: str, path: Path | None, *, keyring_service: str = KEYRING_SERVICE) -> None:
        if mode not in ("keyring", "memory"):
            raise ValueError(f"unknown token cache mode {mode!r}")
        if mode == "keyring" and path is None:
            raise ValueError("the keyring mode needs a cache file path")
        self.mode = mode
        self.path = path
        self.keyring_service = keyring_service
        self.cache = msal.SerializableTokenCache()
        self.notices: list[CacheNotice] = []
        self._fernet: object | None = None
        self._loaded = False
        self._lock = threading.RLock()

    @property
    def persistent(self) -> bool:
        """Whether sign-ins are remembered across runs (known after :meth:`load`)."""
        return self._fernet is not None

    def describe(self) -> str:
        """Where the cache lives, in one sentence for the operator."""
        if self.persistent and self.path is not None:
            return f"encrypted file {self.path} (key in the OS keyring, service {self.keyring_service!r})"
        return "memory only: the sign-in is not remembered after this run"

    def load(self, *, create_key: bool = True) -> msal.SerializableTokenCache:
        """Open the key and read the cache file; idempotent. Never raises for keyring or file trouble.

        ``create_key=False`` (sign-out) never writes a key: without one nothing can be read.
        """
        with self._lock:
            if self._loaded:
                return self.cache
            self._loaded = True
            if self.mode == "memory":
                return self.cache
            try:
                key = self._get_or_create_key(create=create_key)
                if key is None:
                    return self.cache
            except _KeyUnavailable as why:
                self._notice("Sign-in will not be remembered",
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
        """Persist the cache when it changed; a write failure becomes a notice, not an exception."""
        with self._lock:
            if not self.cache.has_state_changed:
                return
            state = self.cache.serialize()
            if self._fernet is None or self.path is None:
                return
            try:
                self._write_file(self._fernet.encrypt(state.encode("utf-8")))  # type: ignore[attr-defined]
            except OSError as exc:
                self._notice("Sign-in could not be saved",
                             f"writing {self.path} failed ({exc.strerror or exc}); this run goes on "
                             "with the token cache in memory.")
                self._fernet = None

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
        """Sign everyone out: empty the cache, delete the file and the keyring key. Returns what was removed."""
        removed: list[str] = []
        with self._lock:
            self.cache.deserialize(None)
            self._fernet = None
            if self.path is not None and self.path.exists():
                try:
                    self.path.unlink()
                    removed.append(f"the token cache file {self.path}")
                except OSError as exc:
                    self._notice("The token cache file could not be removed",
                                 f"{self.path}: {exc.strerror or exc}. Delete it by hand.")
            if self.mode == "keyring" and self._delete_key():
                removed.append(f"the cache key in the OS keyring (service {self.keyring_service!r})")
        return removed

    # -- keyring -----------------------------------------------------------------------------------

    def _get_or_create_key(self, *, create: bool = True) -> bytes | None:
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
            if backend.get_password(self.keyring_service, KEYRING_USERNAME) != key:
                raise _KeyUnavailable(f"the keyring {backend_name(backend)} did not keep the key it was given")
            return key.encode("ascii")
        except _KeyUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - see the comment above
            raise _KeyUnavailable(f"the OS keyring did not answer ({type(exc).__name__}: {str(exc)[:160]})") from exc

    def _delete_key(self) -> bool:
        import keyring

        try:
            backend = keyring.get_keyring()
            if insecure_reason(backend):
                return False
            if backend.get_password(self.keyring_service, KEYRING_USERNAME) is None:
                return False
            backend.delete_password(self.keyring_service, KEYRING_USERNAME)
            return True
        except Exception as exc:  # noqa: BLE001 - the keyring is best effort at sign-out
            log.info("could not delete the token cache key from the keyring: %s", type(exc).__name__)
            return False

    # -- file --------------------------------------------------------------------------------------

    def _read_file(self) -> None:
        assert self.path is not None and self._fernet is not None
        try:
            blob = self.path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as exc:
            self._notice("The saved sign-in could not be read",
                         f"{self.path}: {exc.strerror or exc}. You will be asked to sign in again.")
            return
        from cryptography.fernet import InvalidToken

        try:
            state = self._fernet.decrypt(blob).decode("utf-8")  # type: ignore[attr-defined]
            self.cache.deserialize(state)
            if not isinstance(self.cache._cache, dict):  # a JSON value that is not a cache
                raise ValueError("not a token cache")
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
        directory = self.path.parent
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(directory, 0o700)
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

    def _notice(self, title: str, text: str) -> None:
        notice = CacheNotice(title, text)
        if notice not in self.notices:
            self.notices.append(notice)
            log.info("%s", notice.one_line())


def _valid_key(value: str) -> bool:
    from cryptography.fernet import Fernet

    try:
        Fernet(value.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return False
    return True
