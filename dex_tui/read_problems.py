"""What to tell the operator when some reads of the tenant failed: one error naming which and why."""

from __future__ import annotations

from dex_tui.errors import CannotEvaluate, DexError, NetworkError, PermissionDenied
from dex_tui.facts import TenantFacts


def failed_reads_error(facts: TenantFacts, again: str = "run the checks again") -> DexError | None:
    """One error for the dialog when some tenant reads failed (a 403, the network): which reads,
    why, and what to do. None when every read worked. The dependent checks show 'unknown'.
    ``again`` says how to run the checks again where the error is shown (a key works on some steps only)."""
    failed = [read for read in facts.reads.values() if not read.ok and read.kind not in ("skipped", "cancelled")]
    if not failed:
        return None
    lines = [f"• {read.name.replace('_', ' ')}: {read.error}" for read in failed[:6]]
    if len(failed) > 6:
        lines.append(f"• and {len(failed) - 6} more (see each check's evidence)")
    explanation = ("Some reads of your tenant failed, so the checks that need them say 'unknown':\n"
                   + "\n".join(lines))
    next_step = f"Fix what each line says, then {again}."
    title = "Some checks could not read your tenant"
    if any(read.status in (401, 403) for read in failed):
        return PermissionDenied(explanation, title=title, next_step="Grant the missing permission or role named "
                                f"above (an administrator may have to consent), then {again}.")
    if all(read.kind in ("network", "throttled") for read in failed):
        return NetworkError(explanation, title=title, next_step=f"Check the network or wait a minute, then {again}.")
    return CannotEvaluate(explanation, title=title, next_step=next_step)
