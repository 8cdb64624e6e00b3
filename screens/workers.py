"""Helpers for thread workers: turn any failure into a DexError the error dialog can show."""

from __future__ import annotations

from dex_tui.errors import DexError, InternalError


def as_dex_error(exc: BaseException) -> DexError:
    """A DexError as is; anything else becomes an InternalError naming its type (never a traceback)."""
    if isinstance(exc, DexError):
        return exc
    return InternalError(f"{type(exc).__name__}: {exc}",
                         next_step="Try again; if it keeps happening, report it with the steps that led here.")
