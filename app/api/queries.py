"""Query resolvers, each a call to one service (schema.py declares the fields).

Balances, session keys and resources are public (on chain, or meant to be
seen); receipts, sales, lanes and earnings only to their signed-in owner.
"""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.api.connections import (
    DEFAULT_PAGE_SIZE,
    Connection,
    connection,
    decode_int_cursor,
    decode_str_cursor,
    page_size,
)
from app.api.context import Info
from app.api.scalars import Amount, Bytes32, Timestamp
from app.api.types import (
    Access,
    Account,
    Earnings,
    HubConfig,
    Lane,
    Meta,
    Receipt,
    Resource,
    SessionKey,
    Token,
    TypedData,
    VoucherToSign,
)
from app.core.errors import InvalidInput
from app.core.types import Address

DEFAULT_GRANT_LIFETIME = 30 * 24 * 3600  # a session key's default life: thirty days

First = Annotated[int, strawberry.argument(description="How many items, 1-100 (20 by default).")]
After = Annotated[
    str | None,
    strawberry.argument(description="The `endCursor` of the previous page; omit it for the first page."),
]
OwnAddress = Annotated[
    Address | None,
    strawberry.argument(description="Defaults to the signed-in address; any other is refused."),
]


def config(info: Info) -> HubConfig:
    services = info.context.services
    return HubConfig.from_domain(services.domain, services.operator, services.settings.public_rpc_url)


async def tokens(info: Info) -> list[Token]:
    return [Token.from_domain(t) for t in await info.context.run(info.context.services.catalog.tokens)]


async def account(
    info: Info,
    payer: Annotated[Address, strawberry.argument(description="The payer's address.")],
    token: Annotated[Address, strawberry.argument(description="The token's contract address.")],
) -> Account:
    ctx = info.context
    return Account.from_domain(await ctx.run(ctx.services.accounts.account, payer, token))


async def lanes(
    info: Info, payer: Annotated[Address, strawberry.argument(description="The payer whose lanes to list.")]
) -> list[Lane]:
    ctx = info.context
    ctx.require_owner(payer)
    return [Lane.from_domain(v) for v in await ctx.run(ctx.services.accounts.lanes, payer)]


async def receipts(
    info: Info,
    first: First = DEFAULT_PAGE_SIZE,
    after: After = None,
    payer: OwnAddress = None,
) -> Connection[Receipt]:
    ctx = info.context
    owner = ctx.require_owner(payer) if payer is not None else ctx.signed_in()
    limit, cursor = page_size(first) + 1, decode_int_cursor(after)
    rows = await ctx.run(ctx.services.accounts.receipts, payer=owner, after=cursor, limit=limit)
    return connection(rows, first, key=lambda row: row[0], node=lambda row: Receipt.from_domain(row[1]))


async def sales(
    info: Info,
    first: First = DEFAULT_PAGE_SIZE,
    after: After = None,
    payee: OwnAddress = None,
) -> Connection[Receipt]:
    ctx = info.context
    owner = ctx.require_owner(payee) if payee is not None else ctx.signed_in()
    limit, cursor = page_size(first) + 1, decode_int_cursor(after)
    rows = await ctx.run(ctx.services.accounts.receipts, payee=owner, after=cursor, limit=limit)
    return connection(rows, first, key=lambda row: row[0], node=lambda row: Receipt.from_domain(row[1]))


async def receipt(
    info: Info, id: Annotated[str, strawberry.argument(description="The receipt's id.")]
) -> Receipt | None:
    ctx = info.context
    address = ctx.signed_in()
    found = await ctx.run(ctx.services.accounts.receipt, id)
    if found is None or address not in (found.payer, found.payee):
        return None
    return Receipt.from_domain(found)


async def session_keys(
    info: Info, payer: Annotated[Address, strawberry.argument(description="The payer who registered them.")]
) -> list[SessionKey]:
    ctx = info.context
    return [SessionKey.from_domain(k) for k in await ctx.run(ctx.services.accounts.session_keys, payer)]


async def resources(
    info: Info,
    payee: Annotated[
        Address | None, strawberry.argument(description="Only this creator's resources.")
    ] = None,
    first: First = DEFAULT_PAGE_SIZE,
    after: After = None,
) -> Connection[Resource]:
    ctx = info.context
    limit, cursor = page_size(first) + 1, decode_str_cursor(after)
    rows = await ctx.run(ctx.services.catalog.resources, payee=payee, after=cursor, limit=limit)
    return connection(rows, first, key=lambda row: row.id, node=Resource.from_domain)


async def resource(
    info: Info, id: Annotated[str, strawberry.argument(description="The resource's id.")]
) -> Resource | None:
    found = await info.context.run(info.context.services.catalog.resource, id)
    return None if found is None else Resource.from_domain(found)


async def access(
    info: Info,
    payer: Annotated[Address, strawberry.argument(description="The payer asked about.")],
    resource_id: Annotated[str, strawberry.argument(description="The resource.")],
) -> Access:
    ctx = info.context
    resource, held = await ctx.run(ctx.services.catalog.access, payer, resource_id)
    return Access.from_domain(payer, resource, held)


async def earnings(
    info: Info,
    payee: Annotated[Address, strawberry.argument(description="The creator (the signed-in address).")],
    token: Annotated[Address, strawberry.argument(description="The token's contract address.")],
) -> Earnings:
    ctx = info.context
    ctx.require_owner(payee)
    return Earnings.from_domain(await ctx.run(ctx.services.accounts.earnings, payee, token))


async def voucher_to_sign(
    info: Info,
    payer: Annotated[Address, strawberry.argument(description="Who will sign and pay.")],
    resource_id: Annotated[str, strawberry.argument(description="The resource to pay for.")],
    signer: Annotated[
        Address | None,
        strawberry.argument(description="A session key with a grant: sign on its lane. Default: the wallet."),
    ] = None,
    purchase: Annotated[
        Bytes32 | None,
        strawberry.argument(description="A purchase id to reuse (a retry); random by default."),
    ] = None,
) -> VoucherToSign:
    ctx = info.context
    return VoucherToSign.from_domain(
        await ctx.run(ctx.services.typed_data.voucher, payer, resource_id, signer, purchase)
    )


async def grant_to_sign(
    info: Info,
    payer: Annotated[Address, strawberry.argument(description="The payer who signs the grant.")],
    signer: Annotated[Address, strawberry.argument(description="The session key to authorise.")],
    max_total: Annotated[
        Amount, strawberry.argument(description="The most the key's lane may ever total, in base units.")
    ],
    valid_until: Annotated[
        Timestamp | None, strawberry.argument(description="The key's expiry (chain time); default 30 days.")
    ] = None,
    token: Annotated[
        Address | None, strawberry.argument(description="The token it pays in; default the first listed.")
    ] = None,
) -> TypedData:
    ctx = info.context
    if token is None:
        allowed = [t for t in await ctx.run(ctx.services.catalog.tokens) if t.allowed]
        if not allowed:
            raise InvalidInput("the hub lists no token yet: give `token`")
        token = allowed[0].address
    if valid_until is None:
        valid_until = Timestamp(ctx.services.clock() + DEFAULT_GRANT_LIFETIME)
    grant = ctx.services.typed_data.grant
    return TypedData.from_domain(await ctx.run(grant, payer, signer, token, max_total, valid_until))


async def permit_to_sign(
    info: Info,
    owner: Annotated[Address, strawberry.argument(description="The payer, who owns the tokens.")],
    token: Annotated[
        Address, strawberry.argument(description="The token to deposit: it must support EIP-2612.")
    ],
    amount: Annotated[Amount, strawberry.argument(description="What to deposit, in base units.")],
    deadline: Annotated[Timestamp, strawberry.argument(description="When the permit expires.")],
) -> TypedData:
    ctx = info.context
    return TypedData.from_domain(
        await ctx.run(ctx.services.typed_data.permit, owner, token, amount, deadline)
    )


async def receive_authorization_to_sign(
    info: Info,
    payer: Annotated[Address, strawberry.argument(description="The payer, who owns the tokens.")],
    token: Annotated[
        Address, strawberry.argument(description="The token to deposit: it must support EIP-3009.")
    ],
    amount: Annotated[Amount, strawberry.argument(description="What to deposit, in base units.")],
    valid_after: Annotated[
        Timestamp, strawberry.argument(description="The authorization is valid only after this time.")
    ],
    valid_before: Annotated[
        Timestamp, strawberry.argument(description="The authorization is valid only before this time.")
    ],
) -> TypedData:
    ctx = info.context
    authorization = ctx.services.typed_data.receive_authorization
    return TypedData.from_domain(
        await ctx.run(authorization, payer, token, amount, valid_after, valid_before)
    )


async def sign_in_message(
    info: Info,
    address: Annotated[
        Address, strawberry.argument(description="The address that will sign in (EIP-55 checksummed).")
    ],
) -> str:
    return await info.context.run(info.context.services.auth.challenge, address)


def me(info: Info) -> Address | None:
    return info.context.session


async def meta(info: Info) -> Meta:
    ctx = info.context
    return Meta.from_domain(await ctx.run(ctx.services.accounts.indexed_block), ctx.services.domain.hub)
