"""Creators' display names as fields read them: batched per request, so a page of resources
reads the names of its creators once."""

from __future__ import annotations

from strawberry.dataloader import DataLoader

from app.api.context import Context, Info
from app.core.types import Address


def _names(ctx: Context) -> DataLoader[Address, str | None]:
    loader: DataLoader[Address, str | None] | None = ctx.loaders.get("display_names")
    if loader is None:

        async def load(addresses: list[Address]) -> list[str | None]:
            names = await ctx.run(ctx.services.profiles.display_names, addresses)
            return [names.get(address) for address in addresses]

        # Not cached: a WebSocket's context lives as long as the connection, and names change.
        loader = DataLoader(load_fn=load, cache=False)
        ctx.loaders["display_names"] = loader
    return loader


async def display_name_of(info: Info, address: Address) -> str | None:
    """`address`'s display name, read together with the others of the same request."""
    return await _names(info.context).load(address)
