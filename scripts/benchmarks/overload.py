"""scripts/bench overload: twice the measured capacity for 30 s against real server processes
(WORKERS = cores, MAX_IN_FLIGHT as configured) on loopback, then the same server at rest.

1. capacity: pays served per second with 32 in flight at all times (closed loop);
2. overload: pays offered at twice that rate for --seconds, whatever the answers (open loop);
   what is refused must be 503 with Retry-After, what is served must stay fast;
3. recovery: once the load stops, pays at a gentle rate must all be served;
4. receipts lost: every receipt the server acknowledged must be in the database (0).

Prints one JSON object: shed rate, p99 of what was served, receipts lost, and the rest.
Every pay is the first voucher of a fresh channel (scripts/benchmarks/run.py's), so none waits
on another and each acknowledged receipt is a distinct row.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import sqlalchemy

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import PAY, Chain, Scale, Server, Vouchers, env_for, list_resources, open_market, progress

from app.chain.anvil import Anvil


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


class Outcomes:
    """What each request got: its status, its error code, its latency, its receipt."""

    def __init__(self) -> None:
        self.served: list[float] = []  # latencies (ms) of 200 answers
        self.refused: list[float] = []  # latencies (ms) of 429/503 answers
        self.codes: dict[str, int] = {}
        self.receipts: list[str] = []
        self.without_retry_after = 0
        self.failed = 0  # no answer at all, or an answer that is neither served nor refused

    def record(self, status: int, headers: Any, body: dict[str, Any], ms: float) -> None:
        if status == 200:
            self.served.append(ms)
            pay = (body.get("data") or {}).get("pay") or {}
            if pay.get("__typename") == "PaymentAccepted":
                self.receipts.append(pay["receipt"]["id"])
            else:
                self.count(pay.get("code") or json.dumps(body.get("errors"))[:80])
        elif status in (429, 503):
            self.refused.append(ms)
            self.without_retry_after += "Retry-After" not in headers
            self.count(((body.get("errors") or [{}])[0].get("extensions") or {}).get("code", str(status)))
        else:
            self.failed += 1
            self.count(f"HTTP {status}")

    def count(self, code: str) -> None:
        self.codes[code] = self.codes.get(code, 0) + 1


async def drive(
    url: str, bodies: list[str], rate: float | None, concurrency: int = 32
) -> tuple[Outcomes, float]:
    """Sends every body: at `rate` per second whatever the answers (open loop), or with
    `concurrency` in flight at all times when rate is None (closed loop)."""
    outcomes = Outcomes()
    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=0 if rate else concurrency)
    headers = {"content-type": "application/json"}
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one(body: str) -> None:
            started = time.perf_counter()
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    text = await response.text()
                    ms = (time.perf_counter() - started) * 1000
                    try:
                        payload = json.loads(text)
                    except ValueError:
                        outcomes.failed += 1
                        outcomes.count(f"HTTP {response.status}: {text[:60]!r}")
                        return
                    outcomes.record(response.status, response.headers, payload, ms)
            except (TimeoutError, aiohttp.ClientError) as error:
                outcomes.failed += 1
                outcomes.count(type(error).__name__)

        started = time.perf_counter()
        if rate is None:
            queue = iter(bodies)

            async def worker() -> None:
                for body in queue:
                    await one(body)

            await asyncio.gather(*(worker() for _ in range(concurrency)))
        else:
            tasks = []
            for index, body in enumerate(bodies):
                delay = started + index / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(one(body)))
            await asyncio.gather(*tasks)
        return outcomes, time.perf_counter() - started


def stored_receipts(database_url: str) -> set[str]:
    engine = sqlalchemy.create_engine(database_url)
    try:
        with engine.connect() as conn:
            return {row[0] for row in conn.execute(sqlalchemy.text("SELECT id FROM receipts"))}
    finally:
        engine.dispose()


def bodies(inputs: list[dict[str, Any]]) -> list[str]:
    return [json.dumps({"query": PAY, "variables": {"i": i}}) for i in inputs]


def run(seconds: int, capacity_pays: int, concurrency: int, extra_env: dict[str, str]) -> dict[str, Any]:
    workers = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp, Anvil(accounts=2) as node:
        work = Path(tmp)
        chain = Chain(node)
        # Enough fresh channels for the capacity run and twice the capacity for `seconds`, with room.
        creators = 400
        payers = max(40, (capacity_pays + 3000 * seconds + 2000) // creators + 1)
        scale = Scale(payers=payers, creators=creators, trivial=0, pays=0, fixed_rate_seconds=0,
                      batch_vouchers=0, preload=0, growth_pays=0)  # fmt: skip
        progress(f"funding {payers} payers, listing {creators} resources")
        market = open_market(chain, scale, "overload")
        database_url = f"sqlite:///{work / 'micropayments.db'}"
        env = {**env_for(chain, database_url, work, workers), **extra_env}
        list_resources(env, market)
        vouchers = Vouchers(chain, market)
        with Server(env, work / "server.log") as server:
            url = server.url + "/graphql"
            asyncio.run(drive(url, bodies(vouchers.take(300)), None, concurrency))  # warm both processes
            measured = bodies(vouchers.take(capacity_pays))
            capacity_run, elapsed = asyncio.run(drive(url, measured, None, concurrency))
            capacity = len(capacity_run.served) / elapsed
            progress(f"capacity: {capacity:.0f} pays/s (p99 {percentile(capacity_run.served, 0.99)} ms)")

            rate = 2 * capacity
            progress(f"overload: {rate:.0f} pays/s offered for {seconds} s")
            signing = time.perf_counter()
            offered = bodies(vouchers.take(int(rate * seconds)))
            progress(f"  ({len(offered)} vouchers signed in {time.perf_counter() - signing:.0f} s)")
            overload, overload_s = asyncio.run(drive(url, offered, rate=rate))
            progress(f"  served {len(overload.served)}, refused {len(overload.refused)}: {overload.codes}")

            time.sleep(2)
            recovery, _ = asyncio.run(drive(url, bodies(vouchers.take(500)), rate=capacity / 2))
            progress(f"recovery: served {len(recovery.served)} of 500 at half the capacity")
            health = httpx.get(server.url + "/health", timeout=5).status_code
            if overload.failed or recovery.failed:
                progress("server log, last lines:\n" + "\n".join(server.log.read_text().splitlines()[-30:]))
        acknowledged = capacity_run.receipts + overload.receipts + recovery.receipts
        lost = set(acknowledged) - stored_receipts(database_url)

    total = len(offered)
    return {
        "workers": workers,
        "settings": extra_env,
        "capacity_pays_per_s": round(capacity),
        "offered_pays_per_s": round(rate),
        "overload_seconds": round(overload_s, 1),
        "offered": total,
        "served": len(overload.served),
        "served_pays_per_s": round(len(overload.served) / overload_s),
        "shed": len(overload.refused),
        "shed_rate": round(len(overload.refused) / total, 3),
        "shed_without_retry_after": overload.without_retry_after,
        "unanswered_or_other": overload.failed,
        "codes": overload.codes,
        "served_p50_ms": percentile(overload.served, 0.5),
        "served_p99_ms": percentile(overload.served, 0.99),
        "shed_p99_ms": percentile(overload.refused, 0.99),
        "recovery_served": f"{len(recovery.served)}/500",
        "recovery_p99_ms": percentile(recovery.served, 0.99),
        "health_after": health,
        "receipts_acknowledged": len(acknowledged),
        "receipts_lost": len(lost),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="scripts/bench overload", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=30, help="how long the overload lasts")
    parser.add_argument("--capacity-pays", type=int, default=3000, help="pays to measure capacity with")
    parser.add_argument("--concurrency", type=int, default=16, help="pays in flight to measure capacity")
    args = parser.parse_args()
    extra_env = {k: os.environ[k] for k in ("MAX_IN_FLIGHT", "REQUEST_TIMEOUT_MS") if k in os.environ}
    print(json.dumps(run(args.seconds, args.capacity_pays, args.concurrency, extra_env), indent=2))


if __name__ == "__main__":
    main()
