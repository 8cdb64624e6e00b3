"""A tiny advanced hunting engine for ``POST /security/runHuntingQuery``: the ``DeviceInfo`` table of the
fake tenant and a small KQL subset (``where`` with ==, !=, =~ joined by ``and``; ``summarize
arg_max(Timestamp, *) by DeviceId``; ``summarize [Name =] count() | dcount(DeviceId) by Col, ...``;
``count``; ``take``/``limit N``; ``project Col, ...``). Anything else is a 400, as a query Graph
cannot run would be. Counting works per generated segment, so it stays cheap on the large tenant.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from dex_tui.demo.lazy import LazyCollection, Segment, Selection
from dex_tui.demo.odata import Node

if TYPE_CHECKING:
    from dex_tui.demo.directory import TenantState

MAX_ROWS = 100_000
# runHuntingQuery's Timespan: an ISO 8601 duration (P30D, PT12H) or a start/end interval (domain.md §4.16).
_DURATION = r"P(?=\d|T\d)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?"
_INSTANT = r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?"
# Patterns as text: re compiles (and caches) each on its first use, not as the fake cloud is imported.
TIMESPAN = rf"^(?:{_DURATION}|{_INSTANT}/(?:{_INSTANT}|{_DURATION})|{_DURATION}/{_INSTANT})$"
_ONBOARDING = {"Onboarded": "Onboarded", "CanBeOnboarded": "Can be onboarded", "Unsupported": "Unsupported",
               "InsufficientInfo": "Insufficient info"}
_SENSOR = {"Active": "Active", "Inactive": "Inactive", "ImpairedCommunication": "Impaired communication",
           "NoSensorData": "No sensor data", "NoSensorDataImpairedCommunication": "No sensor data",
           "Unknown": "Unknown"}
COLUMNS = {"Timestamp": "DateTime", "DeviceId": "String", "DeviceName": "String", "OSPlatform": "String",
           "OSVersion": "String", "OnboardingStatus": "String", "SensorHealthState": "String",
           "MachineGroup": "String", "ExposureLevel": "String", "DeviceCategory": "String",
           "DeviceType": "String", "IsAzureADJoined": "Boolean"}
_PER_DEVICE = {"deviceid", "devicename"}


class HuntingError(ValueError):
    """The query uses something the fake's KQL subset does not understand."""


def _device_info(tenant: TenantState) -> LazyCollection:
    segments = []
    for seg, group in zip(tenant.machines.segments, tenant.scenario.devices, strict=True):
        shared = {
            "timestamp": seg.shared["lastseen"], "osplatform": group.os_platform, "osversion": group.os_version,
            "onboardingstatus": _ONBOARDING[group.onboarding], "sensorhealthstate": _SENSOR[group.health],
            "machinegroup": group.rbac_group, "exposurelevel": group.exposure, "devicecategory": "Endpoint",
            "devicetype": "Server" if "server" in group.os_platform.lower() else "Workstation",
            "isazureadjoined": group.onboarding == "Onboarded",
        }

        def make(i: int, seg: Segment = seg, shared: dict[str, Any] = shared) -> dict[str, Any]:
            machine = seg.make(i)
            row = {name: shared.get(name.lower()) for name in COLUMNS}
            row["DeviceId"], row["DeviceName"] = machine["id"], machine["computerDnsName"]
            return row

        segments.append(Segment(seg.count, make, shared))
    return LazyCollection(segments)


def _split_pipes(query: str) -> list[str]:
    parts, current, quote = [], [], ""
    for ch in query:
        if quote:
            current.append(ch)
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
            current.append(ch)
        elif ch == "|":
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    parts.append("".join(current).strip())
    return [p for p in parts if p]


def _column(name: str) -> str:
    for column in COLUMNS:
        if column.lower() == name.strip().lower():
            return column
    raise HuntingError(f"Query could not be parsed: failed to resolve column or scalar expression named '{name.strip()}'.")


_CONDITION = r"^\s*(\w+)\s*(==|!=|=~)\s*(\"[^\"]*\"|'[^']*'|true|false)\s*$"


def _where(text: str) -> Node:
    node: Node | None = None
    for clause in re.split(r"\s+and\s+", text):
        match = re.match(_CONDITION, clause)
        if not match:
            raise HuntingError(f"Query could not be parsed: unsupported where clause '{clause.strip()}'.")
        column, op, raw = _column(match.group(1)), match.group(2), match.group(3)
        value: Any = raw == "true" if raw in ("true", "false") else raw[1:-1]
        current = Node("cmp", (column, "ne" if op == "!=" else "eq", value))
        node = current if node is None else Node("and", (node, current))
    assert node is not None
    return node


def run_hunting_query(query: str, tenant: TenantState) -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
    """Run ``query``; returns (schema, results) in Graph's huntingQueryResults shape."""
    stages = _split_pipes(query)
    if not stages or stages[0] != "DeviceInfo":
        first = stages[0] if stages else ""
        raise HuntingError(f"Query could not be parsed: the fake tenant only has the DeviceInfo table, not '{first}'.")
    table = _device_info(tenant)
    filters: list[Node] = []
    for position, stage in enumerate(stages[1:], start=1):
        word, _, rest = stage.partition(" ")
        if word == "where":
            filters.append(_where(rest))
        elif stage.replace(" ", "").lower() == "summarizearg_max(timestamp,*)bydeviceid":
            continue  # one row per device already: the latest state
        elif word in ("summarize", "count", "take", "limit", "project"):
            selection = table.select(_all(filters))
            return _finish(selection, stages[position:])
        else:
            raise HuntingError(f"Query could not be parsed: unsupported operator '{word}'.")
    return _finish(table.select(_all(filters)), [])


def _all(filters: list[Node]) -> Node | None:
    node: Node | None = None
    for f in filters:
        node = f if node is None else Node("and", (node, f))
    return node


def _finish(selection: Selection, stages: list[str]) -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
    if not stages:
        rows = selection.page(0, MAX_ROWS)
        return [{"name": c, "type": t} for c, t in COLUMNS.items()], rows
    stage = stages[0]
    word, _, rest = stage.partition(" ")
    if len(stages) > 1 and word != "project":
        raise HuntingError(f"Query could not be parsed: nothing may follow '{word}' in the fake's KQL subset.")
    if word == "count":
        return [{"name": "Count", "type": "Int64"}], [{"Count": len(selection)}]
    if word in ("take", "limit"):
        if not rest.strip().isdigit():
            raise HuntingError(f"Query could not be parsed: '{word}' needs a row count.")
        return [{"name": c, "type": t} for c, t in COLUMNS.items()], selection.page(0, min(int(rest), MAX_ROWS))
    if word == "project":
        columns = [_column(c) for c in rest.split(",")]
        rows = [{c: row[c] for c in columns} for row in selection.page(0, MAX_ROWS)]
        if len(stages) > 1:
            follow = stages[1].partition(" ")
            if follow[0] not in ("take", "limit") or not follow[2].strip().isdigit():
                raise HuntingError("Query could not be parsed: only take/limit may follow project.")
            rows = rows[: int(follow[2])]
        return [{"name": c, "type": COLUMNS[c]} for c in columns], rows
    return _summarize(selection, rest)


_SUMMARIZE = r"(?i)^\s*(?:(\w+)\s*=\s*)?(count\(\)|dcount\(\s*DeviceId\s*\))\s*(?:by\s+(.+))?$"


def _summarize(selection: Selection, text: str) -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
    match = re.match(_SUMMARIZE, text)
    if not match:
        raise HuntingError(f"Query could not be parsed: unsupported summarize '{text.strip()}'.")
    name = match.group(1) or ("count_" if match.group(2).lower() == "count()" else "dcount_DeviceId")
    by = [_column(c) for c in match.group(3).split(",")] if match.group(3) else []
    counts: dict[tuple[Any, ...], int] = {}
    if not {b.lower() for b in by} & _PER_DEVICE:
        for segment, indices in selection.parts:
            key = tuple(segment.shared.get(b.lower()) for b in by)
            counts[key] = counts.get(key, 0) + len(indices)
    else:
        for row in selection:
            key = tuple(row[b] for b in by)
            counts[key] = counts.get(key, 0) + 1
    schema = [{"name": b, "type": COLUMNS[b]} for b in by] + [{"name": name, "type": "Int64"}]
    rows = [{**dict(zip(by, key, strict=True)), name: n} for key, n in counts.items()]
    return schema, rows[:MAX_ROWS]
