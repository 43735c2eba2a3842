"""The exits and the relays through the API: ready transactions for users' wallets, exported
vouchers for creators, and gasless deposits and session keys sent by the operator."""

from __future__ import annotations

from collections.abc import Callable

from eth_account import Account

from app.chain.anvil import DEV_KEYS
from app.core.eip712 import Domain, SignerAuthorization, signer_authorization_digest
from app.core.types import to_address
from tests.api.conftest import Api
from tests.factories import sign_digest

RELAY = """
mutation($auth: SignerAuthorizationInput!, $sig: Bytes!) {
  registerSessionKey(authorization: $auth, signature: $sig) {
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
    [claim] = exported["claims"]
    assert claim["cumulativeAmount"] == latest["receipt"]["cumulativeAmount"]
    transaction = api.data(
        "query($p: Address!) { claimTransaction(payee: $p) { to data } }", {"p": creator.address}, token=token
    )["claimTransaction"]
    api.chain.w3.eth.wait_for_transaction_receipt(
        api.chain.w3.eth.send_transaction(
            {"from": creator.address, "to": transaction["to"], "data": transaction["data"]}
        )
    )
    assert api.chain.earnings(creator.address) == int(claim["cumulativeAmount"])


def test_another_creators_vouchers_are_not_exported(api: Api) -> None:
    token = api.sign_in(api.chain.accounts[5])
    error = api.error(
        "query($p: Address!) { exportVouchers(payee: $p) }", {"p": api.chain.accounts[2].address}, token=token
    )
    assert error["extensions"]["code"] == "FORBIDDEN"


def test_a_session_key_is_relayed_gaslessly_and_pays(make_api: Callable[..., Api]) -> None:
    api = make_api(OPERATOR_KEY=DEV_KEYS[6])  # an operator account no other test sends from
    payer, creator, key = api.chain.accounts[1], api.chain.accounts[2], Account.create()
    api.deposit(payer, 100_000)
    api.list_resource(creator)
    auth = SignerAuthorization(
        to_address(payer.address), to_address(key.address), to_address(api.usdc), 50_000,
        api.chain.timestamp() + 86_400, 7,
    )  # fmt: skip
    domain = Domain(api.services.domain.chain_id, api.services.domain.hub)
    signature = sign_digest(payer.key, signer_authorization_digest(domain, auth))
    variables = {
        "auth": {
            "payer": auth.payer, "signer": auth.signer, "token": auth.token, "allowance": "50000",
            "validUntil": str(auth.valid_until), "nonce": "7",
        },
        "sig": "0x" + signature.hex(),
    }  # fmt: skip
    relayed = api.data(RELAY, variables)["registerSessionKey"]
    assert relayed["__typename"] == "RelayedTransaction", relayed
    api.chain.w3.eth.wait_for_transaction_receipt(relayed["txHash"])
    api.services.indexer.sync_once()
    paid = api.pay(api.pay_input(key, api.voucher(payer)))
    assert paid["__typename"] == "PaymentAccepted"
    assert paid["receipt"]["signature"]
    again = api.data(RELAY, variables)["registerSessionKey"]
    assert (again["__typename"], again["code"], again["fields"]["error"]) == (
        "Refused",
        "CHAIN_REFUSED",
        "NonceAlreadyUsed",
    )


def test_a_server_without_an_operator_key_says_it_relays_nothing(api: Api) -> None:
    payer = api.chain.accounts[1]
    variables = {
        "auth": {
            "payer": payer.address, "signer": payer.address, "token": api.usdc, "allowance": "1",
            "validUntil": "99999999999", "nonce": "1",
        },
        "sig": "0x" + "00" * 65,
    }  # fmt: skip
    refused = api.data(RELAY, variables)["registerSessionKey"]
    assert refused["code"] == "NOT_CONFIGURED"
