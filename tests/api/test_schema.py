"""The committed SDL is the schema the code builds."""

from __future__ import annotations

from pathlib import Path

from app.api.schema_export import export_sdl

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_schema_graphql_matches_the_code() -> None:
    committed = (ROOT / "schema.graphql").read_text()
    assert committed == export_sdl(), "regenerate it: python -m app.api.schema_export > schema.graphql"


def test_the_schema_declares_amounts_as_a_string_scalar_and_refusals_as_union_members() -> None:
    sdl = export_sdl()
    assert "scalar Amount" in sdl
    assert "union PayResult = PaymentAccepted | CumulativeMismatch | InsufficientFunds | Refused" in sdl
    assert "union SignInResult = Session | Refused" in sdl
