"""Mutation resolvers (schema.py declares the fields).

A refusal a resolver raises becomes the Refused member of its result union
(results.REFUSAL_HANDLERS). Every mutation takes an optional `idempotencyKey`:
`pay` stores it with the receipt (the same key and voucher replay the same
receipt; another voucher under it is refused); the others are idempotent by
nature and only check it.
"""

from __future__ import annotations

import time
from typing import Annotated

import strawberry

from app import metrics
from app.api.context import Info
from app.api.inputs import PayInput, ResourceInput
from app.api.instrumentation import count_pay
from app.api.results import (
    PaymentAccepted,
    PayResult,
    ResourceSaved,
    SaveResourceResult,
    Session,
    SignInResult,
    check_idempotency_key,
    pay_result,
)
from app.api.scalars import Bytes
from app.core.access import AccessModel as DomainAccessModel
from app.core.errors import InvalidInput, Refusal

IdempotencyKey = Annotated[
    str | None,
    strawberry.argument(
        description="1-128 printable ASCII characters: a retry with the same key has the same effect."
    ),
]


async def pay(
    info: Info,
    input: Annotated[
        PayInput, strawberry.argument(description="The signed voucher and the resource it pays for.")
    ],
    idempotency_key: IdempotencyKey = None,
) -> PayResult:
    # Counted and timed here, not by a schema extension's `resolve` hook: that hook would make
    # strawberry wrap every field of every response.
    started = time.perf_counter()
    ctx = info.context
    try:
        key = check_idempotency_key(idempotency_key)
        # Verified on the event loop, committed by the group-commit thread: no threadpool hop.
        result = PaymentAccepted.from_domain(await ctx.services.payments.pay_async(input.to_domain(), key))
    except Refusal as refusal:  # becomes the union's refusal member (results.REFUSAL_HANDLERS)
        _counted("pay", started, refusal)
        raise
    _counted("pay", started, result)
    return result


async def pay_batch(
    info: Info,
    inputs: Annotated[list[PayInput], strawberry.argument(description="Signed vouchers, at most MAX_BATCH.")],
    idempotency_key: IdempotencyKey = None,
) -> list[PayResult]:
    started = time.perf_counter()
    ctx = info.context
    check_idempotency_key(idempotency_key)
    if len(inputs) > ctx.services.settings.max_batch:
        raise InvalidInput(
            f"payBatch takes at most {ctx.services.settings.max_batch} inputs, got {len(inputs)}"
        )
    # A refusal of the whole batch is a GraphQL error, neither counted nor timed (as before).
    outcomes = await ctx.run(ctx.services.payments.pay_batch, [i.to_domain() for i in inputs])
    results = [pay_result(r) for r in outcomes]
    _counted("payBatch", started, *results)
    return results


def _counted(field: str, started: float, *results: object) -> None:
    """Times a pay or payBatch field and counts each outcome: a result, or a refusal (its `code`)."""
    metrics.pay_seconds.labels(field).observe(time.perf_counter() - started)
    for result in results:
        count_pay(result)


async def sign_in(
    info: Info,
    message: Annotated[str, strawberry.argument(description="The signInMessage text, exactly as signed.")],
    signature: Annotated[Bytes, strawberry.argument(description="Its EIP-191 personal_sign signature.")],
    idempotency_key: IdempotencyKey = None,
) -> SignInResult:
    ctx = info.context
    check_idempotency_key(idempotency_key)
    return Session.from_domain(await ctx.run(ctx.services.auth.sign_in, message, signature))


async def sign_out(info: Info, idempotency_key: IdempotencyKey = None) -> bool:
    ctx = info.context
    check_idempotency_key(idempotency_key)
    if ctx.session_token is None:
        return False
    await ctx.run(ctx.services.auth.sign_out, ctx.session_token)
    return ctx.session is not None


async def save_resource(
    info: Info,
    input: Annotated[ResourceInput, strawberry.argument(description="The resource to list or update.")],
    idempotency_key: IdempotencyKey = None,
) -> SaveResourceResult:
    ctx = info.context
    check_idempotency_key(idempotency_key)
    save = ctx.services.catalog.save
    resource = await ctx.run(
        save,
        ctx.signed_in(),
        input.id,
        input.token,
        input.price,
        input.title,
        input.description,
        DomainAccessModel[input.access.name],
        input.pass_seconds,
    )
    return ResourceSaved.from_domain(resource)
