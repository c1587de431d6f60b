"""The layering is a rule, checked: services/ is shared by everyone and imports none of them; the three
services never import each other; no product package imports the tests."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("services", "router", "mirror", "web", "codeswarm")
SERVICES = ("router", "mirror", "web")


def top_level_imports(path: Path) -> set[str]:
    """The first dotted part of every module path imports, absolute imports only."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def package_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def forbidden_for(package: str) -> set[str]:
    if package == "services":
        return {"router", "mirror", "web", "codeswarm", "tests", "bench"}
    if package in SERVICES:
        return {other for other in SERVICES if other != package} | {"tests", "bench"}
    return {"tests", "bench"}


@pytest.mark.parametrize("package", PRODUCT)
def test_imports_follow_the_layering(package: str) -> None:
    files = package_files(package)
    assert files, f"no Python files under {package}/"
    broken = {
        str(path.relative_to(ROOT)): sorted(top_level_imports(path) & forbidden_for(package))
        for path in files
        if top_level_imports(path) & forbidden_for(package)
    }
    assert broken == {}, f"{package}/ may not import {sorted(forbidden_for(package))}: {broken}"


def test_the_checker_sees_a_broken_rule(tmp_path: Path) -> None:
    module = tmp_path / "bad.py"
    module.write_text("import os\nfrom router.app import create_app\nfrom . import sibling\nimport tests.support\n")
    assert top_level_imports(module) == {"os", "router", "tests"}
