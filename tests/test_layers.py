"""Imports point one way: api -> services -> {core, store, chain}; store and chain may import
core; core imports nothing of ours (docs: STYLE.md). The Python client (clients/python) and the
server import nothing of each other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[1] / "app"
CLIENT = APP.parent / "clients" / "python"
ALLOWED = {
    "core": {"core"},
    "store": {"core", "store"},
    "chain": {"core", "chain"},
    "services": {"core", "store", "chain", "services", "config"},
    "paywall": {"core", "services", "store", "paywall"},
}


def imports_of(path: Path, package: str = "app") -> list[str]:
    """The modules `path` imports from `package` (`package` itself included)."""
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
    return [name for name in names if name.split(".")[0] == package]


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_a_layer_imports_only_the_layers_below_it(layer: str) -> None:
    wrong = [
        f"{path.relative_to(APP.parent)} imports {name}"
        for path in sorted((APP / layer).rglob("*.py"))
        if "migrations" not in path.parts
        for name in imports_of(path)
        if "." in name and name.split(".")[1] not in ALLOWED[layer]
    ]
    assert wrong == []


def test_the_client_imports_nothing_of_the_server() -> None:
    modules = sorted(CLIENT.rglob("*.py"))
    wrong = [
        f"{path.relative_to(APP.parent)} imports {name}"
        for path in modules
        for name in imports_of(path, "app")
    ]
    assert modules
    assert wrong == []


def test_the_server_imports_nothing_of_its_client() -> None:
    wrong = [
        f"{path.relative_to(APP.parent)} imports {name}"
        for path in sorted(APP.rglob("*.py"))
        for name in imports_of(path, "micropayments_client")
    ]
    assert wrong == []
