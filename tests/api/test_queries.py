"""Public reads: configuration, tokens, index metadata, accounts, resources, health."""

from __future__ import annotations

from collections.abc import Callable

from eth_account.signers.local import LocalAccount

from app.core.eip712 import ENTRY_FIELDS, PAYER_VOUCHER_FIELDS, SESSION_GRANT_FIELDS
from app.core.errors import Transient
from tests.api.conftest import ACCOUNT, PRICE, Api


def test_config_describes_the_chain_the_hub_and_the_voucher_types(api: Api) -> None:
    config = api.data(
        "{ config { chainId hub domain voucherTypes sessionGrantTypes operator maxLaneEntries withdrawDelay "
        "allowedTokens { address symbol } } }"
    )["config"]
    assert config["chainId"] == 31337
    assert config["hub"] == api.chain.hub.address
    assert config["domain"] == {
        "name": "MicropaymentHub",
        "version": "2",
        "chainId": 31337,
        "verifyingContract": api.chain.hub.address,
    }
    assert config["voucherTypes"]["PayerVoucher"] == PAYER_VOUCHER_FIELDS
    assert config["voucherTypes"]["Entry"] == ENTRY_FIELDS
    assert config["sessionGrantTypes"]["SessionGrant"] == SESSION_GRANT_FIELDS
    assert config["operator"] == api.chain.owner.address
    assert config["maxLaneEntries"] == 32
    assert config["withdrawDelay"] == 3600
    assert [t["address"] for t in config["allowedTokens"]] == [api.usdc]


def test_tokens_lists_the_hubs_stablecoin_with_its_eip712_domain(api: Api) -> None:
    tokens = api.data("{ tokens { address symbol decimals allowed eip712Domain } }")["tokens"]
    assert len(tokens) == 1
    token = tokens[0]
    assert (token["address"], token["decimals"], token["allowed"]) == (api.usdc, 6, True)
    assert token["eip712Domain"]["verifyingContract"] == api.usdc


def test_meta_reports_the_last_indexed_block_like_the_graph(api: Api) -> None:
    meta = api.data("{ _meta { block { number hash } hasIndexingErrors deployment } }")["_meta"]
    head = api.chain.w3.eth.get_block("latest")
    assert meta["block"] == {"number": head["number"], "hash": "0x" + bytes(head["hash"]).hex()}
    assert meta["hasIndexingErrors"] is False
    assert meta["deployment"] == api.chain.hub.address


def test_account_shows_a_confirmed_deposit_to_anyone(api: Api, payer: LocalAccount) -> None:
    api.deposit(payer, 1_000_000)
    account = api.data(ACCOUNT, {"p": payer.address.lower(), "t": api.usdc})["account"]
    assert account == {"balance": "1000000", "outstanding": "0", "headroom": "1000000"}


def test_an_account_without_deposit_is_empty(api: Api, payer: LocalAccount) -> None:
    account = api.data(ACCOUNT, {"p": payer.address, "t": api.usdc})["account"]
    assert account == {"balance": "0", "outstanding": "0", "headroom": "0"}


def test_resources_are_paginated_with_opaque_cursors(api: Api, creator: LocalAccount) -> None:
    for name in ("a", "b", "c"):
        api.list_resource(creator, f"article-{name}")
    query = """query($after: String) {
      resources(first: 2, after: $after) {
        edges { cursor node { id price payee } }
        pageInfo { hasNextPage endCursor }
      }
    }"""
    first = api.data(query)["resources"]
    assert [e["node"]["id"] for e in first["edges"]] == ["article-a", "article-b"]
    assert first["edges"][0]["node"]["price"] == str(PRICE)
    assert first["pageInfo"]["hasNextPage"] is True
    second = api.data(query, {"after": first["pageInfo"]["endCursor"]})["resources"]
    assert [e["node"]["id"] for e in second["edges"]] == ["article-c"]
    assert second["pageInfo"] == {"hasNextPage": False, "endCursor": second["edges"][0]["cursor"]}


def test_a_page_larger_than_100_is_refused(api: Api) -> None:
    error = api.error("{ resources(first: 101) { edges { cursor } } }")
    assert error["extensions"]["code"] == "INVALID_INPUT"
    assert "first must be from 1 to 100" in error["message"]


def test_a_cursor_the_api_did_not_give_is_refused(api: Api) -> None:
    error = api.error('{ resources(after: "%%%") { edges { cursor } } }')
    assert error["extensions"]["code"] == "INVALID_INPUT"


def test_resource_returns_a_listing_or_null(api: Api, creator: LocalAccount) -> None:
    api.list_resource(creator)
    data = api.data(
        '{ known: resource(id: "article-1") { title payee } unknown: resource(id: "nope") { id } }'
    )
    assert data == {"known": {"title": "Title", "payee": creator.address}, "unknown": None}


def test_health_reports_the_chain_and_the_index(api: Api) -> None:
    response = api.client.get("/health")
    assert response.status_code == 200
    health = response.json()
    head = api.chain.w3.eth.block_number
    assert health == {
        "status": "ok",
        "chainId": 31337,
        "hub": api.chain.hub.address,
        "indexedBlock": head,
        "headBlock": head,
        "database": "ok",
        "node": "ok",
        "leader": None,  # no background worker in this app: the tests drive the indexer
        "backgroundError": None,
        "indexing": "running",
    }


def test_health_is_503_when_the_node_is_down(api: Api) -> None:
    def down() -> int:
        raise Transient("chain node: down")

    api.services.hub.head = down  # type: ignore[method-assign]
    response = api.client.get("/health")
    assert response.status_code == 503
    assert response.json()["status"] == "degraded"
    assert response.json()["node"] == "unavailable"


def test_health_is_503_when_the_database_is_down(api: Api) -> None:
    def down() -> None:
        raise Transient("the database is unavailable")

    api.services.accounts.indexed_block = down  # type: ignore[method-assign]
    response = api.client.get("/health")
    assert response.status_code == 503
    assert (response.json()["status"], response.json()["database"]) == ("degraded", "unavailable")


def test_config_advertises_a_public_rpc_url_only_when_one_is_set(make_api: Callable[..., Api]) -> None:
    assert make_api().data("{ config { publicRpcUrl } }") == {"config": {"publicRpcUrl": None}}
    advertised = make_api(PUBLIC_RPC_URL="https://rpc.example.org")
    assert advertised.data("{ config { publicRpcUrl } }") == {
        "config": {"publicRpcUrl": "https://rpc.example.org"}
    }
