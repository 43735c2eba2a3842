"""GraphQL object types. Each wraps one domain object and is built by `from_domain`."""

from __future__ import annotations

from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON

from app.api.context import Info
from app.api.display_names import display_name_of
from app.api.scalars import Amount, Bytes, Bytes32, SafeInt, Timestamp
from app.core import eip712, ledger
from app.core.access import Access as DomainAccess
from app.core.receipts import Receipt as DomainReceipt
from app.core.receipts import SignedVoucher as DomainSignedVoucher
from app.core.types import Address
from app.services.accounts import AccountView, EarningsView, IndexedBlock, LaneView, SessionKeyView
from app.services.typed_data import VoucherToSign as DomainVoucherToSign
from app.store.catalog import Resource as DomainResource
from app.store.catalog import Token as DomainToken


async def _token_domain(root: Token, info: Info) -> JSON | None:
    domain = await info.context.run(info.context.services.typed_data.token_domain, root.address)
    return None if domain is None else JSON(domain)


async def _withdraw_delay(info: Info) -> SafeInt | None:
    return SafeInt(await info.context.run(info.context.services.hub.withdraw_delay))


async def _creator_name(root: Resource, info: Info) -> str | None:
    return await display_name_of(info, root.payee)


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
    voucher_types: JSON = strawberry.field(description="EIP-712 `types` of a PayerVoucher (with Entry).")
    session_grant_types: JSON = strawberry.field(description="EIP-712 `types` of a SessionGrant.")
    operator: Address | None = strawberry.field(
        description="The operator that acknowledges accepted vouchers and sends claims; null if none "
        "is configured."
    )
    max_lane_entries: int = strawberry.field(description="The most payees one lane's vector holds.")
    public_rpc_url: str | None = strawberry.field(
        description="A JSON-RPC URL for wallets to add this chain with (PUBLIC_RPC_URL); null if none is "
        "advertised."
    )
    withdraw_delay = strawberry.field(
        resolver=_withdraw_delay, description="Seconds between a withdrawal request and the withdrawal."
    )
    allowed_tokens = strawberry.field(
        resolver=_allowed_tokens, description="Tokens the hub accepts deposits of."
    )

    @classmethod
    def from_domain(
        cls, domain: eip712.Domain, operator: Address | None, public_rpc_url: str | None = None
    ) -> HubConfig:
        return cls(
            chain_id=SafeInt(domain.chain_id),
            hub=domain.hub,
            domain=JSON(domain.as_json()),
            voucher_types=JSON(
                {
                    "EIP712Domain": eip712.EIP712_DOMAIN_FIELDS,
                    "PayerVoucher": eip712.PAYER_VOUCHER_FIELDS,
                    "Entry": eip712.ENTRY_FIELDS,
                }
            ),
            session_grant_types=JSON(
                {"EIP712Domain": eip712.EIP712_DOMAIN_FIELDS, "SessionGrant": eip712.SESSION_GRANT_FIELDS}
            ),
            operator=operator,
            max_lane_entries=eip712.MAX_LANE_ENTRIES,
            public_rpc_url=public_rpc_url,
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


@strawberry.type(description="One payee's cumulative amount in a lane's vector.")
class Entry:
    payee: Address = strawberry.field(description="The creator paid.")
    cumulative_amount: Amount = strawberry.field(description="Everything ever paid to it on the lane.")

    @classmethod
    def many(cls, entries: eip712.Entries) -> list[Entry]:
        return [cls(payee=e.payee, cumulative_amount=Amount(e.cumulative_amount)) for e in entries]


@strawberry.type(description="One of a payer's lanes: an ordered vector of cumulative amounts per payee.")
class Lane:
    payer: Address = strawberry.field(description="Whose lane it is.")
    token: Address = strawberry.field(description="The token its amounts are in.")
    lane: Amount = strawberry.field(description="The lane's number.")
    signer: Address = strawberry.field(description="Who signs on it: the payer's wallet, or one session key.")
    entries: list[Entry] = strawberry.field(description="The last accepted vector.")
    claimed_entries: list[Entry] = strawberry.field(description="The last vector claimed on chain.")
    outstanding: Amount = strawberry.field(description="Accepted, not yet claimed.")
    blocked: str | None = strawberry.field(
        description="Why the chain would skip its next claim (the hub's SkipReason), until something changes."
    )
    updated_at: Timestamp = strawberry.field(description="When a voucher or a claim last changed it.")

    @classmethod
    def from_domain(cls, view: LaneView) -> Lane:
        return cls(
            payer=view.payer,
            token=view.token,
            lane=Amount(view.lane),
            signer=view.signer,
            entries=Entry.many(view.accepted),
            claimed_entries=Entry.many(view.claimed),
            outstanding=Amount(max(view.accepted_total - view.claimed_total, 0)),
            blocked=view.blocked,
            updated_at=Timestamp(view.updated_at),
        )


@strawberry.type(description="A whole voucher as the server accepted it: enough to claim it on chain.")
class SignedVoucher:
    payer: Address = strawberry.field(description="Whose deposit pays.")
    token: Address = strawberry.field(description="The token paid in.")
    lane: Amount = strawberry.field(description="The payer's lane.")
    entries: list[Entry] = strawberry.field(description="Each payee's cumulative amount on the lane.")
    purchase: Bytes32 = strawberry.field(description="The purchase id the voucher is bound to.")
    signature: Bytes = strawberry.field(description="The payer's or its session key's signature.")
    acknowledgement: Bytes = strawberry.field(description="The operator's countersignature of the voucher.")
    signer: Address = strawberry.field(description="The payer, or the session key that signed.")

    @classmethod
    def from_domain(cls, signed: DomainSignedVoucher) -> SignedVoucher:
        voucher = signed.voucher
        return cls(
            payer=voucher.payer,
            token=voucher.token,
            lane=Amount(voucher.lane),
            entries=Entry.many(voucher.entries),
            purchase=Bytes32(voucher.purchase),
            signature=Bytes(signed.signature),
            acknowledgement=Bytes(signed.acknowledgement),
            signer=signed.signer,
        )


@strawberry.enum(description="How a resource is paid for, chosen by its creator.")
class AccessModel(Enum):
    PER_USE = strawberry.enum_value("per_use", description="Every action (a read, an API call) is paid.")
    PURCHASE = strawberry.enum_value(
        "purchase",
        description="Paid once, owned for good on any device: paying again is refused with ALREADY_OWNED.",
    )
    TIME_PASS = strawberry.enum_value(
        "time_pass",
        description="One payment gives `passSeconds` of use: while the pass runs, paying again is refused "
        "with ALREADY_OWNED.",
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


async def _receipt_voucher(root: Receipt, info: Info) -> SignedVoucher:
    signed = await info.context.run(info.context.services.accounts.signed_voucher, root.domain)
    return SignedVoucher.from_domain(signed)


@strawberry.type(description="A voucher the server accepted, with its signature: proof of a payment.")
class Receipt:
    id: str = strawberry.field(
        description="Derived from the voucher's EIP-712 digest: the same voucher always has the same id."
    )
    payer: Address = strawberry.field(description="Who paid.")
    payee: Address = strawberry.field(description="Who was paid: the creator.")
    token: Address = strawberry.field(description="The token paid in.")
    lane: Amount = strawberry.field(description="The payer's lane the voucher extended.")
    cumulative_amount: Amount = strawberry.field(
        description="The payee's amount in the signed vector: everything this lane has paid it so far."
    )
    price: Amount = strawberry.field(description="What this voucher added: the resource's price.")
    purchase: Bytes32 = strawberry.field(
        description="The voucher's purchase id, which binds it to this one purchase."
    )
    resource_id: str = strawberry.field(description="The resource paid for.")
    signer: Address = strawberry.field(description="The payer, or the session key that signed.")
    signature: Bytes = strawberry.field(description="The voucher's signature, as the server accepted it.")
    acknowledgement: Bytes = strawberry.field(
        description="The operator's countersignature (EIP-712 Acknowledgement of the voucher's digest): "
        "with it anyone can claim the voucher on chain."
    )
    status: ReceiptStatus = strawberry.field(
        description="Where the voucher is in its life: accepted, claimed on chain, paid out, or failed."
    )
    created_at: Timestamp = strawberry.field(description="When the server accepted the voucher.")
    claim_tx: Bytes32 | None = strawberry.field(
        description="The hub.claim transaction that covered the voucher; null until claimed."
    )
    failure: str | None = strawberry.field(description="Why the chain can never pay it, when FAILED.")
    voucher: SignedVoucher = strawberry.field(
        resolver=_receipt_voucher, description="The whole vector this receipt signed."
    )
    domain: strawberry.Private[DomainReceipt]

    @classmethod
    def from_domain(cls, receipt: DomainReceipt) -> Receipt:
        return cls(
            id=receipt.id,
            payer=receipt.payer,
            payee=receipt.payee,
            token=receipt.token,
            lane=Amount(receipt.lane),
            cumulative_amount=Amount(receipt.cumulative_amount),
            price=Amount(receipt.price),
            purchase=Bytes32(receipt.purchase),
            resource_id=receipt.resource_id,
            signer=receipt.signer,
            signature=Bytes(receipt.signature),
            acknowledgement=Bytes(receipt.acknowledgement),
            status=ReceiptStatus(receipt.status.value),
            created_at=Timestamp(receipt.created_at),
            claim_tx=None if receipt.claim_tx is None else Bytes32(receipt.claim_tx),
            failure=receipt.failure,
            domain=receipt,
        )


@strawberry.type(description="A session key: a grant the payer signed once, no transaction.")
class SessionKey:
    payer: Address = strawberry.field(description="The payer who signed the grant.")
    signer: Address = strawberry.field(description="The key's address.")
    token: Address = strawberry.field(description="The token it pays in.")
    lane: Amount = strawberry.field(description="The only lane it signs on.")
    max_total: Amount = strawberry.field(description="The most its lane may ever total.")
    spent: Amount = strawberry.field(description="Its lane's total so far.")
    valid_until: Timestamp = strawberry.field(description="Its expiry, in chain time.")
    revoked_at: Timestamp | None = strawberry.field(
        description="When its revocation takes effect on chain (the server refuses the key from the moment "
        "it sees the revocation); null if never revoked."
    )

    @classmethod
    def from_domain(cls, view: SessionKeyView) -> SessionKey:
        grant = view.grant.grant
        return cls(
            payer=grant.payer,
            signer=grant.signer,
            token=grant.token,
            lane=Amount(grant.lane),
            max_total=Amount(grant.max_total),
            spent=Amount(view.spent),
            valid_until=Timestamp(grant.valid_until),
            revoked_at=None if view.grant.revoked_at is None else Timestamp(view.grant.revoked_at),
        )

    @classmethod
    def from_grant(cls, grant: ledger.Grant, spent: int = 0) -> SessionKey:
        return cls.from_domain(SessionKeyView(grant, spent))


@strawberry.type(description="Something a creator sells, at a price per action.")
class Resource:
    id: str = strawberry.field(description="The resource's id, chosen by its creator.")
    payee: Address = strawberry.field(description="The creator, who is paid for it.")
    creator_name: str | None = strawberry.field(
        resolver=_creator_name,
        description="The creator's display name (setDisplayName), or null. Anyone can choose any name: "
        "show the payee's address with it.",
    )
    token: Address = strawberry.field(description="The token its price is in.")
    price: Amount = strawberry.field(
        description="The price of one action (a read, a download ...) in the token's base units."
    )
    title: str = strawberry.field(description="A title for people.")
    description: str = strawberry.field(description="A description for people; may be empty.")
    active: bool = strawberry.field(description="Whether it can be paid for now.")
    created_at: Timestamp = strawberry.field(description="When it was first listed.")
    access: AccessModel = strawberry.field(description="How it is paid for: per use, a purchase, a pass.")
    pass_seconds: SafeInt = strawberry.field(description="How long one payment gives a TIME_PASS; else 0.")

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
            access=AccessModel(resource.access.value),
            pass_seconds=SafeInt(resource.pass_seconds),
        )


async def _access_receipt(root: Access, info: Info) -> Receipt | None:
    ctx = info.context
    if root.receipt_id is None or ctx.session not in (root.payer, root.resource.payee):
        return None
    found = await ctx.run(ctx.services.accounts.receipt, root.receipt_id)
    return None if found is None else Receipt.from_domain(found)


@strawberry.type(
    description="What a payer holds of a resource now. Public, like balances: whether it is owned and "
    "until when; the receipt itself only for the payer or the payee signed in."
)
class Access:
    resource: Resource = strawberry.field(description="The resource, with its access model.")
    owned: bool = strawberry.field(
        description="Bought (PURCHASE), or a pass that still runs (TIME_PASS): paying is refused with "
        "ALREADY_OWNED. Always false for PER_USE."
    )
    until: Timestamp | None = strawberry.field(
        description="When the pass ends (or ended); null for a purchase and when nothing was paid."
    )
    receipt_id: str | None = strawberry.field(description="The receipt that gives (or gave) the access.")
    receipt: Receipt | None = strawberry.field(
        resolver=_access_receipt, description="That receipt, for the payer or the payee signed in; else null."
    )
    payer: strawberry.Private[Address]

    @classmethod
    def from_domain(cls, payer: Address, resource: DomainResource, held: DomainAccess) -> Access:
        return cls(
            resource=Resource.from_domain(resource),
            owned=held.owned,
            until=None if held.until is None else Timestamp(held.until),
            receipt_id=held.receipt_id,
            payer=payer,
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
    """The message with its (u)int fields as decimal strings, also inside structs and arrays of
    structs (a voucher's entries): JSON numbers stop being exact at 2^53."""
    types: dict[str, list[dict[str, str]]] = payload["types"]

    def convert(type_name: str, value: Any) -> Any:
        if type_name.endswith("[]"):
            return [convert(type_name[:-2], item) for item in value]
        if type_name in types:
            fields = {f["name"]: f["type"] for f in types[type_name]}
            return {name: convert(fields.get(name, ""), item) for name, item in value.items()}
        if type_name.lstrip("u").startswith("int"):
            return str(value)
        return value

    converted: dict[str, Any] = convert(payload["primaryType"], payload["message"])
    return converted


@strawberry.type(
    description="The next voucher to sign for a resource, and what it changes, so a client can check it."
)
class VoucherToSign:
    typed_data: JSON = strawberry.field(description="{domain, types, primaryType: PayerVoucher, message}.")
    resource: Resource = strawberry.field(description="What is bought: its payee, token and price.")
    lane: Amount = strawberry.field(description="The lane the voucher extends.")
    previous_entries: list[Entry] = strawberry.field(
        description="The lane's last accepted vector: the message's entries are these with the resource's "
        "payee raised by exactly its price."
    )

    @classmethod
    def from_domain(cls, value: DomainVoucherToSign) -> VoucherToSign:
        return cls(
            typed_data=JSON({**value.typed_data, "message": _exact_integers(value.typed_data)}),
            resource=Resource.from_domain(value.resource),
            lane=Amount(value.lane),
            previous_entries=Entry.many(value.previous),
        )
