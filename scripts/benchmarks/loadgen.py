"""A load generator, run in its own process so it does not share the server's interpreter.

Reads request bodies (one JSON document per line) from a file and POSTs them to a URL:
  --mode closed --concurrency C   C requests in flight at all times, each body once (throughput)
  --mode open --rate R            one request every 1/R s whatever the answers (latency at a load)
Prints one JSON object: count, errors, seconds, rps, p50_ms, p99_ms, the first error seen, and
cpu_us_per_request (this process's own CPU time per request: what the client costs the machine).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import sys
import time

import aiohttp


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def failed(status: int, body: dict[str, object]) -> str | None:
    if status != 200:
        return f"HTTP {status}"
    if body.get("errors"):
        return json.dumps(body["errors"])[:300]
    data = body.get("data") or {}
    for value in data.values() if isinstance(data, dict) else []:
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, dict) and "code" in item:
                return f"refused: {item.get('code')} {item.get('message')}"[:300]
    return None


async def run(url: str, bodies: list[bytes], mode: str, concurrency: int, rate: float) -> dict[str, object]:
    latencies: list[float] = []
    errors = 0
    first_error: str | None = None
    connector = aiohttp.TCPConnector(limit=concurrency if mode == "closed" else 0)
    headers = {"content-type": "application/json"}
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(body: bytes) -> None:
            nonlocal errors, first_error
            started = time.perf_counter()
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    payload = await response.json(content_type=None)
                    problem = failed(response.status, payload)
            except (TimeoutError, aiohttp.ClientError, ValueError) as error:
                problem = repr(error)
            latencies.append((time.perf_counter() - started) * 1000)
            if problem:
                errors += 1
                first_error = first_error or problem

        started = time.perf_counter()
        cpu_started = _cpu()
        if mode == "closed":
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
        seconds = time.perf_counter() - started
        cpu = _cpu() - cpu_started
    return {
        "count": len(bodies),
        "errors": errors,
        "first_error": first_error,
        "seconds": round(seconds, 3),
        "rps": round(len(bodies) / seconds, 1),
        "p50_ms": round(statistics.median(latencies), 2) if latencies else None,
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "cpu_us_per_request": round(cpu / len(bodies) * 1e6, 1) if bodies else None,
    }


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("bodies", help="file with one JSON request body per line")
    parser.add_argument("--mode", choices=["closed", "open"], default="closed")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rate", type=float, default=500)
    args = parser.parse_args()
    with open(args.bodies, "rb") as file:
        bodies = [line.rstrip(b"\n") for line in file if line.strip()]
    result = asyncio.run(run(args.url, bodies, args.mode, args.concurrency, args.rate))
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
