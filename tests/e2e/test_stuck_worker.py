"""A worker whose event loop is held is replaced, and one told to stop while held stops:
app/watchdog.py in real uvicorn processes (with tests/e2e/stuck_app.py, whose /block holds the
loop as only a bug or a hostile request could), and a real server stopping while a
subscription runs."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from app.chain.anvil import free_port
from app.watchdog import EXIT_STALLED
from tests.e2e.hostile import hostile_server
from tests.e2e.servers import ROOT
from tests.factories import Chain


@contextmanager
def stuck_app(workers: int, log: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    args = [sys.executable, "-m", "uvicorn", "--factory", "tests.e2e.stuck_app:create", "--port", str(port)]
    with open(log, "ab") as output:
        process = subprocess.Popen(
            [*args, "--workers", str(workers)],
            cwd=ROOT,
            env={**os.environ, "STALL_MS": "1000"},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_ping(url, 30)
        yield url, process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def wait_for_ping(url: str, seconds: float) -> int:
    """The pid of the worker that answered /ping within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            pid: int = httpx.get(url + "/ping", timeout=1).json()["pid"]
            return pid
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError(f"no answer from {url} within {seconds} s")


def hold_the_loop(url: str) -> None:
    with suppress(httpx.TimeoutException):
        httpx.get(url + "/block", timeout=0.5)


def test_a_worker_whose_loop_is_held_is_replaced(tmp_path: Path) -> None:
    with stuck_app(workers=2, log=tmp_path / "uvicorn.log") as (url, _):
        pids = {wait_for_ping(url, 5) for _ in range(20)}
        for _ in range(2):  # each worker in turn (connections go to either)
            hold_the_loop(url)
        time.sleep(3)  # the watchdog's second, then uvicorn's manager starts a new worker
        answered = {wait_for_ping(url, 10) for _ in range(20)}
    log = (tmp_path / "uvicorn.log").read_text()
    assert "has not run for" in log
    assert answered  # still serving
    assert answered != pids  # by new workers


def test_a_single_process_whose_loop_is_held_exits_even_when_told_to_stop(tmp_path: Path) -> None:
    with stuck_app(workers=1, log=tmp_path / "uvicorn.log") as (url, process):
        hold_the_loop(url)
        process.send_signal(signal.SIGTERM)  # its handler cannot run: the loop is held
        started = time.monotonic()
        code = process.wait(timeout=10)
    assert code == EXIT_STALLED
    assert time.monotonic() - started < 3


ACCOUNT_CHANGED = (
    "subscription($p: Address!, $t: Address!) { accountChanged(payer: $p, token: $t) { balance } }"
)


def test_a_server_stops_within_its_shutdown_timeout_while_a_subscription_runs(
    deployed: Chain, tmp_path: Path
) -> None:
    with hostile_server(deployed, tmp_path, SHUTDOWN_TIMEOUT_MS="1000") as server:
        url = "ws" + server.url.removeprefix("http") + "/graphql"
        variables = {"p": deployed.accounts[1].address, "t": deployed.usdc.address}

        async def subscribe_then_stop() -> float:
            async with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]) as ws:
                await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
                await ws.recv()
                payload = {"query": ACCOUNT_CHANGED, "variables": variables}
                await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
                assert json.loads(await ws.recv())["type"] == "next"  # running
                assert server.process is not None
                server.process.send_signal(signal.SIGTERM)
                started = time.monotonic()
                await asyncio.to_thread(server.process.wait, 15)
                return time.monotonic() - started

        assert asyncio.run(subscribe_then_stop()) < 5
        assert server.process is not None
        # uvicorn shuts down gracefully, then re-raises the signal it was stopped by
        assert server.process.returncode in (0, -signal.SIGTERM)
