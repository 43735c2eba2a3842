"""The deployed v2 hub over web3: its events as app.core.events values, its views (among them the
on-chain signer authorizations of smart-contract payers), and EIP-1271 checks. Implements
app.chain.interface.Hub. Every node failure surfaces as `Transient`.

The ABI is written here by hand (events and views of docs/protocol.md), so that reading the hub
does not depend on the compiled artifact; tests/chain/test_hub.py holds these fragments against
the artifact once it is v2."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, cast, get_args

from hexbytes import HexBytes
from web3 import Web3
from web3.contract.contract import ContractEvent, ContractFunction
from web3.exceptions import (
    BadFunctionCallOutput,
    BadResponseFormat,
    ContractLogicError,
    ProviderConnectionError,
    TimeExhausted,
    TooManyRequests,
    Web3RPCError,
)
from web3.types import BlockData, BlockIdentifier, LogReceipt

from app.chain.interface import Block, Hub, NotAToken, TokenDomain, TokenInfo
from app.core import events as ev
from app.core.errors import Transient
from app.core.ledger import SkipReason
from app.core.types import Address, to_address

__all__ = ["Block", "HubClient", "NotAToken", "TokenDomain", "TokenInfo"]

# Each named like its Solidity event, with the same arguments in snake_case.
HUB_EVENTS: tuple[type[ev.HubEvent], ...] = get_args(ev.HubEvent)
BATCH_SIZE = 100  # block headers per JSON-RPC batch: providers cap batch sizes

# requests' errors (refused, timeout, HTTP status) are OSErrors; a body that is not JSON is a ValueError.
_NODE_ERRORS = (
    OSError,
    json.JSONDecodeError,
    ProviderConnectionError,
    BadResponseFormat,
    TimeExhausted,
    TooManyRequests,
    Web3RPCError,
)


def _view(name: str, inputs: list[str], outputs: list[str]) -> dict[str, Any]:
    return {
        "type": "function",
        "name": name,
        "stateMutability": "view",
        "inputs": [{"name": "", "type": t} for t in inputs],
        "outputs": [{"name": "", "type": t} for t in outputs],
    }


def _event(name: str, *inputs: tuple[str, str, bool]) -> dict[str, Any]:
    """An event fragment from (name, type, indexed) triples."""
    return {
        "type": "event",
        "name": name,
        "anonymous": False,
        "inputs": [{"name": n, "type": t, "indexed": i} for n, t, i in inputs],
    }


def _address(name: str, indexed: bool = True) -> tuple[str, str, bool]:
    return (name, "address", indexed)


def _uint(name: str, bits: int = 256) -> tuple[str, str, bool]:
    return (name, f"uint{bits}", False)


HUB_EVENTS_ABI = [
    _event("Deposited", _address("payer"), _address("token"), _address("from"), _uint("amount")),
    _event(
        "WithdrawalRequested", _address("payer"), _address("token"), _uint("amount"), _uint("availableAt")
    ),
    _event("WithdrawalCancelled", _address("payer"), _address("token")),
    _event("Withdrawn", _address("payer"), _address("token"), _uint("amount")),
    _event("SignerAuthorized", _address("payer"), _address("signer")),
    _event("SignerRevoked", _address("payer"), _address("signer"), _uint("effectiveAt")),
    _event(
        "VoucherClaimed", _address("payer"), _address("token"), ("lane", "uint256", True),
        ("entriesHash", "bytes32", False), _address("signer", indexed=False), _uint("amount"),
    ),
    _event(
        "VoucherSkipped", _address("payer"), _address("token"), ("lane", "uint256", True),
        ("entriesHash", "bytes32", False), _uint("reason", 8),
    ),
    _event("Earned", _address("payee"), _address("token"), _uint("amount"), _uint("fee")),
    _event("DepositFailed", _address("payer"), _address("token"), ("nonce", "bytes32", False)),
    _event("OperatorSet", _address("operator")),
    _event("EarningsWithdrawn", _address("payee"), _address("token"), _address("to"), _uint("amount")),
    _event("TokenAllowed", _address("token"), ("allowed", "bool", False)),
    _event("FeeSet", _uint("feeBps"), _address("recipient")),
]  # fmt: skip

HUB_VIEWS_ABI = [
    _view("balanceOf", ["address", "address"], ["uint256"]),
    _view("withdrawalOf", ["address", "address"], ["uint256", "uint256"]),
    _view("laneCommitment", ["address", "address", "uint256"], ["bytes32"]),
    _view("earningsOf", ["address", "address"], ["uint256"]),
    _view("revokedAt", ["address", "address"], ["uint256"]),
    _view("isAuthorizedSigner", ["address", "address"], ["bool"]),
    _view("operator", [], ["address"]),
    _view("tokens", [], ["address[]"]),
    _view("isTokenAllowed", ["address"], ["bool"]),
    _view("withdrawDelay", [], ["uint256"]),
    _view("DOMAIN_SEPARATOR", [], ["bytes32"]),
]

ERC20_ABI = [
    _view("name", [], ["string"]),
    _view("symbol", [], ["string"]),
    _view("decimals", [], ["uint8"]),
    _view("balanceOf", ["address"], ["uint256"]),
    _view("nonces", ["address"], ["uint256"]),
    _view("eip712Domain", [], ["bytes1", "string", "string", "uint256", "address", "bytes32", "uint256[]"]),
]


def _describe(exc: Exception) -> str:
    # Never the exception text of a transport error: it carries the RPC URL, which may hold an API key.
    if isinstance(exc, Web3RPCError):
        return f"the node answered with an error: {exc.message}"
    return f"the node is unreachable or failed ({type(exc).__name__})"


@contextmanager
def _node(doing: str) -> Iterator[None]:
    """Turns any node failure inside the block into `Transient`."""
    try:
        yield
    except _NODE_ERRORS as exc:
        raise Transient(f"chain node: {doing} failed: {_describe(exc)}") from exc


_RENAMED = {"from": "sender"}  # Solidity names that are Python keywords


def _field(arg: str) -> str:
    """The dataclass field of an event argument: `cumulativeAmount` -> `cumulative_amount`."""
    return _RENAMED.get(arg) or re.sub(r"(?<!^)(?=[A-Z])", "_", arg).lower()


def _build(cls: type[ev.HubEvent], at: ev.Position, args: Mapping[str, Any]) -> ev.HubEvent:
    """The app.core.events value of a decoded log. Hub events have no string arguments: a str is an
    address. tests/chain checks that every event's arguments match its dataclass's fields."""
    fields: dict[str, Any] = {"at": at}
    for arg, value in args.items():
        fields[_field(arg)] = to_address(value) if isinstance(value, str) else value
    if cls is ev.VoucherSkipped:
        fields["reason"] = SkipReason(fields["reason"])
    return cls(**fields)


class HubClient:
    """Reads one v2 hub on one chain. Thread-safe as far as the underlying Web3 is."""

    def __init__(self, w3: Web3, hub_address: str) -> None:
        self._w3 = w3
        abi = HUB_EVENTS_ABI + HUB_VIEWS_ABI
        self._hub = w3.eth.contract(address=Web3.to_checksum_address(hub_address), abi=abi)
        self._decoders: dict[bytes, tuple[ContractEvent, type[ev.HubEvent]]] = {}
        for cls in HUB_EVENTS:
            event = self._hub.events[cls.__name__]()
            self._decoders[bytes(HexBytes(event.topic))] = (event, cls)

    @classmethod
    def connect(cls, rpc_url: str, hub_address: str, timeout: float = 10) -> HubClient:
        """A client over HTTP. web3's own retries are off: callers retry on `Transient`, and a dead
        node then costs one `timeout`, not five with back-off."""
        provider = Web3.HTTPProvider(
            rpc_url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None
        )
        return cls(Web3(provider), hub_address)

    @property
    def address(self) -> Address:
        return to_address(self._hub.address)

    # ------------------------------------------------------------------ blocks

    def chain_id(self) -> int:
        with _node("reading the chain id"):
            return int(self._w3.eth.chain_id)

    def head(self) -> int:
        """The latest block number."""
        with _node("reading the latest block number"):
            return int(self._w3.eth.block_number)

    def block(self, number: int) -> tuple[int, bytes, int]:
        """(number, hash, timestamp) of a canonical block; `Transient` if the node does not have it."""
        with _node(f"reading block {number}"):
            data = self._w3.eth.get_block(number)
        return int(data["number"]), bytes(data["hash"]), int(data["timestamp"])

    # ------------------------------------------------------------------ events

    def events(self, from_block: int, to_block: int) -> list[ev.HubEvent]:
        """Every hub event in blocks from_block..to_block (inclusive), in (block, log index) order."""
        if to_block < from_block:
            return []
        with _node(f"reading hub logs of blocks {from_block}..{to_block}"):
            logs = self._w3.eth.get_logs(
                {"address": self._hub.address, "fromBlock": from_block, "toBlock": to_block}
            )
        logs = [
            log
            for log in logs
            if log["topics"] and bytes(log["topics"][0]) in self._decoders and not log.get("removed")
        ]
        timestamps = self._timestamps(logs)
        decoded = []
        for log in logs:
            event, cls = self._decoders[bytes(log["topics"][0])]
            at = ev.Position(
                block_number=int(log["blockNumber"]),
                block_hash=bytes(log["blockHash"]),
                log_index=int(log["logIndex"]),
                tx_hash=bytes(log["transactionHash"]),
                timestamp=timestamps[bytes(log["blockHash"])],
            )
            decoded.append(_build(cls, at, event.process_log(log)["args"]))
        decoded.sort(key=lambda e: (e.at.block_number, e.at.log_index))
        return decoded

    def _timestamps(self, logs: list[LogReceipt]) -> dict[bytes, int]:
        """Block hash -> timestamp. Recent nodes put `blockTimestamp` in each log; for the others each
        distinct block is fetched once, by hash (so a reorg cannot pair a log with another block's
        time), in JSON-RPC batches."""
        found: dict[bytes, int] = {}
        missing: list[bytes] = []
        for log in logs:
            block_hash = bytes(log["blockHash"])
            stamp = cast(Mapping[str, Any], log).get("blockTimestamp")
            if stamp is not None:
                found[block_hash] = int(stamp, 16) if isinstance(stamp, str) else int(stamp)
            elif block_hash not in found and block_hash not in missing:
                missing.append(block_hash)
        for start in range(0, len(missing), BATCH_SIZE):
            with _node("reading block timestamps"), self._w3.batch_requests() as batch:
                for block_hash in missing[start : start + BATCH_SIZE]:
                    batch.add(self._w3.eth.get_block(HexBytes(block_hash)))
                blocks = cast(list[BlockData], batch.execute())
            for block in blocks:
                found[bytes(block["hash"])] = int(block["timestamp"])
        return found

    # ------------------------------------------------------------------- views

    def _call(self, function: ContractFunction, block: Block = "latest") -> Any:
        # CCIP-read off: a contract must never make this server fetch URLs it chose (EIP-3668).
        with _node(f"calling {function.fn_name}()"):
            return function.call(block_identifier=cast(BlockIdentifier, block), ccip_read_enabled=False)

    def balance_of(self, payer: Address, token: Address, block: Block = "latest") -> int:
        return int(self._call(self._hub.functions.balanceOf(to_address(payer), to_address(token)), block))

    def withdrawal_of(self, payer: Address, token: Address, block: Block = "latest") -> tuple[int, int]:
        """(amount, available_at) of the pending withdrawal; (0, 0) if none."""
        function = self._hub.functions.withdrawalOf(to_address(payer), to_address(token))
        amount, available_at = self._call(function, block)
        return int(amount), int(available_at)

    def lane_commitment(self, payer: Address, token: Address, lane: int, block: Block = "latest") -> bytes:
        """The hash of the lane's last claimed vector; 32 zero bytes when nothing was claimed."""
        function = self._hub.functions.laneCommitment(to_address(payer), to_address(token), lane)
        return bytes(self._call(function, block))

    def earnings_of(self, payee: Address, token: Address, block: Block = "latest") -> int:
        return int(self._call(self._hub.functions.earningsOf(to_address(payee), to_address(token)), block))

    def revoked_at(self, payer: Address, signer: Address, block: Block = "latest") -> int:
        """When the key's revocation takes effect; 0 if never revoked."""
        return int(self._call(self._hub.functions.revokedAt(to_address(payer), to_address(signer)), block))

    def is_authorized_signer(self, payer: Address, signer: Address, block: Block = "latest") -> bool:
        """True when the payer authorized the key on chain and no revocation of it has taken effect
        (a pending one still answers True: read `revoked_at`)."""
        function = self._hub.functions.isAuthorizedSigner(to_address(payer), to_address(signer))
        return bool(self._call(function, block))

    def operator(self) -> Address:
        return to_address(self._call(self._hub.functions.operator()))

    def tokens(self) -> list[Address]:
        """Every token ever listed, allowed for deposits or not."""
        return [to_address(t) for t in self._call(self._hub.functions.tokens())]

    def is_token_allowed(self, token: Address) -> bool:
        return bool(self._call(self._hub.functions.isTokenAllowed(to_address(token))))

    def withdraw_delay(self) -> int:
        return int(self._call(self._hub.functions.withdrawDelay()))

    def domain_separator(self) -> bytes:
        return bytes(self._call(self._hub.functions.DOMAIN_SEPARATOR()))

    # ------------------------------------------------------------------ tokens

    def token_info(self, token: Address) -> TokenInfo:
        """Symbol, name, decimals and (if the token reports one) EIP-712 domain of an ERC-20.
        Raises NotAToken when the address does not answer as an ERC-20."""
        contract = self._w3.eth.contract(address=Web3.to_checksum_address(token), abi=ERC20_ABI)
        try:
            return TokenInfo(
                address=to_address(token),
                symbol=str(self._call(contract.functions.symbol())),
                name=str(self._call(contract.functions.name())),
                decimals=int(self._call(contract.functions.decimals())),
                domain=self._token_domain(contract.functions.eip712Domain()),
            )
        except (BadFunctionCallOutput, ContractLogicError) as error:
            raise NotAToken(f"{token} does not answer as an ERC-20 token") from error

    def token_balance(self, token: Address, holder: Address) -> int:
        """The ERC-20 balance of `holder` (the hub itself, for reconciliation)."""
        contract = self._w3.eth.contract(address=Web3.to_checksum_address(token), abi=ERC20_ABI)
        return int(self._call(contract.functions.balanceOf(to_address(holder))))

    def permit_nonce(self, token: Address, owner: Address) -> int:
        """The owner's next EIP-2612 permit nonce (`nonces(owner)`) on `token`."""
        contract = self._w3.eth.contract(address=Web3.to_checksum_address(token), abi=ERC20_ABI)
        return int(self._call(contract.functions.nonces(to_address(owner))))

    def _token_domain(self, function: ContractFunction) -> TokenDomain | None:
        try:
            _, name, version, chain_id, verifying_contract, _, _ = self._call(function)
        except (ContractLogicError, BadFunctionCallOutput):
            return None  # no eip712Domain(): reverted, or nothing decodable came back
        return TokenDomain(name, version, int(chain_id), to_address(verifying_contract))


_IS_A_HUB: type[Hub] = HubClient
