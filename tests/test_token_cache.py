"""The token cache store: encrypted file + keyring key, memory fallback, corrupt files, sign-out."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import keyring
import keyring.backend
import keyring.errors
import pytest

from dex_tui.token_cache import (
    KEYRING_SERVICE,
    KEYRING_USERNAME,
    TokenCacheStore,
    default_cache_path,
    insecure_reason,
)


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _add_sign_in(store: TokenCacheStore, oid: str = "u1", tid: str = "t1", secret: str = "AT-SECRET-1") -> None:
    """Put one account with access, refresh and id tokens into the cache, as MSAL would."""
    claims = {"oid": oid, "tid": tid, "sub": oid, "preferred_username": f"{oid}@contoso.test"}
    id_token = f"{_b64({'alg': 'none'})}.{_b64(claims)}.sig"
    store.cache.add({
        "client_id": "cid",
        "scope": ["User.Read"],
        "token_endpoint": f"https://login.demo.test/{tid}/oauth2/v2.0/token",
        "environment": "login.demo.test",
        "response": {
            "access_token": secret, "refresh_token": f"RT-{secret}", "id_token": id_token,
            "client_info": _b64({"uid": oid, "utid": tid}), "expires_in": 3600, "token_type": "Bearer",
        },
        "data": {},
    })


def _accounts(store: TokenCacheStore) -> list[dict]:
    return list(store.cache.search(store.cache.CredentialType.ACCOUNT))


def test_persists_encrypted_and_reloads(memory_keyring, state_dir: Path) -> None:
    path = default_cache_path(state_dir)
    first = TokenCacheStore("keyring", path)
    first.load()
    assert first.persistent and first.notices == []
    _add_sign_in(first)
    first.save()

    blob = path.read_bytes()
    assert b"AT-SECRET-1" not in blob and b"contoso" not in blob  # encrypted, not plaintext
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert len(memory_keyring.store[(KEYRING_SERVICE, KEYRING_USERNAME)]) == 44
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left behind

    second = TokenCacheStore("keyring", path)
    second.load()
    assert [a["username"] for a in _accounts(second)] == ["u1@contoso.test"]


def test_save_only_when_changed(memory_keyring, state_dir: Path) -> None:
    path = default_cache_path(state_dir)
    store = TokenCacheStore("keyring", path)
    store.load()
    store.save()
    assert not path.exists()  # nothing changed, nothing written
    _add_sign_in(store)
    store.save()
    mtime = path.stat().st_mtime_ns
    store.save()
    assert path.stat().st_mtime_ns == mtime


def test_no_keyring_means_memory_and_one_notice(state_dir: Path) -> None:
    assert type(keyring.get_keyring()).__module__ == "keyring.backends.fail"  # conftest's headless box
    path = default_cache_path(state_dir)
    store = TokenCacheStore("keyring", path)
    store.load()
    store.load()  # idempotent: still one notice
    _add_sign_in(store)
    store.save()
    assert not store.persistent
    assert len(store.notices) == 1
    assert "not be remembered" in store.notices[0].one_line()
    assert "memory" in store.notices[0].text
    assert not path.exists() and not path.parent.exists()  # never plaintext, never anything
    assert _accounts(store)  # the sign-in still works for this run


def test_memory_mode_never_touches_keyring_or_disk(memory_keyring, state_dir: Path) -> None:
    store = TokenCacheStore("memory", None)
    store.load()
    _add_sign_in(store)
    store.save()
    assert memory_keyring.store == {}
    assert not any(state_dir.iterdir())
    assert store.notices == [] and not store.persistent


class _NullKeyring(keyring.backend.KeyringBackend):
    """Drops every write, like keyring.backends.null, but under a name the deny-list does not know."""

    priority = -10  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        return None

    def delete_password(self, service: str, username: str) -> None:
        return None


class _LockedKeyring(_NullKeyring):
    def get_password(self, service: str, username: str) -> str | None:
        raise keyring.errors.KeyringLocked("collection is locked")


@pytest.mark.parametrize("backend", [_NullKeyring(), _LockedKeyring()])
def test_a_keyring_that_loses_or_refuses_the_key_means_memory(backend, state_dir: Path) -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    try:
        store = TokenCacheStore("keyring", default_cache_path(state_dir))
        store.load()
        _add_sign_in(store)
        store.save()
    finally:
        keyring.set_keyring(previous)
    assert not store.persistent and len(store.notices) == 1
    assert not default_cache_path(state_dir).exists()


def test_insecure_backends_are_recognised() -> None:
    from keyring.backends import fail, null

    assert insecure_reason(fail.Keyring())
    assert insecure_reason(null.Keyring())
    fake_alt = type("PlaintextKeyring", (_NullKeyring,), {"__module__": "keyrings.alt.file"})
    assert "without OS protection" in (insecure_reason(fake_alt()) or "")
    assert insecure_reason(_NullKeyring()) is None


def test_corrupt_file_is_set_aside_with_a_notice(memory_keyring, state_dir: Path) -> None:
    path = default_cache_path(state_dir)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a fernet token")
    store = TokenCacheStore("keyring", path)
    store.load()
    assert store.persistent
    assert len(store.notices) == 1 and "could not be used" in store.notices[0].title
    aside = [p for p in path.parent.iterdir() if p.name.startswith("token_cache.bin.unreadable-")]
    assert len(aside) == 1 and aside[0].read_bytes() == b"this is not a fernet token"
    assert not path.exists()
    _add_sign_in(store)  # the run goes on and saves a fresh cache
    store.save()
    assert TokenCacheStore("keyring", path).load() is not None


def test_file_encrypted_with_another_key_is_set_aside(memory_keyring, state_dir: Path) -> None:
    path = default_cache_path(state_dir)
    first = TokenCacheStore("keyring", path)
    first.load()
    _add_sign_in(first)
    first.save()
    memory_keyring.store.clear()  # the key was lost (another machine, keyring reset)

    second = TokenCacheStore("keyring", path)
    second.load()
    assert _accounts(second) == []
    assert any("could not be used" in n.title for n in second.notices)
    assert any(p.name.startswith("token_cache.bin.unreadable-") for p in path.parent.iterdir())


def test_decrypted_but_not_a_cache_is_set_aside(memory_keyring, state_dir: Path) -> None:
    from cryptography.fernet import Fernet

    path = default_cache_path(state_dir)
    key = Fernet.generate_key()
    memory_keyring.store[(KEYRING_SERVICE, KEYRING_USERNAME)] = key.decode()
    path.parent.mkdir(parents=True)
    path.write_bytes(Fernet(key).encrypt(b"[1, 2, 3"))
    store = TokenCacheStore("keyring", path)
    store.load()
    assert len(store.notices) == 1 and not path.exists()


def test_clear_removes_file_key_and_accounts(memory_keyring, state_dir: Path) -> None:
    path = default_cache_path(state_dir)
    store = TokenCacheStore("keyring", path)
    store.load()
    _add_sign_in(store)
    store.save()
    removed = store.clear()
    assert len(removed) == 2
    assert not path.exists() and memory_keyring.store == {}
    assert _accounts(store) == []
    assert TokenCacheStore("keyring", path).clear() == []  # nothing left to remove


def test_forget_one_account_keeps_the_other(memory_keyring, state_dir: Path) -> None:
    path = default_cache_path(state_dir)
    store = TokenCacheStore("keyring", path)
    store.load()
    _add_sign_in(store, oid="alice", secret="A1")
    _add_sign_in(store, oid="bob", secret="B1")
    store.save()
    assert store.forget_account("alice.t1")
    assert not store.forget_account("nobody.t1")
    reloaded = TokenCacheStore("keyring", path)
    reloaded.load()
    assert [a["username"] for a in _accounts(reloaded)] == ["bob@contoso.test"]
    assert "A1" not in reloaded.cache.serialize()


def test_a_folder_that_cannot_be_made_means_memory_and_no_key(memory_keyring, state_dir: Path) -> None:
    blocker = state_dir / "auth"
    blocker.write_text("a file where the directory should be")
    store = TokenCacheStore("keyring", blocker / "token_cache.bin")
    store.load()
    _add_sign_in(store)
    store.save()  # no exception
    assert [n.title for n in store.notices] == ["Sign-in will not be remembered"]
    assert "cannot be written (Not a directory)" in store.notices[0].text
    assert "no key was put in the OS keyring" in store.notices[0].text
    assert store.describe().startswith(f"memory only (the folder {blocker} cannot be written)")
    assert not store.persistent and memory_keyring.store == {}


def test_write_failure_becomes_a_notice_and_takes_the_new_key_out(memory_keyring, state_dir: Path,
                                                                  monkeypatch) -> None:
    def disk_full(self, blob):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(TokenCacheStore, "_write_file", disk_full)
    store = TokenCacheStore("keyring", default_cache_path(state_dir))
    store.load()
    assert memory_keyring.store  # the key was created for the file about to be written
    _add_sign_in(store)
    store.save()  # no exception
    assert [n.title for n in store.notices] == ["Sign-in could not be saved"]
    assert "No space left on device" in store.notices[0].text
    assert "was taken out again" in store.notices[0].text
    assert not store.persistent and memory_keyring.store == {}  # no orphan key
    assert store.describe().startswith("memory only (the cache file could not be written)")


def test_sign_out_never_creates_a_key(memory_keyring, state_dir: Path) -> None:
    store = TokenCacheStore("keyring", default_cache_path(state_dir))
    store.load(create_key=False)
    assert memory_keyring.store == {} and not store.persistent and store.notices == []
    assert store.clear() == []
