"""The Mutation type. A refusal a resolver raises becomes the Refused member of its result union
(see results.py). Every mutation takes an optional `idempotencyKey`: `pay` stores it with the
receipt (the same key and voucher replay the same receipt; another voucher under it is refused);
the others are idempotent by nature and only check it."""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.api.context import Info
from app.api.inputs import PayInput, ResourceInput
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
from app.core.errors import InvalidInput

IdempotencyKey = Annotated[
    str | None,
    strawberry.argument(
        description="1-128 printable ASCII characters: a retry with the same key has the same effect."
    ),
]


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Pays for a resource with a signed voucher. Paying the same voucher again returns "
        "the same receipt and charges nothing."
    )
    async def pay(self, info: Info, input: PayInput, idempotency_key: IdempotencyKey = None) -> PayResult:
        ctx = info.context
        key = check_idempotency_key(idempotency_key)
        return PaymentAccepted.from_domain(await ctx.run(ctx.services.payments.pay, input.to_domain(), key))

    @strawberry.mutation(
        description="Pays many vouchers in one transaction; each is accepted or refused on its own, "
        "results in the order of `inputs`. At most MAX_BATCH inputs (refused as a whole beyond)."
    )
    async def pay_batch(
        self, info: Info, inputs: list[PayInput], idempotency_key: IdempotencyKey = None
    ) -> list[PayResult]:
        ctx = info.context
        check_idempotency_key(idempotency_key)
        if len(inputs) > ctx.services.settings.max_batch:
            raise InvalidInput(
                f"payBatch takes at most {ctx.services.settings.max_batch} inputs, got {len(inputs)}"
            )
        outcomes = await ctx.run(ctx.services.payments.pay_batch, [i.to_domain() for i in inputs])
        return [pay_result(outcome) for outcome in outcomes]

    @strawberry.mutation(
        description="Signs in with a signInMessage signed by EIP-191 personal_sign; each message once."
    )
    async def sign_in(
        self, info: Info, message: str, signature: Bytes, idempotency_key: IdempotencyKey = None
    ) -> SignInResult:
        ctx = info.context
        check_idempotency_key(idempotency_key)
        return Session.from_domain(await ctx.run(ctx.services.auth.sign_in, message, signature))

    @strawberry.mutation(description="Ends the session of the bearer token; false if there was none.")
    async def sign_out(self, info: Info, idempotency_key: IdempotencyKey = None) -> bool:
        ctx = info.context
        check_idempotency_key(idempotency_key)
        if ctx.session_token is None:
            return False
        await ctx.run(ctx.services.auth.sign_out, ctx.session_token)
        return ctx.session is not None

    @strawberry.mutation(
        description="Lists a resource for sale by the signed-in creator (the payee), or updates its own."
    )
    async def save_resource(
        self, info: Info, input: ResourceInput, idempotency_key: IdempotencyKey = None
    ) -> SaveResourceResult:
        ctx = info.context
        check_idempotency_key(idempotency_key)
        creator = ctx.signed_in()
        resource = await ctx.run(
            ctx.services.catalog.save,
            creator,
            input.id,
            input.token,
            input.price,
            input.title,
            input.description,
        )
        return ResourceSaved.from_domain(resource)
