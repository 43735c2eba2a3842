"""The settler against the real v2 hub on anvil: what it sends is paid, and what it predicts the
hub would skip, the hub does skip."""

from __future__ import annotations

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from app.chain.calls import claim_calldata
from app.chain.operator import Call, Operator
from app.core import events as ev
from app.core.claims import encode_claim
from app.core.eip712 import entries_hash
from app.core.ledger import SkipReason
from app.core.receipts import ReceiptStatus
from app.core.types import to_address
from app.services.settler import SettlePolicy, Settler
from app.services.transactions import TxManager
from app.store import payments, settlement
from tests.builders import accept, address, entries, make_grant, new_key
from tests.services.conftest import World

pytestmark = pytest.mark.parametrize("world", ["sqlite"], indirect=True)
PRICE = 1_000


def operator_key(world: World) -> LocalAccount:
    return world.chain.accounts[0]  # deploy_hub names the deployer as the hub's operator


def settler(world: World) -> Settler:
    operator = Operator.connect(
        world.chain.w3.provider.endpoint_uri,  # type: ignore[attr-defined]
        world.chain.hub.address,
        operator_key(world).key.hex(),
    )
    transactions = TxManager(world.services.db, operator, world.clock)
    return Settler(world.services.db, world.services.hub, transactions, world.clock, SettlePolicy())


def test_the_settlers_claim_is_paid_by_the_hub(world: World) -> None:
    payer, key = world.chain.accounts[5], new_key()
    creators = [address(new_key()) for _ in range(2)]
    world.fund(payer.address, 100 * PRICE)
    domain = world.services.domain
    accept(world.services.db, domain, operator_key(world), payer, world.token, creators[0], PRICE, lane=0)
    accept(world.services.db, domain, operator_key(world), payer, world.token, creators[1], 2 * PRICE, lane=0)
    grant = make_grant(domain, payer, key, world.token, 1)
    keyed = accept(world.services.db, domain, operator_key(world), payer, world.token, creators[0], PRICE,
                   lane=1, key=key, grant=grant)  # fmt: skip
    s = settler(world)
    result = s.settle_once(force=True)
    assert (result.lanes, result.blocked) == (2, 0)
    assert s.transactions.wait(result.submitted[0].nonce).status == "mined"
    world.services.indexer.sync_once()
    assert world.chain.earnings(creators[0]) == 2 * PRICE
    assert world.chain.earnings(creators[1]) == 2 * PRICE
    assert world.chain.commitment(payer.address, 0) == entries_hash(
        entries((creators[0], PRICE), (creators[1], 2 * PRICE))
    )
    with world.services.db.read() as conn:
        receipt = payments.get_receipt(conn, keyed.id)
    assert receipt is not None
    assert receipt.status == ReceiptStatus.CLAIMED


def test_a_revoked_keys_lane_is_predicted_skipped_and_the_hub_agrees(world: World) -> None:
    payer, key = world.chain.accounts[6], new_key()
    creator = address(new_key())
    world.fund(payer.address, 100 * PRICE)
    domain = world.services.domain
    grant = make_grant(domain, payer, key, world.token, 2)
    operator = operator_key(world)
    accept(
        world.services.db, domain, operator, payer, world.token, creator, PRICE, lane=2, key=key, grant=grant
    )
    world.chain.send(world.chain.hub.functions.revokeSigner(Web3.to_checksum_address(key.address)), payer)
    world.chain.increase_time(world.services.hub.withdraw_delay() + 1)
    world.services.indexer.sync_once()
    s = settler(world)
    assert s.settle_once(force=True).blocked == 1
    # Sent anyway, the hub skips it for the same reason.
    lane_key = (to_address(payer.address), world.token, 2)
    with world.services.db.read() as conn:
        block = settlement.claim_block(conn, lane_key, 1)
    call = Call(world.services.hub.address, claim_calldata(world.token, encode_claim([block])), "claim")
    head = world.services.hub.head()
    submitted = s.transactions.submit(call, "claim", {})
    assert s.transactions.wait(submitted.nonce).status == "mined"
    (skipped,) = [e for e in world.services.hub.events(head + 1, world.services.hub.head())
                  if isinstance(e, ev.VoucherSkipped)]  # fmt: skip
    assert skipped.reason is SkipReason.SIGNER_REVOKED
