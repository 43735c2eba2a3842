"""Subscription resolvers (graphql-transport-ws; schema.py declares the fields).

The bus says what changed, not the new state: each subscription filters the
changes it cares about and re-reads the state it shows, so a lost or repeated
notification never shows anything wrong. The bus subscription is registered
before the first read, so no change between the two is missed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Annotated

import strawberry

from app.api.context import Context, Info
from app.api.types import Account, Earnings, Receipt
from app.core.errors import Unauthenticated
from app.core.types import Address
from app.services.events import Change, EventBus


async def watch(bus: EventBus, relevant: Callable[[Change], bool]) -> AsyncGenerator[Change | None, None]:
    """Yields None as soon as the bus subscription is live, then every relevant change."""
    stream: AsyncIterator[Change] = bus.subscribe()
    pending = asyncio.ensure_future(anext(stream))
    try:
        await asyncio.sleep(0)  # the first step of `pending` registers the subscriber
        yield None
        while True:
            try:
                change = await pending
            except StopAsyncIteration:  # the bus closed
                return
            pending = asyncio.ensure_future(anext(stream))
            if relevant(change):
                yield change
    finally:
        pending.cancel()
        await asyncio.wait({pending})  # unwinds the stream's own finally (unsubscribes)
        if not pending.cancelled():
            pending.exception()  # retrieved, so that asyncio does not report it
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()


async def _still_signed_in(ctx: Context) -> None:
    """A subscription outlives requests: end it when its session ends."""
    if ctx.session_token is None or await ctx.run(ctx.services.auth.session, ctx.session_token) is None:
        raise Unauthenticated("the session has ended: sign in again and resubscribe")


async def account_changed(
    info: Info,
    payer: Annotated[Address, strawberry.argument(description="The payer's address.")],
    token: Annotated[Address, strawberry.argument(description="The token's contract address.")],
) -> AsyncGenerator[Account, None]:
    ctx = info.context

    def relevant(change: Change) -> bool:
        return change.kind in ("account", "receipt") and (change.payer, change.token) == (payer, token)

    async with contextlib.aclosing(watch(ctx.services.bus, relevant)) as changes:
        async for _ in changes:
            yield Account.from_domain(await ctx.run(ctx.services.accounts.account, payer, token))


async def receipts_changed(
    info: Info,
    payer: Annotated[Address, strawberry.argument(description="The payer (the signed-in address).")],
) -> AsyncGenerator[Receipt, None]:
    ctx = info.context
    ctx.require_owner(payer)

    def relevant(change: Change) -> bool:
        return change.kind == "receipt" and change.payer == payer

    async with contextlib.aclosing(watch(ctx.services.bus, relevant)) as changes:
        async for change in changes:
            if change is None:
                continue
            await _still_signed_in(ctx)
            if change.receipt_id is not None:
                receipt = await ctx.run(ctx.services.accounts.receipt, change.receipt_id)
            else:
                rows = await ctx.run(ctx.services.accounts.receipts, payer=payer, payee=change.payee, limit=1)
                receipt = rows[0][1] if rows else None
            if receipt is not None:
                yield Receipt.from_domain(receipt)


async def earnings_changed(
    info: Info,
    payee: Annotated[Address, strawberry.argument(description="The creator (the signed-in address).")],
    token: Annotated[Address, strawberry.argument(description="The token's contract address.")],
) -> AsyncGenerator[Earnings, None]:
    ctx = info.context
    ctx.require_owner(payee)

    def relevant(change: Change) -> bool:
        return change.kind in ("earnings", "receipt") and (change.payee, change.token) == (payee, token)

    async with contextlib.aclosing(watch(ctx.services.bus, relevant)) as changes:
        async for change in changes:
            if change is not None:
                await _still_signed_in(ctx)
            yield Earnings.from_domain(await ctx.run(ctx.services.accounts.earnings, payee, token))
