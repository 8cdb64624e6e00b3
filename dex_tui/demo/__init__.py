"""The built-in fake Microsoft cloud: identity platform, Graph and Defender for Endpoint for one fake
tenant described by a scenario file, behind ``--demo`` and every test.

Typical use::

    cloud = FakeCloud(load_scenario("ready"))
    session = build_session()
    mount_demo(session, cloud)   # https://login.demo.test, https://graph.demo.test, https://mde.demo.test

or over loopback HTTPS: ``with DemoServer(cloud) as server: ... server.login_url, server.ca_file``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dex_tui.demo.adapter import DemoAdapter, mount_demo
from dex_tui.demo.catalogue import EXPERTS_SKUS, PERMISSIONS, ROLE_TEMPLATES, SERVICE_PLANS
from dex_tui.demo.cloud import FakeCloud
from dex_tui.demo.scenario import (
    ENDPOINT_NAMES,
    Scenario,
    load_scenario,
    scenario_from_dict,
    scenario_names,
)
from dex_tui.demo.tokens import decode_claims
from dex_tui.demo.wire import Reply

if TYPE_CHECKING:
    from dex_tui.demo.server import DemoServer


def __getattr__(name: str) -> Any:
    # The HTTPS server (ssl, sockets, certificates) is imported only when asked for.
    if name == "DemoServer":
        from dex_tui.demo.server import DemoServer

        return DemoServer
    raise AttributeError(name)


__all__ = [
    "ENDPOINT_NAMES", "EXPERTS_SKUS", "PERMISSIONS", "ROLE_TEMPLATES", "SERVICE_PLANS",
    "DemoAdapter", "DemoServer", "FakeCloud", "Reply", "Scenario", "decode_claims", "load_scenario",
    "mount_demo", "scenario_from_dict", "scenario_names",
]
