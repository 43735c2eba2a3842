"""Sign-In with Ethereum, sessions, and data only its owner may read."""

from __future__ import annotations

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

from tests.api.conftest import PRICE, SIGN_IN, Api

ME = "{ me }"
RECEIPTS = """query($payer: Address) {
  receipts(payer: $payer, first: 10) {
    edges { cursor node { id payer cumulativeAmount } }
    pageInfo { hasNextPage }
  }
}"""
SALES = "{ sales { edges { node { payer payee price } } } }"
SAVE_RESOURCE = """
mutation($input: ResourceInput!) {
  saveResource(input: $input) {
    __typename
    ... on ResourceSaved { resource { id payee price title } }
    ... on Refused { code message }
  }
}
"""


def signed(message: str, account: LocalAccount) -> str:
    return "0x" + bytes(Account.sign_message(encode_defunct(text=message), account.key).signature).hex()


def test_sign_in_with_ethereum_gives_a_session_that_me_recognises(api: Api, payer: LocalAccount) -> None:
    assert api.data(ME) == {"me": None}
    token = api.sign_in(payer)
    assert api.data(ME, token=token) == {"me": payer.address}


def test_the_sign_in_message_names_the_address_and_this_server(api: Api, payer: LocalAccount) -> None:
    message = api.data("query($a: Address!) { signInMessage(address: $a) }", {"a": payer.address.lower()})[
        "signInMessage"
    ]
    assert payer.address in message
    assert message.startswith("127.0.0.1:8000 wants you to sign in with your Ethereum account:")
    assert "Chain ID: 31337" in message


def test_a_sign_in_message_cannot_be_used_twice(api: Api, payer: LocalAccount) -> None:
    message = api.data("query($a: Address!) { signInMessage(address: $a) }", {"a": payer.address})[
        "signInMessage"
    ]
    variables = {"message": message, "signature": signed(message, payer)}
    assert api.data(SIGN_IN, variables)["signIn"]["__typename"] == "Session"

    again = api.data(SIGN_IN, variables)["signIn"]

    assert again["__typename"] == "Refused"
    assert again["code"] == "UNAUTHENTICATED"
    assert "nonce" in again["message"]


def test_a_sign_in_signed_by_another_key_is_refused(
    api: Api, payer: LocalAccount, stranger: LocalAccount
) -> None:
    message = api.data("query($a: Address!) { signInMessage(address: $a) }", {"a": payer.address})[
        "signInMessage"
    ]
    result = api.data(SIGN_IN, {"message": message, "signature": signed(message, stranger)})["signIn"]
    assert (result["__typename"], result["code"]) == ("Refused", "UNAUTHENTICATED")


def test_a_garbled_sign_in_message_is_refused_as_invalid_input(api: Api, payer: LocalAccount) -> None:
    result = api.data(SIGN_IN, {"message": "hello", "signature": signed("hello", payer)})["signIn"]
    assert (result["__typename"], result["code"]) == ("Refused", "INVALID_INPUT")


def test_sign_out_ends_the_session(api: Api, payer: LocalAccount) -> None:
    token = api.sign_in(payer)
    assert api.data("mutation { signOut }", token=token) == {"signOut": True}
    assert api.data(ME, token=token) == {"me": None}
    error = api.error(RECEIPTS, token=token)
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert "unknown or expired" in error["message"]


def test_receipts_show_the_signed_in_payers_own_vouchers(funded: Api, payer: LocalAccount) -> None:
    for _ in range(3):
        funded.pay(funded.pay_input(payer, funded.voucher(payer)))
    token = funded.sign_in(payer)

    page = funded.data(RECEIPTS, token=token)["receipts"]

    amounts = [edge["node"]["cumulativeAmount"] for edge in page["edges"]]
    assert amounts == [str(3 * PRICE), str(2 * PRICE), str(PRICE)]  # newest first
    assert {edge["node"]["payer"] for edge in page["edges"]} == {payer.address}
    assert page["pageInfo"]["hasNextPage"] is False


def test_receipts_page_by_cursor(funded: Api, payer: LocalAccount) -> None:
    for _ in range(3):
        funded.pay(funded.pay_input(payer, funded.voucher(payer)))
    token = funded.sign_in(payer)
    query = "query($after: String) { receipts(first: 2, after: $after) { edges { cursor node { price } } } }"
    first = funded.data(query, token=token)["receipts"]["edges"]
    rest = funded.data(query, {"after": first[-1]["cursor"]}, token=token)["receipts"]["edges"]
    assert (len(first), len(rest)) == (2, 1)


def test_another_users_receipts_are_forbidden(
    funded: Api, payer: LocalAccount, stranger: LocalAccount
) -> None:
    funded.pay(funded.pay_input(payer, funded.voucher(payer)))
    token = funded.sign_in(stranger)
    error = funded.error(RECEIPTS, {"payer": payer.address}, token=token)
    assert error["extensions"]["code"] == "FORBIDDEN"


def test_receipts_without_a_session_are_unauthenticated(funded: Api) -> None:
    error = funded.error(RECEIPTS)
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert "sign in first" in error["message"]


def test_a_receipt_is_shown_to_its_payer_and_payee_only(
    funded: Api, payer: LocalAccount, creator: LocalAccount, stranger: LocalAccount
) -> None:
    receipt_id = funded.pay(funded.pay_input(payer, funded.voucher(payer)))["receipt"]["id"]
    query = "query($id: String!) { receipt(id: $id) { id } }"
    for owner in (payer, creator):
        assert funded.data(query, {"id": receipt_id}, token=funded.sign_in(owner)) == {
            "receipt": {"id": receipt_id}
        }
    assert funded.data(query, {"id": receipt_id}, token=funded.sign_in(stranger)) == {"receipt": None}


def test_earnings_and_lanes_are_the_owners_only(
    funded: Api, payer: LocalAccount, creator: LocalAccount, stranger: LocalAccount
) -> None:
    funded.pay(funded.pay_input(payer, funded.voucher(payer)))
    earnings = (
        "query($p: Address!, $t: Address!) { earnings(payee: $p, token: $t) { accepted withdrawable } }"
    )
    lanes = (
        "query($p: Address!) { lanes(payer: $p) { signer entries { payee cumulativeAmount } outstanding } }"
    )
    variables = {"p": creator.address, "t": funded.usdc}

    assert funded.data(earnings, variables, token=funded.sign_in(creator))["earnings"] == {
        "accepted": str(PRICE),
        "withdrawable": "0",
    }
    assert funded.data(lanes, {"p": payer.address}, token=funded.sign_in(payer))["lanes"] == [
        {
            "signer": payer.address,
            "entries": [{"payee": creator.address, "cumulativeAmount": str(PRICE)}],
            "outstanding": str(PRICE),
        }
    ]
    stranger_token = funded.sign_in(stranger)
    assert funded.error(earnings, variables, token=stranger_token)["extensions"]["code"] == "FORBIDDEN"
    assert (
        funded.error(lanes, {"p": payer.address}, token=stranger_token)["extensions"]["code"] == "FORBIDDEN"
    )


def test_a_signed_in_creator_lists_a_resource_and_sees_its_sales(
    api: Api, payer: LocalAccount, creator: LocalAccount
) -> None:
    token = api.sign_in(creator)
    resource = {"id": "post-7", "token": api.usdc.lower(), "price": "2500", "title": "Post 7"}
    saved = api.data(SAVE_RESOURCE, {"input": resource}, token=token)["saveResource"]
    assert saved == {
        "__typename": "ResourceSaved",
        "resource": {"id": "post-7", "payee": creator.address, "price": "2500", "title": "Post 7"},
    }
    api.deposit(payer, 1_000_000)
    api.pay(api.pay_input(payer, api.voucher(payer, "post-7"), "post-7"))

    sales = api.data(SALES, token=token)["sales"]["edges"]

    assert [edge["node"] for edge in sales] == [
        {"payer": payer.address, "payee": creator.address, "price": "2500"}
    ]


def test_saving_a_resource_without_a_session_is_refused(api: Api) -> None:
    resource = {"id": "post-7", "token": api.usdc, "price": "2500", "title": "Post 7"}
    saved = api.data(SAVE_RESOURCE, {"input": resource})["saveResource"]
    assert (saved["__typename"], saved["code"]) == ("Refused", "UNAUTHENTICATED")


def test_a_resource_id_belongs_to_the_creator_who_listed_it(
    api: Api, creator: LocalAccount, stranger: LocalAccount
) -> None:
    resource = {"id": "post-7", "token": api.usdc, "price": "2500", "title": "Post 7"}
    api.data(SAVE_RESOURCE, {"input": resource}, token=api.sign_in(creator))
    taken = api.data(SAVE_RESOURCE, {"input": resource}, token=api.sign_in(stranger))["saveResource"]
    assert (taken["__typename"], taken["code"]) == ("Refused", "INVALID_INPUT")
