"""Compiled contracts. The runtime ones ship inside the package (app/chain/artifacts/),
so the server never needs Node; test-only ones are read from build/contracts/."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

BUILD_DIR = Path(__file__).resolve().parents[2] / "build" / "contracts"


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str


class ArtifactNotFoundError(Exception):
    """The contract was not compiled: run scripts/compile (or scripts/install)."""


def load(name: str) -> Artifact:
    """Loads a compiled contract by name: packaged artifacts first, then the build directory."""
    packaged = resources.files("app.chain").joinpath("artifacts", f"{name}.json")
    if packaged.is_file():
        data = json.loads(packaged.read_text())
    elif (BUILD_DIR / f"{name}.json").is_file():
        data = json.loads((BUILD_DIR / f"{name}.json").read_text())
    else:
        raise ArtifactNotFoundError(f"no compiled artifact for {name}: run scripts/compile")
    return Artifact(name=name, abi=data["abi"], bytecode=data["bytecode"])
