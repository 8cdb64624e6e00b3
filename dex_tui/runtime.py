"""The runtime of one run: the HTTP session, the fake cloud in demo mode, the cloud, the token cache and
the authenticator, and the two token getters everything else uses.

Building a :class:`Runtime` does no network I/O, so the UI thread may build it. The methods that may
touch the network (:meth:`Runtime.resolve_cloud`, :meth:`Runtime.authenticator`,
:meth:`Runtime.graph_token`, :meth:`Runtime.mde_token`) must run in a worker thread.

How a Graph or Defender for Endpoint client uses it::

    response = runtime.session.get(f"{runtime.endpoints().graph_url}/v1.0/me",
                                   headers={"Authorization": f"Bearer {runtime.graph_token()}"})
    if response.status_code == 401:      # the token was revoked or expired at the server
        token = runtime.graph_token(force_refresh=True)   # once, then retry

Both getters are silent after sign-in (cache hit or refresh token) and raise a typed
:class:`~dex_tui.errors.SignInError` when someone has to sign in again.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import requests

from dex_tui.auth import Authenticator, SignedIn, classify_flow_error
from dex_tui.clouds import Cloud, detect_cloud, get_cloud
from dex_tui.errors import CannotEvaluate, NetworkError
from dex_tui.http import build_session
from dex_tui.records import dataclass
from dex_tui.safety import clean_text, endpoint_hosts
from dex_tui.scopes import mde_scopes
from dex_tui.settings import Endpoints, Settings
from dex_tui.signin_errors import network_error
from dex_tui.token_cache import CacheNotice, TokenCacheStore, default_cache_path

if TYPE_CHECKING:
    from dex_tui.demo import FakeCloud
    from dex_tui.demo_controls import DemoControls

DETECTION_HINT = ("Microsoft does not document these metadata fields, so the detected cloud is a hint; "
                  "pass --cloud to state it.")
WIZARD_CLOUD_HINT = ("Microsoft does not document these metadata fields, so the detected cloud is a hint; "
                     "choose the cloud on the Welcome step to state it.")


@dataclass(frozen=True)
class CloudChoice:
    """The cloud a run uses and how it was chosen.

    ``source`` is ``"option"`` (``--cloud`` or config), ``"detected"`` (the tenant's OpenID metadata:
    a hint, see ``note``) or ``"assumed"`` (commercial, because nothing could be detected).
    """

    cloud: Cloud
    source: str
    note: str

    @property
    def is_hint(self) -> bool:
        return self.source != "option"


class Runtime:
    """One run's shared pieces. See the module docstring for the threading rule.

    ``session``, ``fake_cloud`` and ``cache_store`` may be injected (tests); otherwise the session is
    built from the settings, demo mode creates the fake cloud for ``settings.demo`` and mounts it on
    the session, and the token cache follows ``settings.token_cache`` (always memory in demo mode).
    """

    def __init__(self, settings: Settings, *, session: requests.Session | None = None,
                 fake_cloud: FakeCloud | None = None, cache_store: TokenCacheStore | None = None,
                 environ: Mapping[str, str] | None = None, cloud_hint: str = DETECTION_HINT) -> None:
        """``cloud_hint`` ends the note of a detected or assumed cloud: how this front end lets the
        operator state the cloud (``--cloud`` by default; the wizard's Welcome step has a field)."""
        self.settings = settings
        self.cloud_hint = cloud_hint
        self.session: requests.Session = session if session is not None else build_session(settings.ca_bundle)
        if fake_cloud is None and settings.is_demo:
            from dex_tui.demo import FakeCloud, load_scenario

            fake_cloud = FakeCloud(load_scenario(settings.demo or ""))
        self.fake_cloud: FakeCloud | None = fake_cloud
        if fake_cloud is not None:
            from dex_tui.demo import mount_demo

            mount_demo(self.session, fake_cloud)
        if cache_store is None:
            if settings.is_demo or settings.token_cache == "memory":
                cache_store = TokenCacheStore("memory", None)
            else:
                cache_store = TokenCacheStore("keyring", default_cache_path(settings.resolved_state_dir()))
        self.cache_store = cache_store
        self.environ = environ
        self._lock = threading.RLock()
        self._cloud: CloudChoice | None = None
        self._auth: Authenticator | None = None

    @property
    def demo(self) -> DemoControls | None:
        """The typed demo interface to this run's fake tenant (None outside demo mode)."""
        if self.fake_cloud is None:
            return None
        from dex_tui.demo_controls import DemoControls

        return DemoControls(self.fake_cloud)

    # -- cloud and endpoints --

    def resolve_cloud(self) -> CloudChoice:
        """The cloud: ``--cloud`` when given, else detected from the tenant's OpenID metadata (network)."""
        with self._lock:
            if self._cloud is None:
                self._cloud = self._choose_cloud()
            return self._cloud

    def endpoints(self) -> Endpoints:
        """Login, Graph and MDE roots for the resolved cloud (explicit URLs and demo hosts win)."""
        return self.settings.endpoints(self.resolve_cloud().cloud.name)

    def _choose_cloud(self) -> CloudChoice:
        if self.settings.cloud:
            return CloudChoice(get_cloud(self.settings.cloud), "option", "chosen in the settings")
        if not self.settings.tenant:
            return CloudChoice(get_cloud("commercial"), "assumed",
                               "No tenant was given, so the cloud could not be detected before sign-in; "
                               "commercial is assumed until the signed-in tenant's metadata is read.")
        return self._detect(self.settings.tenant) or CloudChoice(
            get_cloud("commercial"), "assumed",
            "The tenant's OpenID metadata gave no cloud hint; commercial is assumed. " + self.cloud_hint)

    def _detect(self, tenant: str) -> CloudChoice | None:
        metadata = self.openid_metadata(tenant)
        name = detect_cloud(metadata)
        if name is None:
            return None
        hints = ", ".join(f"{k}={clean_text(metadata[k], 40)}" for k in ("cloud_instance_name", "tenant_region_sub_scope")
                          if metadata.get(k))
        return CloudChoice(get_cloud(name), "detected",
                           f"Detected from the tenant's OpenID metadata ({hints}). {self.cloud_hint}")

    def openid_metadata(self, tenant: str) -> dict[str, Any]:
        """The tenant's OpenID configuration from the login host (``--login-url`` or the commercial one)."""
        login_url = self.settings.endpoints(self.settings.effective_cloud()).login_url
        url = f"{login_url}/{tenant}/v2.0/.well-known/openid-configuration"
        host = endpoint_hosts(login_url)[0] if endpoint_hosts(login_url) else login_url
        try:
            response = self.session.get(url)
        except requests.RequestException as exc:  # a refused redirect or a too-large reply says so
            raise network_error(exc, host, "reading the tenant's sign-in metadata") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code == 200 and isinstance(body, dict):
            return body
        if isinstance(body, dict) and body.get("error"):
            raise classify_flow_error(body, context="Reading the tenant's sign-in metadata")
        raise NetworkError(f"{host} answered HTTP {response.status_code} for the tenant's sign-in metadata.",
                           next_step="Check --tenant and --login-url, then try again.")

    def _after_sign_in(self, signed: SignedIn) -> None:
        """With no tenant given, read the signed-in tenant's metadata once (GCC shares commercial hosts)."""
        with self._lock:
            choice = self._cloud
        if choice is None or choice.source != "assumed" or not signed.tenant_id or self.settings.tenant:
            return
        try:
            detected = self._detect(signed.tenant_id)
        except CannotEvaluate:
            return
        if detected is not None:
            with self._lock:
                self._cloud = detected

    # -- sign-in and tokens --

    def authenticator(self) -> Authenticator:
        """The run's authenticator (built once; resolving the cloud may do network I/O)."""
        with self._lock:
            if self._auth is None:
                endpoints = self.endpoints()
                self.cache_store.load()
                self._auth = Authenticator(
                    client_id=self.settings.client_id, login_url=endpoints.login_url,
                    tenant=self.settings.authority_tenant, session=self.session, store=self.cache_store,
                    extra_link_hosts=endpoint_hosts(endpoints.graph_url, endpoints.mde_url),
                    environ=self.environ, on_signed_in=self._after_sign_in)
            return self._auth

    def graph_token(self, *, force_refresh: bool = False) -> str:
        """A Microsoft Graph access token, silently. Worker thread only."""
        return self.authenticator().graph_token(force_refresh=force_refresh)

    def mde_token(self, *, force_refresh: bool = False) -> str:
        """A Defender for Endpoint API access token (``Machine.Read``), silently. Worker thread only."""
        cloud = self.resolve_cloud().cloud
        if not cloud.mde_resource:
            raise CannotEvaluate(f"The Defender for Endpoint API does not exist in the {cloud.label} cloud.",
                                 title="API not available",
                                 next_step="Device checks cannot run in this cloud.")
        return self.authenticator().token_for(mde_scopes(cloud.mde_resource),
                                              resource="Defender for Endpoint (WindowsDefenderATP)",
                                              force_refresh=force_refresh)

    def cache_notices(self) -> list[CacheNotice]:
        """Notices about the token cache to show once (no keyring, file set aside, ...)."""
        return list(self.cache_store.notices)

    def close(self) -> None:
        self.session.close()
