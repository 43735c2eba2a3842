"""Access models in the API: a creator chooses one with saveResource; `access` tells what a payer
holds (public), its receipt only to the payer or payee; voucherToSign and pay refuse what is owned."""

from __future__ import annotations

from eth_account.signers.local import LocalAccount

from tests.api.conftest import Api

SAVE = """mutation($input: ResourceInput!) { saveResource(input: $input) { __typename
  ... on ResourceSaved { resource { id access passSeconds } } ... on Refused { code message } } }"""
ACCESS = """query($p: Address!, $r: String!) { access(payer: $p, resourceId: $r) {
  owned until receiptId receipt { id } resource { id access passSeconds } } }"""


def list_purchase(api: Api, creator: LocalAccount) -> None:
    resource = {"id": "book-1", "token": api.usdc, "price": "2500", "title": "A book", "access": "PURCHASE"}
    saved = api.data(SAVE, {"input": resource}, token=api.sign_in(creator))["saveResource"]
    assert saved["resource"] == {"id": "book-1", "access": "PURCHASE", "passSeconds": 0}


def test_a_creator_sells_a_time_pass(api: Api, creator: LocalAccount) -> None:
    resource = {"id": "hour", "token": api.usdc, "price": "100", "title": "An hour", "access": "TIME_PASS",
                "passSeconds": 3600}  # fmt: skip
    saved = api.data(SAVE, {"input": resource}, token=api.sign_in(creator))["saveResource"]
    assert saved["resource"] == {"id": "hour", "access": "TIME_PASS", "passSeconds": 3600}


def test_a_time_pass_without_seconds_is_refused(api: Api, creator: LocalAccount) -> None:
    resource = {"id": "hour", "token": api.usdc, "price": "100", "title": "An hour", "access": "TIME_PASS"}
    saved = api.data(SAVE, {"input": resource}, token=api.sign_in(creator))["saveResource"]
    assert (saved["__typename"], saved["code"]) == ("Refused", "INVALID_INPUT")


def test_a_purchase_is_owned_once_paid_and_never_charged_again(
    api: Api, payer: LocalAccount, creator: LocalAccount, stranger: LocalAccount
) -> None:
    list_purchase(api, creator)
    api.deposit(payer, 1_000_000)
    before = api.data(ACCESS, {"p": payer.address, "r": "book-1"})["access"]
    assert (before["owned"], before["receiptId"]) == (False, None)
    to_sign = api.voucher(payer, "book-1")
    second = api.voucher(payer, "book-1")  # built before the first is paid
    paid = api.pay(api.pay_input(payer, to_sign, "book-1"))
    receipt_id = paid["receipt"]["id"]

    public = api.data(ACCESS, {"p": payer.address, "r": "book-1"})["access"]
    assert (public["owned"], public["until"], public["receiptId"], public["receipt"]) == (
        True,
        None,
        receipt_id,
        None,
    )
    mine = api.data(ACCESS, {"p": payer.address, "r": "book-1"}, token=api.sign_in(payer))["access"]
    assert mine["receipt"] == {"id": receipt_id}
    theirs = api.data(ACCESS, {"p": payer.address, "r": "book-1"}, token=api.sign_in(stranger))["access"]
    assert theirs["receipt"] is None

    refused = api.pay(api.pay_input(payer, second, "book-1"))
    assert (refused["code"], refused["fields"]["receipt"]) == ("ALREADY_OWNED", receipt_id)
    error = api.error(
        'query($p: Address!) { voucherToSign(payer: $p, resourceId: "book-1") { lane } }',
        {"p": payer.address},
    )
    assert error["extensions"]["code"] == "ALREADY_OWNED"
