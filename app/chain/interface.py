"""The hub as the services see it: a small typed interface, implemented over web3 by
`app.chain.hub.HubClient` and in memory by `app.chain.fake.FakeHub` (for tests).

Every method that reaches a node raises `app.core.errors.Transient` when the node fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from app.core import events as ev
from app.core.types import Address

Block = int | str  # a block number, or a tag: "latest", "safe", "finalized"


class NotAToken(Exception):
    """The address has no ERC-20 behind it (no code, or calls revert or return garbage)."""


@dataclass(frozen=True)
class TokenDomain:
    """A token's EIP-712 domain as it reports it (EIP-5267), for permits and EIP-3009 authorizations."""

    name: str
    version: str
    chain_id: int
    verifying_contract: Address


@dataclass(frozen=True)
class TokenInfo:
    address: Address
    symbol: str
    name: str
    decimals: int
    domain: TokenDomain | None  # None when the token does not implement eip712Domain()


class Hub(Protocol):
    """One v2 hub on one chain: its blocks, its events, its views, and the tokens it holds."""

    @property
    def address(self) -> Address: ...

    def chain_id(self) -> int: ...

    # blocks and events

    def head(self) -> int:
        """The latest block number."""
        ...

    def block(self, number: int) -> tuple[int, bytes, int]:
        """(number, hash, timestamp) of a canonical block."""
        ...

    def events(self, from_block: int, to_block: int) -> list[ev.HubEvent]:
        """Every hub event in blocks from_block..to_block (inclusive), in (block, log index) order."""
        ...

    # views

    def balance_of(self, payer: Address, token: Address, block: Block = "latest") -> int: ...

    def withdrawal_of(self, payer: Address, token: Address, block: Block = "latest") -> tuple[int, int]:
        """(amount, available_at) of the pending withdrawal; (0, 0) if none."""
        ...

    def lane_commitment(self, payer: Address, token: Address, lane: int, block: Block = "latest") -> bytes:
        """The hash of the lane's last claimed vector; 32 zero bytes when nothing was claimed."""
        ...

    def earnings_of(self, payee: Address, token: Address, block: Block = "latest") -> int: ...

    def revoked_at(self, payer: Address, signer: Address, block: Block = "latest") -> int:
        """When the key's revocation takes effect; 0 if never revoked."""
        ...

    def is_authorized_signer(self, payer: Address, signer: Address, block: Block = "latest") -> bool:
        """True when `payer` authorized `signer` on chain (authorizeSigner) and no revocation of it
        has taken effect; a pending revocation still answers True (see `revoked_at`)."""
        ...

    def operator(self) -> Address: ...

    def tokens(self) -> list[Address]:
        """Every token ever listed, allowed for deposits or not."""
        ...

    def is_token_allowed(self, token: Address) -> bool: ...

    def withdraw_delay(self) -> int: ...

    def domain_separator(self) -> bytes: ...

    # wallets and tokens

    def token_info(self, token: Address) -> TokenInfo:
        """Raises NotAToken when the address does not answer as an ERC-20."""
        ...

    def token_balance(self, token: Address, holder: Address) -> int: ...

    def permit_nonce(self, token: Address, owner: Address) -> int: ...
