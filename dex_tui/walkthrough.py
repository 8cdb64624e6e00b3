"""Demo walkthrough files: find, read and check them (no Textual). ``screens.recorder`` plays them for
``dex-tui demo-record`` (``screens.record_command``). The format, TOML::

    [walkthrough]
    title = "Defender Experts for XDR, every role granted"   # optional
    scenario = "fresh"        # a shipped demo scenario, or a scenario file (relative to this file)
    service = "xdr"           # xdr, hunting or mdr: the service chosen on the Welcome step
    size = [100, 30]          # terminal columns and rows
    approval = "on_demand"    # optional: how the fake tenant approves device codes (default: the scenario's)

    [[step]]                  # a step does, in this order, what it names (at least one of them):
    focus = "#next"           #   focus the widget with this id
    click = "#accept"         #   click the widget with this id
    type = "soc@contoso.com"  #   type this text into the focused widget (one key press per character)
    press = ["end", "tab"]    #   press keys (Textual key names: enter, escape, tab, space, ctrl+n, a, ...)
    wait = { step = "terms" } #   wait until every condition in the table holds (see WAIT_KEYS)
    screenshot = "terms"      #   then write DIR/terms.svg
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from dex_tui.errors import UsageError
from dex_tui.records import dataclass
from dex_tui.tomlfile import load_toml

HEADER_KEYS = ("title", "scenario", "service", "size", "approval")
STEP_KEYS = ("focus", "click", "type", "press", "wait", "screenshot")
MAX_TYPED = 200
WAIT_KEYS = {
    "step": "a wizard step id: the step is shown, with no dialog over it",
    "dialog": "a dialog on top: error, skip-role, help, export, check-detail, confirm, link, or none",
    "signed_in": "true: the sign-in finished",
    "checks_done": "true: every check has reported and no run is going on",
    "check": "a check id that has a result (with status: that result's status)",
    "status": "with check: pass, warn, fail, unknown, skipped or info",
    "text": "text the screen shows (spaces and line breaks are not significant)",
    "watch_rounds": "n: a step that looks at the tenant (licence, access, exclusions, Teams, ...) has looked n times",
    "timeout": "seconds to wait at most (default 15)",
}
DIALOG_NAMES = ("error", "skip-role", "help", "export", "check-detail", "confirm", "link", "none")
SERVICES = ("xdr", "hunting", "mdr")
DEFAULT_TIMEOUT = 15.0
MAX_TIMEOUT = 300.0
KEY_NAMES = frozenset({
    "enter", "escape", "tab", "space", "backspace", "delete", "insert", "home", "end", "pageup", "pagedown",
    "up", "down", "left", "right", "question_mark", *(f"f{n}" for n in range(1, 13)),
})
_KEY = re.compile(r"^(?:(?:ctrl|shift|alt)\+)*(?P<base>[^+]+|\+)$")
_WIDGET_ID = re.compile(r"^#[A-Za-z_][A-Za-z0-9_-]*$")
_SHOT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
_TABLE = re.compile(r"^\s*\[")
_STEP_HEADER = re.compile(r"^\s*\[\[\s*step\s*\]\]\s*(#.*)?$")
_HEADER = re.compile(r"^\s*\[\s*walkthrough\s*\]\s*(#.*)?$")
FORMAT_HELP = "The format is described in the README ('Demo walkthroughs') and in 'dex-tui demo-record --help'."


@dataclass(frozen=True)
class Wait:
    """Conditions that must all hold, checked until ``timeout`` seconds have passed."""

    step: str | None = None
    dialog: str | None = None
    signed_in: bool = False
    checks_done: bool = False
    check: str | None = None
    status: str | None = None
    text: str | None = None
    watch_rounds: int = 0
    timeout: float = DEFAULT_TIMEOUT

    def describe(self) -> str:
        """The conditions in words, for an error message."""
        parts = []
        if self.step:
            parts.append(f"the {self.step!r} step")
        if self.dialog:
            parts.append("no dialog" if self.dialog == "none" else f"the {self.dialog!r} dialog")
        if self.signed_in:
            parts.append("the sign-in to finish")
        if self.checks_done:
            parts.append("every check to report")
        if self.check:
            parts.append(f"check {self.check!r}" + (f" to be {self.status!r}" if self.status else " to report"))
        if self.text:
            parts.append(f"the text {self.text!r}")
        if self.watch_rounds:
            parts.append(f"{self.watch_rounds} watch round(s)")
        return " and ".join(parts)


@dataclass(frozen=True)
class Step:
    """One step of a walkthrough; ``where`` names it in messages (file, line, step number)."""

    where: str
    focus: str | None = None
    click: str | None = None
    typed: str = ""  # the step's ``type``
    press: tuple[str, ...] = ()
    wait: Wait | None = None
    screenshot: str | None = None


@dataclass(frozen=True)
class Walkthrough:
    path: Path
    title: str
    scenario: str
    service: str
    size: tuple[int, int]
    approval: str | None
    steps: tuple[Step, ...]

    def screenshots(self) -> list[str]:
        return [step.screenshot for step in self.steps if step.screenshot]


# --------------------------------------------------------------------------- finding and reading


def bundled_names() -> list[str]:
    """Names of the walkthroughs shipped in the package (``assets/walkthroughs``)."""
    from dex_tui.assets import asset_path

    folder = asset_path("walkthroughs")
    return sorted(p.stem for p in folder.glob("*.toml")) if folder.is_dir() else []


def resolve_walkthrough(value: str) -> Path:
    """A walkthrough file path, or the bundled walkthrough of that name."""
    path = Path(value).expanduser()
    if path.is_file():
        return path
    from dex_tui.assets import asset_path

    bundled = asset_path("walkthroughs", f"{value}.toml")
    if "/" not in value and "\\" not in value and bundled.is_file():
        return bundled
    raise UsageError(f"No walkthrough file {value!r}, and no bundled walkthrough of that name.",
                     title="Walkthrough not found",
                     next_step=f"Give a path to a .toml file, or one of: {', '.join(bundled_names()) or 'none'}.")


def load_walkthrough(path: Path) -> Walkthrough:
    """Read and check a walkthrough file; a UsageError names the line and key of any problem."""
    file = load_toml(path, "walkthrough file", error=_bad)
    return _Reader(path, file.text).walkthrough(file.data)


def _bad(explanation: str) -> UsageError:
    return UsageError(explanation, title="Bad walkthrough file", next_step=FORMAT_HELP)


class _Reader:
    """Checks the parsed TOML, naming ``file, line N`` where a key is (found by scanning the text)."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()
        self.step_lines = [n for n, line in enumerate(self.lines, start=1) if _STEP_HEADER.match(line)]
        self.header_line = next((n for n, line in enumerate(self.lines, start=1) if _HEADER.match(line)), None)

    def _key_line(self, start: int | None, key: str) -> int | None:
        """The line of ``key = ...`` in the table starting at line ``start`` (inline tables too)."""
        if start is None:
            return None
        pattern = re.compile(rf"(^|[{{,\s])\"?{re.escape(key)}\"?\s*=")
        for number in range(start, len(self.lines) + 1):
            line = self.lines[number - 1]
            if number > start and _TABLE.match(line):
                break
            if pattern.search(line):
                return number
        return start

    def _where(self, line: int | None, step: int | None = None) -> str:
        place = f"{self.path}, line {line}" if line else str(self.path)
        return f"{place} (step {step})" if step is not None else place

    def fail(self, problem: str, *, key: str | None = None, step: int | None = None) -> UsageError:
        start = self.step_lines[step - 1] if step is not None and step <= len(self.step_lines) else \
            (self.header_line if step is None else None)
        line = self._key_line(start, key) if key else start
        return _bad(f"{self._where(line, step)}: {problem}")

    def walkthrough(self, data: dict[str, Any]) -> Walkthrough:
        unknown = sorted(set(data) - {"walkthrough", "step"})
        if unknown:
            raise _bad(f"{self.path}: unknown table {unknown[0]!r}; a walkthrough has [walkthrough] and "
                       "[[step]] tables.")
        header = data.get("walkthrough")
        if not isinstance(header, dict):
            raise _bad(f"{self.path}: the [walkthrough] table (scenario, service, size) is missing.")
        for key in header:
            if key not in HEADER_KEYS:
                raise self.fail(f"unknown key {key!r} in [walkthrough]; allowed: {', '.join(HEADER_KEYS)}.", key=key)
        steps = data.get("step")
        if not isinstance(steps, list) or not steps:
            raise _bad(f"{self.path}: no [[step]] tables: a walkthrough needs at least one step.")
        parsed = tuple(self.step(item, number) for number, item in enumerate(steps, start=1))
        seen: set[str] = set()
        for number, step in enumerate(parsed, start=1):
            if step.screenshot in seen:
                raise self.fail(f"the screenshot name {step.screenshot!r} is used twice; each names one file.",
                                key="screenshot", step=number)
            if step.screenshot:
                seen.add(step.screenshot)
        if not seen:
            raise _bad(f"{self.path}: no step has a screenshot = \"name\": nothing would be written.")
        return Walkthrough(path=self.path, title=self.text(header, "title", default=""),
                           scenario=self.scenario(header), service=self.service(header), size=self.size(header),
                           approval=self.approval(header), steps=parsed)

    # -- header ------------------------------------------------------------------------------

    def text(self, header: dict[str, Any], key: str, *, default: str | None = None) -> str:
        value = header.get(key, default)
        if value is None:
            raise _bad(f"{self._where(self.header_line)}: {key!r} is missing from [walkthrough].")
        if not isinstance(value, str) or "\n" in value or len(value) > 400:
            raise self.fail(f"{key!r} must be one line of text, not {value!r}.", key=key)
        return value

    def scenario(self, header: dict[str, Any]) -> str:
        from dex_tui.demo import load_scenario

        value = self.text(header, "scenario").strip()
        candidate = self.path.parent / value
        target = str(candidate) if value.endswith(".toml") or "/" in value else value
        try:
            load_scenario(target)
        except UsageError as error:
            raise self.fail(f"scenario {value!r}: {error.explanation}", key="scenario") from error
        return target

    def service(self, header: dict[str, Any]) -> str:
        value = self.text(header, "service", default="xdr")
        if value not in SERVICES:
            raise self.fail(f"service must be one of {', '.join(SERVICES)}, not {value!r}.", key="service")
        return value

    def size(self, header: dict[str, Any]) -> tuple[int, int]:
        value = header.get("size")
        if value is None:
            raise _bad(f"{self._where(self.header_line)}: 'size' (terminal [columns, rows]) is missing.")
        ok = (isinstance(value, list) and len(value) == 2 and all(type(v) is int for v in value)
              and 60 <= value[0] <= 300 and 16 <= value[1] <= 120)
        if not ok:
            raise self.fail(f"size must be [columns, rows] with 60-300 columns and 16-120 rows, not {value!r}.",
                            key="size")
        return value[0], value[1]

    def approval(self, header: dict[str, Any]) -> str | None:
        from dex_tui.demo.scenario import APPROVAL_MODES

        if "approval" not in header:
            return None
        value = header["approval"]
        if value not in APPROVAL_MODES:
            raise self.fail(f"approval must be one of {', '.join(APPROVAL_MODES)}, not {value!r}.", key="approval")
        return str(value)

    # -- steps -------------------------------------------------------------------------------

    def step(self, item: Any, number: int) -> Step:
        if not isinstance(item, dict):
            raise self.fail("a step must be a table.", step=number)
        for key in item:
            if key not in STEP_KEYS:
                raise self.fail(f"unknown key {key!r}; a step may have: {', '.join(STEP_KEYS)}.", key=key,
                                step=number)
        if not item:
            raise self.fail(f"an empty step; give at least one of: {', '.join(STEP_KEYS)}.", step=number)
        where = self._where(self.step_lines[number - 1] if number <= len(self.step_lines) else None, number)
        return Step(where=where, focus=self.widget(item, "focus", number), click=self.widget(item, "click", number),
                    typed=self.typed(item, number), press=self.press(item, number), wait=self.wait(item, number),
                    screenshot=self.shot(item, number))

    def widget(self, item: dict[str, Any], key: str, number: int) -> str | None:
        if key not in item:
            return None
        value = item[key]
        if not isinstance(value, str) or not _WIDGET_ID.match(value):
            raise self.fail(f"{key} must be a widget id such as \"#next\", not {value!r}.", key=key, step=number)
        return value

    def typed(self, item: dict[str, Any], number: int) -> str:
        if "type" not in item:
            return ""
        value = item["type"]
        if not isinstance(value, str) or not value or len(value) > MAX_TYPED or not value.isprintable():
            raise self.fail(f"type must be one line of printable text (1-{MAX_TYPED} characters), not {value!r}.",
                            key="type", step=number)
        return value

    def press(self, item: dict[str, Any], number: int) -> tuple[str, ...]:
        if "press" not in item:
            return ()
        value = item["press"]
        keys = [value] if isinstance(value, str) else value
        if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
            raise self.fail(f"press must be a key name or a list of them, not {value!r}.", key="press", step=number)
        for key in keys:
            if not valid_key(key):
                raise self.fail(f"press: {key!r} is not a key name (use one character, or one of "
                                f"{', '.join(sorted(KEY_NAMES))}, with ctrl+/shift+/alt+ if needed).",
                                key="press", step=number)
        return tuple(keys)

    def shot(self, item: dict[str, Any], number: int) -> str | None:
        if "screenshot" not in item:
            return None
        value = item["screenshot"]
        if not isinstance(value, str) or not _SHOT_NAME.match(value) or value.lower().endswith(".svg"):
            raise self.fail(f"screenshot must be a file name without extension (letters, digits, '.', '_', '-'), "
                            f"not {value!r}.", key="screenshot", step=number)
        return value

    def wait(self, item: dict[str, Any], number: int) -> Wait | None:
        from dex_tui.catalogue import ALL_CHECK_IDS
        from dex_tui.flow import step_ids
        from dex_tui.results import Status

        if "wait" not in item:
            return None
        table = item["wait"]
        if not isinstance(table, dict) or not table:
            raise self.fail("wait must be a table of conditions, e.g. wait = { step = \"terms\" }.", key="wait",
                            step=number)
        for key in table:
            if key not in WAIT_KEYS:
                raise self.fail(f"unknown wait condition {key!r}; known: {', '.join(WAIT_KEYS)}.", key=key,
                                step=number)

        def choice(key: str, allowed: tuple[str, ...] | list[str]) -> str | None:
            if key not in table:
                return None
            if table[key] not in allowed:
                raise self.fail(f"wait.{key} must be one of {', '.join(allowed)}, not {table[key]!r}.", key=key,
                                step=number)
            return str(table[key])

        def flag(key: str) -> bool:
            if key in table and table[key] is not True:
                raise self.fail(f"wait.{key} can only be true, not {table[key]!r}.", key=key, step=number)
            return key in table

        text = table.get("text")
        if text is not None and (not isinstance(text, str) or not text.strip()):
            raise self.fail(f"wait.text must be non-empty text, not {text!r}.", key="text", step=number)
        rounds = table.get("watch_rounds", 0)
        if type(rounds) is not int or not 0 <= rounds <= 20:
            raise self.fail(f"wait.watch_rounds must be a whole number from 1 to 20, not {rounds!r}.",
                            key="watch_rounds", step=number)
        timeout = table.get("timeout", DEFAULT_TIMEOUT)
        if type(timeout) not in (int, float) or not 0 < timeout <= MAX_TIMEOUT:
            raise self.fail(f"wait.timeout must be seconds (more than 0, at most {MAX_TIMEOUT:g}), not {timeout!r}.",
                            key="timeout", step=number)
        status = choice("status", [s.value for s in Status])
        check = choice("check", list(ALL_CHECK_IDS))
        if status and not check:
            raise self.fail("wait.status needs wait.check (the check whose status to wait for).", key="status",
                            step=number)
        wait = Wait(step=choice("step", list(step_ids())), dialog=choice("dialog", DIALOG_NAMES),
                    signed_in=flag("signed_in"), checks_done=flag("checks_done"), check=check, status=status,
                    text=text, watch_rounds=rounds, timeout=float(timeout))
        if not wait.describe():
            raise self.fail("wait has only a timeout: name what to wait for.", key="wait", step=number)
        return wait


def valid_key(key: str) -> bool:
    """A Textual key name: one printable character or a known name, with optional modifiers."""
    match = _KEY.match(key)
    if not match:
        return False
    base = match["base"]
    return (len(base) == 1 and base.isprintable() and not base.isspace()) or base in KEY_NAMES
