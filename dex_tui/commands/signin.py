"""``dex-tui signin`` and ``dex-tui signout``: sign in headless (device code on stderr, or the browser)
and print who signed in; forget remembered sign-ins."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, TextIO

from dex_tui import console
from dex_tui.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from dex_tui.auth import SignedIn
    from dex_tui.runtime import Runtime
    from dex_tui.settings import Settings


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    if name == "signout":
        parser.add_argument("--account", metavar="USERNAME",
                            help="forget only this account (default: every account, the cache file and its key)")
        return
    parser.add_argument("--no-interactive", action="store_true",
                        help="use a remembered sign-in only; exit 3 when none can be used silently")
    parser.add_argument("--account", metavar="USERNAME", help="use this remembered account")
    parser.add_argument("--browser", action="store_true",
                        help="sign in with a browser instead of a device code (a local desktop, or with "
                             "--port through an SSH port forward)")
    parser.add_argument("--port", type=int, metavar="N",
                        help="localhost port for the browser sign-in's reply, e.g. 8400 with "
                             "'ssh -L 8400:localhost:8400 HOST'")


def run(settings: Settings, args: argparse.Namespace) -> int:
    if args.command == "signout":
        return _sign_out(settings, args.account)
    from dex_tui.runtime import Runtime

    runtime = Runtime(settings)
    try:
        return _sign_in(runtime, args)
    finally:
        runtime.close()


def _err(text: str) -> None:
    console.err(text)


def _sign_in(runtime: Runtime, args: argparse.Namespace) -> int:
    if args.port is not None and not (1024 <= args.port <= 65535):
        raise UsageError(f"--port: {args.port} is not a port between 1024 and 65535.")
    if args.port is not None and not args.browser:
        raise UsageError("--port only applies to the browser sign-in; add --browser.")
    from dex_tui.headless_signin import headless_sign_in

    signed = headless_sign_in(runtime, interactive=not args.no_interactive, account=args.account,
                              browser=args.browser, port=args.port)
    _report(runtime, signed, sys.stdout)
    return int(ExitCode.READY)


def _report(runtime: Runtime, signed: SignedIn, out: TextIO) -> None:
    how = {"cache": "reused the remembered sign-in", "device_code": "device code",
           "browser": "browser"}.get(signed.method, signed.method)
    name = signed.display_name or signed.username
    roles = ", ".join(signed.role_names) or "none"
    console.emit(out, f"Signed in as {name} <{signed.username}> ({how}).\n"
                      f"Tenant: {signed.tenant_id}\n"
                      f"Directory roles (from the token, a hint): {roles}\n")
    if not signed.may_manage_defender_experts:
        _err("Warning: the token shows neither Security Administrator nor Global Administrator; the "
             "Defender Experts settings need one of them.")
    if signed.missing_scopes:
        _err(f"Warning: some permissions were not granted: {signed.missing_scopes_explanation()}.")
    _err(f"Token cache: {runtime.cache_store.describe()}.")


def _sign_out(settings: Settings, username: str | None) -> int:
    """Forget what is stored under the state directory, whatever the cache mode or demo settings say (a
    memory cache holds nothing to forget, and would hide a file that does), and say exactly what was
    removed and what was not (exit 3 then)."""
    from dex_tui.auth import cached_accounts
    from dex_tui.token_cache import TokenCacheStore, default_cache_path

    store = TokenCacheStore("keyring", default_cache_path(settings.resolved_state_dir()))
    store.load(create_key=False)
    if username:
        matches = [a for a in cached_accounts(store) if a.username.lower() == username.strip().lower()]
        if not matches:
            console.out(f"No remembered sign-in for {username!r}; nothing to do.")
            return int(ExitCode.READY)
        for account in matches:
            store.forget_account(account.home_account_id)
        if not store.persistent:  # the cache file could not be written without the account
            for notice in store.notices:
                _err(f"Warning: {notice.one_line()}")
            _err(f"Not signed out: {', '.join(a.label() for a in matches)} is still in {store.path}. "
                 "Run 'dex-tui signout' to remove every remembered sign-in, or fix the folder and try again.")
            return int(ExitCode.CANNOT_EVALUATE)
        for account in matches:
            console.out(f"Signed out {account.label()}.")
        return int(ExitCode.READY)
    accounts = cached_accounts(store)
    removed = [f"the account {a.label()}" for a in accounts] + store.clear()
    if store.not_removed:
        if removed:
            console.out("Removed " + "; ".join(removed) + ".")
        for item in store.not_removed:
            _err(f"Not removed: {item}.")
        _err("Not fully signed out: remove what is listed above, then run 'dex-tui signout' again.")
        return int(ExitCode.CANNOT_EVALUATE)
    if removed:
        console.out("Signed out; removed " + "; ".join(removed) + ".")
    else:
        console.out("No remembered sign-in on this machine; nothing to do.")
    return int(ExitCode.READY)
