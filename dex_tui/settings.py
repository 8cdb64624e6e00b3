"""Settings shared by every command, resolved from (highest first) the command line, ``DEX_TUI_*``
environment variables, a TOML config file, and defaults; validated once, here.
"""

from __future__ import annotations

import os
import re
import ssl
from dataclasses import field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dex_tui.clouds import CLOUD_NAMES, get_cloud
from dex_tui.errors import UsageError
from dex_tui.localfiles import TooLarge, read_bounded
from dex_tui.records import dataclass
from dex_tui.tomlfile import load_toml
from dex_tui.user_dirs import user_dir

# Microsoft Graph Command Line Tools: a Microsoft first-party public client present in every
# commercial tenant that allows device code and asks for delegated scopes dynamically, so a tenant
# can try dex-tui without registering an app. The README explains how to register your own.
DEFAULT_CLIENT_ID = "14d82eec-204b-4c2f-b7e8-296a70dab67e"
DEFAULT_SCENARIO = "ready"
TOKEN_CACHE_MODES = ("keyring", "memory")

DEMO_LOGIN_URL = "https://login.demo.test"
DEMO_GRAPH_URL = "https://graph.demo.test"
DEMO_MDE_URL = "https://mde.demo.test"

ENV_PREFIX = "DEX_TUI_"
MAX_CA_FILE = 16 * 1024 * 1024  # a system bundle with every public root is about 250 KB
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_DOMAIN = re.compile(r"^(?=.{4,253}$)([a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{2,63}$")
_SCENARIO = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")

# Setting name -> (command-line option, environment variable). The config file uses the name.
SETTING_SOURCES: dict[str, tuple[str, str]] = {
    name: (f"--{name.replace('_', '-')}", f"{ENV_PREFIX}{name.upper()}")
    for name in ("tenant", "client_id", "cloud", "login_url", "graph_url", "mde_url", "ca_bundle",
                 "token_cache", "demo", "state_dir")
}


@dataclass(frozen=True)
class Endpoints:
    """The three service roots a run talks to (no trailing slash)."""

    login_url: str
    graph_url: str
    mde_url: str


@dataclass(frozen=True)
class Settings:
    """Validated settings of one run."""

    tenant: str | None = None
    client_id: str = DEFAULT_CLIENT_ID
    cloud: str | None = None
    login_url: str | None = None
    graph_url: str | None = None
    mde_url: str | None = None
    ca_bundle: Path | None = None
    token_cache: str = "keyring"
    demo: str | None = None
    state_dir: Path | None = None
    config_file: Path | None = None
    sources: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def is_demo(self) -> bool:
        return self.demo is not None

    @property
    def authority_tenant(self) -> str:
        """The tenant segment of the authority URL: the tenant, or ``organizations``."""
        return self.tenant or "organizations"

    def effective_cloud(self) -> str:
        """The cloud to use for host defaults before detection ran: the chosen one, or commercial."""
        return self.cloud or "commercial"

    def endpoints(self, cloud: str | None = None) -> Endpoints:
        """Service roots: explicit URLs first, then the demo hosts or the cloud table."""
        if self.is_demo:
            base = Endpoints(DEMO_LOGIN_URL, DEMO_GRAPH_URL, DEMO_MDE_URL)
        else:
            table = get_cloud(cloud or self.effective_cloud())
            base = Endpoints(table.login_url, table.graph_url, table.mde_url)
        return Endpoints(
            login_url=(self.login_url or base.login_url).rstrip("/"),
            graph_url=(self.graph_url or base.graph_url).rstrip("/"),
            mde_url=(self.mde_url or base.mde_url).rstrip("/"),
        )

    def resolved_state_dir(self) -> Path:
        """Where progress, the audit trail and the token cache file live."""
        if self.state_dir:
            return self.state_dir
        return user_dir("state")

    def with_cloud(self, cloud: str) -> Settings:
        return replace(self, cloud=cloud)


def default_config_path() -> Path:
    """The config file looked for when neither ``--config`` nor ``DEX_TUI_CONFIG`` is given."""
    return user_dir("config") / "config.toml"



def is_guid(value: str) -> bool:
    """A GUID in its usual 8-4-4-4-12 hex form (tenant, client, object and role template IDs), any case."""
    return bool(_GUID.match(value))


def _check_tenant(value: str, where: str) -> str:
    value = value.strip()
    if is_guid(value) or _DOMAIN.match(value) or value in ("organizations", "common"):
        return value.lower() if is_guid(value) else value
    raise UsageError(f"{where}: {value!r} is neither a tenant ID (GUID) nor a domain name "
                     "(for example contoso.onmicrosoft.com).")


def _check_url(value: str, where: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme != "https" or not parts.hostname:
        raise UsageError(f"{where}: {value!r} is not an https:// URL; TLS is required for every endpoint.")
    if parts.query or parts.fragment:
        raise UsageError(f"{where}: {value!r} must be a root URL without a query or fragment.")
    return value.strip().rstrip("/")


def _check_ca_bundle(value: str, where: str) -> Path:
    """A readable PEM file of CA certificates that the TLS library accepts, checked here so a damaged
    one is a usage error at start, not a failure inside the first connection."""
    path = Path(value).expanduser()
    if not path.is_file():
        raise UsageError(f"{where}: the CA file {str(path)!r} does not exist or is not a file.")
    try:
        text = read_bounded(path, MAX_CA_FILE).decode("utf-8", errors="replace")
    except TooLarge as exc:
        raise UsageError(f"{where}: the CA file {str(path)!r} is {exc.strerror}; it is not a CA bundle.") from None
    except OSError as exc:
        raise UsageError(f"{where}: the CA file {str(path)!r} cannot be read ({exc.strerror}).") from exc
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise UsageError(f"{where}: {str(path)!r} holds no PEM certificate (BEGIN CERTIFICATE).")
    try:
        ssl.create_default_context(cadata=text)
    except (ssl.SSLError, ValueError) as exc:
        reason = re.sub(r"^\[\w+\]\s*|\s*\(_ssl\.c:\d+\)", "", str(exc)) or type(exc).__name__
        raise UsageError(f"{where}: {str(path)!r} holds a certificate that cannot be loaded: the PEM text "
                         f"between BEGIN and END CERTIFICATE is damaged (the TLS library says: {reason}).",
                         next_step="Export the CA again in PEM (Base64) format.") from None
    return path.resolve()


def _check_choice(value: str, choices: tuple[str, ...], where: str) -> str:
    value = value.strip().lower()
    if value not in choices:
        raise UsageError(f"{where}: {value!r} is not one of {', '.join(choices)}.")
    return value


def _check_client_id(value: str, where: str) -> str:
    if not is_guid(value.strip()):
        raise UsageError(f"{where}: {value!r} is not an application (client) ID; expected a GUID.")
    return value.strip().lower()


def _check_scenario(value: str, where: str) -> str:
    """A shipped scenario's name, or the path of a scenario file (its content is checked on load)."""
    value = value.strip()
    if _SCENARIO.match(value):
        names = shipped_scenario_names()
        if value not in names:
            raise UsageError(f"{where}: there is no demo scenario called {value!r}; the scenarios are "
                             f"{', '.join(names)} (or give a scenario file, NAME.toml).")
        return value
    if value.endswith(".toml"):
        path = Path(value).expanduser()
        if not path.is_file():
            raise UsageError(f"{where}: the scenario file {value!r} does not exist or is not a file.")
        return str(path.resolve())
    raise UsageError(f"{where}: {value!r} is neither a scenario name (lowercase letters, digits, '-') "
                     "nor a scenario file (.toml).")


def shipped_scenario_names() -> list[str]:
    """The demo scenarios that ship with dex-tui (read from the asset folder, without loading the fake)."""
    from dex_tui.assets import asset_path

    return sorted(p.stem for p in asset_path("scenarios").glob("*.toml") if not p.name.startswith("_"))


def _check_dir(value: str, where: str) -> Path:
    path = Path(value).expanduser()
    if path.exists() and not path.is_dir():
        raise UsageError(f"{where}: {str(path)!r} exists and is not a directory.")
    return path.resolve()


_VALIDATORS = {
    "tenant": _check_tenant,
    "client_id": _check_client_id,
    "cloud": lambda v, w: _check_choice(v, CLOUD_NAMES, w),
    "login_url": _check_url,
    "graph_url": _check_url,
    "mde_url": _check_url,
    "ca_bundle": _check_ca_bundle,
    "token_cache": lambda v, w: _check_choice(v, TOKEN_CACHE_MODES, w),
    "demo": _check_scenario,
    "state_dir": _check_dir,
}


def load_config_file(path: Path) -> dict[str, Any]:
    """Read a TOML config file (at most 1 MiB: ``/dev/zero`` is refused, not read until memory runs
    out); a malformed one is a usage error naming the file and the problem."""
    file = load_toml(path, "config file", not_a="a dex-tui config file")
    raw = file.data
    unknown = sorted(set(raw) - set(SETTING_SOURCES))
    if unknown:
        raise UsageError(f"{file.where(unknown[0])}: unknown setting {unknown[0]!r}; "
                         f"known settings are {', '.join(SETTING_SOURCES)}.")
    for key, value in raw.items():
        if not isinstance(value, str):
            raise UsageError(f"{file.where(key)}: {key} must be a string, not {type(value).__name__}.")
    return raw


def resolve_settings(cli: dict[str, Any], env: dict[str, str] | None = None) -> Settings:
    """Merge command line, environment, config file and defaults, validating every value.

    ``cli`` maps setting names to the values given on the command line (absent or None when not
    given); ``config`` in it names the config file.
    """
    env = dict(os.environ) if env is None else env
    config_value = cli.get("config") or env.get(f"{ENV_PREFIX}CONFIG")
    config_path: Path | None
    if config_value:
        config_path = Path(config_value).expanduser()
        config = load_config_file(config_path)
    else:
        default = default_config_path()
        config = load_config_file(default) if default.is_file() else {}
        config_path = default if config else None

    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name, (option, env_name) in SETTING_SOURCES.items():
        if cli.get(name) is not None:
            raw, where = cli[name], option
        elif env.get(env_name):
            raw, where = env[env_name], f"environment variable {env_name}"
        elif name in config:
            raw, where = config[name], f"config file {str(config_path)!r}: {name}"
        else:
            continue
        if "\x00" in str(raw):
            raise UsageError(f"{where}: the value contains a NUL character, which no {name} can hold.")
        values[name] = _VALIDATORS[name](str(raw), where)
        sources[name] = where
    return Settings(config_file=config_path, sources=sources, **values)

