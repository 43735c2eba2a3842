"""Creators' display names: set by the signed-in creator, read by anyone, carried by resources."""

from __future__ import annotations

from eth_account.signers.local import LocalAccount

from tests.api.conftest import Api

SET_NAME = """
mutation($name: String!) {
  setDisplayName(name: $name) {
    __typename
    ... on CreatorProfile { address displayName }
    ... on Refused { code message }
  }
}
"""
PROFILE = "query($a: Address!) { creatorProfile(address: $a) { address displayName } }"


def test_a_signed_in_creator_names_itself_and_anyone_reads_the_name(api: Api, creator: LocalAccount) -> None:
    token = api.sign_in(creator)
    saved = api.data(SET_NAME, {"name": "  Ada   Lovelace "}, token)["setDisplayName"]
    assert saved == {
        "__typename": "CreatorProfile",
        "address": creator.address,
        "displayName": "Ada Lovelace",
    }
    assert api.data(PROFILE, {"a": creator.address})["creatorProfile"]["displayName"] == "Ada Lovelace"
    api.data(SET_NAME, {"name": "Ada"}, token)
    assert api.data(PROFILE, {"a": creator.address})["creatorProfile"]["displayName"] == "Ada"


def test_a_creator_without_a_name_has_none(api: Api, creator: LocalAccount) -> None:
    assert api.data(PROFILE, {"a": creator.address})["creatorProfile"] == {
        "address": creator.address,
        "displayName": None,
    }


def test_resources_carry_their_creators_names(api: Api, creator: LocalAccount, payer: LocalAccount) -> None:
    api.list_resource(creator, "article-a")
    api.list_resource(creator, "article-b")
    api.list_resource(payer, "article-c")
    api.data(SET_NAME, {"name": "Ada"}, api.sign_in(creator))
    edges = api.data("{ resources { edges { node { id creatorName } } } }")["resources"]["edges"]
    assert {e["node"]["id"]: e["node"]["creatorName"] for e in edges} == {
        "article-a": "Ada",
        "article-b": "Ada",
        "article-c": None,
    }


def test_naming_needs_a_session(api: Api) -> None:
    result = api.data(SET_NAME, {"name": "Ada"})["setDisplayName"]
    assert (result["__typename"], result["code"]) == ("Refused", "UNAUTHENTICATED")


def test_empty_long_and_invisible_names_are_refused(api: Api, creator: LocalAccount) -> None:
    token = api.sign_in(creator)
    for name in ("   ", "x" * 65, "Ada\u202eevil", "Ada\u200b"):
        result = api.data(SET_NAME, {"name": name}, token)["setDisplayName"]
        assert result["__typename"] == "Refused", name
        assert result["code"] == "INVALID_INPUT"
    assert api.data(PROFILE, {"a": creator.address})["creatorProfile"]["displayName"] is None
