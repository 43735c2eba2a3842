"""With two server processes on one PostgreSQL, exactly one indexes and settles, and the other
takes over within seconds when it dies."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.e2e.conftest import server_env
from tests.e2e.servers import Server, postgres_database
from tests.factories import Chain

ACCOUNT = "query($payer: Address!, $token: Address!) { account(payer: $payer, token: $token) { balance } }"


def leaders(servers: list[Server]) -> list[bool]:
    return [httpx.get(s.url + "/health", timeout=5).json()["leader"] for s in servers]


def wait_for(condition: object, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def balance_seen_by(server: Server, payer: str, token: str) -> int:
    response = httpx.post(
        server.url + "/graphql",
        json={"query": ACCOUNT, "variables": {"payer": payer, "token": token}},
        timeout=5,
    )
    return int(response.json()["data"]["account"]["balance"])


def test_one_leader_at_a_time_and_a_quick_takeover(chain: Chain, tmp_path: Path) -> None:
    payer = chain.accounts[4]
    with postgres_database() as database_url:
        env = server_env(chain, database_url, str(tmp_path))
        first = Server(env, tmp_path / "first.log").start()
        second = Server(env, tmp_path / "second.log").start()
        servers = [first, second]
        try:
            wait_for(lambda: sorted(leaders(servers)) == [False, True])
            leader, follower = (first, second) if leaders(servers)[0] else (second, first)

            leader.kill()  # kill -9: the advisory lock goes with its connection
            wait_for(lambda: leaders([follower]) == [True], timeout=15)  # it retries every second

            chain.deposit(payer, 123_000)
            wait_for(lambda: balance_seen_by(follower, payer.address, chain.usdc.address) == 123_000)
        finally:
            for server in servers:
                server.stop()
