"""The device code reply, bounded before MSAL polls with it.

MSAL's polling loop (``oauth2cli/oauth2.py``) sleeps ``interval`` times one second between polls and
checks the exit condition only inside that loop: an ``interval`` of 0 or less is a busy loop (thousands
of token requests a minute) that no cancel can stop, and a huge one means it never polls again.
``expires_in`` sets when the code is given up. Both come from the server, so both are clamped here:
the interval to 1..30 seconds, the lifetime to 1 second..1 hour (Microsoft grants 15 minutes), and
``expires_at`` is recomputed from the clamped lifetime.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

MIN_INTERVAL = 1
MAX_INTERVAL = 30
DEFAULT_INTERVAL = 5
MIN_LIFETIME = 1
MAX_LIFETIME = 3600
DEFAULT_LIFETIME = 900


def _whole(value: Any, default: int) -> int:
    """``value`` as whole seconds (a number or a numeric string); ``default`` for anything else."""
    if isinstance(value, bool):
        return default
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return default
    else:
        return default
    if math.isnan(number):
        return default
    if math.isinf(number):
        return MAX_LIFETIME if number > 0 else 0
    return int(number)


def bound_flow(flow: dict[str, Any], now: Callable[[], float] = time.time) -> dict[str, Any]:
    """``flow`` with ``interval`` and ``expires_in`` clamped and ``expires_at`` recomputed (in place)."""
    flow["interval"] = min(MAX_INTERVAL, max(MIN_INTERVAL, _whole(flow.get("interval"), DEFAULT_INTERVAL)))
    lifetime = min(MAX_LIFETIME, max(MIN_LIFETIME, _whole(flow.get("expires_in"), DEFAULT_LIFETIME)))
    flow["expires_in"] = lifetime
    flow["expires_at"] = now() + lifetime
    return flow
