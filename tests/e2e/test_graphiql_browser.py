"""GraphiQL at /graphql works with no internet: in headless Chromium with every other origin cut
off (tests/e2e/browser/graphiql.mjs), its editor comes up and the schema loads."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from tests.e2e.conftest import server_env
from tests.e2e.servers import ROOT, Server
from tests.e2e.test_demo_browser import CHROMIUM, require_chromium
from tests.factories import Chain


def test_graphiql_comes_up_and_loads_the_schema_with_every_other_origin_cut_off(
    chain: Chain, tmp_path: Path
) -> None:
    require_chromium()
    built = subprocess.run([ROOT / "scripts" / "build-demo"], capture_output=True, text=True, check=False)
    assert built.returncode == 0, built.stderr
    node = shutil.which("node")
    assert node is not None, "Node.js is needed (scripts/install says so)"
    env = server_env(chain, f"sqlite:///{tmp_path / 'micropayments.db'}", str(tmp_path))
    server = Server(env, tmp_path / "server.log").start()
    try:
        completed = subprocess.run(
            [node, "tests/e2e/browser/graphiql.mjs"],
            cwd=ROOT,
            env={**os.environ, "GRAPHQL_URL": f"{server.url}/graphql", "CHROMIUM": str(CHROMIUM)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        server.stop()
    lines = completed.stdout.strip().splitlines()
    assert completed.returncode == 0, completed.stderr + completed.stdout
    report = json.loads(lines[-1])
    assert report == {"elsewhere": [], "problems": [], "loading": 0}
