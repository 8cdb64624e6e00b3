"""The loopback HTTPS transport: real MSAL + requests over TLS with the generated CA, faults on a real
socket, the approval page, and ``dex-tui demo-server`` in a subprocess."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import msal
import pytest
import requests

from dex_tui.demo import DemoServer, FakeCloud, load_scenario
from dex_tui.demo.testing import device_code_tokens, refresh_tokens
from dex_tui.http import HttpSession
from dex_tui.scopes import GRAPH_SCOPES
from dex_tui.settings import DEFAULT_CLIENT_ID
from tests.test_secrets_support import sigint_as_default

ROOT = Path(__file__).resolve().parent.parent


def _session(server: DemoServer) -> HttpSession:
    # verify is passed per request by HttpSession, so REQUESTS_CA_BUNDLE cannot override the demo CA.
    return HttpSession(timeout=(2.0, 5.0), verify=server.ca_file)


def test_msal_device_flow_and_graph_over_https() -> None:
    cloud = FakeCloud(load_scenario("ready"))
    with DemoServer(cloud) as server:
        assert re.fullmatch(r"https://127\.0\.0\.1:\d+", server.login_url)
        assert server.graph_url == f"{server.login_url}/graph" and server.mde_url == f"{server.login_url}/mde"
        assert Path(server.ca_file).read_text().startswith("-----BEGIN CERTIFICATE-----")
        session = _session(server)
        app = msal.PublicClientApplication(DEFAULT_CLIENT_ID, authority=f"{server.login_url}/organizations",
                                           http_client=session, instance_discovery=False)
        flow = app.initiate_device_flow(scopes=list(GRAPH_SCOPES))
        assert flow["verification_uri"] == f"{server.login_url}/devicelogin"
        result = app.acquire_token_by_device_flow(flow)
        assert "access_token" in result, result
        headers = {"Authorization": f"Bearer {result['access_token']}"}
        skus = session.get(f"{server.graph_url}/v1.0/subscribedSkus", headers=headers)
        assert skus.status_code == 200
        assert {"skuId", "skuPartNumber", "servicePlans", "prepaidUnits"} <= set(skus.json()["value"][0])
        users = session.get(f"{server.graph_url}/v1.0/users", headers=headers, params={"$top": "200"}).json()
        assert users["@odata.nextLink"].startswith(f"{server.graph_url}/v1.0/users?")
        rest = session.get(users["@odata.nextLink"], headers=headers).json()
        assert len(users["value"]) + len(rest["value"]) == 268
        mde = app.acquire_token_silent(["https://api.securitycenter.microsoft.com/Machine.Read"],
                                       account=app.get_accounts()[0])
        machines = session.get(f"{server.mde_url}/api/machines", params={"$top": "5"},
                               headers={"Authorization": f"Bearer {mde['access_token']}"}).json()
        assert machines["@odata.nextLink"].startswith(f"{server.mde_url}/api/machines?")
        ca_file = server.ca_file
    assert not Path(ca_file).exists()
    with pytest.raises(requests.exceptions.ConnectionError):  # the port is closed once the context exits
        requests.get(f"{server.login_url}/organizations/v2.0/.well-known/openid-configuration", timeout=2)


def test_the_system_trust_store_does_not_trust_the_demo_ca() -> None:
    with DemoServer(FakeCloud(load_scenario("ready"))) as server:
        with pytest.raises(requests.exceptions.SSLError):
            HttpSession().get(f"{server.login_url}/organizations/v2.0/.well-known/openid-configuration")


def test_faults_on_a_real_socket() -> None:
    scenario = load_scenario("ready").with_faults(
        {"endpoint": "graph.organization", "kind": "timeout"},
        {"endpoint": "graph.me", "kind": "reset"},
        {"endpoint": "graph.groupSettings", "kind": "truncated"},
        {"endpoint": "graph.subscribedSkus", "kind": "throttle", "retry_after": 4},
    )
    cloud = FakeCloud(scenario)
    with DemoServer(cloud, hang_seconds=3) as server:
        session = _session(server)
        token = device_code_tokens(session, cloud, login_url=server.login_url)["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        graph = f"{server.graph_url}/v1.0"
        started = time.monotonic()
        with pytest.raises(requests.exceptions.ReadTimeout):
            session.get(f"{graph}/organization", headers=headers, timeout=(2, 0.5))
        assert time.monotonic() - started < 2
        with pytest.raises(requests.exceptions.ConnectionError):
            session.get(f"{graph}/me", headers=headers)
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            session.get(f"{graph}/groupSettings", headers=headers)
        throttled = session.get(f"{graph}/subscribedSkus", headers=headers)
        assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "4"
        for path in ("organization", "me", "groupSettings", "subscribedSkus"):
            assert session.get(f"{graph}/{path}", headers=headers).status_code == 200


def test_approval_page_approves_an_on_demand_code() -> None:
    cloud = FakeCloud(load_scenario("fresh").with_knobs(device_code={"approval": "on_demand"}))
    with DemoServer(cloud) as server:
        session = _session(server)
        root = f"{server.login_url}/organizations/oauth2/v2.0"
        code = session.post(f"{root}/devicecode", data={"client_id": DEFAULT_CLIENT_ID, "scope": "User.Read"}).json()
        form = {"grant_type": "urn:ietf:params:oauth:grant-type:device_code", "client_id": DEFAULT_CLIENT_ID,
                "device_code": code["device_code"]}
        assert session.post(f"{root}/token", data=form).json()["error"] == "authorization_pending"
        page = session.get(code["verification_uri"])
        assert page.status_code == 200 and "Contoso Ltd" in page.text and "fake" in page.text
        wrong = session.post(code["verification_uri"], data={"user_code": "NOPE-0000", "action": "approve"})
        assert "not waiting" in wrong.text
        done = session.post(code["verification_uri"], data={"user_code": code["user_code"], "action": "approve"})
        assert "approved" in done.text
        assert "access_token" in session.post(f"{root}/token", data=form).json()


def test_refresh_for_mde_over_https() -> None:
    cloud = FakeCloud(load_scenario("ready"))
    with DemoServer(cloud) as server:
        session = _session(server)
        tokens = device_code_tokens(session, cloud, ["User.Read"], login_url=server.login_url)
        mde = refresh_tokens(session, cloud, tokens["refresh_token"],
                             ["https://api.securitycenter.microsoft.com/Machine.Read"], login_url=server.login_url)
        assert session.get(f"{server.mde_url}/api/deviceavinfo",
                           headers={"Authorization": f"Bearer {mde['access_token']}"}).status_code == 200


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_demo_server_command_serves_until_ctrl_c() -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    process = subprocess.Popen([sys.executable, "-m", "dex_tui", "demo-server", "--scenario", "ready",
                                "--port", str(port)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, preexec_fn=sigint_as_default)
    try:
        banner = ""
        deadline = time.monotonic() + 20
        while "Serving until Ctrl+C" not in banner and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            banner += line
        urls = dict(re.findall(r"^\s+(login URL|Graph URL|MDE URL|CA file):\s+(\S+)$", banner, re.M))
        assert urls["login URL"] == f"https://127.0.0.1:{port}", banner
        assert urls["Graph URL"] == f"https://127.0.0.1:{port}/graph"
        assert urls["MDE URL"] == f"https://127.0.0.1:{port}/mde"
        assert "DEMO-4821" in banner and "--ca-bundle" in banner

        class Session(requests.Session):  # a plain client: the CA per request, as REQUESTS_CA_BUNDLE is set
            def request(self, method, url, **kwargs):
                kwargs["verify"] = urls["CA file"]
                kwargs.setdefault("timeout", 10)
                return super().request(method, url, **kwargs)

        session = Session()
        app = msal.PublicClientApplication(DEFAULT_CLIENT_ID, authority=f"{urls['login URL']}/organizations",
                                           http_client=session, instance_discovery=False)
        result = app.acquire_token_by_device_flow(app.initiate_device_flow(scopes=["LicenseAssignment.Read.All"]))
        assert "access_token" in result, result
        skus = session.get(f"{urls['Graph URL']}/v1.0/subscribedSkus",
                           headers={"Authorization": f"Bearer {result['access_token']}"})
        assert skus.status_code == 200
        assert "SPE_E5" in {s["skuPartNumber"] for s in skus.json()["value"]}
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130
    assert "stopped" in err and "Traceback" not in err
    assert result["access_token"] not in banner + out + err
    assert not Path(urls["CA file"]).exists()


@pytest.mark.slow
def test_demo_server_command_stops_cleanly_on_sigterm() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    process = subprocess.Popen([sys.executable, "-m", "dex_tui", "demo-server", "--scenario", "no-devices"],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        banner = ""
        while "Serving until Ctrl+C" not in banner:
            line = process.stdout.readline()
            if not line:
                break
            banner += line
        ca_file = re.search(r"CA file:\s+(\S+)", banner).group(1)
        assert Path(ca_file).exists()
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0 and "stopped" in err
    assert not Path(ca_file).exists()


def test_demo_server_command_reports_a_busy_port(capsys: pytest.CaptureFixture[str]) -> None:
    from dex_tui.cli import run

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        code = run(["demo-server", "--scenario", "ready", "--port", str(busy.getsockname()[1])])
    assert code == 4
    assert "cannot listen" in capsys.readouterr().err
    assert run(["demo-server", "--scenario", "no-such-scenario"]) == 4


def test_demo_server_command_stops_on_request(capsys: pytest.CaptureFixture[str]) -> None:
    import argparse
    import threading

    from dex_tui.commands import demo_server
    from dex_tui.settings import Settings

    stop = threading.Event()
    stop.set()
    args = argparse.Namespace(scenario="gcc", port=0, approval="on_demand")
    assert demo_server.run(Settings(), args, stop=stop) == 0
    out = capsys.readouterr().out
    assert "scenario gcc" in out and "/devicelogin" in out and "DEMO-5402" in out
