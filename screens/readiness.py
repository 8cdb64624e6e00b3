"""MDR's Readiness step: the asset side of the portal's readiness assessment (Service status), live:
onboarded devices against Defender for Endpoint seats, their antivirus mode, and open Defender for
Identity health issues. The assessment's "Actions needed" are not documented, so they are not read."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from screens.live_checks import LiveChecksStep
from screens.text import plain

NOT_READ = ("Not read here: the assessment's \"Actions needed\" (undocumented; the portal refreshes them "
            "within 24 hours). Open the portal (o) for those, and do the ones marked 'Complete now' first.")


class ReadinessScreen(LiveChecksStep):
    STEP_ID = "mdr_readiness"

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="readiness-scroll"):
            yield from self.compose_rows()
            yield Static(plain(NOT_READ, style="italic"), classes="hint")
            yield self.portal_line()
