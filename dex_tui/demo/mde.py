"""The fake Defender for Endpoint API: ``/api/machines`` and ``/api/deviceavinfo`` with ``$filter``,
``$top`` (at most 10,000), ``$skip`` paging through ``@odata.nextLink``, its own token audience and its
own error body ``{"error": {"code", "message", "target"}}`` (reference/domain.md §4.14, §4.15).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from dex_tui.demo.catalogue import PERMISSIONS
from dex_tui.demo.lazy import LazyCollection
from dex_tui.demo.odata import FilterError, parse_filter, properties
from dex_tui.demo.wire import Reply, Request, json_reply, mde_error

if TYPE_CHECKING:
    from dex_tui.demo.cloud import FakeCloud

MAX_TOP = 10_000
_SAFE = "$=,'()"
MACHINE_FILTERS = ("computerDnsName", "id", "version", "deviceValue", "aadDeviceId", "machineTags", "lastSeen",
                   "exposureLevel", "onboardingStatus", "lastIpAddress", "healthStatus", "osPlatform", "riskScore",
                   "rbacGroupId")
AV_FILTERS = ("machineId", "computerDnsName", "osKind", "osPlatform", "osVersion", "avMode", "avSignatureVersion",
              "avEngineVersion", "avPlatformVersion", "quickScanResult", "fullScanResult", "avIsSignatureUpToDate",
              "avIsEngineUpToDate", "avIsPlatformUpToDate", "rbacGroupId")
DEFAULT_PAGE = {"mde.machines": MAX_TOP, "mde.deviceavinfo": 20}

Handler = Callable[[Request], Reply]


class Mde:
    def __init__(self, cloud: FakeCloud) -> None:
        self.cloud = cloud

    def route(self, req: Request) -> tuple[str, Handler] | None:
        if req.method != "GET":
            return None
        path = req.path.rstrip("/").lower()
        if path == "/api/machines":
            return "mde.machines", lambda r: self._list(r, "mde.machines", self.cloud.tenant.machines,
                                                        MACHINE_FILTERS, "Machines")
        if path == "/api/deviceavinfo":
            return "mde.deviceavinfo", lambda r: self._list(r, "mde.deviceavinfo", self.cloud.tenant.av_info,
                                                            AV_FILTERS, "DeviceAvInfo")
        return None

    def _error(self, req: Request, status: int, code: str, message: str) -> Reply:
        return mde_error(status, code, message, request_id=req.request_id)

    def _authorize(self, req: Request, endpoint: str) -> Reply | None:
        token = req.bearer()
        grant = self.cloud.tokens.access.get(token or "")
        if not token or grant is None or not self.cloud.tokens.verify(token):
            return self._error(req, 401, "Unauthorized", "Authorization has been denied for this request.")
        if grant.audience != "mde":
            return self._error(req, 401, "Unauthorized", "Authorization has been denied for this request. "
                                                         "The token audience is not valid for this API.")
        if grant.expires_at < self.cloud.clock():
            return self._error(req, 401, "Unauthorized", "Authorization has been denied for this request. "
                                                         "The token is expired.")
        need = PERMISSIONS[endpoint]
        if grant.app_only:
            if not grant.scopes & need.app:
                return self._error(req, 403, "Forbidden", "The application does not have any of the required "
                                   f"application permissions ({', '.join(sorted(need.app))}) to access the "
                                   "resource.")
            return None
        if not grant.scopes & need.accepted:
            return self._error(req, 403, "Forbidden", "The application does not have any of the required delegated "
                                                      f"permissions ({', '.join(sorted(need.accepted))}) to access "
                                                      f"the resource.")
        if need.roles is not None and not grant.role_ids & need.roles:
            return self._error(req, 403, "Forbidden", "The user does not have the View Data permission in "
                                                      "Microsoft Defender for Endpoint.")
        return None

    def _list(self, req: Request, endpoint: str, collection: LazyCollection, allowed: tuple[str, ...],
              entity: str) -> Reply:
        denied = self._authorize(req, endpoint)
        if denied is not None:
            return denied
        node = None
        text = req.query.get("$filter")
        if text:
            try:
                node = parse_filter(text)
            except FilterError as exc:
                return self._error(req, 400, "InvalidRequestBody", f"Invalid filter: {exc}")
            unknown = properties(node) - {a.lower() for a in allowed}
            if unknown:
                return self._error(req, 400, "InvalidRequestBody",
                                   f"Invalid filter: the property '{sorted(unknown)[0]}' cannot be filtered.")
        top_raw, skip_raw = req.query.get("$top"), req.query.get("$skip", "0")
        if (top_raw is not None and (not top_raw.isdigit() or not 1 <= int(top_raw) <= MAX_TOP)) \
                or not skip_raw.isdigit():
            return self._error(req, 400, "InvalidRequestBody",
                               f"Invalid paging: $top must be between 1 and {MAX_TOP}, $skip a whole number.")
        top = int(top_raw) if top_raw is not None else DEFAULT_PAGE[endpoint]
        skip = int(skip_raw)
        selection = collection.select(node)
        if endpoint == "mde.machines" and len(collection) == 0:
            return self._error(req, 404, "ResourceNotFound", "No recent machines were found.")
        page = selection.page(skip, top)
        body = {"@odata.context": f"{req.base}/api/$metadata#{entity}", "value": page}
        if skip + top < len(selection):
            query = {k: v for k, v in req.query.items() if k not in ("$skip", "$top")}
            query["$top"], query["$skip"] = str(top), str(skip + top)
            body["@odata.nextLink"] = f"{req.base}{req.path}?{urlencode(query, safe=_SAFE)}"
        return json_reply(200, body)
