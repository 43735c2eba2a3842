"""Creators' display names: a creator names itself once signed in; anyone reads a creator's
profile (and Resource.creatorName, app/api/display_names.py)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.api.context import Info
from app.api.display_names import display_name_of
from app.api.errors import Refused
from app.api.mutations import IdempotencyKey
from app.api.results import check_idempotency_key
from app.core.types import Address
from app.services.profiles import MAX_DISPLAY_NAME


@strawberry.type(description="How a creator is shown to people.")
class CreatorProfile:
    address: Address = strawberry.field(description="The creator.")
    display_name: str | None = strawberry.field(
        description="The name the creator chose (setDisplayName), or null if it chose none. Anyone "
        "can choose any name: show the address with it."
    )


SetDisplayNameResult = Annotated[
    CreatorProfile | Refused,
    strawberry.union("SetDisplayNameResult", description="The profile as saved, or why not."),
]


async def creator_profile(
    info: Info, address: Annotated[Address, strawberry.argument(description="The creator.")]
) -> CreatorProfile:
    return CreatorProfile(address=address, display_name=await display_name_of(info, address))


async def set_display_name(
    info: Info,
    name: Annotated[
        str,
        strawberry.argument(
            description=f"1-{MAX_DISPLAY_NAME} characters; runs of spaces become one, no control "
            "or invisible characters."
        ),
    ],
    idempotency_key: IdempotencyKey = None,
) -> SetDisplayNameResult:
    ctx = info.context
    check_idempotency_key(idempotency_key)
    creator = ctx.signed_in()
    saved = await ctx.run(ctx.services.profiles.set_display_name, creator, name)
    return CreatorProfile(address=creator, display_name=saved)
