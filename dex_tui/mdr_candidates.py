"""The groups the MDR Exclusions step offers to pick from: the tenant's Defender for Endpoint device
groups (distinct ``rbacGroupName`` on ``GET /api/machines``, with their device counts) and its Entra
security groups (``GET /groups?$filter=securityEnabled eq true``), read on demand when the operator
asks for them. Bounded: at most :data:`MAX_MACHINE_PAGES` pages of machines and :data:`MAX_GROUPS`
groups; what was cut off is said. Names are tenant strings: the screens neutralise them on display.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from dex_tui.errors import Interrupted
from dex_tui.graph import GRAPH, MDE, GraphClient, GraphError
from dex_tui.mdr_facts import GROUP_SELECT, MDE_PAGE_SIZE
from dex_tui.records import dataclass

MAX_MACHINE_PAGES = 10  # 100,000 devices
MAX_GROUPS = 2_000
GROUP_PAGE_SIZE = 999


@dataclass(frozen=True)
class Candidate:
    name: str
    note: str = ""  # e.g. "20 devices", "synced from on-premises: cannot be excluded"
    pickable: bool = True


@dataclass(frozen=True)
class ExclusionCandidates:
    device_groups: tuple[Candidate, ...]
    user_groups: tuple[Candidate, ...]
    notes: tuple[str, ...] = ()  # what could not be read, or was cut off


def _device_groups(client: GraphClient, cancelled: Callable[[], bool]) -> tuple[tuple[Candidate, ...], str]:
    counts: Counter[str] = Counter()
    pages = 0
    try:
        for items in client.iter_page_items(MDE, "/machines", read="device_groups", params={"$top": MDE_PAGE_SIZE},
                                            max_pages=MAX_MACHINE_PAGES + 1):
            if cancelled():
                raise Interrupted("Reading the device groups was cancelled.")
            pages += 1
            if pages > MAX_MACHINE_PAGES:
                return _as_devices(counts), f"only the first {MAX_MACHINE_PAGES * MDE_PAGE_SIZE:,} devices were read"
            for item in items:
                name = item.get("rbacGroupName")
                if isinstance(name, str) and name:
                    counts[name] += 1
    except GraphError as error:
        if error.status == 404:  # documented: no recent machines
            return (), "Defender for Endpoint has no recent devices, so no device group is visible"
        return (), f"device groups could not be read: {error.reason()}"
    return _as_devices(counts), ""


def _as_devices(counts: Counter[str]) -> tuple[Candidate, ...]:
    return tuple(Candidate(name, f"{n:,} device{'s' if n != 1 else ''}")
                 for name, n in sorted(counts.items(), key=lambda item: item[0].lower()))


def _security_groups(client: GraphClient, cancelled: Callable[[], bool]) -> tuple[tuple[Candidate, ...], str]:
    found: list[Candidate] = []
    try:
        for items in client.iter_page_items(GRAPH, "/groups", read="mdr_groups",
                                            params={"$filter": "securityEnabled eq true", "$select": GROUP_SELECT,
                                                    "$top": GROUP_PAGE_SIZE},
                                            max_pages=MAX_GROUPS // GROUP_PAGE_SIZE + 2):
            if cancelled():
                raise Interrupted("Reading the security groups was cancelled.")
            for item in items:
                name = item.get("displayName")
                if not isinstance(name, str) or not name:
                    continue
                if len(found) >= MAX_GROUPS:
                    return _sorted(found), f"only the first {MAX_GROUPS:,} security groups are listed"
                if item.get("onPremisesSyncEnabled") is True:
                    found.append(Candidate(name, "synced from on-premises: cannot be excluded", pickable=False))
                else:
                    found.append(Candidate(name, "cloud security group"))
    except GraphError as error:
        return (), f"security groups could not be read: {error.reason()}"
    return _sorted(found), ""


def _sorted(found: list[Candidate]) -> tuple[Candidate, ...]:
    return tuple(sorted(found, key=lambda c: c.name.lower()))


def read_exclusion_candidates(client: GraphClient, is_cancelled: Callable[[], bool] | None = None
                              ) -> ExclusionCandidates:
    """Blocking (a worker thread): the groups to offer. A read that fails is a note, not an error:
    the operator can still type the names."""
    cancelled = is_cancelled or (lambda: False)
    devices, device_note = _device_groups(client, cancelled)
    users, user_note = _security_groups(client, cancelled)
    return ExclusionCandidates(devices, users, tuple(note for note in (device_note, user_note) if note))
