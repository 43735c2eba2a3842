"""The client: requests to the API, the payment, session-key, deposit and sign-in flows."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncGenerator, Mapping
from dataclasses import replace
from types import TracebackType
from typing import Any

import httpx
from eth_account import Account
from eth_account.datastructures import SignedMessage
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.typing import Subprotocol

from app.client.checks import Purchase, checked, checked_grant, next_voucher, raised, signed_voucher
from app.client.errors import MicropaymentsError, TransportError
from app.core import siwe
from app.core.eip712 import MAX_LANE_ENTRIES, Acknowledgement, Domain, PayerVoucher, digest, typed_data
from app.core.errors import Refusal
from app.core.signatures import recover
from app.core.types import Address, to_address

_AMOUNT_FIELDS = "balance pendingWithdrawal outstanding headroom cumulativeAmount price maxTotal spent lane"
_AMOUNTS = frozenset(_AMOUNT_FIELDS.split())
_ENTRY = "{ payee cumulativeAmount }"
_SIGNED = f"payer token lane entries {_ENTRY} purchase signature acknowledgement signer"
_RECEIPT = (
    "id payer payee token cumulativeAmount price purchase resourceId signer signature status createdAt "
    f"lane acknowledgement voucher {{ {_SIGNED} }}"
)
_ACCOUNT = "payer token balance pendingWithdrawal withdrawalAvailableAt outstanding headroom"
_SESSION_KEY = "payer signer token lane maxTotal spent validUntil revokedAt"
_CONFIG = "{ config { chainId hub operator allowedTokens { address } } }"
_NEXT = f"""query($p: Address!, $r: String!, $s: Address) {{
  voucherToSign(payer: $p, resourceId: $r, signer: $s) {{
    typedData lane previousEntries {_ENTRY} resource {{ id payee token price }} }} }}"""
_PAY = f"""mutation($i: PayInput!, $k: String) {{ pay(input: $i, idempotencyKey: $k) {{ __typename
  ... on PaymentAccepted {{ receipt {{ {_RECEIPT} }} }} ... on Refusal {{ code message }}
  ... on Refused {{ fields }} ... on InsufficientFunds {{ headroom price }}
  ... on CumulativeMismatch {{ latest {{ {_SIGNED} }} }} }} }}"""
_RELAYED = "{ __typename ... on RelayedTransaction { txHash } ... on Refused { code message fields } }"
_GRANT = """query($p: Address!, $s: Address!, $m: Amount!, $v: Timestamp, $t: Address) {
  grantToSign(payer: $p, signer: $s, maxTotal: $m, validUntil: $v, token: $t) { typedData } }"""
_AUTHORIZE = f"""mutation($g: SessionGrantInput!, $s: Bytes!, $k: String) {{
  authorizeSessionKey(grant: $g, signature: $s, idempotencyKey: $k) {{ __typename
  ... on SessionKey {{ {_SESSION_KEY} }} ... on Refused {{ code message fields }} }} }}"""
_PERMIT = """query($o: Address!, $t: Address!, $a: Amount!, $d: Timestamp!) {
  permitToSign(owner: $o, token: $t, amount: $a, deadline: $d) { typedData } }"""
_DEPOSIT = f"""mutation($p: Address!, $t: Address!, $a: Amount!, $d: Timestamp!, $s: Bytes!, $k: String) {{
  depositWithPermit(payer: $p, token: $t, amount: $a, deadline: $d, signature: $s, idempotencyKey: $k)
  {_RELAYED} }}"""
_SIGN_IN = """mutation($m: String!, $s: Bytes!, $k: String) { signIn(message: $m, signature: $s,
  idempotencyKey: $k) { __typename ... on Session { token } ... on Refused { code message fields } } }"""
_RECEIPTS = f"""query($n: Int!, $after: String) {{ receipts(first: $n, after: $after) {{
  edges {{ node {{ {_RECEIPT} claimTx failure }} }} pageInfo {{ hasNextPage endCursor }} }} }}"""
_SESSION_KEYS = f"query($p: Address!) {{ sessionKeys(payer: $p) {{ {_SESSION_KEY} }} }}"
_REVOKE = """query($s: Address!) {
  revokeSessionKeyTransaction(signer: $s) { chainId to data value description } }"""
_ACCOUNT_QUERY = f"query($p: Address!, $t: Address!) {{ account(payer: $p, token: $t) {{ {_ACCOUNT} }} }}"
_WATCH = (
    f"subscription($p: Address!, $t: Address!) {{ accountChanged(payer: $p, token: $t) {{ {_ACCOUNT} }} }}"
)


class Micropayments:
    """A payer's client. `key` signs: the payer's wallet key, or a session key of `payer`.

    Idempotency: every mutation carries a key derived from what was signed (the EIP-712 digest of
    the voucher, grant or permit; the hash of the sign-in message), so a signed voucher always
    travels under the same key. `pay` resends a request that got no answer (up to `retries` times)
    with the same voucher and key, and the server answers with the first receipt instead of
    charging again. If every attempt fails it raises TransportError and keeps the voucher: the next
    `pay` of that resource resends it first, completing the interrupted payment rather than starting
    a second one. (A fresh random key per call would defeat this: the retry would be a new payment.)
    Relays and sign-in are not resent: their single-use nonces make a blind retry fail, not repeat.
    """

    def __init__(
        self,
        url: str,
        key: str | bytes | LocalAccount,
        payer: str | None = None,
        *,
        timeout: float = 10.0,
        retries: int = 2,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.signer: LocalAccount = key if isinstance(key, LocalAccount) else Account.from_key(key)
        self.address = to_address(self.signer.address)  # who signs
        self.payer = to_address(payer) if payer else self.address
        self.session_token: str | None = None
        self._timeout, self._retries = timeout, retries
        self._http = httpx.Client(base_url=self.url, timeout=timeout, transport=transport)
        self._config: dict[str, Any] | None = None
        self._pending: dict[str, tuple[Purchase, str]] = {}  # resource id -> voucher sent, no answer

    def __enter__(self) -> Micropayments:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # ------------------------------------------------------------------------------------ paying

    def pay(self, resource_id: str, *, max_price: int | None = None) -> dict[str, Any]:
        """Pays for one action on `resource_id` and returns its receipt. Checks the voucher before
        signing it (`next_voucher`); on CUMULATIVE_MISMATCH (another client of the payer paid on the
        lane meanwhile) it checks the server's latest voucher, signs above it and retries once.
        Raises MicropaymentsError with the refusal's code."""
        pending = self._pending.pop(resource_id, None)
        if pending is not None:
            result = self._submit(*pending)
            if result["__typename"] == "PaymentAccepted":
                return self._acknowledged(result["receipt"], pending[0])
        signer = None if self.address == self.payer else self.address
        data = self._query(_NEXT, {"p": self.payer, "r": resource_id, "s": signer})["voucherToSign"]
        purchase = next_voucher(data, self.payer, resource_id, self._domain())
        if max_price is not None and purchase.price > max_price:
            raise MicropaymentsError(
                "PRICE_ABOVE_MAX", f"the price is {purchase.price}", {"price": purchase.price}
            )
        result = self._submit(purchase, self._sign(purchase.voucher))
        if result["__typename"] == "CumulativeMismatch":
            purchase = self._resynchronised(purchase, result)
            result = self._submit(purchase, self._sign(purchase.voucher))
        if result["__typename"] != "PaymentAccepted":
            raise _refusal(result)
        return self._acknowledged(result["receipt"], purchase)

    def account(self, token: str | None = None) -> dict[str, Any]:
        """The payer's balance, outstanding and headroom (ints) in `token` (default: the hub's first)."""
        return _ints(self._query(_ACCOUNT_QUERY, {"p": self.payer, "t": self._token(token)})["account"])

    def session_keys(self) -> list[dict[str, Any]]:
        """The payer's session keys: lane, maxTotal, spent, validUntil, revokedAt."""
        return [_ints(k) for k in self._query(_SESSION_KEYS, {"p": self.payer})["sessionKeys"]]

    # ----------------------------------------------------------------------------------- gasless

    def authorize_session_key(
        self, max_total: int, valid_until: int | None = None, *, token: str | None = None
    ) -> tuple[LocalAccount, dict[str, Any]]:
        """Creates a session key that may sign vouchers on a lane of its own while the lane totals at
        most `max_total`, until `valid_until` (default: the server's, 30 days). The wallet key signs
        the SessionGrant once, checked (`checked_grant`); no transaction: the key pays at once with
        `Micropayments(url, key=key.key, payer=payer)`. Returns the key and its SessionKey."""
        self._require_wallet()
        session: LocalAccount = Account.create()
        signer = to_address(session.address)
        asked_token = self._token(token)
        asked = {"p": self.payer, "s": signer, "m": str(max_total), "v": valid_until, "t": asked_token}
        proposed = self._query(_GRANT, asked)["grantToSign"]["typedData"]
        grant = checked_grant(
            proposed, self.payer, signer, max_total, valid_until, asked_token, self._domain()
        )
        signed = self.signer.sign_typed_data(full_message=typed_data(self._domain(), grant))
        message = {**_strs(grant.message()), "validUntil": grant.valid_until}
        key = "grant:" + digest(self._domain(), grant).hex()
        variables = {"g": message, "s": "0x" + bytes(signed.signature).hex(), "k": key}
        result = self._query(_AUTHORIZE, variables, retry=False)["authorizeSessionKey"]
        if result["__typename"] != "SessionKey":
            raise _refusal(result)
        return session, _ints(result)

    def revoke_session_key_transaction(self, signer: str) -> dict[str, Any]:
        """The hub.revokeSigner transaction the payer's wallet sends (with its own gas)."""
        return _ints(self._query(_REVOKE, {"s": to_address(signer)})["revokeSessionKeyTransaction"])

    def deposit_with_permit(self, token: str | None, amount: int, deadline: int | None = None) -> str:
        """Deposits `amount` of the wallet's tokens (`token` None: the hub's first) without gas: signs
        an EIP-2612 permit that the operator relays. Returns the transaction hash; the balance
        counts it once indexed."""
        self._require_wallet()
        token_address, deadline = self._token(token), deadline or int(time.time()) + 3600
        variables = {"t": token_address, "a": str(amount), "d": deadline}
        typed = self._query(_PERMIT, {"o": self.payer, **variables})["permitToSign"]["typedData"]
        m, d, hub = typed["message"], typed["domain"], self._domain()
        got = [typed["primaryType"], m["owner"], m["spender"], m["value"], m["deadline"]]
        got += [d["verifyingContract"], d["chainId"]]
        wanted = ["Permit", self.payer, hub.hub, amount, deadline, token_address, hub.chain_id]
        if [str(v).lower() for v in got] != [str(v).lower() for v in wanted]:
            raise MicropaymentsError("UNEXPECTED_TYPED_DATA", "the permit is not the deposit asked for")
        signed = self.signer.sign_typed_data(full_message=typed)
        variables = {"p": self.payer, **variables, **self._signature(signed, "permit")}
        return _relayed(self._query(_DEPOSIT, variables, retry=False)["depositWithPermit"])

    # ----------------------------------------------------------------------------------- signed in

    def sign_in(self) -> str:
        """Signs in with Sign-In with Ethereum as the signing key's address; later calls send the
        session token as `Authorization: Bearer`. Returns the token."""
        text = self._query("query($a: Address!) { signInMessage(address: $a) }", {"a": self.address})
        try:
            message = siwe.parse(text["signInMessage"])
        except Refusal as refusal:
            raise MicropaymentsError("UNEXPECTED_SIGN_IN_MESSAGE", refusal.message) from refusal
        if (message.address, message.chain_id) != (self.address, self._domain().chain_id):
            raise MicropaymentsError("UNEXPECTED_SIGN_IN_MESSAGE", "not a sign-in of this key on this chain")
        signed = self.signer.sign_message(encode_defunct(text=text["signInMessage"]))
        variables = {"m": text["signInMessage"], **self._signature(signed, "signin")}
        result = self._query(_SIGN_IN, variables, retry=False)["signIn"]
        if result["__typename"] != "Session":
            raise _refusal(result)
        self.session_token = str(result["token"])
        return self.session_token

    def receipts(self, limit: int = 100) -> list[dict[str, Any]]:
        """The signed-in payer's receipts, newest first (at most `limit`)."""
        found: list[dict[str, Any]] = []
        after = None
        while len(found) < limit:
            page = self._query(_RECEIPTS, {"n": min(100, limit - len(found)), "after": after})["receipts"]
            found += [_ints(edge["node"]) for edge in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        return found

    async def watch_account(self, token: str | None = None) -> AsyncGenerator[dict[str, Any], None]:
        """The payer's account now, then after every change (graphql-transport-ws accountChanged)."""
        variables = {"p": self.payer, "t": await asyncio.to_thread(self._token, token)}
        init = {"authorization": f"Bearer {self.session_token}"} if self.session_token else {}
        url = "ws" + self.url.removeprefix("http") + "/graphql"
        try:
            async with connect(
                url, subprotocols=[Subprotocol("graphql-transport-ws")], open_timeout=self._timeout
            ) as ws:
                await ws.send(json.dumps({"type": "connection_init", "payload": init}))
                ack = json.loads(await asyncio.wait_for(ws.recv(), self._timeout))
                if ack.get("type") != "connection_ack":
                    raise MicropaymentsError("CONNECTION_REFUSED", f"connection_init answered {ack}")
                subscribe = {"query": _WATCH, "variables": variables}
                await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": subscribe}))
                async for raw in ws:
                    message = json.loads(raw)
                    kind, payload = message.get("type"), message.get("payload")
                    if kind == "ping":
                        await ws.send(json.dumps({"type": "pong"}))
                    elif kind == "complete":
                        return
                    elif kind == "error":
                        raise _graphql_error(payload)
                    elif kind == "next" and payload.get("errors"):
                        raise _graphql_error(payload["errors"])
                    elif kind == "next":
                        yield _ints(payload["data"]["accountChanged"])
        except ConnectionClosed as closed:
            if closed.rcvd is not None and closed.rcvd.code == 4403:  # connection_init refused
                raise MicropaymentsError("UNAUTHENTICATED", closed.rcvd.reason or "sign in again") from closed
            raise TransportError("NETWORK", f"subscription closed: {closed!r}") from closed
        except (OSError, TimeoutError, WebSocketException) as error:
            raise TransportError("NETWORK", f"subscription failed: {error!r}") from error

    # ---------------------------------------------------------------------------------- internals

    def _submit(self, purchase: Purchase, signature: str) -> dict[str, Any]:
        voucher = purchase.voucher
        variables = {
            "i": {**_strs(voucher.message()), "signature": signature, "resourceId": purchase.resource_id},
            "k": "pay:" + digest(self._domain(), voucher).hex(),
        }
        try:
            result: dict[str, Any] = self._query(_PAY, variables)["pay"]
        except TransportError:
            self._pending[purchase.resource_id] = (purchase, signature)
            raise
        return result

    def _resynchronised(self, purchase: Purchase, mismatch: Mapping[str, Any]) -> Purchase:
        """The purchase above the lane's latest voucher, if the server proves it: of this payer,
        token and lane, and signed by the payer or one of its session keys on this lane."""
        latest, voucher = mismatch.get("latest"), purchase.voucher
        if latest is None:
            raise MicropaymentsError("UNVERIFIED_RESYNC", "the server shows no latest voucher to check")
        proof = checked(lambda: signed_voucher(latest))
        if (proof.payer, proof.token, proof.lane) != (voucher.payer, voucher.token, voucher.lane):
            raise MicropaymentsError("UNVERIFIED_RESYNC", "its latest voucher is of another lane", latest)
        signer = recover(digest(self._domain(), proof), bytes.fromhex(latest["signature"][2:]))
        keys = [] if signer in (self.payer, self.address) else self.session_keys()
        ours = signer in (self.payer, self.address) or any(
            k["signer"] == signer and k["lane"] == voucher.lane for k in keys
        )
        if not ours:
            raise MicropaymentsError(
                "UNVERIFIED_RESYNC",
                f"its latest voucher is signed by {signer}, not the payer or its key",
                latest,
            )
        entries = raised(proof.entries, purchase.payee, purchase.price)
        if len(entries) > MAX_LANE_ENTRIES:
            raise MicropaymentsError("UNEXPECTED_TYPED_DATA", f"the lane would pay {len(entries)} payees")
        return replace(purchase, voucher=replace(voucher, entries=entries))

    def _acknowledged(self, receipt: Mapping[str, Any], purchase: Purchase) -> dict[str, Any]:
        """The receipt, if it carries the operator's acknowledgement of the voucher that was signed."""
        domain, operator = self._domain(), self._server_config().get("operator")
        acknowledgement = Acknowledgement(digest(domain, purchase.voucher))
        signature = str(receipt.get("acknowledgement") or "0x")
        by = recover(digest(domain, acknowledgement), bytes.fromhex(signature[2:]))
        if operator is None or by != to_address(operator):
            raise MicropaymentsError(
                "UNACKNOWLEDGED",
                f"the acknowledgement is signed by {by}, not the operator {operator}",
                receipt,
            )
        return _ints(receipt)

    def _sign(self, voucher: PayerVoucher) -> str:
        signed = self.signer.sign_typed_data(full_message=typed_data(self._domain(), voucher))
        return "0x" + bytes(signed.signature).hex()

    @staticmethod
    def _signature(signed: SignedMessage, kind: str) -> dict[str, str]:
        """The signature, and the idempotency key of what it signed."""
        return {"s": "0x" + bytes(signed.signature).hex(), "k": f"{kind}:{signed.message_hash.hex()}"}

    def _domain(self) -> Domain:
        config = self._server_config()
        return Domain(chain_id=int(config["chainId"]), hub=to_address(config["hub"]))

    def _token(self, token: str | None) -> Address:
        if token is not None:
            return to_address(token)
        tokens = self._server_config()["allowedTokens"]
        if not tokens:
            raise MicropaymentsError("UNKNOWN_TOKEN", "the hub lists no token: pass one")
        return to_address(tokens[0]["address"])

    def _server_config(self) -> dict[str, Any]:
        if self._config is None:
            self._config = self._query(_CONFIG, {})["config"]
        return self._config

    def _require_wallet(self) -> None:
        if self.address != self.payer:
            raise MicropaymentsError("WALLET_KEY_REQUIRED", "only the payer's own key can sign this")

    def _query(self, query: str, variables: Mapping[str, Any], *, retry: bool = True) -> dict[str, Any]:
        attempts = 1 + (self._retries if retry else 0)
        for attempt in range(attempts):
            try:
                return self._post(query, variables)
            except TransportError:
                if attempt + 1 == attempts:
                    raise
                time.sleep(0.25 * 2**attempt)
        raise AssertionError("unreachable")

    def _post(self, query: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {self.session_token}"} if self.session_token else {}
        try:
            response = self._http.post(
                "/graphql", json={"query": query, "variables": variables}, headers=headers
            )
        except httpx.TimeoutException as error:
            raise TransportError("TIMEOUT", f"no answer within {self._timeout} s: {error!r}") from error
        except httpx.HTTPError as error:
            raise TransportError("NETWORK", f"request failed: {error!r}") from error
        if response.status_code >= 500:
            raise TransportError(f"HTTP_{response.status_code}", response.text[:200])
        try:
            body = response.json()
        except ValueError as error:
            raise TransportError("BAD_RESPONSE", f"HTTP {response.status_code}: not JSON") from error
        if body.get("errors"):
            raise _graphql_error(body["errors"])
        data: dict[str, Any] = body["data"]
        return data


def _graphql_error(errors: list[dict[str, Any]]) -> MicropaymentsError:
    extensions = errors[0].get("extensions") or {}
    code = str(extensions.get("code", "GRAPHQL_ERROR"))
    cls = TransportError if code == "UNAVAILABLE" else MicropaymentsError
    return cls(code, str(errors[0].get("message", "")), _ints(extensions.get("fields") or {}))


def _refusal(result: Mapping[str, Any]) -> MicropaymentsError:
    """A refusal member of a result union as an exception; its own fields (headroom...) as fields."""
    fields = result.get("fields") or {
        k: v for k, v in result.items() if k not in ("__typename", "code", "message")
    }
    return MicropaymentsError(result["code"], result["message"], _ints(fields))


def _relayed(result: Mapping[str, Any]) -> str:
    if result["__typename"] != "RelayedTransaction":
        raise _refusal(result)
    return str(result["txHash"])


def _strs(message: Mapping[str, Any]) -> dict[str, Any]:
    """A message for the API: its ints as decimal strings, in nested entries too."""

    def wire(value: Any) -> Any:
        if isinstance(value, Mapping):
            return _strs(value)
        if isinstance(value, list):
            return [wire(item) for item in value]
        return str(value) if isinstance(value, int) else value

    return {k: wire(v) for k, v in message.items()}


def _ints(value: Mapping[str, Any]) -> dict[str, Any]:
    """The API's JSON object with its amounts (decimal strings) as ints."""
    return {k: int(v) if k in _AMOUNTS and isinstance(v, str) else _nested(v) for k, v in value.items()}


def _nested(value: Any) -> Any:
    if isinstance(value, Mapping):
        return _ints(value)
    return [_nested(v) for v in value] if isinstance(value, list) else value
