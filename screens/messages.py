"""Messages that thread workers post to the UI; handlers on the App and the screens own all state.

Workers never touch widgets: they build one of these and call ``post_message`` (thread-safe).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

from dex_tui.errors import DexError

if TYPE_CHECKING:  # the sign-in stack and the check results load after the first screen
    from dex_tui.auth import CachedAccount, DeviceCodePrompt
    from dex_tui.auth import SignedIn as SignedInAs
    from dex_tui.results import CheckResult


class WorkerFailed(Message):
    """A worker hit a DexError (or an unexpected exception, wrapped as one) for the error dialog."""

    def __init__(self, error: DexError, group: str) -> None:
        super().__init__()
        self.error = error
        self.group = group


class ReportFailed(Message):
    """Writing the exported report failed (the export dialog opens again on the path typed)."""

    def __init__(self, error: DexError) -> None:
        super().__init__()
        self.error = error


class AccountsFound(Message):
    """Cached accounts that can sign in silently (possibly none), and notices about the token cache."""

    def __init__(self, accounts: list[CachedAccount], notices: list[str]) -> None:
        super().__init__()
        self.accounts = accounts
        self.notices = notices


class DeviceCodeIssued(Message):
    """A device code to show: user code, verification URL and when it expires (epoch seconds)."""

    def __init__(self, code: DeviceCodePrompt) -> None:
        super().__init__()
        self.code = code


class DeviceCodeExpired(Message):
    """The code expired before anyone signed in; the screen asks for a fresh one."""


class SignInCancelled(Message):
    """The operator cancelled a pending sign-in."""


class SignedIn(Message):
    """Sign-in finished: the runtime session and who signed in."""

    def __init__(self, session: SignedInAs) -> None:
        super().__init__()
        self.session = session


class CheckArrived(Message):
    """One check result, as soon as it is known."""

    def __init__(self, result: CheckResult, run: int) -> None:
        super().__init__()
        self.result = result
        self.run = run


class ChecksFinished(Message):
    """A check run finished with every result (empty when it failed)."""

    def __init__(self, results: list[CheckResult], run: int) -> None:
        super().__init__()
        self.results = results
        self.run = run


class WatchUpdate(Message):
    """One round of a watch (licence or access step): the watched checks' fresh results."""

    def __init__(self, watch: str, results: list[CheckResult]) -> None:
        super().__init__()
        self.watch = watch
        self.results = results


class ReportExported(Message):
    """A report file was written (absolute path), in which format, with which verdict."""

    def __init__(self, path: str, fmt: str, verdict: str) -> None:
        super().__init__()
        self.path = path
        self.fmt = fmt
        self.verdict = verdict
