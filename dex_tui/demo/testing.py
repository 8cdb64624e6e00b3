"""Helpers for tests that need a signed-in fake tenant quickly: a session with the demo mounted, and
tokens obtained through the real device code wire protocol (no MSAL, so no 1-second poll sleeps).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import requests

from dex_tui.demo.adapter import mount_demo
from dex_tui.demo.cloud import FakeCloud
from dex_tui.http import HttpSession
from dex_tui.scopes import GRAPH_SCOPES, mde_scopes
from dex_tui.settings import DEFAULT_CLIENT_ID, DEMO_LOGIN_URL

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def demo_session(cloud: FakeCloud) -> HttpSession:
    """An HttpSession (timeouts, verification on) with the in-process demo adapter mounted."""
    session = HttpSession()
    mount_demo(session, cloud)
    return session


def device_code_tokens(session: requests.Session, cloud: FakeCloud, scopes: Iterable[str] = GRAPH_SCOPES, *,
                       login_url: str = DEMO_LOGIN_URL, client_id: str = DEFAULT_CLIENT_ID,
                       **request_kwargs: Any) -> dict[str, Any]:
    """Run the device code flow over ``session`` and return the token endpoint's JSON.

    Pending codes are approved on the spot, so it works with every approval mode except the failing
    ones (decline, expire, ca_block), whose error JSON is returned instead.
    """
    root = f"{login_url.rstrip('/')}/{cloud.scenario.tenant_id}/oauth2/v2.0"
    scope = " ".join([*scopes, "openid", "profile", "offline_access"])
    code: dict[str, Any] = session.post(f"{root}/devicecode", data={"client_id": client_id, "scope": scope},
                                        **request_kwargs).json()
    if "device_code" not in code:
        return code
    form = {"grant_type": DEVICE_CODE_GRANT, "client_id": client_id, "device_code": code["device_code"]}
    for _ in range(1000):
        result: dict[str, Any] = session.post(f"{root}/token", data=form, **request_kwargs).json()
        if result.get("error") not in ("authorization_pending", "slow_down"):
            return result
        cloud.approve_device_code()
    raise RuntimeError("the fake cloud kept the device code pending")


def refresh_tokens(session: requests.Session, cloud: FakeCloud, refresh_token: str, scopes: Iterable[str], *,
                   login_url: str = DEMO_LOGIN_URL, client_id: str = DEFAULT_CLIENT_ID,
                   **request_kwargs: Any) -> dict[str, Any]:
    """The refresh-token grant for ``scopes`` (for example the MDE scope after a Graph sign-in)."""
    root = f"{login_url.rstrip('/')}/{cloud.scenario.tenant_id}/oauth2/v2.0"
    form = {"grant_type": "refresh_token", "client_id": client_id, "refresh_token": refresh_token,
            "scope": " ".join([*scopes, "openid", "profile", "offline_access"])}
    tokens: dict[str, Any] = session.post(f"{root}/token", data=form, **request_kwargs).json()
    return tokens


def signed_in(cloud: FakeCloud, scopes: Iterable[str] = GRAPH_SCOPES) -> tuple[HttpSession, str, str]:
    """A demo session plus a Graph and an MDE access token for the scenario's operator."""
    session = demo_session(cloud)
    graph = device_code_tokens(session, cloud, scopes)
    if "access_token" not in graph:
        raise RuntimeError(f"demo sign-in failed: {graph.get('error')}")
    mde = refresh_tokens(session, cloud, graph["refresh_token"], mde_scopes(cloud.scenario.cloud.mde_resource))
    if "access_token" not in mde:
        raise RuntimeError(f"demo MDE token failed: {mde.get('error')}")
    return session, graph["access_token"], mde["access_token"]
