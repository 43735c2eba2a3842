"""package-lock.json is complete, so `npm install` on a fresh clone leaves it as committed (and
`npm ci` accepts it): a lock written on one machine without the other platforms' optional
packages (anvil's darwin, arm64, win32 binaries) is rewritten by the first install."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_optional_platform_package_in_the_lock_has_its_own_entry() -> None:
    packages = json.loads((ROOT / "package-lock.json").read_text())["packages"]
    missing = [
        f"{name} (optional dependency of {path})"
        for path, entry in packages.items()
        for name in entry.get("optionalDependencies", {})
        if f"node_modules/{name}" not in packages and f"{path}/node_modules/{name}" not in packages
    ]
    assert missing == [], "run `npm install` on a full lock (no --omit=optional, --os or --cpu)"
