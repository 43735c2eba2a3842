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
    chain_id: SafeInt
    to: Address
    data: Bytes
    value: Amount
    description: str

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
    tx_hash: Bytes32
    nonce: SafeInt

    @classmethod
    def from_domain(cls, submitted: Submitted) -> RelayedTransaction:
        return cls(tx_hash=Bytes32(submitted.tx_hash), nonce=SafeInt(submitted.nonce))


RelayResult = Annotated[RelayedTransaction | Refused, strawberry.union("RelayResult")]


AuthorizeSessionKeyResult = Annotated[SessionKey | Refused, strawberry.union("AuthorizeSessionKeyResult")]


# ----------------------------------------------------------------------------- queries


async def export_vouchers(info: Info, payee: Address) -> JSON:
    ctx = info.context
    ctx.require_owner(payee)
    return JSON(await ctx.run(ctx.services.exits.export, payee))


async def claim_transaction(info: Info, payee: Address) -> TransactionRequest:
    ctx = info.context
    ctx.require_owner(payee)
    return TransactionRequest.from_domain(await ctx.run(ctx.services.exits.claim_tx, payee))


async def withdraw_earnings_transaction(info: Info, token: Address, to: Address) -> TransactionRequest:
    return TransactionRequest.from_domain(info.context.services.exits.withdraw_earnings_tx(token, to))


async def request_withdrawal_transaction(info: Info, token: Address, amount: Amount) -> TransactionRequest:
    return TransactionRequest.from_domain(
        info.context.services.exits.request_withdrawal_tx(token, int(amount))
    )


async def cancel_withdrawal_transaction(info: Info, token: Address) -> TransactionRequest:
    return TransactionRequest.from_domain(info.context.services.exits.cancel_withdrawal_tx(token))


async def withdraw_transaction(info: Info, token: Address) -> TransactionRequest:
    return TransactionRequest.from_domain(info.context.services.exits.withdraw_tx(token))


# --------------------------------------------------------------------------- mutations


async def authorize_session_key(
    info: Info, grant: SessionGrantInput, signature: Bytes, idempotency_key: IdempotencyKey = None
) -> AuthorizeSessionKeyResult:
    ctx = info.context
    check_idempotency_key(idempotency_key)
    saved = await ctx.run(ctx.services.session_keys.authorize, grant.to_domain(), bytes(signature))
    return SessionKey.from_grant(saved)


async def revoke_session_key_transaction(info: Info, signer: Address) -> TransactionRequest:
    return TransactionRequest.from_domain(info.context.services.exits.revoke_signer_tx(signer))


async def deposit_with_permit(
    info: Info,
    payer: Address,
    token: Address,
    amount: Amount,
    deadline: Timestamp,
    signature: Bytes,
    idempotency_key: IdempotencyKey = None,
) -> RelayResult:
    ctx = info.context
    check_idempotency_key(idempotency_key)
    relay = ctx.services.relay.deposit_with_permit
    submitted = await ctx.run(relay, payer, token, int(amount), int(deadline), bytes(signature))
    return RelayedTransaction.from_domain(submitted)


async def deposit_with_authorization(
    info: Info,
    payer: Address,
    token: Address,
    amount: Amount,
    valid_after: Timestamp,
    valid_before: Timestamp,
    nonce: Bytes32,
    signature: Bytes,
    idempotency_key: IdempotencyKey = None,
) -> RelayResult:
    ctx = info.context
    check_idempotency_key(idempotency_key)
    relay = ctx.services.relay.deposit_with_authorization
    submitted = await ctx.run(
        relay, payer, token, int(amount), int(valid_after), int(valid_before), bytes(nonce), bytes(signature)
    )
    return RelayedTransaction.from_domain(submitted)
