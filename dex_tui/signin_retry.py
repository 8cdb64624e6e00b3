"""How sign-in rides out a busy identity provider (HTTP 429 and 5xx): the policy (how many tries, how
long to wait), the notice each wait sends, and the loop that applies it to one sign-in step.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import field
from typing import TypeVar

from dex_tui.records import dataclass
from dex_tui.signin_errors import IdentityProviderUnavailable, SignInCancelled

log = logging.getLogger(__name__)
_T = TypeVar("_T")

# Replies worth another try: throttled (429) or a server-side failure. Anything else is an answer.
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})


def seconds_text(value: float) -> str:
    """``3`` -> ``"3 seconds"`` (rounded, never negative)."""
    whole = max(0, round(value))
    return f"{whole} second{'s' if whole != 1 else ''}"


@dataclass(frozen=True)
class SignInRetry:
    """A busy identity provider (HTTP 429 or 5xx): sign-in waits ``delay`` seconds, then makes try
    number ``attempt`` of ``attempts``. No secret in it; for the UI and stderr."""

    host: str
    doing: str
    status: int
    delay: float
    attempt: int
    attempts: int

    def one_line(self) -> str:
        return (f"{self.host} answered HTTP {self.status} while {self.doing}; trying again in "
                f"{seconds_text(self.delay)} (try {self.attempt} of {self.attempts}).")


@dataclass(frozen=True)
class RetryPolicy:
    """How sign-in rides out a busy identity provider (HTTP 429 and 5xx from the token, device code
    and discovery endpoints): a few tries, each with a fresh MSAL app (MSAL replays a cached error
    reply to the same app, reference/tech.md §1.8), the provider's Retry-After honoured, otherwise
    exponential backoff, and a cap on the total wait so nobody is left waiting for long.

    ``sleep`` replaces the cancellable wait (tests pass a recorder so nothing really waits).
    """

    attempts: int = 4
    base_delay: float = 1.0
    max_delay: float = 8.0
    max_total_wait: float = 30.0
    sleep: Callable[[float], None] | None = field(default=None, compare=False)

    def delay(self, retry: int, retry_after: float | None) -> float:
        """Seconds before retry number ``retry`` (1-based): Retry-After when given, else backoff."""
        if retry_after is not None:
            return max(0.0, retry_after)
        return min(self.max_delay, self.base_delay * 2.0 ** (retry - 1))

    def wait(self, seconds: float, is_cancelled: Callable[[], bool]) -> None:
        """Wait ``seconds``, returning within a tenth of a second of ``is_cancelled()`` turning true."""
        if self.sleep is not None:
            self.sleep(seconds)
            return
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0 and not is_cancelled():
            time.sleep(min(0.1, remaining))


# Replaced by tests so CLI and wizard runs never really wait; read when an Authenticator is built.
DEFAULT_RETRY_POLICY = RetryPolicy()


def retrying(policy: RetryPolicy, host: str, doing: str, attempt: Callable[[], _T],
             is_cancelled: Callable[[], bool], on_retry: Callable[[SignInRetry], None] | None) -> _T:
    """``attempt()`` again (it builds a fresh MSAL app) while the provider answers 429/5xx, as
    ``policy`` allows; then one clear :class:`IdentityProviderUnavailable`. ``host`` is the identity
    host, for the messages; cancellation during a wait raises :class:`SignInCancelled`."""
    waited = 0.0
    number = 1
    while True:
        try:
            return attempt()
        except IdentityProviderUnavailable as busy:
            during = busy.doing or doing
            delay = policy.delay(number, busy.retry_after)
            if number >= policy.attempts or waited + delay > policy.max_total_wait:
                raise _gave_up(policy, host, busy, during, number, waited, delay) from None
            log.info("%s answered %d while %s; try %d in %.1fs", host, busy.status, during, number + 1, delay)
            if on_retry is not None:
                on_retry(SignInRetry(host=host, doing=during, status=busy.status, delay=delay,
                                     attempt=number + 1, attempts=policy.attempts))
            policy.wait(delay, is_cancelled)
            if is_cancelled():
                raise SignInCancelled("The sign-in was cancelled.", next_step="Start it again when ready.") \
                    from None
            waited += delay
            number += 1


def _gave_up(policy: RetryPolicy, host: str, busy: IdentityProviderUnavailable, doing: str, tries: int,
             waited: float, delay: float) -> IdentityProviderUnavailable:
    named = f" ({', '.join(f'AADSTS{c}' for c in busy.codes)}, temporarily unavailable)" if busy.codes else ""
    count = f"{tries} tr{'ies' if tries != 1 else 'y'}"
    if busy.retry_after is not None and tries < policy.attempts:  # a Retry-After beyond the cap
        what = (f"{host} answered HTTP {busy.status}{named} while {doing} and asked to wait "
                f"{seconds_text(delay)} before trying again, longer than sign-in waits "
                f"({seconds_text(policy.max_total_wait)} in all)")
        if tries > 1:
            what += f", after {count}"
    else:
        what = (f"{host} kept answering HTTP {busy.status}{named} while {doing}: {count} over "
                f"{seconds_text(waited)}")
    return IdentityProviderUnavailable(
        f"{what}.", status=busy.status, retry_after=busy.retry_after, codes=busy.codes, doing=doing,
        next_step="The identity provider is busy or throttling sign-ins, a temporary condition on its side "
                  "or on the way to it. Wait a few minutes, then sign in again; if it lasts, check the "
                  "Microsoft 365 service health and your proxy.")


__all__ = ["DEFAULT_RETRY_POLICY", "TRANSIENT_STATUSES", "RetryPolicy", "SignInRetry", "retrying", "seconds_text"]
