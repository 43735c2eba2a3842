"""scripts/dev from a fresh clone: one command installs what is missing, starts a local chain,
deploys, lists the demo creators' articles and serves the API and the demo page; Ctrl-C stops
everything it started.

The clone is a true clean install by default (a new .venv and node_modules, as a developer's
first run: about a minute here with warm pip and npm caches, 1.5 from cold ones).
DEV_TEST_REUSE_INSTALL=1 borrows this checkout's installed packages instead (see
reuse_installed_packages), while the clone still runs its own code.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account

from app.chain.anvil import DEV_KEYS, free_port
from tests.e2e.servers import ROOT

STARTUP_LIMIT = 600  # seconds: a clean clone installs its Python and npm packages first
STOP_LIMIT = 60
REUSE_INSTALL = os.environ.get("DEV_TEST_REUSE_INSTALL") == "1"
# What would point the clone's stack at this checkout or at another chain, server or database.
FOREIGN_VARIABLES = (
    "PYTHONPATH", "VIRTUAL_ENV", "APP_ENV", "RPC_URL", "CHAIN_ID", "HUB_ADDRESS", "DATABASE_URL",
    "DATA_DIR", "DEPLOYMENT_FILE", "OPERATOR_KEY", "HOST", "PUBLIC_URL", "ANVIL_BIN",
)  # fmt: skip
RESOURCES = "{ resources(first: 20) { edges { node { id title price payee token } } } }"


@pytest.mark.timeout(STARTUP_LIMIT + 300)
def test_scripts_dev_runs_the_seeded_product_from_a_fresh_clone_until_ctrl_c(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    clone_working_tree(clone)
    if REUSE_INSTALL:
        reuse_installed_packages(clone)
    status_before = git_status(clone)
    chain_port, http_port = two_free_ports()
    url = f"http://127.0.0.1:{http_port}"
    output = tmp_path / "dev.log"
    with open(output, "wb") as sink:
        process = subprocess.Popen(
            [str(clone / "scripts" / "dev")],
            cwd=clone,
            env=clean_env(CHAIN_PORT=str(chain_port), PORT=str(http_port)),
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as in a terminal: Ctrl-C reaches all of it
        )
    try:
        health = wait_until_healthy(process, url, output)
        deployment = json.loads((clone / ".data" / "deployment.json").read_text())
        assert health["hub"] == deployment["hub"]
        # Installing, compiling and bundling write only ignored files (the lock stays as committed).
        assert git_status(clone) == status_before

        printed = output.read_text()
        for shown in (
            f"{url}/demo",
            f"{url}/graphql",
            f"{url}/health",
            f"http://127.0.0.1:{chain_port}",
            deployment["hub"],
            deployment["tokens"][0],
            DEV_KEYS[1],
            "Ctrl-C stops everything.",
        ):
            assert shown in printed

        demo = httpx.get(f"{url}/demo", follow_redirects=True, timeout=10)
        assert demo.status_code == 200
        assert "text/html" in demo.headers["content-type"]
        assert httpx.get(f"{url}/demo/demo.js", timeout=10).status_code == 200
        graphiql = httpx.get(f"{url}/graphql", headers={"accept": "text/html"}, timeout=10)
        assert graphiql.status_code == 200
        assert "graphiql" in graphiql.text.lower()
        assert "unpkg.com" not in graphiql.text  # its scripts and styles come from the server
        for asset in re.findall(r'(?:src|href)="(/graphiql/[^"]+)"', graphiql.text):
            assert httpx.get(f"{url}{asset}", timeout=10).status_code == 200, asset

        articles = [edge["node"] for edge in graphql(url, RESOURCES)["resources"]["edges"]]
        ada, ben = (Account.from_key(DEV_KEYS[i]).address for i in (7, 8))
        assert len(articles) == 6
        assert {a["payee"] for a in articles} == {ada, ben}
        assert all(a["title"].startswith("Ada") for a in articles if a["payee"] == ada)
        assert all(a["title"].startswith("Ben") for a in articles if a["payee"] == ben)
        assert all(10_000 <= int(a["price"]) <= 50_000 for a in articles)  # 0.01-0.05 USDC
        assert {a["token"] for a in articles} == {deployment["tokens"][0]}

        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C in the terminal
        assert process.wait(timeout=STOP_LIMIT) == 0, tail(output)
        assert not group_alive(process.pid), "scripts/dev left processes running"
        assert not listening(chain_port)
        assert not listening(http_port)
    finally:
        if group_alive(process.pid):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    shutil.rmtree(clone)  # a clean install is large; dev.log stays


def git_status(clone: Path) -> str:
    git = shutil.which("git")
    assert git is not None
    return subprocess.run(
        [git, "status", "--porcelain"], cwd=clone, check=True, capture_output=True
    ).stdout.decode()


def clone_working_tree(destination: Path) -> None:
    """A fresh clone of HEAD, with this working tree's uncommitted changes on top (edited files,
    and new ones that are not ignored): the code the next commit holds, with none of the
    installed or generated files. In CI the working tree is HEAD, and this is a plain clone."""
    git = shutil.which("git")
    assert git is not None, "git is needed to clone the repository"
    subprocess.run([git, "clone", "--quiet", str(ROOT), str(destination)], check=True)
    listed = subprocess.run(
        [git, "ls-files", "-z", "--modified", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source, target = ROOT / name, destination / name
        if source.exists() or source.is_symlink():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target, follow_symlinks=False)
        else:  # deleted in the working tree
            target.unlink(missing_ok=True)


def reuse_installed_packages(clone: Path) -> None:
    """Lends the clone this checkout's installed packages, while the clone runs its own code.
    The clone gets its own .venv, which sees this checkout's site-packages through a path line
    in a .pth file: that puts the packages on sys.path without running their .pth hooks, among
    them this checkout's editable install of app/, so `app` is found only in the clone. Without
    this checkout's install stamp, scripts/install runs pip, which finds every requirement
    satisfied and installs only the clone itself. node_modules is a symlink: scripts/install
    leaves it alone when its stamp is current."""
    parent_python = ROOT / ".venv" / "bin" / "python"
    subprocess.run([str(parent_python), "-m", "venv", "--without-pip", str(clone / ".venv")], check=True)
    (Path(site_packages(clone / ".venv" / "bin" / "python")) / "parent-packages.pth").write_text(
        site_packages(parent_python) + "\n"
    )
    stamp = ROOT / ".venv" / ".installed"  # scripts/install's record of what it installed
    if stamp.is_file():
        shutil.copy2(stamp, clone / ".venv" / ".installed")
    (clone / "node_modules").symlink_to(ROOT / "node_modules", target_is_directory=True)
    imported = subprocess.run(
        [str(clone / ".venv" / "bin" / "python"), "-c", "import app; print(app.__file__)"],
        cwd=clone,
        env=clean_env(),
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert Path(imported).is_relative_to(clone), f"the clone would run {imported}"


def site_packages(python: Path) -> str:
    return subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without what points at this checkout or configures the app."""
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN_VARIABLES}
    env["PATH"] = os.pathsep.join(
        entry for entry in env.get("PATH", "").split(os.pathsep) if not entry.startswith(str(ROOT))
    )
    return {**env, **extra}


def two_free_ports() -> tuple[int, int]:
    first = free_port()
    second = free_port()
    while second == first:
        second = free_port()
    return first, second


def wait_until_healthy(process: subprocess.Popen[bytes], url: str, output: Path) -> dict[str, Any]:
    deadline = time.monotonic() + STARTUP_LIMIT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"scripts/dev exited with {process.returncode}:\n{tail(output)}")
        try:
            response = httpx.get(f"{url}/health", timeout=2)
            if response.status_code == 200:
                health: dict[str, Any] = response.json()
                return health
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"scripts/dev not healthy at {url} within {STARTUP_LIMIT} s:\n{tail(output)}")


def graphql(url: str, query: str) -> dict[str, Any]:
    response = httpx.post(f"{url}/graphql", json={"query": query}, timeout=10)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def tail(path: Path, lines: int = 60) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
