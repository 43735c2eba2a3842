"""A fake of the v2 API (docs/api.md) as an httpx transport: enough to drive the Python
client's payment and session-key flows with no server and no chain, with hooks to make it lie."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from eth_account import Account
from eth_account.signers.local import LocalAccount

from app.client import raised
from app.core.eip712 import (
    Acknowledgement,
    Domain,
    Entries,
    Entry,
    PayerVoucher,
    SessionGrant,
    digest,
    typed_data,
)
from app.core.signatures import recover
from app.core.types import Address, to_address

DOMAIN = Domain(chain_id=31337, hub=to_address("0x5fbdb2315678afecb367f032d93f642f64180aa3"))
TOKEN = to_address("0xe7f1725e7734ce288f8367e1bb143e90bb3f0512")
OTHER_TOKEN = to_address("0x9fe46736679d2d9a65f0992f2272de9f3c7fa6e0")
PAYEES = [to_address(f"0x{n}" + "0" * 38 + f"{n}") for n in (2, 1, 3)]
PRICE = 10_000

Hook = Callable[[dict[str, Any]], Any]


def wire(entries: Entries) -> list[dict[str, str]]:
    return [{"payee": e.payee, "cumulativeAmount": str(e.cumulative_amount)} for e in entries]


@dataclass
class FakeServer:
    """Sells `article-<i>` by PAYEES[i] at PRICE. `voucher(to_sign)` and `grant(typed)` may change
    what the server proposes; `pay(input)` may answer a pay instead of the server."""

    voucher: Hook | None = None
    grant: Hook | None = None
    pay: Hook | None = None
    operator: LocalAccount = field(default_factory=Account.create)
    lanes: dict[tuple[Address, int], Entries] = field(default_factory=dict)
    latest: dict[tuple[Address, int], dict[str, Any]] = field(default_factory=dict)
    grants: dict[Address, SessionGrant] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        query, variables = body["query"], body.get("variables") or {}
        name = next(n for n in ANSWERS if n + "(" in query or n + " {" in query)
        self.calls.append((name, variables))
        data = getattr(self, ANSWERS[name])(variables)
        return httpx.Response(200, json={"data": {name: data}})

    def operations(self) -> list[str]:
        return [name for name, _ in self.calls]

    # ------------------------------------------------------------------------------ answers

    def config(self, _: dict[str, Any]) -> dict[str, Any]:
        tokens = [{"address": TOKEN}, {"address": OTHER_TOKEN}]
        return {"chainId": DOMAIN.chain_id, "hub": DOMAIN.hub, "operator": self.operator.address} | {
            "allowedTokens": tokens
        }

    def voucher_to_sign(self, v: dict[str, Any]) -> dict[str, Any]:
        index = int(v["r"].removeprefix("article-"))
        payer = to_address(v["p"])
        lane = self.grants[to_address(v["s"])].lane if v.get("s") else 0
        previous = self.lanes.get((payer, lane), ())
        entries = raised(previous, PAYEES[index], PRICE)
        voucher = PayerVoucher(payer, TOKEN, lane, entries, bytes([0xAB]) * 32)
        to_sign = {
            "typedData": {**typed_data(DOMAIN, voucher), "message": _wire_message(voucher)},
            "lane": str(lane),
            "previousEntries": wire(previous),
            "resource": {"id": v["r"], "payee": PAYEES[index], "token": TOKEN, "price": str(PRICE)},
        }
        return self.voucher(copy.deepcopy(to_sign)) if self.voucher else to_sign

    def pay_(self, v: dict[str, Any]) -> dict[str, Any]:
        sent = v["i"]
        if self.pay and (answer := self.pay(sent)):
            return dict(answer)
        payer, lane = to_address(sent["payer"]), int(sent["lane"])
        entries = tuple(Entry(to_address(e["payee"]), int(e["cumulativeAmount"])) for e in sent["entries"])
        payee = PAYEES[int(sent["resourceId"].removeprefix("article-"))]
        if entries != raised(self.lanes.get((payer, lane), ()), payee, PRICE):
            latest = self.latest.get((payer, lane))
            return {"__typename": "CumulativeMismatch", "code": "CUMULATIVE_MISMATCH", "message": "stale"} | {
                "latest": latest
            }
        voucher = PayerVoucher(
            payer, to_address(sent["token"]), lane, entries, bytes.fromhex(sent["purchase"][2:])
        )
        voucher_digest = digest(DOMAIN, voucher)
        signer = recover(voucher_digest, bytes.fromhex(sent["signature"][2:]))
        ack = self.operator.unsafe_sign_hash(digest(DOMAIN, Acknowledgement(voucher_digest)))
        acknowledgement = "0x" + bytes(ack.signature).hex()
        signed = {**_wire_message(voucher), "signature": sent["signature"]} | {
            "acknowledgement": acknowledgement,
            "signer": signer,
        }
        self.lanes[(payer, lane)] = entries
        self.latest[(payer, lane)] = signed
        amount = next(e.cumulative_amount for e in entries if e.payee == payee)
        receipt = {
            "id": "receipt-" + voucher_digest.hex(), "payer": payer, "payee": payee, "token": TOKEN,
            "cumulativeAmount": str(amount), "price": str(PRICE), "purchase": sent["purchase"],
            "resourceId": sent["resourceId"], "signer": signer, "signature": sent["signature"],
            "status": "ACCEPTED", "createdAt": 1, "lane": str(lane), "acknowledgement": acknowledgement,
            "voucher": signed,
        }  # fmt: skip
        return {"__typename": "PaymentAccepted", "receipt": receipt}

    def grant_to_sign(self, v: dict[str, Any]) -> dict[str, Any]:
        lane = 1 + len(self.grants)
        token = to_address(v.get("t") or TOKEN)
        grant = SessionGrant(
            to_address(v["p"]), to_address(v["s"]), token, lane, int(v["m"]), v.get("v") or 2 * 10**9
        )
        typed = {**typed_data(DOMAIN, grant), "message": _wire_message(grant)}
        return {"typedData": self.grant(copy.deepcopy(typed)) if self.grant else typed}

    def authorize(self, v: dict[str, Any]) -> dict[str, Any]:
        g = v["g"]
        grant = SessionGrant(
            to_address(g["payer"]), to_address(g["signer"]), to_address(g["token"]),
            int(g["lane"]), int(g["maxTotal"]), int(g["validUntil"]),
        )  # fmt: skip
        if recover(digest(DOMAIN, grant), bytes.fromhex(v["s"][2:])) != grant.payer:
            return {"__typename": "Refused", "code": "BAD_SIGNATURE", "message": "no", "fields": {}}
        self.grants[grant.signer] = grant
        return {"__typename": "SessionKey", **_wire_message(grant), "spent": "0", "revokedAt": None}

    def session_keys(self, v: dict[str, Any]) -> list[dict[str, Any]]:
        mine = [g for g in self.grants.values() if g.payer == to_address(v["p"])]
        return [{**_wire_message(g), "spent": "0", "revokedAt": None} for g in mine]


def _wire_message(message: PayerVoucher | SessionGrant) -> dict[str, Any]:
    """A message as the API sends it: integers as decimal strings."""
    raw = message.message()
    out: dict[str, Any] = {k: str(v) if isinstance(v, int) else v for k, v in raw.items()}
    if isinstance(message, PayerVoucher):
        out["entries"] = wire(message.entries)
    return out


ANSWERS = {  # the field a query asks for -> the method answering it
    "config": "config",
    "voucherToSign": "voucher_to_sign",
    "pay": "pay_",
    "grantToSign": "grant_to_sign",
    "authorizeSessionKey": "authorize",
    "sessionKeys": "session_keys",
}
