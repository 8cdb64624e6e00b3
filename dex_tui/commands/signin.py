"""``dex-tui signin`` and ``dex-tui signout``: sign in headless (device code on stderr, or the browser)
and print who signed in; forget remembered sign-ins."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, TextIO

from dex_tui.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from dex_tui.auth import Authenticator, CachedAccount, DeviceCodePrompt, SignedIn, SignInRetry
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
    from dex_tui.runtime import Runtime

    runtime = Runtime(settings)
    try:
        if args.command == "signout":
            return _sign_out(runtime, args.account)
        return _sign_in(runtime, args)
    finally:
        runtime.close()


def _err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _sign_in(runtime: Runtime, args: argparse.Namespace) -> int:
    if args.port is not None and not (1024 <= args.port <= 65535):
        raise UsageError(f"--port: {args.port} is not a port between 1024 and 65535.")
    if args.port is not None and not args.browser:
        raise UsageError("--port only applies to the browser sign-in; add --browser.")
    signed = headless_sign_in(runtime, interactive=not args.no_interactive, account=args.account,
                              browser=args.browser, port=args.port)
    _report(runtime, signed, sys.stdout)
    return int(ExitCode.READY)


def headless_sign_in(runtime: Runtime, *, interactive: bool = True, account: str | None = None,
                     browser: bool = False, port: int | None = None) -> SignedIn:
    """Sign in for a headless command: silently from the cache, else (when ``interactive``) by device
    code (or the browser), with every instruction and notice on stderr. Raises a typed SignInError
    (exit 3) when it cannot; ``interactive=False`` is ``--no-interactive``.
    """
    from dex_tui.auth import AccountChoiceRequired, SignInRequired

    auth = runtime.authenticator()
    for notice in runtime.cache_notices():
        _err(f"Note: {notice.one_line()}")
    choice = runtime.resolve_cloud()
    if choice.source == "detected":
        _err(f"Cloud: {choice.cloud.label}. {choice.note}")

    signed: SignedIn | None = None
    chosen = auth.choose_account(account) if account else None
    try:
        signed = auth.restore(chosen, on_retry=_retrying)
    except AccountChoiceRequired as several:
        if not interactive or not sys.stdin.isatty():
            raise
        signed = auth.restore(_ask_account(several.accounts), on_retry=_retrying)
    except SignInRequired as why:
        if not interactive:
            raise
        _err(f"{why.explanation} Signing in again.")
    if signed is None:
        if not interactive:
            raise SignInRequired(
                "No remembered sign-in can be used silently and --no-interactive forbids asking.",
                next_step="Run 'dex-tui signin' once interactively (with a working OS keyring the "
                          "sign-in is remembered).")
        signed = _browser(auth, port) if browser else _device_code(runtime, auth)
    return signed


def _device_code(runtime: Runtime, auth: Authenticator) -> SignedIn:
    def show(prompt: DeviceCodePrompt) -> None:
        _err(prompt.instruction())
        _err("Waiting for the sign-in to complete (Ctrl+C to stop)...")
        cloud = runtime.fake_cloud
        if cloud is not None and cloud.scenario.behaviour.device_code.approval == "on_demand":
            _err("(demo: approving the code as the operator would at the sign-in page)")
            cloud.approve_device_code()

    return auth.sign_in_with_device_code(show, on_retry=_retrying)


def _retrying(notice: SignInRetry) -> None:
    _err(notice.one_line())


def _browser(auth: Authenticator, port: int | None) -> SignedIn:
    from dex_tui.auth import BrowserSignInUnavailable

    policy = auth.browser_policy()
    if not policy.allowed and port is None:
        raise BrowserSignInUnavailable(
            f"The browser sign-in is not available: {policy.reason}.",
            next_step="Use the device code sign-in (dex-tui signin), or forward a port over SSH "
                      "(ssh -L 8400:localhost:8400 HOST) and run 'dex-tui signin --browser --port 8400'.")

    def show_url(url: str) -> None:
        _err(f"Open this address in a browser on the machine that forwards port {port or 'the port'} "
             "to this one (ssh -L), sign in, and come back here:")
        _err(url)
        _err("Waiting for the sign-in to complete (Ctrl+C to stop)...")

    if policy.allowed:
        _err("Opening the sign-in page in your browser...")
    return auth.sign_in_with_browser(show_url=show_url, port=port or 0, open_browser=policy.allowed,
                                     on_retry=_retrying)


def _ask_account(accounts: list[CachedAccount]) -> CachedAccount:
    _err("Several accounts are remembered on this machine:")
    for number, account in enumerate(accounts, 1):
        _err(f"  {number}. {account.label()}")
    while True:
        _err(f"Which one (1-{len(accounts)})? ")
        answer = sys.stdin.readline()
        if not answer:
            raise UsageError("No account was chosen.", next_step="Pass --account USERNAME.")
        if answer.strip().isdigit() and 1 <= int(answer) <= len(accounts):
            return accounts[int(answer) - 1]


def _report(runtime: Runtime, signed: SignedIn, out: TextIO) -> None:
    how = {"cache": "reused the remembered sign-in", "device_code": "device code",
           "browser": "browser"}.get(signed.method, signed.method)
    name = signed.display_name or signed.username
    print(f"Signed in as {name} <{signed.username}> ({how}).", file=out)
    print(f"Tenant: {signed.tenant_id}", file=out)
    roles = ", ".join(signed.role_names) or "none"
    print(f"Directory roles (from the token, a hint): {roles}", file=out)
    if not signed.may_manage_defender_experts:
        _err("Warning: the token shows neither Security Administrator nor Global Administrator; the "
             "Defender Experts settings need one of them.")
    if signed.missing_scopes:
        _err(f"Warning: some permissions were not granted: {signed.missing_scopes_explanation()}.")
    _err(f"Token cache: {runtime.cache_store.describe()}.")


def _sign_out(runtime: Runtime, username: str | None) -> int:
    """Forget remembered sign-ins, and say exactly what was removed and what was not (exit 3 then)."""
    from dex_tui.auth import cached_accounts

    store = runtime.cache_store
    store.load(create_key=False)
    if username:
        matches = [a for a in cached_accounts(store) if a.username.lower() == username.strip().lower()]
        if not matches:
            print(f"No remembered sign-in for {username!r}; nothing to do.")
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
            print(f"Signed out {account.label()}.")
        return int(ExitCode.READY)
    accounts = cached_accounts(store)
    removed = [f"the account {a.label()}" for a in accounts] + store.clear()
    if store.not_removed:
        if removed:
            print("Removed " + "; ".join(removed) + ".")
        for item in store.not_removed:
            _err(f"Not removed: {item}.")
        _err("Not fully signed out: remove what is listed above, then run 'dex-tui signout' again.")
        return int(ExitCode.CANNOT_EVALUATE)
    if removed:
        print("Signed out; removed " + "; ".join(removed) + ".")
    else:
        print("No remembered sign-in on this machine; nothing to do.")
    return int(ExitCode.READY)
