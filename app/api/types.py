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
    address: Address = strawberry.field(description="The token's contract address.")
    symbol: str = strawberry.field(description="Its ERC-20 symbol, e.g. USDC.")
    name: str = strawberry.field(description="Its ERC-20 name.")
    decimals: int = strawberry.field(
        description="Decimal places: one token is 10^decimals base units, the unit of every amount."
    )
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
    chain_id: SafeInt = strawberry.field(description="The chain the hub is on (EIP-155 chain id).")
    hub: Address = strawberry.field(
        description="The MicropaymentHub contract's address: the verifyingContract of vouchers."
    )
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
    payer: Address = strawberry.field(description="The payer's address.")
    token: Address = strawberry.field(description="The token's contract address.")
    balance: Amount = strawberry.field(description="Deposited and confirmed on chain.")
    pending_withdrawal: Amount = strawberry.field(
        description="Requested for withdrawal on chain, not yet withdrawn; no longer spendable."
    )
    withdrawal_available_at: Timestamp | None = strawberry.field(
        description="When the pending withdrawal can be completed; null if none is pending."
    )
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
    payer: Address = strawberry.field(description="Who pays.")
    payee: Address = strawberry.field(description="Who is paid: the creator.")
    token: Address = strawberry.field(description="The token the channel pays in.")
    accepted: Amount = strawberry.field(description="Cumulative amount of the latest accepted voucher.")
    claimed: Amount = strawberry.field(description="Cumulative amount claimed on chain.")
    updated_at: Timestamp = strawberry.field(
        description="When the channel last changed (a voucher accepted or a claim indexed)."
    )

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
    ACCEPTED = strawberry.enum_value(
        "accepted", description="Accepted by the server and durable; not yet claimed on chain."
    )
    CLAIMED = strawberry.enum_value(
        "claimed", description="A mined hub.claim covers it: the payee's earnings hold it."
    )
    PAID_OUT = strawberry.enum_value("paid_out", description="The payee has withdrawn what it earned.")
    FAILED = strawberry.enum_value(
        "failed", description="The hub skipped it in a claim; `failure` says why. It will not be paid."
    )


@strawberry.type(description="A voucher the server accepted, with its signature: proof of a payment.")
class Receipt:
    id: str = strawberry.field(description="The receipt's id: the same voucher always has the same id.")
    payer: Address = strawberry.field(description="Who paid.")
    payee: Address = strawberry.field(description="Who was paid: the creator.")
    token: Address = strawberry.field(description="The token paid in.")
    cumulative_amount: Amount = strawberry.field(
        description="The voucher's amount: everything the payer has paid the payee in this token so far."
    )
    price: Amount = strawberry.field(
        description="What this voucher added to the channel: the resource's price."
    )
    purchase: Bytes32 = strawberry.field(
        description="The voucher's purchase id, which binds it to this one purchase."
    )
    resource_id: str = strawberry.field(description="The resource paid for.")
    signer: Address = strawberry.field(description="The payer, or the session key that signed.")
    signature: Bytes = strawberry.field(description="The voucher's signature, as the server accepted it.")
    status: ReceiptStatus = strawberry.field(
        description="Where the voucher is in its life: accepted, claimed on chain, paid out, or failed."
    )
    created_at: Timestamp = strawberry.field(description="When the server accepted the voucher.")
    claim_tx: Bytes32 | None = strawberry.field(
        description="The hub.claim transaction that covered the voucher; null until claimed."
    )
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
    signer: Address = strawberry.field(description="The session key's address.")
    token: Address = strawberry.field(description="The token it may sign vouchers in.")
    allowance: Amount = strawberry.field(description="Remaining on chain.")
    outstanding: Amount = strawberry.field(description="Accepted from this key, not yet claimed.")
    valid_until: Timestamp = strawberry.field(description="When the authorization expires on chain.")
    revoke_at: Timestamp | None = strawberry.field(
        description="When a revocation the payer requested on chain takes effect; null if none."
    )

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
    id: str = strawberry.field(description="The resource's id, chosen by its creator.")
    payee: Address = strawberry.field(description="The creator, who is paid for it.")
    token: Address = strawberry.field(description="The token its price is in.")
    price: Amount = strawberry.field(
        description="The price of one action (a read, a download ...) in the token's base units."
    )
    title: str = strawberry.field(description="A title for people.")
    description: str = strawberry.field(description="A description for people; may be empty.")
    active: bool = strawberry.field(description="Whether it can be paid for now.")
    created_at: Timestamp = strawberry.field(description="When it was first listed.")

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
    payee: Address = strawberry.field(description="The creator.")
    token: Address = strawberry.field(description="The token earned in.")
    accepted: Amount = strawberry.field(description="Accepted by the server, not yet claimed on chain.")
    withdrawable: Amount = strawberry.field(description="Claimed on chain, withdrawable now.")
    withdrawn: Amount = strawberry.field(description="Withdrawn from the hub so far.")

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
    number: SafeInt = strawberry.field(description="The block number.")
    hash: Bytes32 = strawberry.field(description="The block hash.")
    indexed_at: Timestamp = strawberry.field(description="When the server applied it.")

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
    domain: JSON = strawberry.field(description="The EIP-712 domain of `typedData`.")
    types: JSON = strawberry.field(description="The EIP-712 types of `typedData`, EIP712Domain included.")
    primary_type: str = strawberry.field(description="The type being signed, e.g. Voucher.")
    message: JSON = strawberry.field(description="The values to sign, integers as decimal strings.")

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
