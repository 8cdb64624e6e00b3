"""Unattended runs (``dex-tui check --client-certificate``): an application signs in with a certificate
through MSAL's confidential client against the fake cloud, which verifies the assertion against the
certificate registered in the scenario. Throwaway certificates are made here with ``cryptography``."""

from __future__ import annotations

import base64
import datetime
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from dex_tui import engine
from dex_tui.app_signin import (
    ENV_CERTIFICATE,
    ENV_PASSPHRASE,
    CertificateError,
    load_client_certificate,
    person_checks,
)
from dex_tui.cli import run
from dex_tui.demo import FakeCloud, load_scenario
from dex_tui.demo.assertion import AssertionRefused, verify_assertion
from dex_tui.demo.testing import demo_session

CLIENT_ID = "3f0c9e4a-1b2d-4c5e-8f70-9a1b2c3d4e5f"
TENANT = "8c1f4b2e-6a3d-4e5f-9b70-2d4c6e8a0f13"
ALL_PERMISSIONS = ["Organization.Read.All", "LicenseAssignment.Read.All", "User.Read.All", "Policy.Read.All",
                   "CrossTenantInformation.ReadBasic.All", "Machine.Read.All"]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (ENV_CERTIFICATE, ENV_PASSPHRASE, "DEX_TUI_CLIENT_CERTIFICATE_THUMBPRINT", "DEX_TUI_CLIENT_ID",
                 "DEX_TUI_TENANT"):
        monkeypatch.delenv(name, raising=False)
    original = engine.client_for
    monkeypatch.setattr(engine, "client_for", lambda runtime, **kw: original(runtime, sleep=lambda s: None, **kw))


@dataclass
class Cert:
    key: Any
    key_pem: str
    cert_pem: str
    sha1: str


def make_cert(*, days: int = 30, start_days: int = -1, key: Any = None) -> Cert:
    key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dex-tui nightly")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now + datetime.timedelta(days=start_days))
            .not_valid_after(now + datetime.timedelta(days=days)).sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return Cert(key, key_pem, cert.public_bytes(serialization.Encoding.PEM).decode(),
                cert.fingerprint(hashes.SHA1()).hex().upper())


@pytest.fixture(scope="module")
def registered() -> Cert:
    return make_cert()


def scenario_file(tmp_path: Path, *certs: Cert, permissions: list[str] = ALL_PERMISSIONS) -> Path:
    pems = ", ".join(f"'''{c.cert_pem}'''" for c in certs)
    path = tmp_path / "app.toml"
    path.write_text(f'[scenario]\nname = "app-cert"\nsummary = "ready, with an app"\nextends = "ready"\n\n'
                    f'[[applications]]\nclient_id = "{CLIENT_ID}"\ndisplay_name = "dex-tui nightly"\n'
                    f"certificates = [{pems}]\npermissions = {json.dumps(permissions)}\n", encoding="utf-8")
    return path


def pem_file(tmp_path: Path, text: str, name: str = "app.pem") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


def check(capsys: pytest.CaptureFixture[str], scenario: Path, *args: str) -> tuple[int, Any, str]:
    code = run(["--demo", str(scenario), "--client-id", CLIENT_ID, "check", "--format", "json", *args])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


def _key_fragments(cert: Cert) -> list[str]:
    """Lines of the private key's base64 body: none may appear anywhere but in the PEM file."""
    return [line for line in cert.key_pem.splitlines() if line and not line.startswith("-----")][1:4]


# ------------------------------------------------------------------------------------ end to end


def test_an_application_signs_in_with_its_certificate(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                      registered: Cert) -> None:
    scenario = scenario_file(tmp_path, registered)
    pem = pem_file(tmp_path, registered.key_pem + registered.cert_pem)
    code, report, err = check(capsys, scenario, "--client-certificate", str(pem))
    statuses = {c["id"]: c for c in report["checks"]}
    assert code == 1  # the unconfirmed portal steps warn, as in a person's run
    assert statuses["operator.roles"]["status"] == "skipped"
    assert "needs a signed-in person" in statuses["operator.roles"]["summary"]
    assert statuses["license.mde_p2"]["status"] == "pass" and statuses["devices.av_mode"]["status"] == "pass"
    assert statuses["access.service_provider"]["status"] == "pass"
    assert report["operator"]["kind"] == "application" and report["operator"]["client_id"] == CLIENT_ID
    assert report["operator"]["certificate_thumbprint"] == registered.sha1
    assert not any(r["name"] in ("me", "member_of") for r in report["reads"])  # no /me read is made
    assert f"certificate {registered.sha1}" in err
    everything = json.dumps(report) + err
    assert "PRIVATE KEY" not in everything
    assert not any(fragment in everything for fragment in _key_fragments(registered))


def test_the_private_key_is_never_copied_to_a_file(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                   registered: Cert) -> None:
    scenario = scenario_file(tmp_path, registered)
    pem = pem_file(tmp_path, registered.key_pem + registered.cert_pem)
    state = tmp_path / "state"
    state.mkdir()
    out = tmp_path / "report.html"
    code = run(["--demo", str(scenario), "--client-id", CLIENT_ID, "--state-dir", str(state), "check",
                "--client-certificate", str(pem), "--output", str(out)])
    capsys.readouterr()
    assert code == 1
    fragments = _key_fragments(registered)
    for path in tmp_path.rglob("*"):
        if path.is_file() and path != pem and path.name != "app.toml":
            text = path.read_bytes().decode("utf-8", "replace")
            assert "PRIVATE KEY" not in text and not any(f in text for f in fragments), path


def test_a_key_only_pem_with_its_thumbprint_signs_rs256(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                        registered: Cert) -> None:
    scenario = scenario_file(tmp_path, registered)
    pem = pem_file(tmp_path, registered.key_pem)
    code, report, _ = check(capsys, scenario, "--client-certificate", str(pem), "--certificate-thumbprint",
                            ":".join(registered.sha1[i:i + 2] for i in range(0, 40, 2)).lower())
    assert code == 1 and report["operator"]["certificate_thumbprint"] == registered.sha1


def test_the_certificate_comes_from_the_environment(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                    registered: Cert, monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = scenario_file(tmp_path, registered)
    key = registered.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.BestAvailableEncryption(b"correct horse"))
    pem = pem_file(tmp_path, key.decode() + registered.cert_pem)
    monkeypatch.setenv(ENV_CERTIFICATE, str(pem))
    code, report, err = check(capsys, scenario)
    assert code == 3 and ENV_PASSPHRASE in err and "Traceback" not in err
    monkeypatch.setenv(ENV_PASSPHRASE, "correct horse")
    code, report, err = check(capsys, scenario)
    assert code == 1 and report["operator"]["kind"] == "application"
    assert "correct horse" not in err + json.dumps(report)


def test_a_wrong_certificate_is_refused_by_the_identity_provider(capsys: pytest.CaptureFixture[str],
                                                                 tmp_path: Path, registered: Cert) -> None:
    scenario = scenario_file(tmp_path, registered)
    other = make_cert()
    pem = pem_file(tmp_path, other.key_pem + other.cert_pem)
    code, report, err = check(capsys, scenario, "--client-certificate", str(pem))
    assert code == 3 and report is None
    line = err.strip().splitlines()[-1]
    assert line.startswith("dex-tui: Certificate refused: ") and "AADSTS700027" in line
    assert other.sha1 in line and "Traceback" not in err


def test_a_missing_application_permission_makes_those_checks_unknown(capsys: pytest.CaptureFixture[str],
                                                                     tmp_path: Path, registered: Cert) -> None:
    scenario = scenario_file(tmp_path, registered, permissions=[p for p in ALL_PERMISSIONS if p != "Machine.Read.All"])
    pem = pem_file(tmp_path, registered.key_pem + registered.cert_pem)
    code, report, _ = check(capsys, scenario, "--client-certificate", str(pem))
    statuses = {c["id"]: c["status"] for c in report["checks"]}
    assert statuses["devices.onboarded"] == "unknown" and statuses["devices.av_mode"] == "unknown"
    assert code == 3  # devices.onboarded is a blocker that cannot be read


@pytest.mark.parametrize("case", ["missing", "garbage", "key_only", "mismatch", "thumbprint", "expired",
                                  "not_yet", "ec", "directory", "huge"])
def test_a_bad_certificate_file_is_a_clear_error(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                 registered: Cert, case: str) -> None:
    scenario = scenario_file(tmp_path, registered)
    other = make_cert()
    def pair(c: Cert) -> str:
        return c.key_pem + c.cert_pem

    def huge() -> Path:
        path = tmp_path / "huge.pem"
        with path.open("wb") as out:
            out.truncate(2 * 1024 * 1024)
        return path

    files = {
        "missing": lambda: tmp_path / "none.pem",
        "garbage": lambda: pem_file(tmp_path, "not a pem\n"),
        "key_only": lambda: pem_file(tmp_path, registered.key_pem),
        "mismatch": lambda: pem_file(tmp_path, registered.key_pem + other.cert_pem),
        "thumbprint": lambda: pem_file(tmp_path, pair(registered)),
        "expired": lambda: pem_file(tmp_path, pair(make_cert(days=-1, start_days=-10))),
        "not_yet": lambda: pem_file(tmp_path, pair(make_cert(days=10, start_days=2))),
        "ec": lambda: pem_file(tmp_path, pair(make_cert(key=ec.generate_private_key(ec.SECP256R1())))),
        "directory": lambda: tmp_path,
        "huge": huge,
    }
    extra = ["--certificate-thumbprint", other.sha1] if case == "thumbprint" else []
    code, report, err = check(capsys, scenario, "--client-certificate", str(files[case]()), *extra)
    expected = {"missing": "does not exist", "garbage": "no private key", "key_only": "holds no certificate",
                "mismatch": "does not belong to its private key", "thumbprint": "is not that of the certificate",
                "expired": "expired on", "not_yet": "not valid before", "ec": "not an RSA key",
                "directory": "not a regular file", "huge": "larger than 1 MB"}[case]
    assert code == 3 and report is None
    line = err.strip().splitlines()[-1]
    assert line.startswith("dex-tui: Client certificate not usable: ") and expected in line, err
    assert "Traceback" not in err and "To sign in" not in err  # refused before any sign-in


def test_an_application_run_needs_its_own_client_id(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                    registered: Cert) -> None:
    pem = pem_file(tmp_path, registered.key_pem + registered.cert_pem)
    code = run(["--demo", "check", "--client-certificate", str(pem)])
    _, err = capsys.readouterr()
    assert code == 4 and "--client-id" in err


def test_person_checks_are_those_reading_me() -> None:
    assert person_checks() == ("operator.roles",)


def test_the_certificate_object_keeps_the_key_out_of_its_repr(tmp_path: Path, registered: Cert) -> None:
    loaded = load_client_certificate(pem_file(tmp_path, registered.key_pem + registered.cert_pem))
    assert "PRIVATE" not in repr(loaded) and "_key" not in repr(loaded) and registered.sha1 in repr(loaded)
    with pytest.raises(CertificateError):
        load_client_certificate(pem_file(tmp_path, registered.key_pem), thumbprint="XYZ")


# ------------------------------------------------------------------------------------ the fake cloud


ENDPOINT = f"https://login.demo.test/{TENANT}/oauth2/v2.0/token"


def _assertion(cert: Cert, *, alg: str = "PS256", **claims: Any) -> str:
    now = int(time.time())
    body = {"aud": ENDPOINT, "iss": CLIENT_ID, "sub": CLIENT_ID, "exp": now + 600, "iat": now, "jti": "x", **claims}
    digest = bytes.fromhex(cert.sha1) if alg == "RS256" else x509.load_pem_x509_certificate(
        cert.cert_pem.encode()).fingerprint(hashes.SHA256())
    header = {"x5t" if alg == "RS256" else "x5t#S256": base64.urlsafe_b64encode(digest).rstrip(b"=").decode()}
    return jwt.encode(body, cert.key, algorithm=alg, headers=header)


@pytest.mark.parametrize("alg", ["RS256", "PS256"])
def test_the_fake_verifies_both_signatures_msal_sends(registered: Cert, alg: str) -> None:
    claims = verify_assertion(_assertion(registered, alg=alg), client_id=CLIENT_ID, token_endpoint=ENDPOINT,
                              certificates=(registered.cert_pem,), now=time.time())
    assert claims["iss"] == CLIENT_ID


def test_the_fake_refuses_what_entra_refuses(registered: Cert) -> None:
    def refused(assertion: str) -> AssertionRefused:
        with pytest.raises(AssertionRefused) as caught:
            verify_assertion(assertion, client_id=CLIENT_ID, token_endpoint=ENDPOINT,
                             certificates=(registered.cert_pem,), now=time.time())
        return caught.value

    good = _assertion(registered)
    head, body, sig = good.split(".")
    forged = f"{head}.{base64.urlsafe_b64encode(b'{}').rstrip(b'=').decode()}.{sig}"
    assert refused(forged).code == 700027 and "did not match" in refused(forged).text
    other = make_cert()
    unknown = refused(_assertion(other))
    assert (unknown.code, unknown.error, unknown.status) == (700027, "invalid_client", 401)
    assert "The key was not found" in unknown.text
    assert refused(_assertion(registered, aud="https://elsewhere.test/token")).code == 700023
    assert refused(_assertion(registered, iss="someone-else")).code == 700021
    assert refused(_assertion(registered, exp=int(time.time()) - 3600)).code == 700024
    assert refused("not.a-jwt").code == 50027
    assert refused("x" * 20_000).code == 50027


def test_the_token_endpoint_refuses_an_unknown_app_or_no_assertion(registered: Cert, tmp_path: Path) -> None:
    cloud = FakeCloud(load_scenario(str(scenario_file(tmp_path, registered))))
    session = demo_session(cloud)
    form = {"grant_type": "client_credentials", "client_id": CLIENT_ID, "scope": "https://graph.microsoft.com/.default"}
    reply = session.post(ENDPOINT, data=form)
    assert reply.status_code == 401 and reply.json()["error_codes"] == [7000218]
    reply = session.post(ENDPOINT, data={**form, "client_id": "00000000-0000-4000-8000-000000000000"})
    assert reply.json()["error"] == "unauthorized_client" and reply.json()["error_codes"] == [700016]
    assertion = {"client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                 "client_assertion": _assertion(registered)}
    reply = session.post(ENDPOINT, data={**form, **assertion, "scope": "User.Read"})
    assert reply.json()["error"] == "invalid_scope"
    token = session.post(ENDPOINT, data={**form, **assertion}).json()["access_token"]
    me = session.get("https://graph.demo.test/v1.0/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 400
    assert me.json()["error"]["message"] == "/me request is only valid with delegated authentication flow."
    org = session.get("https://graph.demo.test/v1.0/organization", headers={"Authorization": f"Bearer {token}"})
    assert org.status_code == 200


def test_a_scenario_certificate_must_be_pem(tmp_path: Path) -> None:
    from dex_tui.errors import UsageError

    path = tmp_path / "bad.toml"
    path.write_text(f'[scenario]\nname = "bad"\nsummary = "x"\nextends = "ready"\n\n[[applications]]\n'
                    f'client_id = "{CLIENT_ID}"\ndisplay_name = "x"\ncertificates = ["nope"]\n', encoding="utf-8")
    with pytest.raises(UsageError, match="certificates"):
        load_scenario(str(path))


def test_unreadable_file_is_exit_3(capsys: pytest.CaptureFixture[str], tmp_path: Path, registered: Cert) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads every file")
    scenario = scenario_file(tmp_path, registered)
    pem = pem_file(tmp_path, registered.key_pem + registered.cert_pem)
    pem.chmod(0)
    code, _, err = check(capsys, scenario, "--client-certificate", str(pem))
    assert code == 3 and "cannot be opened" in err


def test_the_ci_flow_compare_a_person_run_with_an_application_run(capsys: pytest.CaptureFixture[str],
                                                                 tmp_path: Path, registered: Cert) -> None:
    """docs/ci.md: the nightly application run compared with an earlier run. The person's run had
    operator.roles pass; the application skips it, which is not a regression (it does not fail CI)."""
    scenario = scenario_file(tmp_path, registered)
    pem = pem_file(tmp_path, registered.key_pem + registered.cert_pem)
    person = tmp_path / "person.json"
    assert run(["--demo", str(scenario), "check", "--output", str(person)]) == 1
    code, report, err = check(capsys, scenario, "--client-certificate", str(pem), "--compare", str(person),
                              "--fail-on-regression")
    roles = next(c for c in report["changes"] if c["id"] == "operator.roles")
    assert roles == {"id": "operator.roles", "change": "unchanged", "before": "pass", "after": "skipped"}
    assert code == 1 and not report["compared_with"]["regressed"] and "Regressed" not in err


def test_an_application_run_over_the_real_transport(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                    registered: Cert) -> None:
    """The loopback HTTPS fake (real TLS, real sockets): the assertion's audience is the token endpoint
    the metadata names, and Graph and MDE take the application's tokens."""
    from dex_tui.demo import DemoServer

    cloud = FakeCloud(load_scenario(str(scenario_file(tmp_path, registered))))
    pem = pem_file(tmp_path, registered.key_pem + registered.cert_pem)
    with DemoServer(cloud) as server:
        code = run(["--tenant", TENANT, "--client-id", CLIENT_ID, "--cloud", "commercial", "--login-url",
                    server.login_url, "--graph-url", server.graph_url, "--mde-url", server.mde_url, "--ca-bundle",
                    server.ca_file, "--token-cache", "memory", "check", "--client-certificate", str(pem),
                    "--format", "json"])
        out, err = capsys.readouterr()
    report = json.loads(out)
    statuses = {c["id"]: c["status"] for c in report["checks"]}
    assert code == 1, err
    assert statuses["operator.roles"] == "skipped" and statuses["devices.onboarded"] == "pass"
    assert statuses["license.entra_p1"] == "pass" and statuses["access.service_provider"] == "pass"
