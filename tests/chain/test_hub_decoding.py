"""The web3 hub decodes v2 logs, built here from its hand-written ABI, into app.core.events values
(no chain needed: the logs are encoded as a node would return them)."""

from __future__ import annotations

from typing import Any

from eth_abi.abi import encode
from hexbytes import HexBytes
from web3 import Web3

from app.chain.hub import HUB_EVENTS_ABI, HubClient
from app.core import events as ev
from app.core.keccak import keccak
from app.core.ledger import SkipReason
from app.core.types import to_address

HUB = to_address("0x" + "4b" * 20)
PAYER, TOKEN, SIGNER = (to_address("0x" + c * 20) for c in ("11", "33", "55"))


def log(name: str, *values: Any) -> dict[str, Any]:
    """A log of event `name` with its arguments in declaration order."""
    (fragment,) = [f for f in HUB_EVENTS_ABI if f["name"] == name]
    types = [i["type"] for i in fragment["inputs"]]
    topics = [keccak(f"{name}({','.join(types)})".encode())]
    data_types, data_values = [], []
    for item, value in zip(fragment["inputs"], values, strict=True):
        if item["indexed"]:
            topics.append(encode([item["type"]], [value]))
        else:
            data_types.append(item["type"])
            data_values.append(value)
    data = HexBytes(encode(data_types, data_values))
    return {
        "address": HUB, "topics": [HexBytes(t) for t in topics], "data": data,
        "blockNumber": 7, "blockHash": HexBytes(b"\x07" * 32), "logIndex": 0, "transactionIndex": 0,
        "transactionHash": HexBytes(b"\x09" * 32), "removed": False, "blockTimestamp": 1_700_000_000,
    }  # fmt: skip


def decoded(raw: dict[str, Any]) -> ev.HubEvent:
    """What HubClient.events returns for a node that answers eth_getLogs with `raw`."""
    w3 = Web3()
    w3.eth.get_logs = lambda params: [raw]  # type: ignore[method-assign,assignment,return-value]
    (event,) = HubClient(w3, HUB).events(7, 7)
    assert event.at == ev.Position(7, b"\x07" * 32, 0, b"\x09" * 32, 1_700_000_000)
    return event


def test_a_voucher_claimed_log_decodes_with_its_lane_hash_and_signer() -> None:
    event = decoded(log("VoucherClaimed", PAYER, TOKEN, 2**64 - 1, b"\xab" * 32, SIGNER, 150))
    assert event == ev.VoucherClaimed(event.at, PAYER, TOKEN, 2**64 - 1, b"\xab" * 32, SIGNER, 150)


def test_a_voucher_skipped_log_decodes_its_reason() -> None:
    event = decoded(log("VoucherSkipped", PAYER, TOKEN, 3, bytes(32), 9))
    assert isinstance(event, ev.VoucherSkipped)
    assert event.reason is SkipReason.INSUFFICIENT_BALANCE


def test_a_deposit_names_its_sender() -> None:
    event = decoded(log("Deposited", PAYER, TOKEN, SIGNER, 500))
    assert event == ev.Deposited(event.at, PAYER, TOKEN, SIGNER, 500)


def test_an_earned_log_carries_amount_and_fee() -> None:
    event = decoded(log("Earned", SIGNER, TOKEN, 99, 1))
    assert event == ev.Earned(event.at, SIGNER, TOKEN, 99, 1)
