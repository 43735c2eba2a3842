"""The web3 hub (app.chain.hub.HubClient) against the real v2 contract on anvil.

These need the v2 hub's compiled artifact: until app/chain/artifacts/MicropaymentHub.json has
`claim(address,bytes)`, they are skipped (the FakeHub's tests in test_fake.py hold the same
rules meanwhile). The hand-written ABI fragments are checked against the artifact first, so a
difference in an event's argument types or indexing shows here, not as a silently missed log.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from web3 import Web3

from app.chain import artifacts
from app.chain.calls import HUB_FUNCTIONS, claim_calldata
from app.chain.hub import HUB_EVENTS, HUB_EVENTS_ABI, HUB_VIEWS_ABI, HubClient, _field
from app.core import events as ev
from app.core.claims import encode_claim
from app.core.eip712 import entries_hash
from app.core.ledger import SkipReason
from app.core.types import to_address
from tests.builders import address, entries, make_block, new_key


def _artifact_abi() -> list[dict[str, Any]]:
    try:
        return artifacts.load("MicropaymentHub").abi
    except artifacts.ArtifactNotFoundError:
        return []


def _is_v2(abi: list[dict[str, Any]]) -> bool:
    return any(
        item.get("type") == "function"
        and item.get("name") == "claim"
        and [i["type"] for i in item["inputs"]] == ["address", "bytes"]
        for item in abi
    )


ABI = _artifact_abi()
pytestmark = pytest.mark.skipif(
    not _is_v2(ABI),
    reason="app/chain/artifacts/MicropaymentHub.json is still the v1 hub (no claim(address,bytes)): "
    "these tests run once the v2 contract's artifact lands",
)


def _signature(item: dict[str, Any]) -> list[tuple[str, str, bool]]:
    return [(i["name"], i["type"], bool(i.get("indexed", False))) for i in item["inputs"]]


def _by_name(kind: str) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in ABI if item.get("type") == kind}


def test_each_hand_written_event_is_the_contracts() -> None:
    events = _by_name("event")
    for fragment in HUB_EVENTS_ABI:
        assert fragment["name"] in events, f"the hub has no event {fragment['name']}"
        assert _signature(fragment) == _signature(events[fragment["name"]]), fragment["name"]


def test_each_hand_written_view_and_function_has_the_contracts_inputs() -> None:
    functions = _by_name("function")
    for fragment in HUB_VIEWS_ABI:
        inputs = [i["type"] for i in functions[fragment["name"]]["inputs"]]
        assert inputs == [i["type"] for i in fragment["inputs"]], fragment["name"]
    for name, types in HUB_FUNCTIONS.items():
        assert [i["type"] for i in functions[name]["inputs"]] == types, name


def test_every_event_argument_is_a_field_of_its_dataclass() -> None:
    events = _by_name("event")
    for cls in HUB_EVENTS:
        fields = {f.name for f in dataclasses.fields(cls)} - {"at"}
        assert {_field(i["name"]) for i in events[cls.__name__]["inputs"]} == fields, cls.__name__


@pytest.fixture
def client(chain: Any) -> HubClient:
    return HubClient(chain.w3, chain.hub.address)


def _operator(chain: Any) -> Any:
    """The hub's operator, as one of anvil's funded accounts."""
    owner = chain.accounts[0]
    chain.send(chain.hub.functions.setOperator(owner.address), owner)
    return owner


def test_a_claim_reads_back_as_v2_events_and_views(chain: Any, client: HubClient) -> None:
    payer, operator = chain.accounts[5], _operator(chain)
    token = to_address(chain.usdc.address)
    chain.send(chain.usdc.functions.approve(chain.hub.address, 1_000), payer)
    chain.send(chain.hub.functions.deposit(token, 1_000), payer)
    a, b = address(new_key()), address(new_key())
    vector = entries((a, 100), (b, 50))
    domain = chain.domain
    block = make_block(domain, payer, to_address(payer.address), token, 9, vector)
    start = client.head() + 1
    tx = {"to": chain.hub.address, "data": claim_calldata(token, encode_claim([block]))}
    chain.w3.eth.wait_for_transaction_receipt(chain.w3.eth.send_transaction({**tx, "from": operator.address}))
    claimed, *earned = client.events(start, client.head())
    assert isinstance(claimed, ev.VoucherClaimed)
    assert (claimed.lane, claimed.amount, claimed.entries_hash) == (9, 150, entries_hash(vector))
    assert {(e.payee, e.amount + e.fee) for e in earned if isinstance(e, ev.Earned)} >= {(a, 100), (b, 50)}
    assert client.lane_commitment(to_address(payer.address), token, 9) == entries_hash(vector)
    assert client.balance_of(to_address(payer.address), token) == 850


def test_a_skipped_block_reads_back_with_its_reason(chain: Any, client: HubClient) -> None:
    payer, operator = chain.accounts[6], _operator(chain)
    token = to_address(chain.usdc.address)
    block = make_block(
        chain.domain, payer, to_address(payer.address), token, 0, entries((address(new_key()), 5))
    )
    start = client.head() + 1
    tx = {
        "to": chain.hub.address,
        "data": claim_calldata(token, encode_claim([block])),
        "from": operator.address,
    }
    chain.w3.eth.wait_for_transaction_receipt(chain.w3.eth.send_transaction(tx))
    (skipped,) = client.events(start, client.head())
    assert isinstance(skipped, ev.VoucherSkipped)
    assert skipped.reason is SkipReason.INSUFFICIENT_BALANCE


def test_a_revocation_reads_back_with_when_it_takes_effect(chain: Any, client: HubClient) -> None:
    payer, key = chain.accounts[7], new_key()
    start = client.head() + 1
    chain.send(chain.hub.functions.revokeSigner(Web3.to_checksum_address(key.address)), payer)
    (revoked,) = client.events(start, client.head())
    assert isinstance(revoked, ev.SignerRevoked)
    assert client.revoked_at(to_address(payer.address), address(key)) == revoked.effective_at
