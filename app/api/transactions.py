"""The chain side of the API: transactions users' wallets send themselves (the exits), and the
ones the operator relays for them (gasless deposits), and session keys (a signed grant, no
transaction)."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from app.api.context import Info
from app.api.errors import Refused
from app.api.inputs import SessionGrantInput
from app.api.mutations import IdempotencyKey
from app.api.results import check_idempotency_key
from app.api.scalars import Amount, Bytes, Bytes32, SafeInt, Timestamp
from app.api.types import SessionKey
from app.core.types import Address
from app.services.exits import TxRequest
from app.services.transactions import Submitted


@strawberry.type(description="An unsigned transaction for the user's own wallet (eth_sendTransaction).")
class TransactionRequest:
    chain_id: SafeInt = strawberry.field(description="The chain to send it on.")
    to: Address = strawberry.field(description="The contract to call: the hub.")
    data: Bytes = strawberry.field(description="The calldata.")
    value: Amount = strawberry.field(description="Wei to send: always 0.")
    description: str = strawberry.field(description="What the transaction does, for people.")

    @classmethod
    def from_domain(cls, request: TxRequest) -> TransactionRequest:
        return cls(
            chain_id=SafeInt(request.chain_id),
            to=request.to,
            data=Bytes(request.data),
            value=Amount(0),
            description=request.description,
        )


@strawberry.type(
    description="The operator sent the transaction and pays its gas; the index shows its effect."
)
class RelayedTransaction:
    tx_hash: Bytes32 = strawberry.field(
        description="The transaction's hash (a fee bump may replace it: follow the index, not the hash)."
    )
    nonce: SafeInt = strawberry.field(description="The operator's nonce for it.")

    @classmethod
    def from_domain(cls, submitted: Submitted) -> RelayedTransaction:
        return cls(tx_hash=Bytes32(submitted.tx_hash), nonce=SafeInt(submitted.nonce))


RelayResult = Annotated[
    RelayedTransaction | Refused,
    strawberry.union("RelayResult", description="The relayed transaction, or why it was not sent."),
]


AuthorizeSessionKeyResult = Annotated[
    SessionKey | Refused,
    strawberry.union("AuthorizeSessionKeyResult", description="The saved session key, or why not."),
]


# ----------------------------------------------------------------------------- queries


async def export_vouchers(
    info: Info,
    payee: Annotated[Address, strawberry.argument(description="The creator (the signed-in address).")],
) -> JSON:
    ctx = info.context
    ctx.require_owner(payee)
    return JSON(await ctx.run(ctx.services.exits.export, payee))


async def claim_transaction(
    info: Info,
    payee: Annotated[Address, strawberry.argument(description="The creator (the signed-in address).")],
) -> TransactionRequest:
    ctx = info.context
    ctx.require_owner(payee)
    return TransactionRequest.from_domain(await ctx.run(ctx.services.exits.claim_tx, payee))


async def withdraw_earnings_transaction(
    info: Info,
    token: Annotated[Address, strawberry.argument(description="The token to withdraw earnings of.")],
    to: Annotated[Address, strawberry.argument(description="Where the earnings go.")],
) -> TransactionRequest:
    return TransactionRequest.from_domain(info.context.services.exits.withdraw_earnings_tx(token, to))


async def request_withdrawal_transaction(
    info: Info,
    token: Annotated[Address, strawberry.argument(description="The token to withdraw.")],
    amount: Annotated[Amount, strawberry.argument(description="How much, in base units.")],
) -> TransactionRequest:
    return TransactionRequest.from_domain(
        info.context.services.exits.request_withdrawal_tx(token, int(amount))
    )


async def cancel_withdrawal_transaction(
    info: Info,
    token: Annotated[Address, strawberry.argument(description="The token of the pending withdrawal.")],
) -> TransactionRequest:
    return TransactionRequest.from_domain(info.context.services.exits.cancel_withdrawal_tx(token))


async def withdraw_transaction(
    info: Info,
    token: Annotated[Address, strawberry.argument(description="The token of the requested withdrawal.")],
) -> TransactionRequest:
    return TransactionRequest.from_domain(info.context.services.exits.withdraw_tx(token))


# --------------------------------------------------------------------------- mutations


async def authorize_session_key(
    info: Info,
    grant: Annotated[
        SessionGrantInput,
        strawberry.argument(description="The SessionGrant the payer signed (see grantToSign)."),
    ],
    signature: Annotated[Bytes, strawberry.argument(description="The payer's EIP-712 signature of it.")],
    idempotency_key: IdempotencyKey = None,
) -> AuthorizeSessionKeyResult:
    ctx = info.context
    check_idempotency_key(idempotency_key)
    saved = await ctx.run(ctx.services.session_keys.authorize, grant.to_domain(), bytes(signature))
    return SessionKey.from_grant(saved)


async def revoke_session_key_transaction(
    info: Info, signer: Annotated[Address, strawberry.argument(description="The session key to revoke.")]
) -> TransactionRequest:
    return TransactionRequest.from_domain(info.context.services.exits.revoke_signer_tx(signer))


async def deposit_with_permit(
    info: Info,
    payer: Annotated[Address, strawberry.argument(description="The payer, who signed the permit.")],
    token: Annotated[Address, strawberry.argument(description="The token to deposit.")],
    amount: Annotated[Amount, strawberry.argument(description="What to deposit, in base units (as signed).")],
    deadline: Annotated[Timestamp, strawberry.argument(description="The permit's deadline (as signed).")],
    signature: Annotated[Bytes, strawberry.argument(description="The payer's EIP-2612 permit signature.")],
    idempotency_key: IdempotencyKey = None,
) -> RelayResult:
    ctx = info.context
    check_idempotency_key(idempotency_key)
    relay = ctx.services.relay.deposit_with_permit
    submitted = await ctx.run(relay, payer, token, int(amount), int(deadline), bytes(signature))
    return RelayedTransaction.from_domain(submitted)


async def deposit_with_authorization(
    info: Info,
    payer: Annotated[Address, strawberry.argument(description="The payer, who signed the authorization.")],
    token: Annotated[Address, strawberry.argument(description="The token to deposit.")],
    amount: Annotated[Amount, strawberry.argument(description="What to deposit, in base units (as signed).")],
    valid_after: Annotated[
        Timestamp, strawberry.argument(description="Valid only after this time (as signed).")
    ],
    valid_before: Annotated[
        Timestamp, strawberry.argument(description="Valid only before this time (as signed).")
    ],
    nonce: Annotated[Bytes32, strawberry.argument(description="The authorization's nonce (as signed).")],
    signature: Annotated[Bytes, strawberry.argument(description="The payer's EIP-3009 signature.")],
    idempotency_key: IdempotencyKey = None,
) -> RelayResult:
    ctx = info.context
    check_idempotency_key(idempotency_key)
    relay = ctx.services.relay.deposit_with_authorization
    submitted = await ctx.run(
        relay, payer, token, int(amount), int(valid_after), int(valid_before), bytes(nonce), bytes(signature)
    )
    return RelayedTransaction.from_domain(submitted)
