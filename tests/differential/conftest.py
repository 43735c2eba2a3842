"""The real server (its services, on SQLite) in front of the real hub on anvil, as the differential
tests drive them: the operator key is the hub's operator, the server's clock is the chain's."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from app import config
from app.core.eip712 import Entry, PayerVoucher, digest
from app.core.receipts import Receipt
from app.core.signatures import sign
from app.core.types import to_address
from app.services import runtime
from app.services.payments import PayRequest
from app.services.runtime import Services
from tests.factories import Chain

SETTLE_MARGIN = 600
URGENCY = 1_800


class ChainClock:
    """The server's clock is the chain's: a test moves time on the chain only."""

    def __init__(self, chain: Chain) -> None:
        self._chain = chain

    def __call__(self) -> int:
        return self._chain.timestamp()


def build_server(chain: Chain, directory: Path) -> Services:
    env = {
        "RPC_URL": chain.w3.provider.endpoint_uri,  # type: ignore[attr-defined]
        "HUB_ADDRESS": chain.hub.address,
        "DATABASE_URL": f"sqlite:///{directory}/server.db",
        "DATA_DIR": str(directory),
        "CONFIRMATIONS": "0",
        "OPERATOR_KEY": "0x" + bytes(chain.owner.key).hex(),
        "SETTLE_MARGIN": str(SETTLE_MARGIN),
        "SETTLE_URGENCY": str(URGENCY),
        "SETTLE_MIN_BATCH": "1000",
        "SETTLE_MAX_AGE": str(10**9),
    }
    services = runtime.build(config.load(env), clock=ChainClock(chain))
    services.indexer.sync_once()  # the tokens the hub lists
    return services


def settle(services: Services, force: bool = True) -> None:
    """One round of the operator's settler, mined and indexed."""
    settler = services.settler
    assert settler is not None
    for submitted in settler.settle_once(force=force).submitted:
        settler.transactions.wait(submitted.nonce)
    services.indexer.sync_once()


def signed_request(
    services: Services, payer: LocalAccount, resource: str, signer: LocalAccount | None = None
) -> PayRequest:
    """The next voucher for `resource`, from the server's voucherToSign, signed as a wallet would."""
    signer_address = None if signer is None else to_address(signer.address)
    message = services.typed_data.voucher(to_address(payer.address), resource, signer_address).typed_data[
        "message"
    ]
    voucher = PayerVoucher(
        message["payer"], message["token"], message["lane"],
        tuple(Entry(e["payee"], e["cumulativeAmount"]) for e in message["entries"]),
        bytes.fromhex(message["purchase"][2:]),
    )  # fmt: skip
    return PayRequest(voucher, sign(digest(services.domain, voucher), (signer or payer).key), resource)


def pay(
    services: Services, payer: LocalAccount, resource: str, signer: LocalAccount | None = None
) -> Receipt:
    return services.payments.pay(signed_request(services, payer, resource, signer))


@pytest.fixture
def server(chain: Chain, tmp_path: Path) -> Iterator[Services]:
    services = build_server(chain, tmp_path)
    yield services
    services.close()


def fresh_purchase() -> bytes:
    return os.urandom(32)
