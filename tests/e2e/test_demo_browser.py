"""The browser demo at /demo, driven in headless Chromium (tests/e2e/browser/demo.mjs): a reader
with test stablecoin and no ether is told to deposit before any signature, deposits without gas,
authorises a session key with one signed grant (protocol v2: no transaction) and reads three
articles of two named creators with no wallet prompt, then downloads its dated receipts as CSV;
a creator sees them settle, on a chart too, and withdraws. Another creator, whose sales the
server does not settle, names itself, lists an article, exports its vouchers, claims them with
its own wallet and withdraws. Screenshots go to test-artifacts/demo/."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from starlette.applications import Starlette

from app.api import demo
from app.client import Micropayments
from app.core.types import to_address
from tests.e2e.conftest import server_env, server_services
from tests.e2e.servers import ROOT, Server
from tests.factories import Chain

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = ROOT / "test-artifacts" / "demo"
CENT = 10_000  # base units of a 6-decimal stablecoin

# (creator index in chain.accounts, id, title, description, price)
ARTICLES = [
    (7, "essay-tipping", "The Quiet Economics of Tipping", "Why a cent is worth asking for.", 2 * CENT),
    (7, "essay-batches", "Why Payments Settle in Batches", "One claim, many lanes.", CENT),
    (8, "guide-session-keys", "A Field Guide to Session Keys", "Pay per read, sign once.", 3 * CENT),
]
NAMES = {7: "Ada", 8: "Ben"}  # creator index -> the display name it chose


def hex_key(key: bytes) -> str:
    return "0x" + key.hex().removeprefix("0x")


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = f"no Chromium at {CHROMIUM} (apt-get install chromium, or set CHROMIUM)"
    if os.environ.get("CI") == "true":
        pytest.fail(message + ", and CI must run the browser test")
    pytest.skip(message)


def list_articles(chain: Chain, env: dict[str, str]) -> None:
    """Lists ARTICLES in the server's database under their creators' NAMES, as the creators would
    with saveResource and setDisplayName."""
    with server_services(env) as services:
        token = to_address(chain.usdc.address)
        for creator, resource_id, title, description, price in ARTICLES:
            payee = to_address(chain.accounts[creator].address)
            services.catalog.save(payee, resource_id, token, price, title, description)
        for creator, name in NAMES.items():
            services.profiles.set_display_name(to_address(chain.accounts[creator].address), name)


def walk_the_demo(env: dict[str, str]) -> dict[str, Any]:
    """Runs the browser script; returns what it reports (its last line of output)."""
    node = shutil.which("node")
    assert node is not None, "Node.js is needed (scripts/install says so)"
    completed = subprocess.run(
        [node, "tests/e2e/browser/demo.mjs"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = completed.stdout.strip().splitlines()
    report: dict[str, Any] = json.loads(lines[-1]) if lines else {}
    shots = "".join(f"screenshot: {path}\n" for path in report.get("screenshots", []))
    print(shots, end="")
    assert completed.returncode == 0, completed.stderr + completed.stdout + shots
    return report


def get(path: str) -> httpx.Response:
    """GETs `path` from an app serving only the demo's routes."""

    async def fetch() -> httpx.Response:
        transport = httpx.ASGITransport(app=Starlette(routes=demo.routes()))
        async with httpx.AsyncClient(transport=transport, base_url="http://demo.test") as client:
            return await client.get(path)

    return asyncio.run(fetch())


def test_the_page_is_served_under_a_strict_content_security_policy() -> None:
    assert get("/demo").headers["location"] == "http://demo.test/demo/"
    page = get("/demo/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert get("/demo/demo.css").headers["content-type"].startswith("text/css")
    assert get("/demo/__init__.py").status_code == 404


def test_an_unbuilt_bundle_says_how_to_build_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(demo.FILES, "demo.js", (tmp_path / "demo.js", "text/javascript"))
    missing = get("/demo/demo.js")
    assert missing.status_code == 404
    assert "run scripts/build-demo" in missing.text


def test_the_pages_pure_modules_pass_their_node_tests() -> None:
    """app/api/demo/test/: the receipts' CSV (quoting, formula-safe, a total) and amounts."""
    node = shutil.which("node")
    assert node is not None, "Node.js is needed (scripts/install says so)"
    completed = subprocess.run(
        [node, "--test", "app/api/demo/test/"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_the_page_checks_before_it_asks_the_wallet_against_a_fake_api() -> None:
    """tests/e2e/browser/demo-offline.mjs: no chain, no server; the page's own rules."""
    require_chromium()
    built = subprocess.run([ROOT / "scripts" / "build-demo"], capture_output=True, text=True, check=False)
    assert built.returncode == 0, built.stderr
    shots = SCREENSHOTS.parent / "demo-offline"
    shutil.rmtree(shots, ignore_errors=True)
    node = shutil.which("node")
    assert node is not None, "Node.js is needed (scripts/install says so)"
    completed = subprocess.run(
        [node, "tests/e2e/browser/demo-offline.mjs"],
        cwd=ROOT,
        env={**os.environ, "SCREENSHOT_DIR": str(shots), "CHROMIUM": str(CHROMIUM)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr + completed.stdout
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report["asked"] == {
        "typedData": ["Permit", "SessionGrant", "PayerVoucher"],
        "messages": 1,
        "transactions": 3,
    }
    assert report["problems"] == []


def test_a_reader_pays_per_article_without_prompts_and_a_creator_withdraws(
    chain: Chain, tmp_path: Path
) -> None:
    require_chromium()
    built = subprocess.run([ROOT / "scripts" / "build-demo"], capture_output=True, text=True, check=False)
    assert built.returncode == 0, built.stderr
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)

    env = {
        **server_env(chain, f"sqlite:///{tmp_path / 'micropayments.db'}", str(tmp_path)),
        "SETTLE": "true",
        "SETTLE_MIN_BATCH": "1",
        "SETTLE_MAX_AGE": "0",
        "SETTLE_INTERVAL_MS": "500",
    }
    list_articles(chain, env)
    reader = Account.create()
    chain.send(chain.usdc.functions.mint(reader.address, 100 * 10**6), chain.accounts[1])
    creator = chain.accounts[7]
    wallet_before = chain.usdc.functions.balanceOf(creator.address).call()

    server = Server(env, tmp_path / "server.log").start()
    try:
        report = walk_the_demo(
            {
                "DEMO_URL": server.url,
                "READER_KEY": hex_key(reader.key),
                "CREATOR_KEY": hex_key(creator.key),
                "CREATOR_NAMES": json.dumps(sorted(NAMES.values())),
                "RPC_URL": env["RPC_URL"],
                "SCREENSHOT_DIR": str(SCREENSHOTS),
                "CHROMIUM": str(CHROMIUM),
            }
        )
    finally:
        server.stop()

    # The reader's wallet signed the sign-in, the permit and the session key's grant: nothing
    # per article, nothing before it had deposited, and it never sent a transaction (no ether).
    assert report["reader"]["signed"] == {
        "typedData": ["Permit", "SessionGrant"],
        "messages": 1,
        "transactions": 0,
    }
    assert len(report["reader"]["read"]) == 3
    assert chain.w3.eth.get_balance(reader.address) == 0
    # The creator saw its two sales settle and withdrew them with one transaction of its own.
    creator_sales = sum(price for index, *_, price in ARTICLES if index == 7)
    assert report["creator"]["sales"] == 2
    assert report["creator"]["withdrawn"] == "0.03 USDC"
    assert report["creator"]["signed"] == {"typedData": [], "messages": 1, "transactions": 1}
    assert chain.usdc.functions.balanceOf(creator.address).call() - wallet_before == creator_sales
    assert report["problems"] == []


def test_a_reader_revokes_its_key_and_withdraws_after_the_delay(chain: Chain, tmp_path: Path) -> None:
    require_chromium()
    built = subprocess.run([ROOT / "scripts" / "build-demo"], capture_output=True, text=True, check=False)
    assert built.returncode == 0, built.stderr
    env = server_env(chain, f"sqlite:///{tmp_path / 'micropayments.db'}", str(tmp_path))
    shutil.rmtree(SCREENSHOTS / "leaving", ignore_errors=True)
    leaver = chain.accounts[9]  # has ether: revoking and withdrawing are its own transactions
    in_wallet = chain.usdc.functions.balanceOf(leaver.address).call()

    server = Server(env, tmp_path / "server.log").start()
    try:
        report = walk_the_demo(
            {
                "WALK": "leaving",
                "DEMO_URL": server.url,
                "LEAVER_KEY": hex_key(leaver.key),
                "RPC_URL": env["RPC_URL"],
                "SCREENSHOT_DIR": str(SCREENSHOTS / "leaving"),
                "CHROMIUM": str(CHROMIUM),
            }
        )
    finally:
        server.stop()

    # A permit and two grants (one in another tab) signed; two revocations, the request and the
    # withdrawal sent.
    assert report["leaver"]["signed"] == {
        "typedData": ["Permit", "SessionGrant", "SessionGrant"],
        "messages": 1,
        "transactions": 4,
    }
    assert in_wallet - chain.usdc.functions.balanceOf(leaver.address).call() == 600_000  # 1 in, 0.40 back
    assert report["problems"] == []


def test_a_creator_claims_its_own_vouchers_and_withdraws_without_the_settler(
    chain: Chain, tmp_path: Path
) -> None:
    require_chromium()
    built = subprocess.run([ROOT / "scripts" / "build-demo"], capture_output=True, text=True, check=False)
    assert built.returncode == 0, built.stderr
    # server_env's server does not settle: the creator's own wallet claims.
    env = server_env(chain, f"sqlite:///{tmp_path / 'micropayments.db'}", str(tmp_path))
    list_articles(chain, env)
    shutil.rmtree(SCREENSHOTS / "creator-exit", ignore_errors=True)
    reader, creator = chain.accounts[5], chain.accounts[8]
    chain.send(chain.usdc.functions.mint(reader.address, 10**6), chain.accounts[0])
    chain.deposit(reader, 10**6)
    price = next(price for index, resource_id, *_, price in ARTICLES if resource_id == "guide-session-keys")
    in_wallet = chain.usdc.functions.balanceOf(creator.address).call()

    server = Server(env, tmp_path / "server.log").start()
    try:
        with Micropayments(server.url, key=reader.key) as payer:
            deadline = time.monotonic() + 30
            while payer.account()["headroom"] < price and time.monotonic() < deadline:
                time.sleep(0.2)  # the server indexes the deposit
            payer.pay("guide-session-keys")
        report = walk_the_demo(
            {
                "WALK": "creator-exit",
                "DEMO_URL": server.url,
                "CREATOR_KEY": hex_key(creator.key),
                "RPC_URL": env["RPC_URL"],
                "SCREENSHOT_DIR": str(SCREENSHOTS / "creator-exit"),
                "CHROMIUM": str(CHROMIUM),
            }
        )
        listed = httpx.post(
            f"{server.url}/graphql",
            json={"query": '{ resource(id: "notes-on-leaving") { title price payee creatorName } }'},
            timeout=10,
        ).json()["data"]["resource"]
    finally:
        server.stop()

    # Signed in (a message), then two transactions of its own wallet: the claim and the withdrawal.
    assert report["creator"]["signed"] == {"typedData": [], "messages": 1, "transactions": 2}
    assert report["creator"]["vouchers"] == 1
    assert report["creator"]["claimed"] == "0.03 USDC"
    assert chain.usdc.functions.balanceOf(creator.address).call() - in_wallet == price
    assert listed == {
        "title": "Notes on Leaving",
        "price": str(4 * CENT),  # listed at 0.05, then re-priced
        "payee": creator.address,
        "creatorName": "Ben Writes",
    }
    assert report["problems"] == []
