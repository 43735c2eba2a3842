"""The indexer against the real chain: confirmations, reorganisations, crashes and a dead node."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from sqlalchemy import Table, select
from web3.contract.contract import ContractFunction

from app.chain.anvil import free_port
from app.chain.hub import HubClient
from app.core import events as ev
from app.core.errors import Transient
from app.core.types import to_address
from app.services.accounts import Accounts
from app.services.indexer import Indexer, ReorgTooDeep
from app.store import index
from app.store.database import Database
from app.store.tables import (
    accounts,
    chain_cursor,
    channels,
    earnings,
    provisional_withdrawals,
    receipts,
    session_keys,
    tokens,
)
from tests.e2e.servers import postgres_database
from tests.factories import claim_row
from tests.services.conftest import World, new_payer

NewDatabase = Callable[[], Database]
# Everything the indexer writes.
INDEXED = (
    accounts,
    provisional_withdrawals,
    channels,
    receipts,
    session_keys,
    earnings,
    tokens,
    chain_cursor,
)


@pytest.fixture
def new_database(world: World, tmp_path: Path) -> Iterator[NewDatabase]:
    """Makes fresh, migrated, empty databases of the world's kind (SQLite or PostgreSQL)."""
    with ExitStack() as stack:

        def new() -> Database:
            if world.services.db.is_postgres:
                url = stack.enter_context(postgres_database())
            else:
                url = f"sqlite:///{tmp_path / uuid.uuid4().hex}.db"
            db = Database(url)
            stack.callback(db.dispose)
            db.migrate()
            return db

        yield new


def indexer(
    world: World, db: Database, confirmations: int, chunk_size: int = 2000, hub: HubClient | None = None
) -> Indexer:
    """An indexer of the whole hub history (from its deployment) into `db`."""
    return Indexer(
        db,
        hub or world.services.hub,
        world.services.bus,
        world.clock,
        start_block=world.chain.deployment.deployed_at_block,
        confirmations=confirmations,
        chunk_size=chunk_size,
    )


def rpc(world: World, method: str, *params: Any) -> Any:
    response = world.chain.w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
    assert "error" not in response, response
    return response["result"]


def mine(world: World, blocks: int) -> None:
    rpc(world, "anvil_mine", hex(blocks))


def head(world: World) -> int:
    return world.chain.w3.eth.block_number


def block_hash(world: World, number: int) -> bytes:
    return bytes(world.chain.w3.eth.get_block(number)["hash"])


def balance(world: World, db: Database, payer: str) -> int:
    return Accounts(db).account(to_address(payer), world.token).balance


def account(world: World, db: Database, payer: str) -> tuple[int, int]:
    """(balance, pending withdrawal) of the payer as the store has it."""
    view = Accounts(db).account(to_address(payer), world.token)
    return view.balance, view.pending_withdrawal


def contents(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row the indexer may write, in primary-key order."""

    def rows(table: Table) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in conn.execute(select(table).order_by(*table.primary_key.columns))]

    with db.read() as conn:
        return {table.name: rows(table) for table in INDEXED}


def approve(world: World, payer: LocalAccount, amount: int) -> None:
    world.chain.send(world.chain.usdc.functions.approve(world.chain.hub.address, amount), payer)


def deposit_call(world: World, amount: int) -> ContractFunction:
    return world.chain.hub.functions.deposit(world.chain.usdc.address, amount)


def test_a_deposit_is_credited_only_once_it_has_enough_confirmations(
    world: World, new_database: NewDatabase
) -> None:
    db, payer = new_database(), world.chain.accounts[1]
    follower = indexer(world, db, confirmations=3)
    follower.sync_once()
    included = world.chain.deposit(payer, 5_000)["blockNumber"]
    follower.sync_once()
    assert balance(world, db, payer.address) == 0
    assert follower.cursor() == (head(world) - 3, block_hash(world, head(world) - 3))
    mine(world, 2)
    follower.sync_once()
    assert balance(world, db, payer.address) == 0
    mine(world, 1)
    follower.sync_once()
    assert balance(world, db, payer.address) == 5_000
    assert head(world) - 3 == included
    assert follower.cursor() == (included, block_hash(world, included))


def test_a_reorg_shallower_than_the_confirmations_credits_only_the_new_chain(
    world: World, new_database: NewDatabase
) -> None:
    db, payer = new_database(), world.chain.accounts[2]
    follower = indexer(world, db, confirmations=3)
    approve(world, payer, 20_000)
    world.chain.send(deposit_call(world, 10_000), payer)
    mine(world, 3)
    follower.sync_once()
    assert account(world, db, payer.address) == (10_000, 0)
    nonce = world.chain.w3.eth.get_transaction_count(payer.address)
    world.chain.send(deposit_call(world, 7_000), payer)
    world.chain.send(world.chain.hub.functions.requestWithdrawal(world.chain.usdc.address, 9_000), payer)
    follower.sync_once()
    assert account(world, db, payer.address) == (10_000, 9_000)  # the request counts before confirmed
    # Both blocks are replaced; the new chain holds a smaller deposit instead. Gas is given, not
    # estimated: an estimate made on the old chain is too low on the new one.
    kept = deposit_call(world, 3_000).build_transaction({"from": payer.address, "nonce": nonce, "gas": 10**6})
    rpc(world, "anvil_reorg", 2, [[{key: kept[key] for key in ("from", "to", "data", "nonce", "gas")}, 0]])
    follower.sync_once()
    assert account(world, db, payer.address) == (10_000, 0)
    mine(world, 3)
    follower.sync_once()
    follower.sync_once()
    assert account(world, db, payer.address) == (13_000, 0)
    assert world.chain.balance(payer.address) == 13_000


def test_a_reorg_deeper_than_the_confirmations_stops_indexing_loudly(
    world: World, new_database: NewDatabase
) -> None:
    db, payer = new_database(), world.chain.accounts[3]
    follower = indexer(world, db, confirmations=1)
    follower.sync_once()
    before_deposit = rpc(world, "evm_snapshot")
    world.chain.deposit(payer, 4_000)
    mine(world, 1)
    follower.sync_once()
    assert balance(world, db, payer.address) == 4_000
    applied = follower.cursor()
    assert applied is not None
    # Another history replaces the applied block: longer, and with another deposit in it.
    rpc(world, "evm_revert", before_deposit)
    mine(world, 5)
    world.chain.deposit(world.chain.accounts[4], 6_000)
    mine(world, 2)
    indexed = contents(db)
    number, applied_hash = applied
    with pytest.raises(ReorgTooDeep, match=f"block {number} was applied with hash 0x{applied_hash.hex()}"):
        follower.sync_once()
    assert contents(db) == indexed
    assert balance(world, db, world.chain.accounts[4].address) == 0


def busy_history(world: World) -> None:
    """Every kind of hub event over about fifty blocks, the last (a withdrawal request) in the head block."""
    chain, usdc = world.chain, world.chain.usdc.address
    payers, payee, key = chain.accounts[1:6], chain.accounts[9], new_payer()
    for payer in payers:
        approve(world, payer, 10**12)
    for i in range(30):
        chain.send(deposit_call(world, 1_000 * (i + 1)), payers[i % len(payers)])
    chain.send(chain.hub.functions.requestWithdrawal(usdc, 500), payers[0])
    chain.send(chain.hub.functions.requestWithdrawal(usdc, 700), payers[1])
    chain.send(chain.hub.functions.cancelWithdrawal(usdc), payers[1])
    chain.authorize_signer(payers[2], key.address, allowance=50_000)
    by_key = chain.voucher(payers[2], payee.address, 3_000)
    chain.claim(
        [
            chain.signed_row(payers[3], payee.address, 4_000),
            chain.signed_row(payers[4], payee.address, 2_500),
            claim_row(by_key, chain.sign_voucher(key, by_key)),
        ]
    )
    chain.increase_time(3_601)
    chain.send(chain.hub.functions.withdraw(usdc), payers[0])
    chain.send(chain.hub.functions.withdrawEarnings(usdc, payee.address), payee)
    chain.send(chain.hub.functions.revokeSigner(key.address), payers[2])
    chain.send(chain.hub.functions.requestWithdrawal(usdc, 900), payers[4])  # left unconfirmed


def test_an_indexer_killed_mid_range_resumes_to_the_same_state_as_an_uninterrupted_one(
    world: World, new_database: NewDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    busy_history(world)
    resumed, uninterrupted = new_database(), new_database()
    applied = 0
    apply = index.apply

    def dies_at_the_tenth_event(conn: Any, event: ev.HubEvent) -> None:
        nonlocal applied
        applied += 1
        if applied == 10:
            raise RuntimeError("killed")
        apply(conn, event)

    with monkeypatch.context() as patch:
        patch.setattr(index, "apply", dies_at_the_tenth_event)
        with pytest.raises(RuntimeError, match="killed"):
            indexer(world, resumed, confirmations=1, chunk_size=5).sync_once()
    crashed_at = indexer(world, resumed, confirmations=1).cursor()
    assert crashed_at is not None
    assert world.chain.deployment.deployed_at_block < crashed_at[0] < head(world) - 1
    indexer(world, resumed, confirmations=1, chunk_size=5).sync_once()
    indexer(world, uninterrupted, confirmations=1).sync_once()
    indexed = contents(resumed)
    assert indexed == contents(uninterrupted)
    assert (len(indexed["accounts"]), len(indexed["provisional_withdrawals"])) == (5, 1)
    assert indexed["chain_cursor"][0][1] == head(world) - 1


def test_a_dead_node_is_transient_and_leaves_the_store_untouched(world: World) -> None:
    payer = world.chain.accounts[5]
    world.fund(payer.address, 8_000)
    world.chain.deposit(payer, 1_000)  # not indexed yet
    dead = HubClient.connect(f"http://127.0.0.1:{free_port()}", world.chain.hub.address, timeout=2)
    stored = contents(world.services.db)
    with pytest.raises(Transient, match=r"chain node: .* failed: the node is unreachable"):
        indexer(world, world.services.db, confirmations=0, hub=dead).sync_once()
    assert contents(world.services.db) == stored
    world.services.indexer.sync_once()  # the node is back: nothing was lost
    assert balance(world, world.services.db, payer.address) == 9_000


@pytest.mark.parametrize(("blocks", "chunks"), [(5, 1), (6, 2), (12, 3)])
def test_a_range_is_fetched_chunk_by_chunk_with_progress_logged_when_longer_than_a_chunk(
    world: World,
    new_database: NewDatabase,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    blocks: int,
    chunks: int,
) -> None:
    mine(world, blocks)
    first = head(world) - blocks + 1
    follower = Indexer(
        new_database(),
        world.services.hub,
        world.services.bus,
        world.clock,
        start_block=first,
        confirmations=0,
        chunk_size=5,
    )
    fetched: list[tuple[int, int]] = []
    events = HubClient.events

    def recording(hub: HubClient, from_block: int, to_block: int) -> list[ev.HubEvent]:
        fetched.append((from_block, to_block))
        return events(hub, from_block, to_block)

    monkeypatch.setattr(HubClient, "events", recording)
    with caplog.at_level(logging.INFO, logger="app.services.indexer"):
        follower.sync_once()
    ranges = [(start, min(start + 4, head(world))) for start in range(first, head(world) + 1, 5)]
    assert fetched == ranges
    assert len(ranges) == chunks
    progress = [
        tuple(int(n) for n in re.findall(r"\d+", record.getMessage())[:3])
        for record in caplog.records
        if record.getMessage().startswith("indexed blocks")
    ]
    assert progress == ([(start, end, head(world)) for start, end in ranges] if chunks > 1 else [])
