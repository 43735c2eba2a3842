"""The JavaScript client (clients/js) passes its own tests (`node --test`): its checks before signing
against a fake server, then everything against a real server. This is how CI, which runs pytest,
runs them."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import open_marketplace, server_env
from tests.e2e.servers import ROOT, Server
from tests.factories import Chain

PRICE = 10_000  # 0.01 test USDC
DEPOSIT = 1_000_000  # 1 test USDC
WALLET = 7  # an anvil dev account: anvil itself signs for it, like a browser wallet would


def js_fixtures(chain: Chain, url: str, payer_key: str) -> dict[str, str]:
    """What clients/js/test/client.test.js reads from its environment."""
    return {
        "MICROPAYMENTS_URL": url,
        "RPC_URL": chain.w3.provider.endpoint_uri,  # type: ignore[attr-defined]
        "PAYER_KEY": payer_key,
        "WALLET_ADDRESS": chain.accounts[WALLET].address,
        "RESOURCE_ID": "article-0",
        "PRICE": str(PRICE),
        "TOKEN": chain.usdc.address,
    }


def node_options(node: str) -> str:
    """NODE_OPTIONS giving Node 20 its (experimental) global WebSocket, for watchAccount's test;
    Node >= 22 has it already."""
    probe = (
        'process.stdout.write(String(process.allowedNodeEnvironmentFlags.has("--experimental-websocket")))'
    )
    supported = subprocess.run([node, "-e", probe], capture_output=True, text=True, check=True).stdout
    extra = " --experimental-websocket" if supported == "true" else ""
    return (os.environ.get("NODE_OPTIONS", "") + extra).strip()


def node_binary() -> str:
    node = shutil.which("node")
    assert node, "Node.js >= 20 must be on PATH (scripts/install needs it too)"
    return node


def test_js_client_refuses_to_sign_what_it_did_not_ask_for() -> None:
    """clients/js/test/checks.test.js: a fake server that lies; no chain, no server."""
    result = subprocess.run(
        [node_binary(), "--test", "--test-reporter=spec", "clients/js/test/checks.test.js"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        output = f"{result.stdout}\n{result.stderr}"
        pytest.fail(f"node --test exited with {result.returncode}\n{output}", pytrace=False)


def test_js_client_passes_its_tests_against_a_real_server(chain: Chain, tmp_path: Path) -> None:
    node = node_binary()
    env = server_env(chain, f"sqlite:///{tmp_path / 'micropayments.db'}", str(tmp_path))
    chain.deposit(chain.accounts[WALLET], DEPOSIT)
    market = open_marketplace(chain, env, payers=1, creators=1, price=PRICE, deposit=DEPOSIT)
    payer = market.payers[0]
    # The payer also holds tokens in its own wallet, for a gasless deposit with a permit.
    chain.send(chain.usdc.functions.mint(payer.address, DEPOSIT), chain.owner)
    server = Server(env, tmp_path / "server.log").start()
    try:
        result = subprocess.run(
            [node, "--test", "--test-reporter=spec", "clients/js/test/"],
            cwd=ROOT,
            env={
                **os.environ,
                **js_fixtures(chain, server.url, "0x" + payer.key.hex()),
                "NODE_OPTIONS": node_options(node),
            },
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    finally:
        server.stop()
    if result.returncode != 0:
        pytest.fail(
            f"node --test exited with {result.returncode}\n{result.stdout}\n{result.stderr}\n"
            f"--- server log ---\n{(tmp_path / 'server.log').read_text()}",
            pytrace=False,
        )
    print(result.stdout)
