"""Portal simulation: what the operator does in the Defender and admin portals, applied to the fake
tenant so the live checks see it through the same Graph calls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dex_tui.demo.catalogue import EXPERTS_SKUS

if TYPE_CHECKING:
    from dex_tui.demo.cloud import FakeCloud

SERVICES = tuple(EXPERTS_SKUS)


class Portal:
    """Changes an operator makes outside the product, on demand (thread-safe)."""

    def __init__(self, cloud: FakeCloud) -> None:
        self._cloud = cloud

    def place_licence_order(self, service: str) -> str:
        """The Defender Experts licence for ``service`` ("xdr" or "hunting") is ordered: its SKU appears in
        ``subscribedSkus``. Returns the SKU's part number, which is ASSUMED (Microsoft publishes none)."""
        if service not in SERVICES:
            raise ValueError(f"unknown Defender Experts service {service!r}; expected one of {', '.join(SERVICES)}")
        with self._cloud.lock:
            return self._cloud.tenant.order_licence(service).part_number

    def give_access(self) -> str:
        """Service provider access is given: the (fake) Microsoft Experts tenant becomes a cross-tenant
        partner with isServiceProvider and MFA + compliant-device inbound trust, and the two
        ``Microsoft Security Experts-...-DO NOT DELETE`` Conditional Access policies appear. Returns the
        partner's (fake) tenant id."""
        with self._cloud.lock:
            self._cloud.tenant.give_access()
            return self._cloud.scenario.experts.tenant_id

    def set_ca_policy_state(self, display_name: str, state: str) -> None:
        """Switch a Conditional Access policy on, off or to report-only (e.g. an admin disabling one)."""
        if state not in ("enabled", "disabled", "enabledForReportingButNotEnforced"):
            raise ValueError(f"unknown policy state {state!r}")
        with self._cloud.lock:
            self._cloud.tenant.set_ca_policy_state(display_name, state)
