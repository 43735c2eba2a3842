"""The exits and the relays through the API: ready transactions for users' wallets, exported
vouchers for creators (which they claim themselves, acknowledged), gasless deposits sent by the
operator, and the revocation of a session key."""

from __future__ import annotations

from collections.abc import Callable

from eth_account import Account

from tests.api.conftest import Api

RELAY_PERMIT = """
mutation($p: Address!, $t: Address!, $s: Bytes!) {
  depositWithPermit(payer: $p, token: $t, amount: "1", deadline: 99999999999, signature: $s) {
    __typename
    ... on RelayedTransaction { txHash nonce }
    ... on Refused { code message fields }
  }
}
"""


def test_a_payer_gets_ready_transactions_for_each_step_of_its_exit(api: Api) -> None:
    payer = api.chain.accounts[3]
    api.deposit(payer, 50_000)
    data = api.data(
        'query($t: Address!) { requestWithdrawalTransaction(token: $t, amount: "50000") { to data chainId } '
        "withdrawTransaction(token: $t) { to data } }",
        {"t": api.usdc},
    )
    request = data["requestWithdrawalTransaction"]
    assert request["to"] == api.chain.hub.address
    # The payer's own wallet sends it: the hub sees the request, the server's headroom shrinks.
    api.chain.w3.eth.wait_for_transaction_receipt(
        api.chain.w3.eth.send_transaction(
            {"from": payer.address, "to": request["to"], "data": request["data"]}
        )
    )
    api.services.indexer.sync_once()
    account = api.data(
        "query($p: Address!, $t: Address!) { account(payer: $p, token: $t) { headroom pendingWithdrawal } }",
        {"p": payer.address, "t": api.usdc},
    )["account"]
    assert account == {"headroom": "0", "pendingWithdrawal": "50000"}


def test_a_creator_exports_its_vouchers_in_the_form_claim_takes(api: Api) -> None:
    payer, creator = api.chain.accounts[1], api.chain.accounts[2]
    api.deposit(payer, 100_000)
    api.list_resource(creator)
    api.pay(api.pay_input(payer, api.voucher(payer)))
    latest = api.pay(api.pay_input(payer, api.voucher(payer)))
    token = api.sign_in(creator)
    exported = api.data(
        "query($p: Address!) { exportVouchers(payee: $p) }", {"p": creator.address}, token=token
    )["exportVouchers"]
    assert exported["hub"] == api.chain.hub.address
    [voucher] = exported["claims"]
    assert voucher["entries"] == [
        {"payee": creator.address, "cumulativeAmount": latest["receipt"]["cumulativeAmount"]}
    ]
    assert voucher["acknowledgement"] == latest["receipt"]["acknowledgement"]
    transaction = api.data(
        "query($p: Address!) { claimTransaction(payee: $p) { to data } }", {"p": creator.address}, token=token
    )["claimTransaction"]
    api.chain.w3.eth.wait_for_transaction_receipt(
        api.chain.w3.eth.send_transaction(
            {"from": creator.address, "to": transaction["to"], "data": transaction["data"]}
        )
    )
    # The creator sent it, not the operator: the acknowledgements let it through.
    assert api.chain.earnings(creator.address) == int(latest["receipt"]["cumulativeAmount"])


def test_another_creators_vouchers_are_not_exported(api: Api) -> None:
    token = api.sign_in(api.chain.accounts[5])
    error = api.error(
        "query($p: Address!) { exportVouchers(payee: $p) }", {"p": api.chain.accounts[2].address}, token=token
    )
    assert error["extensions"]["code"] == "FORBIDDEN"


def test_a_payer_gets_a_ready_transaction_to_revoke_a_session_key(api: Api) -> None:
    payer, creator, key = api.chain.accounts[1], api.chain.accounts[2], Account.create()
    api.deposit(payer, 100_000)
    api.list_resource(creator)
    api.authorize_key(payer, key)
    request = api.data(
        "query($s: Address!) { revokeSessionKeyTransaction(signer: $s) { to data } }", {"s": key.address}
    )["revokeSessionKeyTransaction"]
    api.chain.w3.eth.wait_for_transaction_receipt(
        api.chain.w3.eth.send_transaction(
            {"from": payer.address, "to": request["to"], "data": request["data"]}
        )
    )
    api.services.indexer.sync_once()
    keys = api.data(
        "query($p: Address!) { sessionKeys(payer: $p) { signer revokedAt } }", {"p": payer.address}
    )["sessionKeys"]
    assert keys[0]["signer"] == key.address
    assert keys[0]["revokedAt"] is not None
    # Revoked keys are refused at once: their vouchers could not be settled in time.
    refused = api.pay(api.pay_input(key, api.voucher(payer, signer=key)))
    assert (refused["__typename"], refused["code"]) == ("Refused", "SIGNER_NOT_AUTHORIZED")


def test_a_server_without_an_operator_key_says_it_relays_nothing(make_api: Callable[..., Api]) -> None:
    api = make_api(OPERATOR_KEY="")
    payer = api.chain.accounts[1]
    variables = {"p": payer.address, "t": api.usdc, "s": "0x" + "11" * 64 + "1b"}
    refused = api.data(RELAY_PERMIT, variables)["depositWithPermit"]
    assert refused["code"] == "NOT_CONFIGURED"
