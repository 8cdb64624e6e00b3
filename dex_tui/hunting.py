"""Counting on the service with Graph advanced hunting (``POST /security/runHuntingQuery``, domain.md
§4.15-4.16): a query that ends in ``summarize Devices = count() by <column>`` answers a few rows
whatever the tenant's size, where paging the Defender for Endpoint API costs a request per 10,000
devices.

:func:`count_by` raises :class:`HuntingUnavailable` when hunting cannot be used here (refused: 403,
no ``ThreatHunting.Read.All`` or no role; not offered: China, or a 404/405/501; a 400 for a query the
service cannot run; still throttled): the caller then pages instead. An answer that does not parse is
a malformed :class:`GraphError`: the read is unknown, never a count of zero, and no fallback hides it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from dex_tui.graph import GRAPH, GraphClient, GraphError

PATH = "/security/runHuntingQuery"
TIMESPAN = "P30D"  # the documented default, said explicitly
COUNT_COLUMN = "Devices"
# Each device's latest state (``arg_max(Timestamp, *) by DeviceId``), the onboarded ones by sensor health.
ONBOARDED_BY_HEALTH = ('DeviceInfo | summarize arg_max(Timestamp, *) by DeviceId '
                       '| where OnboardingStatus == "Onboarded" | summarize Devices = count() by SensorHealthState')
# Every device seen (any onboarding status) by its device group, as /api/machines' rbacGroupName.
DEVICES_BY_GROUP = 'DeviceInfo | summarize arg_max(Timestamp, *) by DeviceId | summarize Devices = count() by MachineGroup'
FALLBACK_STATUSES = frozenset({400, 403, 404, 405, 501})
NO_HUNTING_GRAPH_HOSTS = ("microsoftgraph.chinacloudapi.cn",)  # Global and US Gov only (§4.16)


class HuntingUnavailable(Exception):
    """Advanced hunting cannot count here: the read pages instead; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {list: "a list", dict: "an object", bool: "a boolean", int: "a number", float: "a number",
            str: "a string"}.get(type(value), "something else")


def _field(row: Mapping[str, Any], name: str) -> Any:
    """A member compared case-insensitively (the documented samples spell the schema both ways)."""
    lowered = name.lower()
    return next((v for k, v in row.items() if isinstance(k, str) and k.lower() == lowered), None)


def _malformed(read: str, problem: str) -> GraphError:
    endpoint = f"POST {PATH}"
    return GraphError(f"{endpoint} answered {problem}.", kind="malformed", endpoint=endpoint, read=read,
                      title="Malformed answer")


def offered(client: GraphClient) -> bool:
    host = client.endpoints.graph_url.split("//", 1)[-1].split("/", 1)[0].split(":", 1)[0].lower()
    return host not in NO_HUNTING_GRAPH_HOSTS


def count_by(client: GraphClient, query: str, column: str, *, read: str) -> dict[str | None, int]:
    """Run ``query`` (ending in ``summarize Devices = count() by column``) and return its rows as
    ``{value of column: devices}``."""
    if not offered(client):
        raise HuntingUnavailable("advanced hunting is not offered in this cloud")
    try:
        data = client.post_json(GRAPH, PATH, {"Query": query, "Timespan": TIMESPAN}, read=read)
    except GraphError as error:
        if error.status in FALLBACK_STATUSES or error.kind == "throttled":
            raise HuntingUnavailable(error.reason()) from None
        raise
    rows, schema = _field(data, "results"), _field(data, "schema")
    if not isinstance(rows, list) or not (schema is None or isinstance(schema, list)):
        raise _malformed(read, "without a 'results' list")
    counts: Counter[str | None] = Counter()
    for row in rows:
        if not isinstance(row, dict):
            raise _malformed(read, f"a result row that is {_kind(row)}, not an object")
        key, devices = _field(row, column), _field(row, COUNT_COLUMN)
        if not (key is None or isinstance(key, str)):
            raise _malformed(read, f"a {column} that is {_kind(key)}, not a string")
        if not isinstance(devices, int) or isinstance(devices, bool) or devices < 0:
            raise _malformed(read, f"a device count that is {_kind(devices)}, not a whole number")
        counts[key] += devices
    return dict(counts)
