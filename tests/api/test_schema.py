"""The committed SDL is the schema the code builds."""

from __future__ import annotations

from pathlib import Path

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
)

from app.api.schema import schema
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


def undescribed(named: GraphQLNamedType) -> list[str]:
    """The type itself, its fields, their arguments, its input fields and enum values, where any
    lacks a description."""
    missing = [] if named.description else [named.name]
    if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
        for name, field in named.fields.items():
            missing += [] if field.description else [f"{named.name}.{name}"]
            missing += [f"{named.name}.{name}({a})" for a, arg in field.args.items() if not arg.description]
    elif isinstance(named, GraphQLInputObjectType):
        missing += [f"{named.name}.{name}" for name, field in named.fields.items() if not field.description]
    elif isinstance(named, GraphQLEnumType):
        missing += [f"{named.name}.{name}" for name, value in named.values.items() if not value.description]
    return missing


def test_every_type_field_argument_input_field_and_enum_value_is_described() -> None:
    builtin = {"String", "Int", "Float", "Boolean", "ID"}
    missing = [
        item
        for name, named in schema._schema.type_map.items()
        if not name.startswith("__") and name not in builtin
        for item in undescribed(named)
    ]
    assert missing == [], f"describe these (strawberry description=): {missing}"
