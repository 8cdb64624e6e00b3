"""The cloud table (commercial, GCC, GCC High, DoD, China) loaded from ``assets/clouds.toml``."""

from __future__ import annotations

from functools import cache
from typing import Any

from dex_tui.assets import load_toml_asset
from dex_tui.records import dataclass

CLOUD_NAMES = ("commercial", "gcc", "gcchigh", "dod", "china")


@dataclass(frozen=True)
class Cloud:
    """One Microsoft cloud: its hosts and which Defender Experts services it offers."""

    name: str
    label: str
    login_url: str
    graph_url: str
    mde_url: str
    mde_resource: str
    cloud_instance_name: str
    tenant_region_sub_scope: str
    xdr: bool
    hunting: bool
    mdr: bool

    def offers(self, service: str) -> bool:
        """Whether the Defender Experts ``service`` ("xdr", "hunting" or "mdr") is sold in this cloud."""
        return {"xdr": self.xdr, "hunting": self.hunting, "mdr": self.mdr}[service]


@cache
def cloud_table() -> dict[str, Cloud]:
    """Every known cloud by name, in the order of :data:`CLOUD_NAMES`."""
    raw = load_toml_asset("clouds.toml")
    return {name: Cloud(name=name, **raw[name]) for name in CLOUD_NAMES}


def get_cloud(name: str) -> Cloud:
    """The cloud called ``name``; a KeyError for an unknown one (validated earlier by settings)."""
    return cloud_table()[name]


def detect_cloud(openid_config: dict[str, Any]) -> str | None:
    """Guess the cloud from a tenant's OpenID metadata; None when the hints say nothing.

    The fields used (``cloud_instance_name``, ``tenant_region_sub_scope``) are not documented by
    Microsoft (reference/domain.md §4.6), so the result is a hint, and reports say so.
    """
    instance = str(openid_config.get("cloud_instance_name") or "").lower()
    sub_scope = str(openid_config.get("tenant_region_sub_scope") or "").upper()
    for cloud in cloud_table().values():
        if sub_scope and cloud.tenant_region_sub_scope == sub_scope:
            return cloud.name
    if instance == "microsoftonline.com":
        return "commercial"
    if instance == "microsoftonline.us":
        return "gcchigh"
    if instance == "partner.microsoftonline.cn" or instance.endswith("chinacloudapi.cn"):
        return "china"
    return None
