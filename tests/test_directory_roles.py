"""Each directory role template ID is written once (dex_tui/directory_roles.py); the catalogue's roles and
the fake tenant's roles agree with it, and the IDs are the documented ones (reference/domain.md §4.10)."""

from __future__ import annotations

import copy

import pytest

from dex_tui import directory_roles
from dex_tui.assets import load_toml_asset
from dex_tui.catalogue import catalogue, parse_catalogue
from dex_tui.demo.catalogue import ROLE_TEMPLATES
from dex_tui.errors import InternalError


def test_the_ids_are_the_documented_ones() -> None:
    assert directory_roles.GLOBAL_ADMINISTRATOR == "62e90394-69f5-4237-9190-012177145e10"
    assert directory_roles.SECURITY_ADMINISTRATOR == "194ae4cb-b126-40b2-bd5b-6091b380977d"
    assert directory_roles.SECURITY_OPERATOR == "5f2222b1-57c3-48ba-8ad5-d4759f1fde6f"
    assert directory_roles.SECURITY_READER == "5d6b6bb7-de71-4623-b4af-96380a352509"
    assert directory_roles.GLOBAL_READER == "f2ef992c-3afb-46b9-b7cf-a126ee74c451"
    assert directory_roles.DEFAULT_USER_ROLE not in directory_roles.ROLE_NAMES


def test_the_catalogue_and_the_fake_use_the_same_ids() -> None:
    roles = catalogue().roles
    assert roles["security_reader"].template_id == directory_roles.SECURITY_READER
    assert roles["security_operator"].template_id == directory_roles.SECURITY_OPERATOR
    assert roles["security_administrator"].template_id == directory_roles.SECURITY_ADMINISTRATOR
    assert {v: k for k, v in ROLE_TEMPLATES.items()} == directory_roles.ROLE_NAMES


def test_a_catalogue_role_with_another_roles_id_is_refused() -> None:
    raw = copy.deepcopy(load_toml_asset("catalogue.toml"))
    raw["roles"]["security_operator"]["template_id"] = directory_roles.SECURITY_READER
    with pytest.raises(InternalError, match="roles.security_operator.template_id is not the template ID"):
        parse_catalogue(raw)


def test_role_names_and_who_may_manage() -> None:
    ids = (directory_roles.DEFAULT_USER_ROLE, directory_roles.SECURITY_READER, "0000")
    assert directory_roles.role_names(ids) == ("Security Reader", "0000")
    assert not directory_roles.may_manage_defender_experts(ids)
    assert directory_roles.may_manage_defender_experts([directory_roles.SECURITY_ADMINISTRATOR])
    assert directory_roles.may_manage_defender_experts([directory_roles.GLOBAL_ADMINISTRATOR])
