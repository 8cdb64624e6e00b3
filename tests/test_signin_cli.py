"""``dex-tui signin`` / ``signout``: headless sign-in, silent reuse with a keyring, every failure path's
message and exit code, and no secret on stdout, stderr or in the logs."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import dex_tui.demo
from dex_tui.cli import run
from dex_tui.demo import FakeCloud, load_scenario

ROOT = Path(__file__).resolve().parent.parent
SECRET_MARKERS = ("DAQABAAEAAAD", "1.DEMO.", "eyJ")  # device code, refresh token, JWT prefixes of the fake


def _no_secret_markers(*texts: str) -> None:
    for text in texts:
        for marker in SECRET_MARKERS:
            assert marker not in text


@pytest.fixture
def server() -> Iterator[object]:
    """The fake cloud over loopback HTTPS, for runs that are not in demo mode (so the keyring is used)."""
    from dex_tui.demo import DemoServer

    with DemoServer(FakeCloud(load_scenario("ready"))) as running:
        yield running


def _server_args(server: object, state_dir: Path) -> list[str]:
    return ["--login-url", server.login_url, "--graph-url", server.graph_url,  # type: ignore[attr-defined]
            "--mde-url", server.mde_url, "--ca-bundle", server.ca_file,  # type: ignore[attr-defined]
            "--state-dir", str(state_dir)]


def _demo_with(monkeypatch: pytest.MonkeyPatch, **device_code: object) -> None:
    """Make ``--demo ready`` load the ready scenario with other device code knobs."""
    original = dex_tui.demo.load_scenario
    monkeypatch.setattr(dex_tui.demo, "load_scenario",
                        lambda name: original(name).with_knobs(device_code=device_code))


def test_signin_demo_completes_headless_in_a_subprocess() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SSH_")}
    result = subprocess.run([sys.executable, "-m", "dex_tui", "--demo", "ready", "signin"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Signed in as Megan Bowen <admin@contoso.onmicrosoft.com> (device code)." in result.stdout
    assert "Tenant: " in result.stdout and "Global Administrator" in result.stdout
    assert "enter the code DEMO-4821" in result.stderr
    assert "Traceback" not in result.stderr
    _no_secret_markers(result.stdout, result.stderr)


def test_second_run_reuses_the_cache_silently_with_a_keyring(memory_keyring, state_dir: Path, server,
                                                             capsys, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    args = _server_args(server, state_dir)
    assert run([*args, "signin"]) == 0
    first = capsys.readouterr()
    assert "(device code)" in first.out and "DEMO-4821" in first.err
    assert "encrypted file" in first.err

    assert run([*args, "signin"]) == 0
    second = capsys.readouterr()
    assert "(reused the remembered sign-in)" in second.out
    assert "DEMO-4821" not in second.err and "Megan Bowen" in second.out

    assert run([*args, "signin", "--no-interactive", "--account", "ADMIN@contoso.onmicrosoft.com"]) == 0
    third = capsys.readouterr()
    secrets = server.cloud.issued_secrets()  # type: ignore[attr-defined]
    everything = first.out + first.err + second.out + second.err + third.out + third.err + caplog.text
    assert secrets and not [s[:12] for s in secrets if s in everything]

    # signout takes only the options that mean something for it: a connection option is refused.
    assert run([*args, "signout"]) == 4
    assert "--login-url does not apply to 'dex-tui signout'" in capsys.readouterr().err
    assert run(["--state-dir", str(state_dir), "signout"]) == 0
    out = capsys.readouterr().out
    assert "admin@contoso.onmicrosoft.com" in out and "token cache file" in out and "keyring" in out
    assert memory_keyring.store == {}
    assert run([*args, "signin", "--no-interactive"]) == 3
    assert "Sign-in required" in capsys.readouterr().err


def test_no_interactive_without_a_cache_exits_3(capsys) -> None:
    assert run(["--demo", "ready", "signin", "--no-interactive"]) == 3
    captured = capsys.readouterr()
    assert "Sign-in required" in captured.err and "--no-interactive" in captured.err
    assert "DEMO-4821" not in captured.err and "Traceback" not in captured.err
    assert captured.out == ""


def test_no_keyring_prints_one_notice_and_still_signs_in(state_dir: Path, server, capsys) -> None:
    assert run([*_server_args(server, state_dir), "signin"]) == 0
    captured = capsys.readouterr()
    assert captured.err.count("Sign-in will not be remembered") == 1
    assert "Signed in as" in captured.out
    assert list(state_dir.iterdir()) == []


@pytest.mark.parametrize(("knobs", "title"), [
    ({"approval": "decline"}, "Sign-in declined"),
    ({"approval": "ca_block"}, "Blocked by Conditional Access"),
    ({"approval": "expire"}, "The sign-in code expired"),
])
def test_failures_exit_3_with_one_clear_line(monkeypatch, capsys, knobs: dict, title: str) -> None:
    _demo_with(monkeypatch, **knobs)
    assert run(["--demo", "ready", "signin"]) == 3
    captured = capsys.readouterr()
    last = captured.err.strip().splitlines()[-1]
    assert last.startswith(f"dex-tui: {title}:")
    assert "Traceback" not in captured.err and captured.out == ""
    _no_secret_markers(captured.err)


def test_expired_codes_are_reissued_up_to_three(monkeypatch, capsys) -> None:
    _demo_with(monkeypatch, approval="expire")
    assert run(["--demo", "ready", "signin"]) == 3
    assert capsys.readouterr().err.count("enter the code DEMO-4821") == 3


def test_on_demand_demo_is_approved_headless(monkeypatch, capsys) -> None:
    _demo_with(monkeypatch, approval="on_demand")
    assert run(["--demo", "ready", "signin"]) == 0
    assert "demo: approving" in capsys.readouterr().err


def test_browser_over_ssh_is_refused_with_the_alternatives(monkeypatch, capsys) -> None:
    monkeypatch.setenv("SSH_CONNECTION", "10.0.0.1 5555 10.0.0.2 22")
    assert run(["--demo", "ready", "signin", "--browser"]) == 3
    err = capsys.readouterr().err
    assert "SSH session" in err and "ssh -L" in err and "Traceback" not in err


@pytest.mark.parametrize("argv", [
    ["signin", "--port", "80", "--browser"],
    ["signin", "--port", "8400"],
    ["signin", "--port", "x"],
])
def test_bad_options_are_usage_errors(capsys, argv: list[str]) -> None:
    assert run(["--demo", "ready", *argv]) == 4
    assert "Traceback" not in capsys.readouterr().err


def test_signout_with_nothing_remembered(memory_keyring, state_dir: Path, capsys) -> None:
    assert run(["--state-dir", str(state_dir), "signout"]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert run(["--state-dir", str(state_dir), "signout", "--account", "someone@contoso.com"]) == 0
    assert "nothing to do" in capsys.readouterr().out


# -- a TLS failure is named as one (issue 13 item 8) ------------------------------------------------------

@pytest.fixture(params=["other-host", "expired"])
def bad_certificate_server(request, tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """An HTTPS server on 127.0.0.1 whose certificate, from a CA we trust, names another host or has
    expired: (its URL, the CA file, which)."""
    import datetime
    import ssl
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from dex_tui.demo.certs import issue_demo_certificates

    if request.param == "other-host":
        files = issue_demo_certificates(tmp_path, ("login.other-host.test",))
    else:
        month_ago = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=30)
        files = issue_demo_certificates(tmp_path, ("127.0.0.1",), now=month_ago)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(files.leaf_chain_file, files.leaf_key_file)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{httpd.server_address[1]}", str(files.ca_file), request.param
    finally:
        httpd.shutdown()
        httpd.server_close()


def _tls_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert run(argv) == 3
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "could not be reached" not in line and "SSLError" not in line, line
    return line


def test_an_untrusted_certificate_is_named_and_points_at_the_ca_bundle(server, state_dir: Path, capsys) -> None:
    common = ["--login-url", server.login_url, "--token-cache", "memory", "--state-dir", str(state_dir)]  # type: ignore[attr-defined]
    for extra in ([], ["--tenant", "contoso.onmicrosoft.com"], ["--cloud", "commercial"]):
        line = _tls_line(capsys, [*common, *extra, "signin"])
        assert line.startswith("dex-tui: Certificate not trusted: The TLS certificate of 127.0.0.1 is not trusted")
        assert "--ca-bundle" in line and "REQUESTS_CA_BUNDLE" in line and "system" in line


def test_a_certificate_for_another_host_or_expired_is_named(bad_certificate_server: tuple[str, str, str],
                                                            state_dir: Path, capsys) -> None:
    url, ca_file, which = bad_certificate_server
    line = _tls_line(capsys, ["--login-url", url, "--ca-bundle", ca_file, "--cloud", "commercial",
                              "--token-cache", "memory", "--state-dir", str(state_dir), "signin"])
    if which == "other-host":
        assert line.startswith("dex-tui: Certificate for another host: 127.0.0.1 presented a TLS certificate "
                               "issued for another host name")
        assert "--login-url" in line and "--ca-bundle" in line
    else:
        assert line.startswith("dex-tui: Certificate expired: The TLS certificate of 127.0.0.1 has expired")
        assert "clock" in line


def test_an_untrusted_graph_certificate_makes_its_checks_unknown_with_the_reason(server, capsys) -> None:
    from dex_tui.demo import DemoServer

    with DemoServer(FakeCloud(load_scenario("ready"))) as other:  # its CA is not given
        argv = ["--login-url", server.login_url, "--ca-bundle", server.ca_file,  # type: ignore[attr-defined]
                "--graph-url", other.graph_url, "--mde-url", server.mde_url,  # type: ignore[attr-defined]
                "--token-cache", "memory", "--cloud", "commercial", "check", "--format", "json"]
        assert run(argv) == 3
    import json

    report = json.loads(capsys.readouterr().out)
    skus = next(r for r in report["reads"] if r["name"] == "subscribed_skus")
    assert "is not trusted" in skus["error"] and "SSLError" not in skus["error"]
    entra = next(c for c in report["checks"] if c["id"] == "license.entra_p1")
    assert entra["status"] == "unknown" and "is not trusted" in entra["summary"]
