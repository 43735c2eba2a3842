"""The JS client's createPaywallFetch (clients/js/paywall.js) pays the example paid API of a real
server: `node --test clients/js/test/paywall.test.js`."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.client.test_js_client import node_binary
from tests.e2e.servers import ROOT
from tests.paywall.conftest import PRICE, PaidApi


def test_js_paywall_fetch_pays_the_example_api(api: PaidApi) -> None:
    result = subprocess.run(
        [node_binary(), "--test", "--test-reporter=spec", "clients/js/test/paywall.test.js"],
        cwd=ROOT,
        env={
            **os.environ,
            "PAYWALL_URL": api.url,
            "PAYER_KEY": "0x" + api.payer.key.hex(),
            "PRICE": str(PRICE),
        },
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"node --test exited with {result.returncode}\n{result.stdout}\n{result.stderr}", pytrace=False
        )
    assert "pass 5" in result.stdout
