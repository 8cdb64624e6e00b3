"""The typed demo interface: what a ``--demo`` run may do to its fake tenant, and read from it.

The screens and the session never touch the fake cloud itself: they ask these controls to approve the
pending device code, perform a step's portal action (``demo.action`` in ``flow.toml``), or tell the
scenario's clock and the tenant's domain. The :class:`~dex_tui.runtime.Runtime` mounts the same fake
cloud on its HTTP session; the controls outlive a runtime (the operator may change tenant or cloud and
the demo tenant stays the same).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from dex_tui.errors import InternalError

if TYPE_CHECKING:
    from dex_tui.demo import FakeCloud

DEMO_APPROVAL_POLLS = 8  # interactive demo: the device code is approved after ~8 s (or at once with "a")


class DemoControls:
    """One demo run's fake tenant, seen through the actions an operator could take in its portals."""

    def __init__(self, cloud: FakeCloud) -> None:
        self.cloud = cloud  # for the runtime, which mounts it on its HTTP session
        self._actions: dict[str, Callable[[str], str]] = {"order_licence": self._order_licence,
                                                          "give_access": self._give_access,
                                                          "communicate_on_teams": self._communicate_on_teams,
                                                          "send_sample_notification": self._send_sample_notification}

    @classmethod
    def for_scenario(cls, scenario: str, *, interactive: bool = False) -> DemoControls:
        """The fake tenant of ``scenario``. ``interactive``: a scenario that approves device codes at once
        is slowed to a short wait, so the sign-in panel can be seen (the "a" key approves at once)."""
        from dex_tui.demo import FakeCloud, load_scenario

        loaded = load_scenario(scenario)
        knobs = loaded.behaviour.device_code
        if interactive and knobs.approval == "auto" and knobs.after_polls < DEMO_APPROVAL_POLLS:
            loaded = loaded.with_knobs(device_code={"after_polls": DEMO_APPROVAL_POLLS})
        return cls(FakeCloud(loaded))

    @property
    def scenario_name(self) -> str:
        return str(self.cloud.scenario.name)

    def now(self) -> str:
        """The scenario's fixed time (ISO 8601, UTC): confirmations and the audit trail use it."""
        return str(self.cloud.scenario.now)

    @property
    def initial_domain(self) -> str:
        """The demo tenant's initial domain (``….onmicrosoft.com``)."""
        return str(self.cloud.scenario.initial_domain)

    def approve_device_code(self) -> None:
        """Approve the pending device-code sign-in, as the operator would at the verification page."""
        self.cloud.approve_device_code()

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
            return f"Demo: the fake Defender portal refused Communicate on Teams: {refused}"
        return ("Demo: Communicate on Teams was selected in the fake tenant: the Defender Experts team now "
                "exists. Record it here with 'I selected Communicate on Teams'.")

    def _send_sample_notification(self, service: str) -> str:
        """Hunting's Sample notification step: the test incident appears in security/incidents."""
        title = self.cloud.portal.send_sample_notification()
        return (f"Demo: a sample notification was generated in the fake tenant (incident '{title}'); record "
                "that you sent it and the watch will find it.")
