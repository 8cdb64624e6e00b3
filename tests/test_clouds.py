"""The cloud table matches reference/domain.md §5.3 and drives cloud detection."""

from __future__ import annotations

import pytest

from dex_tui.clouds import CLOUD_NAMES, cloud_table, detect_cloud, get_cloud


def test_every_cloud_is_in_the_table() -> None:
    assert tuple(cloud_table()) == CLOUD_NAMES


@pytest.mark.parametrize(
    ("name", "login", "graph", "mde"),
    [
        ("commercial", "https://login.microsoftonline.com", "https://graph.microsoft.com",
         "https://api.security.microsoft.com"),
        ("gcc", "https://login.microsoftonline.com", "https://graph.microsoft.com",
         "https://api-gcc.securitycenter.microsoft.us"),
        ("gcchigh", "https://login.microsoftonline.us", "https://graph.microsoft.us",
         "https://api-gov.securitycenter.microsoft.us"),
        ("dod", "https://login.microsoftonline.us", "https://dod-graph.microsoft.us",
         "https://api-gov.securitycenter.microsoft.us"),
        ("china", "https://login.partner.microsoftonline.cn", "https://microsoftgraph.chinacloudapi.cn", ""),
    ],
)
def test_hosts(name: str, login: str, graph: str, mde: str) -> None:
    cloud = get_cloud(name)
    assert (cloud.login_url, cloud.graph_url, cloud.mde_url) == (login, graph, mde)


def test_service_availability() -> None:
    assert get_cloud("commercial").offers("xdr") and get_cloud("commercial").offers("hunting")
    assert not get_cloud("gcc").offers("xdr") and get_cloud("gcc").offers("hunting")
    for name in ("gcchigh", "dod", "china"):
        assert not get_cloud(name).offers("xdr") and not get_cloud(name).offers("hunting")


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ({"cloud_instance_name": "microsoftonline.com"}, "commercial"),
        ({"cloud_instance_name": "microsoftonline.com", "tenant_region_sub_scope": "GCC"}, "gcc"),
        ({"cloud_instance_name": "microsoftonline.us", "tenant_region_sub_scope": "DODCON"}, "gcchigh"),
        ({"cloud_instance_name": "microsoftonline.us", "tenant_region_sub_scope": "DOD"}, "dod"),
        ({"cloud_instance_name": "partner.microsoftonline.cn"}, "china"),
        ({}, None),
    ],
)
def test_detect_cloud(metadata: dict, expected: str | None) -> None:
    assert detect_cloud(metadata) == expected
