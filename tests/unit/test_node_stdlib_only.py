"""The node program runs where there is no pip: standard library only, shipped as one zipapp."""

from __future__ import annotations

import ast
import shutil
import sys
import zipfile
from pathlib import Path

import pytest

import services.node
from services.node import zipapp as node_zipapp
from services.node.zipapp import build_zipapp
from tests.support.node_process import Node, hello

PACKAGE = Path(services.node.__file__).resolve().parent


def imported_modules(path: Path, package_dir: Path) -> list[tuple[str, int]]:
    """(absolute module name, line) of every import in a file of the node package at `package_dir`."""
    package = ["services", "node", *path.parent.relative_to(package_dir).parts]
    found: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            found.append((".".join([*base, *([node.module] if node.module else [])]), node.lineno))
    return found


def foreign_imports(package_dir: Path) -> list[str]:
    """Imports that are neither the standard library nor the node package itself."""
    foreign = []
    for path in sorted(package_dir.rglob("*.py")):
        for module, line in imported_modules(path, package_dir):
            top = module.split(".")[0]
            own = module == "services.node" or module.startswith("services.node.")
            if not (own or top in sys.stdlib_module_names or top == "__future__"):
                foreign.append(f"{path.relative_to(package_dir)}:{line} imports {module}")
    return foreign


def test_every_import_is_the_standard_library_or_the_node_package() -> None:
    assert len(list(PACKAGE.rglob("*.py"))) > 10
    assert foreign_imports(PACKAGE) == []


def test_the_import_check_catches_a_foreign_import(tmp_path: Path) -> None:
    (tmp_path / "runtimes").mkdir()
    (tmp_path / "runtimes" / "x.py").write_text(
        "import json, orjson\nfrom services.protocol import EventName\nfrom . import mock\nfrom ..records import X\n"
        "from services import settings\nfrom services.nodes import y\n"
    )
    assert [m for m, _ in imported_modules(tmp_path / "runtimes" / "x.py", tmp_path)] == [
        "json",
        "orjson",
        "services.protocol",
        "services.node.runtimes",
        "services.node.records",
        "services",
        "services.nodes",
    ]
    assert foreign_imports(tmp_path) == [
        "runtimes/x.py:1 imports orjson",
        "runtimes/x.py:2 imports services.protocol",
        "runtimes/x.py:5 imports services",
        "runtimes/x.py:6 imports services.nodes",
    ]


def test_the_archive_holds_only_the_node_package(tmp_path: Path) -> None:
    names = zipfile.ZipFile(build_zipapp(tmp_path)).namelist()
    assert "__main__.py" in names and "services/__init__.py" in names and "services/node/__main__.py" in names
    assert [n for n in names if not (n.startswith("services/node/") or n in ("__main__.py", "services/"))] == [
        "services/__init__.py"
    ]
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_building_again_returns_the_same_file_without_rewriting_it(tmp_path: Path) -> None:
    first = build_zipapp(tmp_path)
    assert first.name.startswith("codeswarm-node-") and first.suffix == ".pyz" and len(first.stem) == 15 + 16
    before = first.stat()
    second = build_zipapp(tmp_path)
    assert second == first
    after = second.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert [p.name for p in tmp_path.iterdir()] == [first.name]  # no partial files left behind


def test_a_changed_source_gives_a_new_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "node"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(node_zipapp, "PACKAGE_DIR", copy)
    original = build_zipapp(tmp_path / "bin")
    with (copy / "records.py").open("a") as handle:
        handle.write("# changed\n")
    changed = build_zipapp(tmp_path / "bin")
    assert changed != original and original.exists() and changed.exists()


def test_the_zipapp_runs_isolated_without_site_packages(tmp_path: Path) -> None:
    pyz = build_zipapp(tmp_path / "bin")
    node = Node(pyz, tmp_path / "base").start(python_flags=("-I", "-S"))
    try:
        hello(node)
        injection_id = node.inject("$ echo ok")
        node.wait_turn_completed(injection_id)
        outputs = [m["params"]["delta"] for m in node.runtime_messages() if "outputDelta" in m["method"]]
        assert "".join(outputs) == "ok\n"
        assert node.terminate() == 0
        assert node.records()[-1]["payload"] == {"code": 0, "reason": "terminated by signal SIGTERM"}
    finally:
        node.kill()
