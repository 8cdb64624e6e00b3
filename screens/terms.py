"""Step 4: a plain-words summary of what accepting grants; Accept only after scrolling to its end."""

from __future__ import annotations

from rich.markdown import Markdown as RichMarkdown
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Static

from dex_tui.assets import asset_path
from screens.base import StepScreen
from screens.text import plain


class TermsScreen(StepScreen):
    STEP_ID = "terms"
    BINDINGS = [Binding("o", "open_terms", "Official terms", id="terms.open")]

    reached_end = False

    def compose_body(self) -> ComposeResult:
        text = asset_path("terms.md").read_text(encoding="utf-8")
        with VerticalScroll(id="terms-scroll"):
            # A Rich renderable lays out synchronously, so "scrolled to the end" is known at once.
            yield Static(RichMarkdown(text, hyperlinks=False), id="terms-text")
        with Horizontal(id="terms-actions"):
            yield Static("", id="terms-status")
            yield Button("Accept", id="accept", variant="success", compact=True, disabled=True)

    def on_mount(self) -> None:
        super().on_mount()
        scroll = self.query_one("#terms-scroll", VerticalScroll)
        self.watch(scroll, "scroll_y", self._check_end, init=False)
        scroll.focus()
        self.call_after_refresh(self._check_end)
        self._show_status()

    def on_resize(self) -> None:
        self.call_after_refresh(self._check_end)

    def _check_end(self, *_: object) -> None:
        scroll = self.query_one("#terms-scroll", VerticalScroll)
        if scroll.size.height and scroll.scroll_y >= scroll.max_scroll_y:
            self.reached_end = True
        self._show_status()

    def _show_status(self) -> None:
        accepted = self.wizard.flow.answers.terms
        button = self.query_one("#accept", Button)
        status = self.query_one("#terms-status", Static)
        if accepted:
            button.display = False
            status.update(plain(f"✔ Accepted by {accepted.by} at {accepted.at}.", style="bold"))
        elif self.reached_end:
            button.disabled = False
            status.update("End reached: Tab to Accept, then Enter.")
        else:
            status.update("Scroll to the end (↓, PgDn, End) to enable Accept.")

    @on(Button.Pressed, "#accept")
    def _accept(self) -> None:
        if not self.reached_end:
            return
        self.wizard.confirm(self.STEP_ID, service=self.wizard.flow.answers.service)
        self._show_status()
        self.refresh_frame()
        self.query_one("#next").focus()

    def action_open_terms(self) -> None:
        self.app.open_url(self.step.link)
