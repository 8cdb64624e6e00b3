"""The frame every wizard step shares: header, purpose line, body, skipped-role warning, Back/Next, and
the step's demo action (key p, hint and status line) when the flow gives it one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.geometry import Size
from textual.screen import Screen
from textual.widgets import Button, Static

from dex_tui.answers import Acknowledgement
from dex_tui.flow import Step, default_flow
from screens.chrome import StepFooter, StepHeader
from screens.text import plain, tenant

if TYPE_CHECKING:
    from screens.app import WizardApp

DEMO_KEY = "p"


def _flow_step(cls: type[StepScreen]) -> Step | None:
    """The step a screen class shows, from its own declaration or the shipped flow."""
    step: Step | None = cls.__dict__.get("FLOW_STEP")
    if step is None and cls.STEP_ID and cls.STEP_ID in default_flow().ids():
        step = default_flow().get(cls.STEP_ID)
    return step


class StepScreen(Screen[None]):
    """One step of the wizard. Subclasses set ``STEP_ID`` and implement :meth:`compose_body`."""

    STEP_ID: ClassVar[str] = ""
    FLOW_STEP: ClassVar[Step | None] = None  # set on the classes made for steps of a flow the shipped one lacks
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="step.back", tooltip="back to the previous step, or close a dialog"),
        Binding("ctrl+n", "next", "Next", id="step.next", tooltip="next step (when allowed)"),
        Binding("f1", "help", "Help", id="step.help", tooltip="this help"),
        Binding("question_mark", "help", "Help", show=False, id="step.help_question", tooltip="this help"),
    ]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A step with a demo action (``demo`` in the flow) gets its key, last in the footer."""
        step = _flow_step(cls) if cls.STEP_ID else None
        if step is not None and step.demo is not None:
            own = list(cls.__dict__.get("BINDINGS", []))
            if not any(isinstance(b, Binding) and b.action == "demo_action" for b in own):
                cls.BINDINGS = [*own, Binding(DEMO_KEY, "demo_action", step.demo.label, id=f"{step.id}.demo")]
        super().__init_subclass__(**kwargs)

    @property
    def wizard(self) -> WizardApp:
        return self.app  # type: ignore[return-value]

    @property
    def step(self) -> Step:
        """The step this screen shows, as the session's flow declares it."""
        return self.wizard.core.flow.get(self.STEP_ID)

    def compose(self) -> ComposeResult:
        step = self.step
        number, total = self.wizard.core.flow.step_number(self.STEP_ID, self.wizard.flow.answers.service)
        self.sub_title = f"Step {number}/{total} · {step.title}"
        yield StepHeader(icon="≡")
        with Vertical(id="step"):
            yield Static(step.purpose, id="purpose")
            with Vertical(id="body"):
                yield from self.compose_body()
            yield Static("", id="skip-warning")
            with Horizontal(id="nav"):
                if number > 1:  # the first step has nothing to go back to (nor a Back key, see check_action)
                    yield Button("◀ Back", id="back", compact=True)
                yield Static("", id="gate")
                yield Button(self.next_label(), id="next", compact=True, variant="primary")
        yield StepFooter()

    def compose_body(self) -> ComposeResult:
        yield from ()

    _laid_out_at: Size | None = None  # the size of the last full layout

    def _refresh_layout(self, size: Size | None = None, scroll: bool = False) -> None:
        super()._refresh_layout(size, scroll)
        if not scroll:
            self._laid_out_at = size or self.outer_size

    def _screen_resized(self, size: Size) -> None:
        """Lay the screen out again for a new terminal size only. As an app starts, Textual tells its
        first screen the same size three times, and each time lays the whole tree out again and
        repaints it (~5 ms of the first frame, with nothing changed); a widget that changes size
        asks for its own layout, which Textual runs as it always does."""
        if size != self._laid_out_at:
            super()._screen_resized(size)

    _resumed = False

    def _on_screen_resume(self, event: events.ScreenResume) -> None:
        """A step's screen is built for each visit, and its widgets were styled as they mounted: the
        resume that shows it for the first time does not restyle the whole tree again (~4 ms of the
        first frame; the focus it gives restyles the widgets it changes). A later resume, after a
        dialog closed over it, restyles as Textual always does."""
        if not self._resumed:
            self._resumed = True
            event.refresh_styles = False
        super()._on_screen_resume(event)

    def demo_status(self) -> Static:
        """The line under a step's body that shows its demo hint, then what the demo action did (empty
        outside demo mode or for a step without one). Steps yield it last in their body."""
        action = self.wizard.core.demo_action(self.STEP_ID)
        return Static(self.step.demo.hint if action is not None and self.step.demo else "", id="portal-status")

    def next_label(self) -> str:
        return "Next ▶"

    def on_mount(self) -> None:
        self.refresh_frame()

    def refresh_frame(self) -> None:
        """Update the gate hint and the skipped-role warning from the session's state."""
        reason = self.gate_reason()
        self.query_one("#gate", Static).update(Text(reason or "", style="italic"))
        self.query_one("#next", Button).disabled = bool(reason)
        lines = [role_warning(role, ack, short=True) for role, ack in self.wizard.core.skipped_roles_shown(self.STEP_ID)]
        banner = self.query_one("#skip-warning", Static)
        banner.update(Text("\n").join(lines) if lines else "")
        banner.display = bool(lines)

    def gate_reason(self) -> str | None:
        """Why Next is disabled; steps with their own conditions extend this."""
        return self.wizard.core.blocker(self.STEP_ID)

    def results_changed(self) -> None:
        """New check results arrived (steps that show results redraw them)."""

    def report_exported(self) -> None:
        """A report was written (the review shows it)."""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "demo_action":
            return self.wizard.core.demo_action(self.STEP_ID) is not None
        if action == "back":  # the first step has nothing to go back to: no "esc Back" in its footer
            return self.wizard.core.flow.previous_step(self.STEP_ID, self.wizard.flow.answers.service) is not None
        return True

    def action_demo_action(self) -> None:
        """Demo only: do in the fake tenant what this step's portal would (``demo`` in the flow)."""
        done = self.wizard.core.perform_demo(self.STEP_ID)
        if done:
            self.query_one("#portal-status", Static).update(plain(done, style="bold"))
            self.after_demo_action()

    def after_demo_action(self) -> None:
        """Hook: what the step does once its demo action changed the fake tenant (watching steps look again)."""

    @on(Button.Pressed, "#back")
    def action_back(self) -> None:
        self.wizard.go_back()

    @on(Button.Pressed, "#next")
    def action_next(self) -> None:
        if self.gate_reason():
            self.app.bell()
            return
        self.before_next()

    def before_next(self) -> None:
        """Hook for steps that must ask something before moving on; the default moves on."""
        self.wizard.go_next()

    def action_help(self) -> None:
        self.wizard.action_help()


def role_warning(role: str, ack: Acknowledgement | None, *, short: bool = False) -> Text:
    """What the experts cannot do without ``role`` (shared catalogue text), and who acknowledged it,
    why and until when."""
    from dex_tui.catalogue import catalogue

    info = catalogue().role(role)
    items = info.lost_actions or info.adds
    # A role today's flow lacks (it only "adds") says so, as the permissions step and the report do.
    level = "" if info.lost_actions else f" ({info.level})"
    text = plain(f"⚠ {info.label} skipped: the experts cannot {', '.join(i[0].lower() + i[1:] for i in items)}"
                 f"{level}.", style="bold")
    if ack is not None and not short:
        text.append_text(plain(" Acknowledged by ", style="italic") + tenant(ack.by, style="italic")
                         + plain(f" at {ack.at}", style="italic"))
        if ack.reason:
            text.append_text(plain(": ", style="italic") + tenant(ack.reason, style="italic", limit=500))
        text.append_text(plain(f" (until {ack.expires.isoformat()})." if ack.expires else ".", style="italic"))
    return text
