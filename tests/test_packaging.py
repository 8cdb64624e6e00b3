"""The package declares what it uses: every third-party package that dex_tui or screens imports is a
dependency in pyproject.toml, and the licence it names ships with it."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _imported_top_levels(*packages: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for package in packages:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in ("__future__", "dex_tui", "screens"):
                        found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def _declared() -> set[str]:
    return {re.split(r"[<>=!~;\[ ]", spec, maxsplit=1)[0].lower().replace("_", "-")
            for spec in PROJECT["dependencies"]}


def test_every_imported_package_is_a_declared_dependency() -> None:
    distributions = packages_distributions()
    declared = _declared()
    missing = {}
    for module, where in _imported_top_levels("dex_tui", "screens").items():
        names = {d.lower().replace("_", "-") for d in distributions.get(module, [module])}
        if not names & declared:
            missing[module] = sorted(where)
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"


def test_the_scan_sees_imports_of_the_ui() -> None:
    """The scan itself finds what screens/ imports (so the test above can fail)."""
    assert {"textual", "rich"} <= set(_imported_top_levels("screens"))


def test_the_licence_is_shipped_with_its_text() -> None:
    assert PROJECT["license"] == "MIT" and PROJECT["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and "Permission is hereby granted" in text
    assert PROJECT["classifiers"] and PROJECT["urls"]
