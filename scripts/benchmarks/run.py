"""scripts/bench: measures speed and gas on this machine and prints a table (or, with --json,
one JSON object). Measurements, not tests: nothing here passes or fails a build.

Every HTTP figure comes from real `python -m app serve` processes (WORKERS = cores) on
loopback, loaded by scripts/benchmarks/loadgen.py in a separate process; the pays are v2
PayerVouchers signed with eth-account, each the first of its own lane (payer i, lane n) so none
waits on another.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import marketplace_gas  # noqa: E402

from app.chain.anvil import DEV_KEYS, Anvil, free_port  # noqa: E402
from app.chain.deploy import contract, deploy_local, transact  # noqa: E402
from app.config import load as load_settings  # noqa: E402
from app.core.eip712 import Domain, Entry, PayerVoucher, digest  # noqa: E402
from app.core.types import Address, to_address  # noqa: E402
from app.services import runtime  # noqa: E402
from app.store.tables import lane_entries, lanes, receipts  # noqa: E402

PRICE = 10_000
PAY = (
    "mutation($i: PayInput!) { pay(input: $i) { __typename ... on PaymentAccepted { receipt { id } } "
    "... on Refusal { code message } } }"
)
PAY_BATCH = (
    "mutation($i: [PayInput!]!) { payBatch(inputs: $i) { __typename ... on Refusal { code message } } }"
)
TRIVIAL = json.dumps({"query": "{ __typename }"})
SWEEP = [50, 100, 200, 300, 400, 600, 800, 1200]  # pays/s, open loop, until p99 passes 25 ms
STARTED = time.monotonic()


def progress(message: str) -> None:
    print(f"[{time.monotonic() - STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)


@dataclass
class Scale:
    payers: int
    creators: int
    trivial: int
    pays: int
    fixed_rate_seconds: int
    batch_vouchers: int
    preload: int
    growth_pays: int


QUICK = Scale(payers=40, creators=100, trivial=1500, pays=600, fixed_rate_seconds=2, batch_vouchers=2000,
              preload=50_000, growth_pays=200)  # fmt: skip
FULL = Scale(payers=100, creators=400, trivial=8000, pays=5000, fixed_rate_seconds=10, batch_vouchers=20_000,
             preload=1_000_000, growth_pays=1000)  # fmt: skip


class Chain:
    """A fresh anvil with the hub, a test stablecoin, and payers funded through depositFor."""

    def __init__(self, node: Anvil) -> None:
        self.url = node.url
        self.w3 = Web3(Web3.HTTPProvider(node.url, request_kwargs={"timeout": 120}))
        self.owner = self.w3.eth.accounts[0]
        self.deployment = deploy_local(self.w3, self.owner, [self.owner], amount=10**15, withdraw_delay=3600)
        self.token = self.deployment.tokens[0]
        self.hub = contract(self.w3, "MicropaymentHub", self.deployment.hub)
        self.usdc = contract(self.w3, "TestStablecoin", self.token)
        self.domain = Domain(self.w3.eth.chain_id, self.deployment.hub)
        transact(self.w3, self.usdc.functions.approve(self.hub.address, 2**255), self.owner)

    def fund(self, payers: list[LocalAccount], amount: int) -> None:
        for payer in payers:
            call = self.hub.functions.depositFor(payer.address, self.token, amount)
            self.w3.eth.wait_for_transaction_receipt(call.transact({"from": self.owner, "gas": 150_000}))


@dataclass
class Market:
    payers: list[LocalAccount]
    creators: list[Address]


def open_market(chain: Chain, scale: Scale, tag: str) -> Market:
    payers = [Account.from_key(keccak(text=f"bench/{tag}/payer/{i}")) for i in range(scale.payers)]
    creators = [to_address(Account.from_key(keccak(text=f"bench/creator/{i}")).address)
                for i in range(scale.creators)]  # fmt: skip
    chain.fund(payers, scale.creators * PRICE * 4)
    return Market(payers, creators)


def env_for(chain: Chain, database_url: str, data_dir: Path, workers: int) -> dict[str, str]:
    return {
        "RPC_URL": chain.url,
        "HUB_ADDRESS": chain.deployment.hub,
        "DATABASE_URL": database_url,
        "DATA_DIR": str(data_dir),
        "CONFIRMATIONS": "0",
        "RATE_LIMIT_PER_MINUTE": "100000000",
        # Throughput counts served pays: admission shedding is scripts/bench overload's subject.
        "MAX_IN_FLIGHT": "64",
        "MAX_QUEUED": "256",
        "MAX_QUEUE_WAIT_MS": "10000",
        "MAX_BATCH": "1000",
        "MAX_BODY_BYTES": str(4 * 1024 * 1024),
        "SETTLE": "false",
        "LOG_LEVEL": "WARNING",
        "WORKERS": str(workers),
        "ETH_HASH_BACKEND": "pysha3",
        "OPERATOR_KEY": DEV_KEYS[0],  # the hub's operator (the deployer) signs the acknowledgements
    }


def list_resources(env: dict[str, str], market: Market) -> None:
    """Migrates the database, indexes the deposits and lists one article per creator."""
    services = runtime.build(load_settings({**os.environ, **env}))
    try:
        services.indexer.sync_once()
        token = services.catalog.tokens()[0].address
        for index, creator in enumerate(market.creators):
            services.catalog.save(creator, f"article-{index}", token, PRICE, f"Article {index}")
    finally:
        services.close()


class Vouchers:
    """v2 vouchers signed in advance: pay n is payer n % P's first voucher on lane n // P + 1,
    for one creator's article (one entry), so no pay waits on another's lane."""

    def __init__(self, chain: Chain, market: Market) -> None:
        self.chain, self.market = chain, market
        self.next = 0

    def take(self, count: int) -> list[dict[str, Any]]:
        inputs = [self._input(self.next + i) for i in range(count)]
        self.next += count
        return inputs

    def _input(self, n: int) -> dict[str, Any]:
        payer = self.market.payers[n % len(self.market.payers)]
        lane = n // len(self.market.payers) + 1
        index = n % len(self.market.creators)
        creator = self.market.creators[index]
        voucher = PayerVoucher(to_address(payer.address), self.chain.token, lane, (Entry(creator, PRICE),),
                               keccak(text=f"bench/{n}"))  # fmt: skip
        signed = Account.unsafe_sign_hash(digest(self.chain.domain, voucher), payer.key)
        signature = signed.r.to_bytes(32, "big") + signed.s.to_bytes(32, "big") + bytes([signed.v])
        return {
            "payer": voucher.payer, "token": voucher.token, "lane": str(lane),
            "entries": [{"payee": creator, "cumulativeAmount": str(PRICE)}],
            "purchase": "0x" + voucher.purchase.hex(), "signature": "0x" + signature.hex(),
            "resourceId": f"article-{index}",
        }  # fmt: skip


class Server:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **env, "PORT": str(self.port)}
        self.log = log

    def __enter__(self) -> Server:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "app", "serve"], cwd=ROOT, env=self.env,
                                            stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"bench: the server did not start; see {self.log}")

    def peak_rss_mb(self) -> float:
        """Sum of the peak resident memory (VmHWM) of the server's processes."""
        total = 0
        for pid in [self.process.pid, *_children(self.process.pid)]:
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        total += int(line.split()[1])
            except OSError:
                continue
        return round(total / 1024, 1)

    def cpu_seconds(self) -> float:
        """User + system CPU time the server's processes have used so far."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in [self.process.pid, *_children(self.process.pid)]:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / ticks

    def __exit__(self, *_: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids = [int(k) for k in (task / "children").read_text().split()]
        except OSError:
            continue
        for kid in kids:
            found += [kid, *_children(kid)]
    return found


def load(url: str, bodies: list[str], **options: Any) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as file:
        file.write("\n".join(bodies) + "\n")
    args = [sys.executable, str(Path(__file__).parent / "loadgen.py"), url + "/graphql", file.name]
    for name, value in options.items():
        args += [f"--{name}", str(value)]
    try:
        output = subprocess.run(args, capture_output=True, text=True, check=True, timeout=900).stdout
    finally:
        os.unlink(file.name)
    result: dict[str, Any] = json.loads(output)
    if result["errors"]:
        progress(f"  {result['errors']} errors, e.g. {result['first_error']}")
    return result


def pay_bodies(inputs: list[dict[str, Any]]) -> list[str]:
    return [json.dumps({"query": PAY, "variables": {"i": i}}) for i in inputs]


@contextmanager
def postgres_database() -> Iterator[str | None]:
    """A fresh PostgreSQL database, or None when no PostgreSQL answers."""
    import psycopg

    admin = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"micropayments_bench_{os.getpid()}"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error:
        yield None
        return
    try:
        yield admin.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def preload(database: Path, count: int) -> None:
    """Writes `count` accepted receipts (each on its own lane, with its vector entry) straight into
    a SQLite store, as if that many vouchers had been paid before, so pays can be timed against a
    big store."""
    from sqlalchemy import create_engine

    payer = "0x" + "ab" * 20
    token = "0x" + "cd" * 20
    signature = b"\x11" * 65
    engine = create_engine(f"sqlite:///{database}")
    batch = 50_000
    with engine.begin() as conn:
        for start in range(0, count, batch):
            lane_rows, entry_rows, receipt_rows = [], [], []
            for n in range(start, min(start + batch, count)):
                lane = 10**12 + n  # far from the bench's own lanes
                payee = "0x" + keccak(text=f"payee/{n}")[:20].hex()
                lane_rows.append({"payer": payer, "token": token, "lane": lane, "signer": payer, "seq": 1,
                                  "accepted_total": PRICE, "claimed_total": 0, "claimed_seq": 0,
                                  "blocked": None, "blocked_seq": None, "oldest_unclaimed_at": 0,
                                  "updated_at": 0})  # fmt: skip
                entry_rows.append({"payer": payer, "token": token, "lane": lane, "payee": payee,
                                   "accepted": PRICE, "claimed": 0})  # fmt: skip
                receipt_rows.append({
                    "id": "0x" + keccak(text=f"receipt/{n}").hex(), "payer": payer, "token": token,
                    "lane": lane, "lane_seq": 1, "payee": payee, "price": PRICE, "cumulative_amount": PRICE,
                    "purchase": bytes(32), "entries_hash": bytes(32), "signature": signature,
                    "acknowledgement": bytes(65), "signer": payer, "resource_id": "preloaded",
                    "status": "accepted", "created_at": 0, "claim_tx": None, "failure": None,
                })  # fmt: skip
            conn.execute(lanes.insert(), lane_rows)
            conn.execute(lane_entries.insert(), entry_rows)
            conn.execute(receipts.insert(), receipt_rows)
    engine.dispose()


def machine() -> dict[str, Any]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())  # fmt: skip
    from importlib.metadata import version

    import sqlalchemy
    import strawberry  # noqa: F401

    return {
        "cores": os.cpu_count(), "cpu": cpu, "memory_gb": round(os.sysconf("SC_PAGE_SIZE")
        * os.sysconf("SC_PHYS_PAGES") / 2**30, 1), "python": platform.python_version(),
        "strawberry": version("strawberry-graphql"), "uvicorn": version("uvicorn"),
        "sqlalchemy": sqlalchemy.__version__, "sqlite": sqlite3.sqlite_version,
    }  # fmt: skip


PARTS = ("speed", "postgres", "growth", "gas")


def run(scale: Scale, quick: bool, parts: frozenset[str] = frozenset(PARTS)) -> dict[str, Any]:
    workers = os.cpu_count() or 1
    results: dict[str, Any] = {"machine": machine(), "mode": "quick" if quick else "full", "workers": workers}
    with tempfile.TemporaryDirectory() as tmp, Anvil(accounts=2) as node:
        work = Path(tmp)
        chain = Chain(node)
        progress("speed on SQLite")
        market = open_market(chain, scale, "sqlite")
        env = env_for(chain, f"sqlite:///{work / 'sqlite' / 'micropayments.db'}", work / "sqlite", workers)
        list_resources(env, market)
        vouchers = Vouchers(chain, market)
        with Server(env, work / "sqlite.log") as server:
            load(server.url, [TRIVIAL] * 200)  # warm up both processes
            cpu = server.cpu_seconds()
            trivial = load(server.url, [TRIVIAL] * scale.trivial, concurrency=64)
            cpu, trivial_cpu = server.cpu_seconds(), server.cpu_seconds() - cpu
            progress(f"  trivial query: {trivial['rps']} req/s")
            pay_inputs = vouchers.take(scale.pays)
            pays = load(server.url, pay_bodies(pay_inputs), concurrency=64)
            pay_cpu = server.cpu_seconds() - cpu
            progress(f"  pay: {pays['rps']} req/s")
            idle = load(server.url, pay_bodies(vouchers.take(20 * scale.fixed_rate_seconds)), mode="open",
                        rate=20)  # fmt: skip
            progress(f"  pay at 20 req/s: p50 {idle['p50_ms']} ms")
            fixed = load(server.url, pay_bodies(vouchers.take(300 * scale.fixed_rate_seconds)), mode="open",
                         rate=300)  # fmt: skip
            progress(f"  pay at 300 req/s: p50 {fixed['p50_ms']} ms, p99 {fixed['p99_ms']} ms")
            sustained = 0
            for rate in SWEEP:
                step = load(server.url, pay_bodies(vouchers.take(rate * scale.fixed_rate_seconds)),
                            mode="open", rate=rate)  # fmt: skip
                progress(f"  pay at {rate} req/s: p99 {step['p99_ms']} ms")
                if step["errors"] or step["p99_ms"] > 25:
                    break
                sustained = rate
            batch_inputs = vouchers.take(scale.batch_vouchers)
            started = time.perf_counter()
            batches = [json.dumps({"query": PAY_BATCH, "variables": {"i": batch_inputs[s : s + 500]}})
                       for s in range(0, len(batch_inputs), 500)]  # fmt: skip
            batch_run = load(server.url, batches, concurrency=workers)
            batch_sqlite = round(len(batch_inputs) / (time.perf_counter() - started))
            progress(f"  payBatch: {batch_sqlite} vouchers/s")
            rss = server.peak_rss_mb()
        results.update({
            "trivial_rps": trivial["rps"], "pay_rps": pays["rps"],
            "pay_vs_trivial_ratio": round(pays["rps"] / trivial["rps"], 3),
            # The server's own CPU per request: what a busy shared machine distorts least.
            "server_cpu_us_per_trivial": round(trivial_cpu / scale.trivial * 1e6),
            "server_cpu_us_per_pay": round(pay_cpu / len(pay_inputs) * 1e6),
            "pay_p50_ms_idle": idle["p50_ms"], "pay_p50_ms": fixed["p50_ms"], "pay_p99_ms": fixed["p99_ms"],
            "pay_fixed_rate_achieved_rps": fixed["rps"], "pay_rate_at_p99_25ms": sustained,
            "batch_vouchers_per_s_sqlite": batch_sqlite,
            "loadgen_cpu_us_per_request": pays["cpu_us_per_request"],
            "errors": sum(r["errors"] for r in (trivial, pays, idle, fixed, batch_run)),
            "peak_rss_mb": rss,
        })  # fmt: skip

        progress("payBatch on PostgreSQL")
        with postgres_database() as pg_url:
            if "postgres" not in parts:
                results["batch_vouchers_per_s_postgres"] = None
            elif pg_url is None:
                results["batch_vouchers_per_s_postgres"] = None
                progress("  skipped: no PostgreSQL reachable")
            else:
                pg_market = open_market(chain, scale, "postgres")
                pg_env = env_for(chain, pg_url, work / "pg", workers)
                list_resources(pg_env, pg_market)
                pg_inputs = Vouchers(chain, pg_market).take(scale.batch_vouchers)
                with Server(pg_env, work / "pg.log") as server:
                    started = time.perf_counter()
                    bodies = [json.dumps({"query": PAY_BATCH, "variables": {"i": pg_inputs[s : s + 500]}})
                              for s in range(0, len(pg_inputs), 500)]  # fmt: skip
                    pg_run = load(server.url, bodies, concurrency=workers)
                    results["batch_vouchers_per_s_postgres"] = round(
                        len(pg_inputs) / (time.perf_counter() - started)
                    )
                    results["errors"] += pg_run["errors"]
                    results["peak_rss_mb"] = max(results["peak_rss_mb"], server.peak_rss_mb())
                progress(f"  payBatch: {results['batch_vouchers_per_s_postgres']} vouchers/s")

        progress(f"growth: pay latency with {scale.preload:,} vouchers stored vs an empty store")
        latencies = {}
        for label, rows in (("empty", 0), ("loaded", scale.preload)) if "growth" in parts else ():
            small = Scale(**{**scale.__dict__, "payers": 10, "creators": scale.growth_pays // 10 + 10})
            g_market = open_market(chain, small, f"growth-{label}")
            g_env = env_for(chain, f"sqlite:///{work / label / 'micropayments.db'}", work / label, workers)
            list_resources(g_env, g_market)
            if rows:
                preload(work / label / "micropayments.db", rows)
            g_vouchers = Vouchers(chain, g_market)
            warm_up, g_inputs = g_vouchers.take(100), g_vouchers.take(scale.growth_pays)
            with Server(g_env, work / f"{label}.log") as server:
                load(server.url, pay_bodies(warm_up), mode="open", rate=200)  # same warm caches for both
                latencies[label] = load(server.url, pay_bodies(g_inputs), mode="open", rate=200)["p50_ms"]
                rss = max(rss, server.peak_rss_mb())
        if latencies:
            results["pay_p50_ms_empty_store"] = latencies["empty"]
            results["pay_p50_ms_loaded_store"] = latencies["loaded"]
            results["vouchers_preloaded"] = scale.preload
            results["growth_ratio"] = round(latencies["loaded"] / latencies["empty"], 3)
            results["peak_rss_mb_loaded_store"] = rss
    if "gas" not in parts:
        return results

    progress("gas (scripts/gas-report)")
    report = subprocess.run(
        [str(ROOT / "scripts" / "gas-report")], capture_output=True, text=True, check=True
    )
    gas = json.loads(report.stdout)
    gas.pop("context", None)
    results["gas"] = gas
    progress("gas on the marketplace workload (10,000 micropayments)")
    results["marketplace"] = marketplace_gas.measure(session_keys=True)
    results["marketplace_without_session_keys"] = marketplace_gas.measure(session_keys=False)
    results["gas_per_micropayment"] = results["marketplace"]["gas_per_micropayment"]
    return results


TARGETS = [
    ("pay_vs_trivial_ratio", ">=", 0.5),
    ("pay_p50_ms_idle", "<=", 3),
    ("pay_p50_ms", None, None),
    ("pay_p99_ms", "<=", 25),
    ("pay_rate_at_p99_25ms", ">=", 300),
    ("loadgen_cpu_us_per_request", "<=", 100),
    ("batch_vouchers_per_s_sqlite", ">=", 10_000),
    ("batch_vouchers_per_s_postgres", ">=", 5_000),
    ("growth_ratio", "<=", 1.2),
    ("gas_per_micropayment", "<=", 2_500),
    ("peak_rss_mb", None, None),
]


def table(results: dict[str, Any]) -> str:
    lines = [
        f"machine: {json.dumps(results['machine'])}",
        f"workers: {results['workers']}  mode: {results['mode']}",
        "",
        f"{'figure':34} {'value':>12}  target",
    ]
    for name, op, target in TARGETS:
        value = results.get(name)
        verdict = ""
        if op and value is not None:
            met = value >= target if op == ">=" else value <= target
            verdict = f"{op} {target}  {'met' if met else 'NOT met'}"
        lines.append(f"{name:34} {value!s:>12}  {verdict}")
    gas = results.get("gas")
    if gas is None:
        return "\n".join(lines)
    lines += ["", f"{'claim_marginal_gas_first':34} {gas['claim_marginal_gas_first']:>12}  <= 17000",
              f"{'claim_marginal_gas_second':34} {gas['claim_marginal_gas_second']:>12}  <= 15000",
              f"{'gas_per_micropayment (no session keys)':34} "
              f"{results['marketplace_without_session_keys']['gas_per_micropayment']:>12}"]  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--quick", action="store_true", help="small counts, under a minute (a CI smoke run)")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, of {', '.join(PARTS)}")
    args = parser.parse_args()
    results = run(QUICK if args.quick else FULL, args.quick, frozenset(args.parts.split(",")))
    print(json.dumps(results, indent=2) if args.json else table(results))


if __name__ == "__main__":
    main()
