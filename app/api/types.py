"""GraphQL object types. Each wraps one domain object and is built by `from_domain`."""

from __future__ import annotations

from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON

from app.api.context import Info
from app.api.scalars import Amount, Bytes, Bytes32, SafeInt, Timestamp
from app.core import eip712, rules
from app.core.receipts import Receipt as DomainReceipt
from app.core.types import Address
from app.services.accounts import AccountView, ChannelView, EarningsView, IndexedBlock
from app.store.catalog import Resource as DomainResource
from app.store.catalog import Token as DomainToken


async def _token_domain(root: Token, info: Info) -> JSON | None:
    domain = await info.context.run(info.context.services.typed_data.token_domain, root.address)
    return None if domain is None else JSON(domain)


async def _withdraw_delay(info: Info) -> SafeInt | None:
    return SafeInt(await info.context.run(info.context.services.hub.withdraw_delay))


async def _allowed_tokens(info: Info) -> list[Token]:
    tokens = await info.context.run(info.context.services.catalog.tokens)
    return [Token.from_domain(token) for token in tokens if token.allowed]


@strawberry.type(description="An ERC-20 token the hub has listed.")
class Token:
    address: Address
    symbol: str
    name: str
    decimals: int
    allowed: bool = strawberry.field(description="Whether the hub accepts new deposits of it.")
    eip712_domain = strawberry.field(
        resolver=_token_domain,
        description="The token's own EIP-712 domain (EIP-5267), for permits and EIP-3009 "
        "authorizations; null if it has none.",
    )

    @classmethod
    def from_domain(cls, token: DomainToken) -> Token:
        return cls(
            address=token.address,
            symbol=token.symbol,
            name=token.name,
            decimals=token.decimals,
            allowed=token.allowed,
        )


@strawberry.type(description="What a client needs to sign for this server: chain, hub, EIP-712 types.")
class HubConfig:
    chain_id: SafeInt
    hub: Address
    domain: JSON = strawberry.field(description="The hub's EIP-712 domain.")
    voucher_types: JSON = strawberry.field(description="EIP-712 `types` of a Voucher.")
    signer_authorization_types: JSON = strawberry.field(
        description="EIP-712 `types` of a SignerAuthorization."
    )
    withdraw_delay = strawberry.field(
        resolver=_withdraw_delay, description="Seconds between a withdrawal request and the withdrawal."
    )
    allowed_tokens = strawberry.field(
        resolver=_allowed_tokens, description="Tokens the hub accepts deposits of."
    )

    @classmethod
    def from_domain(cls, domain: eip712.Domain) -> HubConfig:
        return cls(
            chain_id=SafeInt(domain.chain_id),
            hub=domain.hub,
            domain=JSON(domain.as_json()),
            voucher_types=JSON(
                {"EIP712Domain": eip712.EIP712_DOMAIN_FIELDS, "Voucher": eip712.VOUCHER_FIELDS}
            ),
            signer_authorization_types=JSON(
                {
                    "EIP712Domain": eip712.EIP712_DOMAIN_FIELDS,
                    "SignerAuthorization": eip712.SIGNER_AUTHORIZATION_FIELDS,
                }
            ),
        )


@strawberry.type(description="A payer's money in one token, as the server sees it.")
class Account:
    payer: Address
    token: Address
    balance: Amount = strawberry.field(description="Deposited and confirmed on chain.")
    pending_withdrawal: Amount
    withdrawal_available_at: Timestamp | None
    outstanding: Amount = strawberry.field(description="Accepted by the server, not yet claimed.")
    headroom: Amount = strawberry.field(description="What the payer can still spend.")

    @classmethod
    def from_domain(cls, view: AccountView) -> Account:
        available_at = view.withdrawal_available_at
        return cls(
            payer=view.payer,
            token=view.token,
            balance=Amount(view.balance),
            pending_withdrawal=Amount(view.pending_withdrawal),
            withdrawal_available_at=None if available_at is None else Timestamp(available_at),
            outstanding=Amount(view.outstanding),
            headroom=Amount(view.headroom),
        )


@strawberry.type(description="What one payer paid one payee in one token.")
class Channel:
    id: Bytes32 = strawberry.field(description="keccak256(abi.encode(payer, payee, token)).")
    payer: Address
    payee: Address
    token: Address
    accepted: Amount = strawberry.field(description="Cumulative amount of the latest accepted voucher.")
    claimed: Amount = strawberry.field(description="Cumulative amount claimed on chain.")
    updated_at: Timestamp

    @classmethod
    def from_domain(cls, view: ChannelView) -> Channel:
        return cls(
            id=Bytes32(view.channel_id),
            payer=view.payer,
            payee=view.payee,
            token=view.token,
            accepted=Amount(view.accepted),
            claimed=Amount(view.claimed),
            updated_at=Timestamp(view.updated_at),
        )


@strawberry.enum(description="Where an accepted voucher is in its life.")
class ReceiptStatus(Enum):
    ACCEPTED = "accepted"
    CLAIMED = "claimed"
    PAID_OUT = "paid_out"
    FAILED = "failed"


@strawberry.type(description="A voucher the server accepted, with its signature: proof of a payment.")
class Receipt:
    id: str
    payer: Address
    payee: Address
    token: Address
    cumulative_amount: Amount
    price: Amount
    purchase: Bytes32
    resource_id: str
    signer: Address = strawberry.field(description="The payer, or the session key that signed.")
    signature: Bytes
    status: ReceiptStatus
    created_at: Timestamp
    claim_tx: Bytes32 | None
    failure: str | None = strawberry.field(description="Why the claim was skipped, when FAILED.")

    @classmethod
    def from_domain(cls, receipt: DomainReceipt) -> Receipt:
        voucher = receipt.voucher
        return cls(
            id=receipt.id,
            payer=voucher.payer,
            payee=voucher.payee,
            token=voucher.token,
            cumulative_amount=Amount(voucher.cumulative_amount),
            price=Amount(receipt.price),
            purchase=Bytes32(voucher.purchase),
            resource_id=receipt.resource_id,
            signer=receipt.signer,
            signature=Bytes(receipt.signature),
            status=ReceiptStatus(receipt.status.value),
            created_at=Timestamp(receipt.created_at),
            claim_tx=None if receipt.claim_tx is None else Bytes32(receipt.claim_tx),
            failure=receipt.failure,
        )


@strawberry.type(description="A key a payer authorised on chain to sign vouchers in one token.")
class SessionKey:
    signer: Address
    token: Address
    allowance: Amount = strawberry.field(description="Remaining on chain.")
    outstanding: Amount = strawberry.field(description="Accepted from this key, not yet claimed.")
    valid_until: Timestamp
    revoke_at: Timestamp | None

    @classmethod
    def from_domain(cls, key: rules.SessionKey) -> SessionKey:
        return cls(
            signer=key.signer,
            token=key.token,
            allowance=Amount(key.allowance),
            outstanding=Amount(key.outstanding),
            valid_until=Timestamp(key.valid_until),
            revoke_at=None if key.revoke_at is None else Timestamp(key.revoke_at),
        )


@strawberry.type(description="Something a creator sells, at a price per action.")
class Resource:
    id: str
    payee: Address
    token: Address
    price: Amount
    title: str
    description: str
    active: bool
    created_at: Timestamp

    @classmethod
    def from_domain(cls, resource: DomainResource) -> Resource:
        return cls(
            id=resource.id,
            payee=resource.payee,
            token=resource.token,
            price=Amount(resource.price),
            title=resource.title,
            description=resource.description,
            active=resource.active,
            created_at=Timestamp(resource.created_at),
        )


@strawberry.type(description="A creator's money in one token.")
class Earnings:
    payee: Address
    token: Address
    accepted: Amount = strawberry.field(description="Accepted by the server, not yet claimed on chain.")
    withdrawable: Amount = strawberry.field(description="Claimed on chain, withdrawable now.")
    withdrawn: Amount

    @classmethod
    def from_domain(cls, view: EarningsView) -> Earnings:
        return cls(
            payee=view.payee,
            token=view.token,
            accepted=Amount(view.accepted),
            withdrawable=Amount(view.withdrawable),
            withdrawn=Amount(view.withdrawn),
        )


@strawberry.type(description="The last block the server's index has applied.")
class Block:
    number: SafeInt
    hash: Bytes32
    indexed_at: Timestamp

    @classmethod
    def from_domain(cls, block: IndexedBlock) -> Block:
        return cls(
            number=SafeInt(block.number), hash=Bytes32(block.hash), indexed_at=Timestamp(block.updated_at)
        )


@strawberry.type(description="How far the server's index has followed the chain (like The Graph's _meta).")
class Meta:
    block: Block | None = strawberry.field(description="Null until the first block is indexed.")
    has_indexing_errors: bool = strawberry.field(
        description="Always false: the indexer stops on an error rather than skip events."
    )
    deployment: str = strawberry.field(description="The hub address the index follows.")

    @classmethod
    def from_domain(cls, block: IndexedBlock | None, hub: Address) -> Meta:
        return cls(
            block=None if block is None else Block.from_domain(block),
            has_indexing_errors=False,
            deployment=hub,
        )


@strawberry.type(
    description="An EIP-712 payload to sign as is (eth_signTypedData_v4). Integers of the message "
    "are decimal strings, which wallets, viem and ethers accept, so that none loses precision in JSON."
)
class TypedData:
    typed_data: JSON = strawberry.field(description="{domain, types, primaryType, message}.")
    domain: JSON
    types: JSON
    primary_type: str
    message: JSON

    @classmethod
    def from_domain(cls, payload: dict[str, Any]) -> TypedData:
        payload = {**payload, "message": _exact_integers(payload)}
        return cls(
            typed_data=JSON(payload),
            domain=JSON(payload["domain"]),
            types=JSON(payload["types"]),
            primary_type=payload["primaryType"],
            message=JSON(payload["message"]),
        )


def _exact_integers(payload: dict[str, Any]) -> dict[str, Any]:
    """The message with its (u)int fields as decimal strings: JSON numbers stop being exact at 2^53."""
    fields = {f["name"]: f["type"] for f in payload["types"][payload["primaryType"]]}
    return {
        name: str(value) if fields.get(name, "").lstrip("u").startswith("int") else value
        for name, value in payload["message"].items()
    }
