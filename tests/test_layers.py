"""Imports point one way: api -> services -> {core, store, chain}; store and chain may import
core; core imports nothing of ours (docs: STYLE.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[1] / "app"
ALLOWED = {
    "core": {"core"},
    "store": {"core", "store"},
    "chain": {"core", "chain"},
    "services": {"core", "store", "chain", "services", "config"},
    "paywall": {"core", "services", "store", "paywall"},
}


def imports_of(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
    return [name for name in names if name.startswith("app.")]


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_a_layer_imports_only_the_layers_below_it(layer: str) -> None:
    wrong = [
        f"{path.relative_to(APP.parent)} imports {name}"
        for path in sorted((APP / layer).rglob("*.py"))
        if "migrations" not in path.parts
        for name in imports_of(path)
        if name.split(".")[1] not in ALLOWED[layer]
    ]
    assert wrong == []
