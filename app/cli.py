"""Command line: `python -m app <command>`.

deploy  deploy the hub to any JSON-RPC endpoint
dev     the whole product locally: chain, hub, demo data, server and demo page, until Ctrl-C
"""

from __future__ import annotations

import argparse
import json
import logging
import logging.config
import math
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.services.runtime import Services

from eth_account import Account
from web3 import Web3
from web3.middleware import SignAndSendRawMiddlewareBuilder

from app import logs
from app.chain.deploy import DEFAULT_WITHDRAW_DELAY, deploy_contract, deploy_hub

log = logging.getLogger("app")


def data_dir() -> Path:
    """Where the server keeps its files: $DATA_DIR, else .data/ in the working directory."""
    return Path(os.environ.get("DATA_DIR", ".data"))


def deployment_path() -> Path:
    return Path(os.environ.get("DEPLOYMENT_FILE", data_dir() / "deployment.json"))


def _deploy(args: argparse.Namespace) -> int:
    key = os.environ.get("DEPLOYER_KEY")
    if not key:
        print("deploy: set DEPLOYER_KEY to the private key that pays for the deployment", file=sys.stderr)
        return 2
    w3 = Web3(Web3.HTTPProvider(args.rpc_url, request_kwargs={"timeout": 60}))
    if not w3.is_connected():
        print(f"deploy: no JSON-RPC node answers at {args.rpc_url}", file=sys.stderr)
        return 2
    deployer = Account.from_key(key)
    w3.middleware_onion.inject(SignAndSendRawMiddlewareBuilder.build(deployer), layer=0)
    tokens = list(args.token)
    if args.test_token:
        token, _ = deploy_contract(w3, "TestStablecoin", sender=deployer.address)
        tokens.append(token.address)
    if not tokens:
        print("deploy: name at least one stablecoin with --token ADDRESS (or --test-token)", file=sys.stderr)
        return 2
    deployment = deploy_hub(w3, deployer.address, tokens, args.withdraw_delay, owner=args.owner)
    deployment.write(args.out)
    print(f"hub {deployment.hub} on chain {deployment.chain_id}; written to {args.out}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app import config

    try:
        settings = config.load()
    except config.ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    uvicorn.run(
        "app.server:create",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=args.workers,
        log_level=os.environ.get("LOG_LEVEL", "info").lower(),
        log_config=logs.config(os.environ),  # also in each worker process
        access_log=False,
        # A WebSocket message over the body cap closes the socket with 1009.
        ws_max_size=settings.max_body_bytes,
        # A peer that does not answer a ping in time (one that stopped reading) is closed with 1011.
        ws_ping_interval=settings.ws_ping,
        ws_ping_timeout=settings.ws_ping,
        # Stopping waits this long for requests in flight, then closes their connections.
        timeout_graceful_shutdown=math.ceil(settings.shutdown_timeout),
    )
    return 0


def _services() -> Services:
    from app import config
    from app.services import runtime

    return runtime.build(config.load())


def _settle(args: argparse.Namespace) -> int:
    services = _services()
    try:
        if services.settler is None or services.transactions is None:
            print("settle: set OPERATOR_KEY: claims are sent with it", file=sys.stderr)
            return 2
        services.indexer.sync_once()
        services.transactions.tick()
        result = services.settler.settle_once(force=True)
        print(f"{result.lanes} lanes: {result.reason} ({result.blocked} the chain would skip: left blocked)")
        status = 0
        for submitted in result.submitted:
            tx = services.transactions.wait(submitted.nonce, timeout=args.timeout)
            print(f"claim nonce {tx.nonce} {tx.status} in block {tx.block_number}: 0x{tx.hashes[-1].hex()}")
            status = status or (0 if tx.status == "mined" else 1)
        if result.submitted:
            services.indexer.sync_once()
        return status
    finally:
        services.close()


def _reconcile(args: argparse.Namespace) -> int:
    from app.services.reconcile import reconcile

    services = _services()
    try:
        services.indexer.sync_once()
        reports = reconcile(services.hub, services.db, services.indexer.start_block)
    finally:
        services.close()
    print(json.dumps([r.as_json() for r in reports], indent=2))
    return 0 if all(r.ok for r in reports) else 1


def _export_vouchers(args: argparse.Namespace) -> int:
    from app.core.types import to_address

    services = _services()
    try:
        exported = services.exits.export(to_address(args.payee))
    finally:
        services.close()
    text = json.dumps(exported, indent=2)
    if args.out:
        Path(args.out).write_text(text + "\n")
        print(f"{len(exported['claims'])} vouchers written to {args.out}")
    else:
        print(text)
    return 0


def _claim_exported(args: argparse.Namespace) -> int:
    from app.chain.operator import Call, Operator
    from app.core.types import to_address

    key = os.environ.get("CLAIMER_KEY")
    if not key:
        print(
            "claim-exported: set CLAIMER_KEY to the key that pays the gas (the payee's, to withdraw)",
            file=sys.stderr,
        )
        return 2
    exported = json.loads(Path(args.file).read_text())
    operator = Operator.connect(args.rpc_url, exported["hub"], key)
    for tx in exported["transactions"]:
        call = Call(to=to_address(tx["to"]), data=bytes.fromhex(tx["data"][2:]), name="claim")
        mined = operator.send_now(call)
        print(f"{tx['description']}: block {mined.block_number} (gas {mined.gas_used})")
    if args.withdraw:
        for token in sorted({c["token"] for c in exported["claims"]}):
            to = to_address(args.to or operator.address)
            mined = operator.send_now(operator.encode("withdrawEarnings", token, to))
            print(f"withdrew earnings in {token} to {to} in block {mined.block_number}")
    return 0


def _dev(args: argparse.Namespace) -> int:
    """The whole product on this machine, until Ctrl-C or SIGTERM stops everything it started."""

    # Stopping is an exception wherever it lands (importing, starting anvil, deploying, seeding,
    # serving), so that the `with` and `finally` blocks of devstack.run stop what has started,
    # innermost first. While serving, uvicorn takes these signals over to shut down gracefully,
    # then restores this handler and raises the signal again.
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)
    try:
        from app import devstack

        try:
            devstack.run(os.environ, args.chain_port, args.http_port, args.out, args.withdraw_delay)
        except devstack.CannotStart as error:
            print(f"dev: {error}", file=sys.stderr)
            return 2
    except KeyboardInterrupt:
        log.info("dev: stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        logging.config.dictConfig(logs.config(os.environ))
    except logs.LogConfigError as error:
        print(error, file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(prog="python -m app", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the GraphQL server (see README: configuration)")
    serve.add_argument("--workers", type=int, default=int(os.environ.get("WORKERS", "1")))
    serve.set_defaults(run=_serve)

    settle = commands.add_parser("settle", help="claim every unclaimed voucher now")
    settle.add_argument("--once", action="store_true", required=True, help="one round, then exit")
    settle.add_argument("--timeout", type=float, default=300, help="seconds to wait for mining")
    settle.set_defaults(run=_settle)

    reconcile = commands.add_parser("reconcile", help="account for every base unit (exit 1 if not)")
    reconcile.set_defaults(run=_reconcile)

    export = commands.add_parser(
        "export-vouchers", help="a creator's latest vouchers, and claim transactions any wallet can send"
    )
    export.add_argument("--payee", required=True)
    export.add_argument("--out", help="file to write (default: standard output)")
    export.set_defaults(run=_export_vouchers)

    claim = commands.add_parser(
        "claim-exported", help="send the exported claim transactions with $CLAIMER_KEY"
    )
    claim.add_argument("--file", required=True)
    claim.add_argument("--rpc-url", default=os.environ.get("RPC_URL", "http://127.0.0.1:8545"))
    claim.add_argument("--withdraw", action="store_true", help="then withdraw the earnings (key = payee)")
    claim.add_argument("--to", help="where earnings go (default: the key's address)")
    claim.set_defaults(run=_claim_exported)

    deploy = commands.add_parser("deploy", help="deploy the hub to a chain (key in $DEPLOYER_KEY)")
    deploy.add_argument("--rpc-url", default=os.environ.get("RPC_URL", "http://127.0.0.1:8545"))
    deploy.add_argument("--token", action="append", default=[], help="allow-list a stablecoin (repeatable)")
    deploy.add_argument("--test-token", action="store_true", help="also deploy an open-mint TestStablecoin")
    deploy.add_argument("--withdraw-delay", type=int, default=DEFAULT_WITHDRAW_DELAY, help="seconds")
    deploy.add_argument("--owner", help="hand ownership to this address (two-step) after setup")
    deploy.add_argument("--out", type=Path, default=deployment_path())
    deploy.set_defaults(run=_deploy)

    dev = commands.add_parser(
        "dev", help="local chain, hub, demo data and the server with the demo page, until Ctrl-C"
    )
    dev.add_argument("--chain-port", type=int, help="local chain's port (default: $CHAIN_PORT, else 8545)")
    dev.add_argument("--http-port", type=int, help="the server's port (default: $PORT, else 8000)")
    dev.add_argument("--withdraw-delay", type=int, default=3600, help="seconds")
    dev.add_argument("--out", type=Path, default=deployment_path())
    dev.set_defaults(run=_dev)

    args = parser.parse_args(argv)
    result: int = args.run(args)
    return result
