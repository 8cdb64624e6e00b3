"""The header and footer of every step, fitted to the terminal's width (80 columns is the design size).

The header names the step in full: on a narrow terminal it drops the product name, then the demo
scenario, never the step. The footer always shows Quit and Help; when the keys do not fit, the
optional ones give way first (the command palette, Ctrl+P, then a step's own keys from the last,
then Back and Next), and
Help, which lists every key (F1), gets a '…' to say that some are not shown.
"""

from __future__ import annotations

from collections import defaultdict

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

# Actions by how long they stay in the footer when space is short: lower stays longer. Any other
# action (a step's own keys) ranks after these in the order the step declares them; the palette last.
ESSENTIAL = {"request_quit": 0, "help": 1, "next": 2, "back": 3}
PALETTE_RANK = 1_000
HEADER_SIDES = 2 * 4  # the icon and the space on the right (see the CSS below)


def key_width(key_display: str, description: str) -> int:
    """Columns one footer key takes: ' key description ' (Textual's FooterKey padding)."""
    return len(key_display) + len(description) + 3


def fit_keys(keys: list[tuple[str, str, int]], width: int) -> tuple[set[int], bool]:
    """Which keys fit in ``width`` columns: ``keys`` are (key display, description, rank) in footer
    order. Returns the indexes kept and whether any was dropped; the two best ranked always stay."""
    kept = set(range(len(keys)))
    by_rank = sorted(kept, key=lambda i: keys[i][2])
    while sum(key_width(k, d) for i, (k, d, _) in enumerate(keys) if i in kept) + 1 > width and len(kept) > 2:
        kept.discard(max(kept - set(by_rank[:2]), key=lambda i: keys[i][2]))
    return kept, len(kept) < len(keys)


class StepFooter(Footer):
    """The footer of a step: the keys that fit the width, Quit and Help always."""

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        active = self.screen.active_bindings
        by_action: defaultdict[str, list[tuple[Binding, bool, str]]] = defaultdict(list)
        for _, binding, enabled, tooltip in active.values():
            if binding.show:
                by_action[binding.action].append((binding, enabled, tooltip))
        shown = [entries[0] for entries in by_action.values()]
        palette = None
        if self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE:
            found = active.get(self.app.COMMAND_PALETTE_BINDING)
            palette = (found[1], found[2], found[3]) if found is not None else None
        ranks = [ESSENTIAL.get(b.action, 10 + n) for n, (b, _, _) in enumerate(shown)]
        keys = [(self.app.get_key_display(b), b.description, rank) for (b, _, _), rank in zip(shown, ranks, strict=True)]
        if palette is not None:
            keys.append((self.app.get_key_display(palette[0]), palette[0].description, PALETTE_RANK))
        width = self.size.width or self.app.size.width
        kept, dropped = fit_keys(keys, width) if width else (set(range(len(keys))), False)
        self.styles.grid_size_columns = len([i for i in kept if i < len(shown)])
        for index, (binding, enabled, tooltip) in enumerate(shown):
            if index not in kept:
                continue
            description = binding.description + ("…" if dropped and binding.action == "help" else "")
            yield FooterKey(binding.key, self.app.get_key_display(binding), description, binding.action,
                            disabled=not enabled, tooltip=tooltip).data_bind(compact=Footer.compact)
        if palette is not None and len(shown) in kept:
            binding, enabled, tooltip = palette
            yield FooterKey(binding.key, self.app.get_key_display(binding), binding.description, binding.action,
                            classes="-command-palette", disabled=not enabled,
                            tooltip=binding.tooltip or binding.description)

    def on_resize(self) -> None:
        """Another width may fit other keys."""
        if self.is_attached:
            self.call_after_refresh(self.recompose)


class StepHeader(Widget):
    """The header: the app's title and the step ("Step 3/8 · Eligibility and licensing"); on a narrow
    terminal the app's title shortens first, so the step's name is never cut.

    Drawn by one widget where Textual's Header mounts three (icon, title, clock space): it looks the
    same, and a click on the icon opens the command palette as there. The titles are read when it is
    drawn: the wizard sets them before a screen is shown and does not change them after.
    """

    DEFAULT_CSS = """
    StepHeader {
        dock: top;
        width: 100%;
        height: 1;
        background: $panel;
        color: $foreground;
    }
    """

    def __init__(self, icon: str = "≡") -> None:
        super().__init__()
        self.icon = icon

    @property
    def screen_title(self) -> str:
        return self.screen.title if self.screen.title is not None else self.app.title

    @property
    def screen_sub_title(self) -> str:
        return self.screen.sub_title if self.screen.sub_title is not None else self.app.sub_title

    def format_title(self) -> Content:
        title, step = self.screen_title, self.screen_sub_title
        room = (self.size.width or self.app.size.width) - HEADER_SIDES - 2
        for candidate in header_titles(title, step):
            if len(candidate[0]) + len(candidate[1]) + (3 if candidate[0] and candidate[1] else 0) <= room:
                return self.app.format_title(*candidate)
        return self.app.format_title(step, "")

    def render(self) -> Content:
        """`` ≡ `` in the icon's four columns, the title centred between it and as many columns on
        the right (where Textual's header keeps its clock), cut with an ellipsis if it must be."""
        side = HEADER_SIDES // 2
        room = max(0, self.size.width - HEADER_SIDES)
        title = self.format_title().truncate(room, ellipsis=True)
        left = (room - title.cell_length) // 2
        return Content.assemble(f" {self.icon}".ljust(side), " " * left, title,
                                " " * (room - left - title.cell_length + side))

    def on_click(self, event: events.Click) -> None:
        if event.x < HEADER_SIDES // 2 and self.app.ENABLE_COMMAND_PALETTE:
            event.stop()
            self.app.action_command_palette()


def header_titles(title: str, step: str) -> list[tuple[str, str]]:
    """What the header may show, longest first: the app's title and the step, the title without the
    product name ('Defender Experts · DEMO ready' -> 'DEMO ready'), then the step alone."""
    variants = [(title, step)]
    _, sep, rest = title.partition(" · ")
    if sep and rest:
        variants.append((rest, step))
    variants.append((step, ""))
    return [(t, s) if s else (t, "") for t, s in variants if t or s]
