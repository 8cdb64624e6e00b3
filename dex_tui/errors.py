"""Typed errors: each carries a title, a plain explanation, the next step and an exit code.

The CLI prints them without a traceback; the UI shows them in its one error dialog.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes of every command (the ``check`` contract in the README)."""

    READY = 0
    WARNINGS = 1
    BLOCKER = 2
    CANNOT_EVALUATE = 3
    USAGE = 4
    INTERRUPTED = 130


class DexError(Exception):
    """Base of every error the product reports to a person."""

    exit_code: ExitCode = ExitCode.USAGE
    default_title = "Something went wrong"

    def __init__(self, explanation: str, *, title: str | None = None, next_step: str = "") -> None:
        super().__init__(explanation)
        self.title = title or self.default_title
        self.explanation = explanation
        self.next_step = next_step

    def one_line(self) -> str:
        """The error as one line, for the CLI and logs."""
        text = f"{self.title}: {self.explanation}"
        if self.next_step:
            if not text.rstrip().endswith((".", "!", "?", ":")):
                text = text.rstrip() + "."  # "... 'trustme'. Please report ...", never "'trustme' Please"
            text += f" {self.next_step}"
        return text


class UsageError(DexError):
    """A bad option, environment variable, config, answers or scenario file."""

    exit_code = ExitCode.USAGE
    default_title = "Invalid input"


class InternalError(DexError):
    """A bug: reported plainly, never as a traceback."""

    exit_code = ExitCode.USAGE
    default_title = "Internal error"


class CannotEvaluate(DexError):
    """Sign-in, permission or network trouble: the tenant could not be evaluated."""

    exit_code = ExitCode.CANNOT_EVALUATE
    default_title = "Could not evaluate the tenant"


class SignInError(CannotEvaluate):
    """Sign-in failed, was cancelled, declined, expired or blocked."""

    default_title = "Sign-in failed"


class NetworkError(CannotEvaluate):
    """A host could not be reached or answered garbage."""

    default_title = "Network problem"


class PermissionDenied(CannotEvaluate):
    """The token lacks a scope or the operator lacks a role."""

    default_title = "Permission denied"


class Interrupted(DexError):
    """The operator pressed Ctrl+C."""

    exit_code = ExitCode.INTERRUPTED
    default_title = "Interrupted"
