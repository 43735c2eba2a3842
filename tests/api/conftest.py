"""API tests go through real HTTP (Starlette's TestClient) into real services: the session's anvil
chain and a fresh SQLite database per test."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():
    # Starlette 1.10 prefers `httpx2` for its TestClient; the project pins httpx, which still works.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

from app.api.app import create_app
from app.config import load
from app.services.runtime import Services, build
from tests.factories import Chain

PRICE = 10_000  # 0.01 test USDC
RESOURCE = "article-1"


@dataclass
class Api:
    """A client of the GraphQL API, with the services behind it and the chain they follow."""

    client: TestClient
    services: Services
    chain: Chain

    def post(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response: httpx.Response = self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        return response

    def execute(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        """The JSON body of a request that must have been answered with HTTP 200."""
        response = self.post(query, variables, token)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def data(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        """The data of a request that must have succeeded without errors."""
        body = self.execute(query, variables, token)
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data

    def error(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        """The single error of a request that must have failed."""
        body = self.execute(query, variables, token)
        assert len(body.get("errors") or []) == 1, body
        error: dict[str, Any] = body["errors"][0]
        return error

    @property
    def usdc(self) -> str:
        return str(self.chain.usdc.address)

    def deposit(self, payer: LocalAccount, amount: int) -> None:
        """Deposits on chain, then lets the server index it."""
        self.chain.deposit(payer, amount)
        self.services.indexer.sync_once()

    def list_resource(self, creator: LocalAccount, resource_id: str = RESOURCE, price: int = PRICE) -> None:
        self.services.catalog.save(creator.address, resource_id, self.usdc, price, "Title")  # type: ignore[arg-type]

    def voucher(
        self, payer: LocalAccount, resource_id: str = RESOURCE, signer: LocalAccount | None = None
    ) -> dict[str, Any]:
        """The typed data of the next voucher, from voucherToSign (on the key's lane for `signer`)."""
        data = self.data(
            "query($payer: Address!, $id: String!, $signer: Address) "
            "{ voucherToSign(payer: $payer, resourceId: $id, signer: $signer) { typedData } }",
            {"payer": payer.address, "id": resource_id, "signer": signer.address if signer else None},
        )
        typed: dict[str, Any] = data["voucherToSign"]["typedData"]
        return typed

    def pay_input(
        self, signer: LocalAccount, typed: dict[str, Any], resource_id: str = RESOURCE
    ) -> dict[str, Any]:
        """The PayInput of a voucher, signed by `signer`."""
        signature = Account.sign_typed_data(signer.key, full_message=typed).signature
        message = typed["message"]
        return {
            "payer": message["payer"],
            "token": message["token"],
            "lane": message["lane"],
            "entries": message["entries"],
            "purchase": message["purchase"],
            "signature": "0x" + bytes(signature).hex(),
            "resourceId": resource_id,
        }

    def authorize_key(
        self, payer: LocalAccount, key: LocalAccount, max_total: int = 1_000_000
    ) -> dict[str, Any]:
        """Signs a grant for `key` with the payer's wallet and saves it; returns the SessionKey."""
        typed = self.data(
            "query($p: Address!, $s: Address!, $m: Amount!) "
            "{ grantToSign(payer: $p, signer: $s, maxTotal: $m) { typedData } }",
            {"p": payer.address, "s": key.address, "m": str(max_total)},
        )["grantToSign"]["typedData"]
        signature = Account.sign_typed_data(payer.key, full_message=typed).signature
        message = typed["message"]
        grant = {k: message[k] for k in ("payer", "signer", "token", "lane", "maxTotal")}
        grant["validUntil"] = int(message["validUntil"])
        result = self.data(AUTHORIZE, {"g": grant, "s": "0x" + bytes(signature).hex()})["authorizeSessionKey"]
        assert result["__typename"] == "SessionKey", result
        return result

    def pay(self, pay_input: dict[str, Any], idempotency_key: str | None = None) -> dict[str, Any]:
        """The PayResult of a pay mutation."""
        data = self.data(PAY, {"input": pay_input, "key": idempotency_key})
        result: dict[str, Any] = data["pay"]
        return result

    def sign_in(self, account: LocalAccount) -> str:
        """Signs in with SIWE through the API; returns the session token."""
        message = self.data("query($a: Address!) { signInMessage(address: $a) }", {"a": account.address})[
            "signInMessage"
        ]
        signature = Account.sign_message(encode_defunct(text=message), account.key).signature
        result = self.data(SIGN_IN, {"message": message, "signature": "0x" + bytes(signature).hex()})[
            "signIn"
        ]
        assert result["__typename"] == "Session", result
        token: str = result["token"]
        return token


PAY = """
mutation($input: PayInput!, $key: String) {
  pay(input: $input, idempotencyKey: $key) {
    __typename
    ... on PaymentAccepted {
      receipt { id lane cumulativeAmount price status payer payee signature acknowledgement signer }
    }
    ... on CumulativeMismatch {
      code message expected { payee cumulativeAmount }
      latest { payer token lane entries { payee cumulativeAmount } purchase signature acknowledgement }
    }
    ... on InsufficientFunds { code message headroom price }
    ... on Refused { code message fields }
  }
}
"""

AUTHORIZE = """
mutation($g: SessionGrantInput!, $s: Bytes!) {
  authorizeSessionKey(grant: $g, signature: $s) {
    __typename
    ... on SessionKey { signer lane maxTotal spent validUntil }
    ... on Refused { code message fields }
  }
}
"""

SIGN_IN = """
mutation($message: String!, $signature: Bytes!) {
  signIn(message: $message, signature: $signature) {
    __typename
    ... on Session { token address expiresAt }
    ... on Refused { code message }
  }
}
"""

ACCOUNT = (
    "query($p: Address!, $t: Address!) { account(payer: $p, token: $t) { balance outstanding headroom } }"
)


@pytest.fixture
def make_api(chain: Chain, tmp_path: Path) -> Iterator[Callable[..., Api]]:
    """Builds an Api over fresh services; keyword arguments are extra environment variables."""
    opened: list[tuple[TestClient, Services]] = []

    def make(**env: str) -> Api:
        data_dir = tmp_path / f"data{len(opened)}"
        settings = load(
            {
                "RPC_URL": str(chain.w3.provider.endpoint_uri),  # type: ignore[attr-defined]
                "HUB_ADDRESS": str(chain.hub.address),
                "DATA_DIR": str(data_dir),
                "CONFIRMATIONS": "0",
                "OPERATOR_KEY": "0x" + bytes(chain.owner.key).hex(),  # the hub's operator acknowledges
                **env,
            }
        )
        data_dir.mkdir()
        services = build(settings)
        services.indexer.sync_once()
        client = TestClient(create_app(services))
        client.__enter__()
        opened.append((client, services))
        return Api(client=client, services=services, chain=chain)

    yield make
    for client, services in opened:
        client.__exit__(None, None, None)
        services.close()


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    return make_api()


@pytest.fixture
def payer(chain: Chain) -> LocalAccount:
    return chain.accounts[1]


@pytest.fixture
def creator(chain: Chain) -> LocalAccount:
    return chain.accounts[2]


@pytest.fixture
def stranger(chain: Chain) -> LocalAccount:
    return chain.accounts[3]


@pytest.fixture
def funded(api: Api, payer: LocalAccount, creator: LocalAccount) -> Api:
    """The payer has deposited 1 test USDC and the creator lists RESOURCE at PRICE."""
    api.deposit(payer, 1_000_000)
    api.list_resource(creator)
    return api
