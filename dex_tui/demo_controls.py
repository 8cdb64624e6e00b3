"""The typed demo interface: what a ``--demo`` run may do to its fake tenant, and read from it.

The screens and the session never touch the fake cloud itself: they ask these controls to approve the
pending device code, perform a step's portal action (``demo.action`` in ``flow.toml``), or tell the
scenario's clock and the tenant's domain. The :class:`~dex_tui.runtime.Runtime` mounts the same fake
cloud on its HTTP session; the controls outlive a runtime (the operator may change tenant or cloud and
the demo tenant stays the same).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dex_tui.errors import InternalError, UsageError

if TYPE_CHECKING:
    from dex_tui.demo import FakeCloud

DEMO_APPROVAL_POLLS = 8  # interactive demo: the device code is approved after ~8 s (or at once with "a")


# How a demo portal action that the fake portal refused begins: a refusal stays on the step (it is
# not a promise that a watch will see something).
PORTAL_REFUSED = "Demo: the fake Defender portal refused"

MAX_EXTENDS = 8  # a scenario header follows at most this many ``scenario.extends`` (the shipped chains have 3)


class ScenarioHeader:
    """What the wizard's first screen shows of a demo scenario, read straight from its file(s). (A plain
    class: a frozen dataclass costs ~1 ms to build at import, on every path that imports this module.)"""

    __slots__ = ("initial_domain", "name", "now")

    def __init__(self, name: str, initial_domain: str, now: str) -> None:
        self.name, self.initial_domain, self.now = name, initial_domain, now


def read_scenario_header(name_or_path: str) -> ScenarioHeader:
    """The scenario's name, initial domain and clock from its TOML file and the bases it extends
    (bounded: each file size-capped by :func:`~dex_tui.tomlfile.load_toml`, at most ``MAX_EXTENDS``
    bases), without loading the fake cloud. The full check of the file comes when the fake cloud
    is built (:meth:`DemoControls.deferred`): a file that is wrong here is a UsageError as there."""
    from dex_tui.assets import asset_path
    from dex_tui.tomlfile import load_toml

    folder = asset_path("scenarios")
    path = folder / f"{name_or_path}.toml" if _is_shipped_name(name_or_path) else Path(name_or_path).expanduser()
    found: dict[str, str] = {}
    for _ in range(MAX_EXTENDS + 1):
        data = load_toml(path, "scenario file", error=lambda text: UsageError(text, title="Invalid scenario"),
                         cache=path.parent == folder).data  # a shipped file's data from the asset cache
        meta, tenant = _table(data, "scenario"), _table(data, "tenant")
        for key, table, field in (("name", meta, "name"), ("initial_domain", tenant, "initial_domain"),
                                  ("now", tenant, "now")):
            if key not in found and isinstance(table.get(field), str):
                found[key] = table[field]
        parent = meta.get("extends")
        if not isinstance(parent, str):
            break
        path = folder / f"{parent}.toml"
        if not path.is_file():
            path = folder / f"_{parent}.toml"
    missing = [key for key in ("name", "initial_domain", "now") if key not in found]
    if missing:
        raise UsageError(f"scenario {name_or_path!r} gives no {', '.join(missing)} (or extends too deeply).",
                         title="Invalid scenario")
    return ScenarioHeader(found["name"], found["initial_domain"].lower(), found["now"])


def _is_shipped_name(name_or_path: str) -> bool:
    """A scenario's name (``ready``), not the path of a scenario file (as ``settings`` tells them apart)."""
    return "/" not in name_or_path and not name_or_path.endswith(".toml")


def _table(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _build_cloud(scenario: str, interactive: bool, approval: str | None) -> FakeCloud:
    """The fake tenant of ``scenario`` as :meth:`DemoControls.for_scenario` describes it."""
    from dex_tui.demo import FakeCloud, load_scenario

    loaded = load_scenario(scenario)
    if approval is not None:
        loaded = loaded.with_knobs(device_code={"approval": approval})
    knobs = loaded.behaviour.device_code
    if interactive and knobs.approval == "auto" and knobs.after_polls < DEMO_APPROVAL_POLLS:
        loaded = loaded.with_knobs(device_code={"after_polls": DEMO_APPROVAL_POLLS})
    cloud = FakeCloud(loaded)
    cloud.device_code_paced = interactive and approval != "auto"
    return cloud


class DemoControls:
    """One demo run's fake tenant, seen through the actions an operator could take in its portals.

    Built :meth:`deferred` (the wizard), only the scenario's header is read at once; the fake cloud is
    built by :meth:`start_building` in a thread (after the first frame), and :attr:`cloud` waits for
    it. Whoever must not block (the UI thread) asks :attr:`ready` first, or waits in a worker
    (:meth:`wait_ready`)."""

    def __init__(self, cloud: FakeCloud | None = None, *, header: ScenarioHeader | None = None,
                 build: Callable[[], FakeCloud] | None = None) -> None:
        if cloud is None and (build is None or header is None):
            raise InternalError("Demo controls need a fake cloud, or a scenario header and a way to build one.")
        self._cloud = cloud
        self._header = header
        self._build = build
        self._failure: BaseException | None = None
        self._lock = threading.Lock()
        self._built = threading.Event()
        self._builder: threading.Thread | None = None
        self._held = False
        if cloud is not None:
            self._built.set()
        self._actions: dict[str, Callable[[str], str]] = {"order_licence": self._order_licence,
                                                          "give_access": self._give_access,
                                                          "communicate_on_teams": self._communicate_on_teams,
                                                          "send_sample_notification": self._send_sample_notification}

    @classmethod
    def for_scenario(cls, scenario: str, *, interactive: bool = False, approval: str | None = None) -> DemoControls:
        """The fake tenant of ``scenario``; ``approval`` (one of ``APPROVAL_MODES``) replaces the
        scenario's way of answering device codes, as ``demo-server --approval`` does.

        ``interactive`` (the wizard in a terminal): a device code gets its answer only when the operator
        presses "a" (the scenario's answer: approved, or its decline or Conditional Access block), so a
        consultant can show the code, copy it and explain first; with ``approval="auto"`` it is approved
        by itself after a short wait instead. Either way no answer comes while a dialog is open
        (:meth:`hold_device_code`)."""
        return cls(_build_cloud(scenario, interactive, approval))

    @classmethod
    def deferred(cls, scenario: str, *, interactive: bool = False, approval: str | None = None) -> DemoControls:
        """The same controls as :meth:`for_scenario`, but only the scenario's header is read now (its
        name, domain and clock: what the first screen shows and confirmations are stamped with); the
        fake cloud is built when :meth:`start_building` is called, or when :attr:`cloud` is first read."""
        return cls(header=read_scenario_header(scenario),
                   build=lambda: _build_cloud(scenario, interactive, approval))

    @classmethod
    def for_wizard(cls, scenario: str, *, approval: str | None = None) -> DemoControls:
        """The wizard's demo tenant: a shipped scenario (checked by the test suite) is :meth:`deferred`,
        built after the first frame; a scenario file of the operator's is loaded and checked in full
        now, so the wizard never starts on a file that does not load (a UsageError, exit 4)."""
        if _is_shipped_name(scenario):
            return cls.deferred(scenario, interactive=True, approval=approval)
        return cls.for_scenario(scenario, interactive=True, approval=approval)

    @property
    def cloud(self) -> FakeCloud:
        """The fake cloud (for the runtime, which mounts it on its HTTP session). Blocks until it is
        built (deferred controls); raises what building it raised (an invalid scenario)."""
        if not self._built.is_set():
            self.start_building()
            self._built.wait()
        if self._cloud is None:
            raise self._failure or InternalError("The demo tenant was not built.")
        return self._cloud

    @property
    def ready(self) -> bool:
        """Whether :attr:`cloud` answers at once (built, or failed to build)."""
        return self._built.is_set()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Blocking (a worker): start building the fake cloud if nobody has, wait for it; False on timeout."""
        self.start_building()
        return self._built.wait(timeout)

    def start_building(self) -> None:
        """Build the fake cloud in a daemon thread (once; nothing to do when it is built)."""
        with self._lock:
            if self._built.is_set() or self._builder is not None:
                return
            self._builder = threading.Thread(target=self._build_now, name="dex-demo-cloud", daemon=True)
            self._builder.start()

    def _build_now(self) -> None:
        try:
            assert self._build is not None  # __init__: no cloud means a builder
            cloud = self._build()
            with self._lock:
                cloud.device_code_held = self._held
                self._cloud = cloud
        except BaseException as exc:  # kept for whoever reads .cloud (an invalid scenario: UsageError)
            self._failure = exc
        finally:
            self._built.set()

    @property
    def waits_for_operator(self) -> bool:
        """Whether a device code waits for the operator's "a" (else the scenario answers by itself)."""
        return bool(self.cloud.device_code_paced or self.cloud.scenario.behaviour.device_code.approval == "on_demand")

    def hold_device_code(self, held: bool) -> None:
        """While ``held`` (a dialog is open over the sign-in) the pending device code gets no answer."""
        with self._lock:  # not built yet: no device code to hold; the builder applies it (never blocks)
            self._held = held
            if self._cloud is None:
                return
        with self._cloud.lock:
            self._cloud.device_code_held = held

    @property
    def scenario_name(self) -> str:
        return self._header.name if self._header is not None else str(self.cloud.scenario.name)

    def now(self) -> str:
        """The scenario's fixed time (ISO 8601, UTC): confirmations and the audit trail use it."""
        return self._header.now if self._header is not None else str(self.cloud.scenario.now)

    @property
    def initial_domain(self) -> str:
        """The demo tenant's initial domain (``….onmicrosoft.com``)."""
        return self._header.initial_domain if self._header is not None else str(self.cloud.scenario.initial_domain)

    def approve_device_code(self) -> None:
        """Act at the verification page for the pending device code, as the operator would: the code
        gets the scenario's answer at its next poll (approved, or the scenario's decline or block)."""
        self.cloud.release_device_code()

    def sign_in_at_browser_page(self, url: str) -> None:
        """Do at the (fake) browser sign-in page ``url`` what the operator's browser would: the fake
        identity platform answers with its form for the loopback redirect, which is then posted to that
        redirect on this machine (the wizard's listener). Blocking: call it in a worker."""
        import requests

        from dex_tui.demo.adapter import mount_demo
        from dex_tui.http import HttpSession

        fake = HttpSession()
        mount_demo(fake, self.cloud)  # the fake identity platform, as the runtime mounts it
        with fake:
            page = fake.get(url, allow_redirects=False, timeout=10)
        with requests.Session() as loopback:
            loopback.trust_env = False  # no proxy for the loopback address
            if page.status_code in (301, 302, 303):
                loopback.get(page.headers["Location"], timeout=10)
                return
            form = _form_post()
            form.feed(page.text)
            if not form.action:
                raise InternalError("The demo's sign-in page held no form to send back.",
                                    next_step="Sign in with a code instead.")
            loopback.post(form.action, data=form.fields, timeout=10)

    def actions(self) -> tuple[str, ...]:
        return tuple(self._actions)

    def perform(self, action: str, service: str) -> str:
        """Do in the fake tenant what the operator would do in a portal; returns what happened, in words."""
        try:
            run = self._actions[action]
        except KeyError:
            raise InternalError(f"flow.toml names the demo action {action!r}; known: {', '.join(self._actions)}.",
                                next_step="Reinstall dex-tui.") from None
        return run(service)

    def _order_licence(self, service: str) -> str:
        part = self.cloud.portal.place_licence_order(service)
        return (f"Demo: the licence order was placed in the fake tenant (assumed part number {part}); "
                "the watch should see it at its next look.")

    def _give_access(self, service: str) -> str:
        self.cloud.portal.give_access()
        return ("Demo: Give access was selected in the fake tenant: the Microsoft Experts partner and the two "
                "conditional access policies now exist; the live checks will see them.")

    def _communicate_on_teams(self, service: str) -> str:
        """MDR's Teams step: the portal creates the "Defender Experts team", or refuses as it would."""
        from dex_tui.demo.portal import PortalRefused

        try:
            self.cloud.portal.communicate_on_teams()
        except PortalRefused as refused:
            return f"{PORTAL_REFUSED} Communicate on Teams: {refused}"
        return ("Demo: Communicate on Teams was selected in the fake tenant: the Defender Experts team now "
                "exists. Record it here with 'I selected Communicate on Teams'.")

    def _send_sample_notification(self, service: str) -> str:
        """Hunting's Sample notification step: the test incident appears in security/incidents."""
        title = self.cloud.portal.send_sample_notification()
        return (f"Demo: a sample notification was generated in the fake tenant (incident '{title}'); record "
                "that you sent it and the watch will find it.")


def _form_post() -> Any:
    """A parser of the first form of an auto-submitting ``form_post`` page: its action and hidden
    fields (``html.parser`` is imported here, not before the wizard's first frame)."""
    from html.parser import HTMLParser

    class FormPost(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.action = ""
            self.fields: dict[str, str] = {}

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            values = {name: value or "" for name, value in attrs}
            if tag == "form" and not self.action:
                self.action = values.get("action", "")
            elif tag == "input" and values.get("name"):
                self.fields[values["name"]] = values.get("value", "")

    return FormPost()
