"""The one direction of imports (ARCHITECTURE.md), checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def _sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", _sources("routing"), ids=lambda p: str(p.relative_to(ROOT)))
def test_routing_imports_no_flask_sqlalchemy_or_wms(path: Path):
    assert not _imports(path) & {"flask", "sqlalchemy", "wms", "api", "scanners", "console"}


def test_only_the_composition_root_imports_the_web_packages():
    offenders = [
        str(path.relative_to(ROOT))
        for path in _sources("wms")
        if path.name != "app.py" and _imports(path) & {"api", "scanners", "console"}
    ]
    assert offenders == []


def test_web_packages_never_import_each_other():
    web = {"api", "scanners", "console"}
    for package in web:
        for path in _sources(package):
            assert not _imports(path) & (web - {package}), path
