"""The schema as SDL: `python -m app.api.schema_export > schema.graphql`."""

from __future__ import annotations

from app.api.schema import schema


def export_sdl() -> str:
    return schema.as_str() + "\n"


if __name__ == "__main__":
    print(export_sdl(), end="")
