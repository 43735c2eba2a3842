"""Gas used by each hub operation and by three workloads, measured on fresh local anvils (prague), printed as
one JSON object.

Usage: scripts/gas-report > gas.json   (progress goes to stderr; takes about a minute)

Conditions, so numbers compare across runs and contract versions:
- the hub already holds tokens, and every payer and payee of the single-operation figures already has a
  token balance, so the token's own balance slots are written nonzero -> nonzero (the steady state);
- the payee already has earnings before any measured claim, so only the lane and payer slots differ
  between "first" and "second" claims;
- claim_{1,10,100}_{first,second}: blocks of one entry paying 1 USDC each from distinct payers to one payee
  (v1's rows in v2's form), 65-byte signatures, sent by the operator, no fee;
- payers of claims are funded with depositFor and never send a transaction themselves;
- the workloads (marketplace, longtail) are described in scripts/benchmarks/.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import TxReceipt

from app.chain.anvil import Anvil, find_binary
from app.chain.deploy import contract, deploy_contract, deploy_hub
from app.core.claims import ClaimBlock, SignedGrant, encode_claim
from app.core.eip712 import (
    EIP712_DOMAIN_FIELDS,
    Domain,
    Entries,
    Entry,
    PayerVoucher,
    SessionGrant,
    Signable,
    digest,
)
from app.core.types import to_address
from app.services.typed_data import PERMIT_FIELDS, RECEIVE_WITH_AUTHORIZATION_FIELDS

USDC = 10**6
WITHDRAW_DELAY = 3600
MAX_UINT256 = 2**256 - 1


STARTED = time.monotonic()


def progress(message: str) -> None:
    print(f"[{time.monotonic() - STARTED:5.1f}s] {message}", file=sys.stderr, flush=True)


def key(label: str, index: int = 0) -> LocalAccount:
    """A deterministic throwaway key, so every run uses the same addresses (and the same gas)."""
    return Account.from_key(keccak(text=f"gas-report/{label}/{index}"))


def sign_digest(account: LocalAccount, message_digest: bytes) -> bytes:
    signed = Account.unsafe_sign_hash(message_digest, account.key)
    return signed.r.to_bytes(32, "big") + signed.s.to_bytes(32, "big") + bytes([signed.v])


def entries(amounts: Mapping[str, int]) -> Entries:
    ordered = sorted(amounts.items(), key=lambda item: int(item[0], 16))
    return tuple(Entry(to_address(payee), amount) for payee, amount in ordered)


class Bench:
    """A fresh chain, the hub (operated by the first dev account) and its token."""

    def __init__(self, w3: Web3) -> None:
        self.w3 = w3
        self.owner = w3.eth.accounts[0]
        self.usdc, _ = deploy_contract(w3, "TestStablecoin", sender=self.owner)
        deployment = deploy_hub(w3, self.owner, [self.usdc.address], withdraw_delay=WITHDRAW_DELAY)
        self.hub: Contract = contract(w3, "MicropaymentHub", deployment.hub)
        self.token = to_address(self.usdc.address)
        self.domain = Domain(chain_id=w3.eth.chain_id, hub=to_address(self.hub.address))

    def send(self, call: Any, sender: str | None = None, gas: int | None = None) -> TxReceipt:
        tx: dict[str, Any] = {"from": sender or self.owner}
        if gas:
            tx["gas"] = gas  # skips eth_estimateGas for the bulk set-up transactions
        receipt = self.w3.eth.wait_for_transaction_receipt(call.transact(tx))
        if receipt["status"] != 1:
            raise RuntimeError(f"transaction reverted: {receipt}")
        return receipt

    def rpc(self, method: str, params: list[Any]) -> Any:
        return self.w3.provider.make_request(method, params)  # type: ignore[arg-type]

    def mint(self, to: str, amount: int) -> None:
        self.send(self.usdc.functions.mint(to, amount), gas=100_000)

    def fund(self, payers: Sequence[LocalAccount], amount: int) -> None:
        for payer in payers:
            self.send(self.hub.functions.depositFor(payer.address, self.token, amount), gas=150_000)

    def sign(self, account: LocalAccount, message: Signable) -> bytes:
        return sign_digest(account, digest(self.domain, message))

    def voucher(self, payer: str, amounts: Mapping[str, int], lane: int = 0) -> PayerVoucher:
        vector = entries(amounts)
        purchase = keccak(text=f"{payer}/{lane}/{sum(e.cumulative_amount for e in vector)}")
        return PayerVoucher(
            payer=to_address(payer), token=self.token, lane=lane, entries=vector, purchase=purchase
        )

    def grant(self, payer: LocalAccount, signer: LocalAccount, max_total: int, lane: int = 0) -> SignedGrant:
        grant = SessionGrant(
            payer=to_address(payer.address),
            signer=to_address(signer.address),
            token=self.token,
            lane=lane,
            max_total=max_total,
            valid_until=int(self.w3.eth.get_block("latest")["timestamp"]) + 86_400,
        )
        return SignedGrant(grant=grant, signature=self.sign(payer, grant))

    def block(
        self,
        voucher: PayerVoucher,
        signer: LocalAccount,
        previous: Entries = (),
        grant: SignedGrant | None = None,
    ) -> ClaimBlock:
        return ClaimBlock(
            voucher=voucher, signature=self.sign(signer, voucher), previous=previous, grant=grant
        )

    def claim(self, blocks: Sequence[ClaimBlock]) -> int:
        """Sends the blocks as the operator; every one must be claimed. Returns the gas used."""
        receipt = self.send(self.hub.functions.claim(self.token, encode_claim(blocks)))
        claimed = self.hub.events.VoucherClaimed().process_receipt(receipt, errors=DISCARD)
        if len(claimed) != len(blocks):
            skipped = self.hub.events.VoucherSkipped().process_receipt(receipt, errors=DISCARD)
            reasons = [event["args"]["reason"] for event in skipped]
            raise RuntimeError(f"{len(blocks) - len(claimed)} of {len(blocks)} blocks skipped: {reasons}")
        return int(receipt["gasUsed"])

    def token_domain(self) -> dict[str, Any]:
        return {
            "name": "Test USD Coin",
            "version": "1",
            "chainId": self.w3.eth.chain_id,
            "verifyingContract": self.usdc.address,
        }

    def authorization(self, payer: LocalAccount, amount: int, label: str = "") -> tuple[Any, ...]:
        """An EIP-3009 ReceiveWithAuthorization of `amount` to the hub signed by `payer`, as the
        hub's `Authorization` struct."""
        deadline = int(self.w3.eth.get_block("latest")["timestamp"]) + 3_600
        nonce = keccak(text=f"gas-report/eip-3009/{payer.address}/{label}")
        signed = Account.sign_typed_data(
            payer.key,
            full_message={
                "types": {
                    "EIP712Domain": EIP712_DOMAIN_FIELDS,
                    "ReceiveWithAuthorization": RECEIVE_WITH_AUTHORIZATION_FIELDS,
                },
                "primaryType": "ReceiveWithAuthorization",
                "domain": self.token_domain(),
                "message": {
                    "from": payer.address,
                    "to": self.hub.address,
                    "value": amount,
                    "validAfter": 0,
                    "validBefore": deadline,
                    "nonce": nonce,
                },
            },
        )
        r, s = signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")
        return (payer.address, amount, 0, deadline, nonce, signed.v, r, s)

    def deposit_with_authorizations(self, auths: Sequence[tuple[Any, ...]]) -> int:
        receipt = self.send(self.hub.functions.depositWithAuthorizations(self.token, list(auths)))
        if self.hub.events.DepositFailed().process_receipt(receipt, errors=DISCARD):
            raise RuntimeError("a batched deposit failed")
        return int(receipt["gasUsed"])

    def deposit_with_permit_call(self, payer: LocalAccount, amount: int) -> Any:
        """hub.depositWithPermit with a fresh EIP-2612 permit signed by `payer` (its first: nonce 0)."""
        deadline = int(self.w3.eth.get_block("latest")["timestamp"]) + 3_600
        permit = Account.sign_typed_data(
            payer.key,
            full_message={
                "types": {"EIP712Domain": EIP712_DOMAIN_FIELDS, "Permit": PERMIT_FIELDS},
                "primaryType": "Permit",
                "domain": self.token_domain(),
                "message": {
                    "owner": payer.address,
                    "spender": self.hub.address,
                    "value": amount,
                    "nonce": 0,
                    "deadline": deadline,
                },
            },
        )
        r, s = permit.r.to_bytes(32, "big"), permit.s.to_bytes(32, "big")
        hub = self.hub.functions
        return hub.depositWithPermit(payer.address, self.token, amount, deadline, permit.v, r, s)


def measure(bench: Bench) -> dict[str, int]:
    gas: dict[str, int] = {}
    hub, usdc, token, w3 = bench.hub, bench.usdc, bench.token, bench.w3
    dev = w3.eth.accounts
    payee = dev[2]

    progress("funding the owner, the payee, and a first depositor so the hub already holds tokens")
    bench.mint(bench.owner, 10**9 * USDC)
    bench.send(usdc.functions.approve(hub.address, MAX_UINT256))
    bench.mint(payee, 1 * USDC)
    warm_up = key("warm-up")
    bench.fund([warm_up], 1_000 * USDC)

    progress("deposits")
    payer = dev[1]
    bench.mint(payer, 1_000 * USDC)
    gas["approve"] = int(bench.send(usdc.functions.approve(hub.address, 100 * USDC), payer)["gasUsed"])
    gas["deposit_first"] = int(bench.send(hub.functions.deposit(token, 100 * USDC), payer)["gasUsed"])
    bench.send(usdc.functions.approve(hub.address, 50 * USDC), payer)
    gas["deposit_topup"] = int(bench.send(hub.functions.deposit(token, 50 * USDC), payer)["gasUsed"])

    permit_payer = key("permit")
    bench.mint(permit_payer.address, 1_000 * USDC)
    gas["deposit_with_permit"] = int(
        bench.send(bench.deposit_with_permit_call(permit_payer, 100 * USDC))["gasUsed"]
    )

    authorization_payer = key("eip-3009")
    bench.mint(authorization_payer.address, 1_000 * USDC)
    auth = bench.authorization(authorization_payer, 100 * USDC)
    call = hub.functions.depositWithAuthorization(auth[0], token, *auth[1:])
    gas["deposit_with_authorization"] = int(bench.send(call)["gasUsed"])

    batch_payers = [key("eip-3009-batch", i) for i in range(50)]
    for batch_payer in batch_payers:
        bench.mint(batch_payer.address, 100 * USDC)
    batch = [bench.authorization(p, 100 * USDC) for p in batch_payers]
    gas["deposit_with_authorizations_50"] = bench.deposit_with_authorizations(batch)
    gas["deposit_with_authorizations_per_payer"] = round(gas["deposit_with_authorizations_50"] / 50)

    groups = {size: [key(f"payer-{size}", i) for i in range(size)] for size in (1, 10, 100)}
    progress("funding 111 claim payers with depositFor, and a first claim so the payee has earnings")
    for payers in groups.values():
        bench.fund(payers, 10 * USDC)
    bench.claim([bench.block(bench.voucher(warm_up.address, {payee: 1 * USDC}), warm_up)])

    progress("claims: first, then second on the same lanes")
    for size, payers in groups.items():
        blocks = [bench.block(bench.voucher(p.address, {payee: 1 * USDC}), p) for p in payers]
        gas[f"claim_{size}_first"] = bench.claim(blocks)
    for size, payers in groups.items():
        previous = entries({payee: 1 * USDC})
        blocks = [bench.block(bench.voucher(p.address, {payee: 2 * USDC}), p, previous) for p in payers]
        gas[f"claim_{size}_second"] = bench.claim(blocks)

    progress("100 session keys signing with their grants riding in the claim")
    session_keys = [key("session-key", i) for i in range(100)]
    blocks = [
        bench.block(
            bench.voucher(p.address, {payee: 3 * USDC}),
            k,
            entries({payee: 2 * USDC}),
            bench.grant(p, k, 5 * USDC),
        )
        for p, k in zip(groups[100], session_keys, strict=True)
    ]
    gas["claim_100_second_session_key"] = bench.claim(blocks)

    progress("revocation and withdrawals")
    gas["revoke_signer"] = int(
        bench.send(hub.functions.revokeSigner(session_keys[0].address), payer)["gasUsed"]
    )
    gas["request_withdrawal"] = int(
        bench.send(hub.functions.requestWithdrawal(token, 10 * USDC), payer)["gasUsed"]
    )
    bench.rpc("evm_increaseTime", [WITHDRAW_DELAY + 1])
    bench.rpc("evm_mine", [])
    gas["withdraw"] = int(bench.send(hub.functions.withdraw(token), payer)["gasUsed"])
    gas["withdraw_earnings"] = int(bench.send(hub.functions.withdrawEarnings(token, payee), payee)["gasUsed"])

    gas["claim_marginal_gas_first"] = round((gas["claim_100_first"] - gas["claim_1_first"]) / 99)
    gas["claim_marginal_gas_second"] = round((gas["claim_100_second"] - gas["claim_1_second"]) / 99)
    gas["claim_marginal_gas_second_session_key"] = round(
        (gas["claim_100_second_session_key"] - gas["claim_1_second"]) / 99
    )
    return gas


def context() -> dict[str, Any]:
    artifact = json.loads(
        resources.files("app.chain").joinpath("artifacts", "MicropaymentHub.json").read_text()
    )
    compiler = artifact["compiler"]
    settings = compiler["settings"]
    try:
        anvil_version = subprocess.run(
            [find_binary(), "--version"], capture_output=True, text=True, check=True, timeout=10
        ).stdout.splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        anvil_version = "unknown"
    return {
        "solc": compiler["version"],
        "optimizer": settings.get("optimizer"),
        "via_ir": settings.get("viaIR", False),
        "evm_version": settings.get("evmVersion"),
        "anvil": anvil_version,
        "anvil_hardfork": "prague",
        "fee_bps": 0,
        "claim_block_amount_usdc": 1,
        "signature_bytes": 65,
        "conditions": [
            "the hub, payers and payee already hold tokens: token balance slots go nonzero -> nonzero",
            "approve is for the exact deposit amount, so each deposit clears the allowance (4,800 refund)",
            "the payee already has earnings before any measured claim; claim payers are distinct, no fee",
            "claim_N_*: N blocks of one entry each; first = the lane's commitment goes 0 -> nonzero",
            "claim_100_second_session_key: each block carries its SessionGrant (no registration)",
            "v1 longtail (docs/gas.md): 59,197 per micropayment on the v1 hub",
        ],
    }


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent / "benchmarks"))
    import longtail_gas
    import marketplace_gas

    progress("starting anvil")
    with Anvil(accounts=10) as node:
        w3 = Web3(Web3.HTTPProvider(node.url, request_kwargs={"timeout": 60}))
        progress("deploying TestStablecoin and the hub")
        gas: dict[str, Any] = dict(measure(Bench(w3)))
    progress("marketplace with session keys")
    with_keys = marketplace_gas.measure(session_keys=True)
    progress("marketplace without session keys")
    without_keys = marketplace_gas.measure(session_keys=False)
    progress("longtail")
    longtail = longtail_gas.measure()
    gas["marketplace_gas_per_micropayment"] = with_keys["gas_per_micropayment"]
    gas["marketplace_gas_per_micropayment_without_keys"] = without_keys["gas_per_micropayment"]
    gas["claim_gas_per_entry_first"] = without_keys["claim_gas_per_entry_first"]
    gas["claim_gas_per_entry_second"] = without_keys["claim_gas_per_entry_second"]
    gas["claim_gas_per_entry_first_session_keys"] = with_keys["claim_gas_per_entry_first"]
    gas["claim_gas_per_entry_second_session_keys"] = with_keys["claim_gas_per_entry_second"]
    gas["longtail_gas_per_micropayment"] = longtail["gas_per_micropayment"]
    report: dict[str, Any] = {
        **gas,
        "marketplace": with_keys,
        "marketplace_without_keys": without_keys,
        "longtail": longtail,
        "context": context(),
    }
    print(json.dumps(report, indent=2))
    progress("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
