"""HubClient against the real hub on a local anvil: events decoded to app.core.events, views, EIP-1271."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.middleware import Web3Middleware
from web3.types import RPCEndpoint, RPCResponse, TxReceipt

from app.chain.anvil import free_port
from app.chain.hub import HUB_EVENTS, HubClient, TokenDomain, TokenInfo
from app.core.eip712 import digest
from app.core.errors import Transient
from app.core.events import (
    Claimed,
    ClaimSkipped,
    Deposited,
    EarningsWithdrawn,
    FeeSet,
    HubEvent,
    Position,
    SignerRegistered,
    SignerRevoked,
    SkipReason,
    TokenAllowed,
    WithdrawalCancelled,
    WithdrawalRequested,
    Withdrawn,
)
from app.core.types import Address, to_address
from tests.factories import Chain, claim_row, new_key, sign_digest

VALID, INVALID, REVERT, BURN_GAS, RETURN_BOMB = range(5)


@pytest.fixture
def client(chain: Chain) -> HubClient:
    return HubClient(chain.w3, chain.hub.address)


def hub_positions(chain: Chain, receipt: TxReceipt) -> list[Position]:
    """Where each log the hub emitted in `receipt` sits, as the client should report it."""
    block = chain.w3.eth.get_block(receipt["blockNumber"])
    return [
        Position(
            block_number=receipt["blockNumber"],
            block_hash=bytes(receipt["blockHash"]),
            log_index=log["logIndex"],
            tx_hash=bytes(receipt["transactionHash"]),
            timestamp=block["timestamp"],
        )
        for log in receipt["logs"]
        if log["address"] == chain.hub.address
    ]


def events_of(client: HubClient, receipt: TxReceipt) -> list[HubEvent]:
    return client.events(receipt["blockNumber"], receipt["blockNumber"])


def only_position(chain: Chain, receipt: TxReceipt) -> Position:
    [at] = hub_positions(chain, receipt)
    return at


def usdc(chain: Chain) -> Address:
    return to_address(chain.usdc.address)


def addr(account: LocalAccount) -> Address:
    return to_address(account.address)


def test_a_deposit_is_decoded_with_its_position(chain: Chain, client: HubClient) -> None:
    payer = chain.accounts[1]
    receipt = chain.deposit(payer, 5_000_000)

    [at] = hub_positions(chain, receipt)
    assert events_of(client, receipt) == [Deposited(at, addr(payer), usdc(chain), addr(payer), 5_000_000)]
    assert at.block_hash == bytes(chain.w3.eth.get_block(receipt["blockNumber"])["hash"])


def test_a_session_key_registration_and_revocation_are_decoded(chain: Chain, client: HubClient) -> None:
    payer, key = chain.accounts[1], new_key()
    auth = chain.authorize_signer(payer, key.address, allowance=2_000_000, nonce=7)
    registered = chain.w3.eth.block_number
    revoke = chain.send(chain.hub.functions.revokeSigner(key.address), payer)

    [registration, revocation] = client.events(registered, revoke["blockNumber"])
    assert isinstance(registration, SignerRegistered)
    assert registration == SignerRegistered(
        registration.at, addr(payer), to_address(key.address), usdc(chain), 2_000_000, auth.valid_until, 7
    )
    assert registration.at.block_number == registered
    [at] = hub_positions(chain, revoke)
    effective_at = at.timestamp + chain.deployment.withdraw_delay
    assert revocation == SignerRevoked(at, addr(payer), to_address(key.address), effective_at)


def test_a_claim_by_a_session_key_is_decoded_with_signer_fee_and_new_claimed_total(
    chain: Chain, client: HubClient
) -> None:
    payer, payee, fee_recipient, key = chain.accounts[1], chain.accounts[2], chain.accounts[3], new_key()
    chain.deposit(payer, 10_000_000)
    chain.send(chain.hub.functions.setFee(100, fee_recipient.address), chain.owner)
    chain.authorize_signer(payer, key.address, allowance=5_000_000)
    chain.claim([chain.signed_row(payer, payee.address, 1_000_000)])
    voucher = chain.voucher(payer, payee.address, 3_000_000)
    receipt = chain.claim([claim_row(voucher, chain.sign_voucher(key, voucher))])

    [at] = hub_positions(chain, receipt)
    assert events_of(client, receipt) == [
        Claimed(
            at, addr(payer), addr(payee), usdc(chain), to_address(key.address), 2_000_000, 20_000, 3_000_000
        )
    ]


def test_a_skipped_row_is_decoded_with_its_reason(chain: Chain, client: HubClient) -> None:
    payer, payee = chain.accounts[1], chain.accounts[2]
    chain.deposit(payer, 10_000_000)
    row = chain.signed_row(payer, payee.address, 1_000_000)
    forged = claim_row(chain.voucher(payer, payee.address, 2_000_000), bytes(row[5]))
    receipt = chain.claim([row, row, forged])

    [paid, stale, bad] = hub_positions(chain, receipt)
    assert events_of(client, receipt) == [
        Claimed(paid, addr(payer), addr(payee), usdc(chain), addr(payer), 1_000_000, 0, 1_000_000),
        ClaimSkipped(stale, addr(payer), addr(payee), usdc(chain), 1_000_000, SkipReason.NOTHING_DUE),
        ClaimSkipped(bad, addr(payer), addr(payee), usdc(chain), 2_000_000, SkipReason.BAD_SIGNATURE),
    ]


def test_a_withdrawal_request_cancel_and_withdraw_are_decoded(chain: Chain, client: HubClient) -> None:
    payer, token = chain.accounts[1], usdc(chain)
    chain.deposit(payer, 4_000_000)
    requested = chain.send(chain.hub.functions.requestWithdrawal(token, 1_000_000), payer)
    cancelled = chain.send(chain.hub.functions.cancelWithdrawal(token), payer)
    chain.send(chain.hub.functions.requestWithdrawal(token, 3_000_000), payer)
    chain.increase_time(chain.deployment.withdraw_delay)
    withdrawn = chain.send(chain.hub.functions.withdraw(token), payer)

    [at] = hub_positions(chain, requested)
    delay = chain.deployment.withdraw_delay
    assert events_of(client, requested) == [
        WithdrawalRequested(at, addr(payer), token, 1_000_000, at.timestamp + delay)
    ]
    assert events_of(client, cancelled) == [
        WithdrawalCancelled(only_position(chain, cancelled), addr(payer), token)
    ]
    assert events_of(client, withdrawn) == [
        Withdrawn(only_position(chain, withdrawn), addr(payer), token, 3_000_000)
    ]


def test_withdrawn_earnings_are_decoded(chain: Chain, client: HubClient) -> None:
    payer, payee, to = chain.accounts[1], chain.accounts[2], chain.accounts[4]
    chain.deposit(payer, 2_000_000)
    chain.claim([chain.signed_row(payer, payee.address, 1_500_000)])
    receipt = chain.send(chain.hub.functions.withdrawEarnings(usdc(chain), to.address), payee)

    [at] = hub_positions(chain, receipt)
    assert events_of(client, receipt) == [
        EarningsWithdrawn(at, addr(payee), usdc(chain), addr(to), 1_500_000)
    ]


def test_admin_changes_are_decoded(chain: Chain, client: HubClient) -> None:
    listed = chain.send(chain.hub.functions.setTokenAllowed(usdc(chain), False), chain.owner)
    fee = chain.send(chain.hub.functions.setFee(50, chain.accounts[5].address), chain.owner)

    assert client.events(listed["blockNumber"], fee["blockNumber"]) == [
        TokenAllowed(only_position(chain, listed), usdc(chain), False),
        FeeSet(only_position(chain, fee), 50, addr(chain.accounts[5])),
    ]


def test_events_over_a_range_come_in_block_and_log_index_order(chain: Chain, client: HubClient) -> None:
    payers, payee = chain.accounts[1:4], chain.accounts[5]
    receipts = [chain.deposit(payer, 3_000_000) for payer in payers]
    receipts.append(
        chain.claim([chain.signed_row(p, payee.address, 1_000 * (i + 1)) for i, p in enumerate(payers)])
    )
    receipts.append(chain.deposit(payers[0], 1_000_000))

    found = client.events(receipts[0]["blockNumber"], receipts[-1]["blockNumber"])
    expected = [at for receipt in receipts for at in hub_positions(chain, receipt)]
    assert [event.at for event in found] == expected
    assert [type(event) for event in found] == [Deposited] * 3 + [Claimed] * 3 + [Deposited]
    assert expected == sorted(expected, key=lambda at: (at.block_number, at.log_index))


def test_hub_events_the_index_does_not_use_are_ignored(chain: Chain, client: HubClient) -> None:
    receipt = chain.send(chain.hub.functions.transferOwnership(chain.accounts[1].address), chain.owner)

    assert len(hub_positions(chain, receipt)) == 1  # OwnershipTransferStarted
    assert events_of(client, receipt) == []


def test_an_empty_or_inverted_range_has_no_events(chain: Chain, client: HubClient) -> None:
    head = client.head()
    assert client.events(head, head - 1) == []
    chain.increase_time(1)
    assert client.events(head + 1, head + 1) == []


class DropLogTimestamps(Web3Middleware):
    """Plays a node that does not put `blockTimestamp` in logs (older geth, many providers),
    and counts the requests it sees."""

    requests: ClassVar[list[str]] = []

    def request_processor(self, method: RPCEndpoint, params: Any) -> Any:
        DropLogTimestamps.requests.append(method)
        return method, params

    def response_processor(self, method: RPCEndpoint, response: RPCResponse) -> RPCResponse:
        if method == "eth_getLogs" and "result" in response:
            logs = [{k: v for k, v in log.items() if k != "blockTimestamp"} for log in response["result"]]
            return {**response, "result": logs}
        return response


def test_a_node_without_timestamps_in_logs_gets_each_block_once(chain: Chain) -> None:
    payer, other, payee = chain.accounts[1], chain.accounts[2], chain.accounts[3]
    receipts = [chain.deposit(payer, 1_000_000), chain.deposit(other, 1_000_000)]
    receipts.append(chain.claim([chain.signed_row(p, payee.address, 1_000) for p in (payer, other)]))
    w3 = Web3(Web3.HTTPProvider(chain.w3.provider.endpoint_uri))  # type: ignore[attr-defined]
    w3.middleware_onion.add(DropLogTimestamps)
    DropLogTimestamps.requests.clear()

    found = HubClient(w3, chain.hub.address).events(receipts[0]["blockNumber"], receipts[-1]["blockNumber"])
    assert [event.at for event in found] == [at for r in receipts for at in hub_positions(chain, r)]
    assert DropLogTimestamps.requests == ["eth_getLogs"] + ["eth_getBlockByHash"] * 3


def test_every_hub_event_maps_to_a_dataclass_with_the_same_arguments(chain: Chain) -> None:
    def snake(name: str) -> str:
        return {"from": "sender"}.get(name) or "".join(f"_{c.lower()}" if c.isupper() else c for c in name)

    abi = {item["name"]: item for item in chain.hub.abi if item["type"] == "event"}
    for cls in HUB_EVENTS:
        arguments = [snake(i["name"]) for i in abi[cls.__name__]["inputs"]]
        assert ["at", *arguments] == [f.name for f in fields(cls)], cls.__name__


def test_blocks_head_and_chain_id_are_what_the_node_says(chain: Chain, client: HubClient) -> None:
    latest = chain.w3.eth.get_block("latest")
    assert client.chain_id() == 31337
    assert client.head() == latest["number"]
    assert client.block(latest["number"]) == (latest["number"], bytes(latest["hash"]), latest["timestamp"])


def test_views_return_what_the_contract_says(chain: Chain, client: HubClient) -> None:
    payer, payee, key, token = chain.accounts[1], chain.accounts[2], new_key(), usdc(chain)
    before = chain.deposit(payer, 9_000_000)["blockNumber"]
    auth = chain.authorize_signer(payer, key.address, allowance=4_000_000)
    chain.claim([chain.signed_row(payer, payee.address, 2_500_000)])
    request = chain.send(chain.hub.functions.requestWithdrawal(token, 1_000_000), payer)

    assert client.balance_of(payer.address, token) == 6_500_000
    assert client.balance_of(payer.address, token, block=before - 1) == 0
    assert client.balance_of(payer.address, token, block=before) == 9_000_000
    available_at = hub_positions(chain, request)[0].timestamp + chain.deployment.withdraw_delay
    assert client.withdrawal_of(payer.address, token) == (1_000_000, available_at)
    assert client.withdrawal_of(payee.address, token) == (0, 0)
    assert (
        client.claimed(payer.address, payee.address, token)
        == 2_500_000
        == chain.claimed(payer.address, payee.address)
    )
    assert client.earnings_of(payee.address, token) == 2_500_000
    assert client.signer_of(payer.address, key.address) == (token, 4_000_000, auth.valid_until, 0)
    assert client.signer_of(payer.address, new_key().address) == (None, 0, 0, 0)
    assert client.tokens() == [token]
    assert client.is_token_allowed(token) is True
    assert client.is_token_allowed(payee.address) is False
    assert client.withdraw_delay() == chain.deployment.withdraw_delay
    assert client.domain_separator() == chain.domain.separator


@pytest.mark.parametrize(
    ("mode", "signed_by_owner", "valid"),
    [
        (VALID, True, True),
        (VALID, False, False),
        (INVALID, True, False),
        (REVERT, True, False),
        (BURN_GAS, True, False),
        (RETURN_BOMB, True, False),
    ],
)
def test_only_a_valid_wallet_with_its_owners_signature_passes_eip1271(
    chain: Chain, client: HubClient, mode: int, signed_by_owner: bool, valid: bool
) -> None:
    owner = chain.accounts[1]
    wallet = chain.deploy("MockERC1271Wallet", owner.address)
    chain.send(wallet.functions.setMode(mode), owner)
    message = digest(chain.domain.separator, b"\x42" * 32)
    signature = sign_digest(owner.key if signed_by_owner else new_key().key, message)

    assert client.is_valid_erc1271(wallet.address, message, signature) is valid


def test_an_address_without_code_is_no_eip1271_wallet(chain: Chain, client: HubClient) -> None:
    owner = chain.accounts[1]
    message = b"\x42" * 32
    assert client.is_valid_erc1271(owner.address, message, sign_digest(owner.key, message)) is False
    assert client.is_valid_erc1271(chain.usdc.address, message, sign_digest(owner.key, message)) is False


def test_token_info_reads_the_eip712_domain_when_the_token_reports_one(
    chain: Chain, client: HubClient
) -> None:
    token = usdc(chain)
    domain = TokenDomain("Test USD Coin", "1", 31337, token)
    assert client.token_info(token) == TokenInfo(token, "USDC", "Test USD Coin", 6, domain)

    plain = chain.deploy("NoReturnToken")
    assert client.token_info(plain.address) == TokenInfo(
        to_address(plain.address), "NRUSD", "No Return USD", 6, None
    )


def test_permit_nonce_is_the_tokens_eip2612_nonce_of_the_owner(chain: Chain, client: HubClient) -> None:
    owner, spender, deadline = chain.accounts[1], chain.hub.address, 2**255
    assert client.permit_nonce(chain.usdc.address, owner.address) == 0
    permit = {"owner": owner.address, "spender": spender, "value": 1, "nonce": 0, "deadline": deadline}
    signed = owner.sign_typed_data(
        {"name": "Test USD Coin", "version": "1", "chainId": 31337, "verifyingContract": chain.usdc.address},
        {
            "Permit": [
                {"name": k, "type": "address" if k in ("owner", "spender") else "uint256"} for k in permit
            ]
        },
        permit,
    )
    r, s = signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")
    call = chain.usdc.functions.permit(owner.address, spender, 1, deadline, signed.v, r, s)
    chain.send(call, chain.owner)

    assert client.permit_nonce(chain.usdc.address, owner.address) == 1


class Unavailable(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.send_error(503)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def dead_node(kind: str) -> Iterator[str]:
    """The URL of a node that refuses connections, accepts them but never answers, or answers HTTP 503."""
    if kind == "refused":
        yield f"http://127.0.0.1:{free_port()}"
    elif kind == "silent":
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen()
            yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    else:
        server = ThreadingHTTPServer(("127.0.0.1", 0), Unavailable)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()
            thread.join()


@pytest.mark.parametrize("kind", ["refused", "silent", "http_503"])
def test_a_client_of_a_node_that_is_down_raises_transient(chain: Chain, kind: str) -> None:
    with dead_node(kind) as url:
        client = HubClient.connect(url, chain.hub.address, timeout=0.5)
        calls: list[Callable[[], object]] = [
            client.chain_id,
            client.head,
            lambda: client.block(1),
            lambda: client.events(0, 10),
            lambda: client.balance_of(chain.owner.address, chain.usdc.address),
            lambda: client.is_valid_erc1271(chain.owner.address, bytes(32), bytes(65)),
            lambda: client.token_info(chain.usdc.address),
        ]
        for call in calls:
            with pytest.raises(Transient, match=r"chain node: .* failed: the node is unreachable") as caught:
                call()
            assert url.rsplit(":", 1)[1] not in str(caught.value)  # no URL: it may hold an API key
