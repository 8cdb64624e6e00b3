"""Microsoft Entra directory roles by template ID (reference/domain.md §4.10): the IDs the checks and
the sign-in hint compare, and the names shown for them.
"""

from __future__ import annotations

from collections.abc import Iterable

# Directory role template IDs (reference/domain.md §4.10); a built-in role's roleDefinitionId is the same.
GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"
SECURITY_ADMINISTRATOR = "194ae4cb-b126-40b2-bd5b-6091b380977d"
SECURITY_OPERATOR = "5f2222b1-57c3-48ba-8ad5-d4759f1fde6f"
SECURITY_READER = "5d6b6bb7-de71-4623-b4af-96380a352509"
GLOBAL_READER = "f2ef992c-3afb-46b9-b7cf-a126ee74c451"
# The "User" template every member carries in ``wids``; it is not a directory role worth showing.
DEFAULT_USER_ROLE = "b79fbf4d-3ef9-4689-8143-76b194e85509"

# Template ID -> display name: the ``wids`` hint on sign-in, and the roles the fake tenant has.
ROLE_NAMES: dict[str, str] = {
    GLOBAL_ADMINISTRATOR: "Global Administrator",
    SECURITY_ADMINISTRATOR: "Security Administrator",
    SECURITY_OPERATOR: "Security Operator",
    SECURITY_READER: "Security Reader",
    GLOBAL_READER: "Global Reader",
    "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3": "Application Administrator",
    "88d8e3e3-8f55-4a1e-953a-9b9898b8876b": "Directory Readers",
    "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9": "Conditional Access Administrator",
    "e8611ab8-c189-46e8-94e1-60213ab1f814": "Privileged Role Administrator",
    "69091246-20e8-4a56-aa4d-066075b2a7a8": "Teams Administrator",
}


def role_names(template_ids: Iterable[str]) -> tuple[str, ...]:
    """Names of the directory roles among ``template_ids`` (unknown IDs shown as IDs; the "User" role left out)."""
    return tuple(ROLE_NAMES.get(rid, rid) for rid in template_ids if rid != DEFAULT_USER_ROLE)


def may_manage_defender_experts(template_ids: Iterable[str]) -> bool:
    """Security Administrator or Global Administrator among ``template_ids``."""
    return bool({SECURITY_ADMINISTRATOR, GLOBAL_ADMINISTRATOR} & set(template_ids))
