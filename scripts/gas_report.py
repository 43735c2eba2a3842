"""Gas used by each hub operation, measured on a fresh local anvil (prague), printed as one JSON object.

Usage: scripts/gas-report > gas.json   (progress goes to stderr; takes about ten seconds)

Conditions, so numbers compare across runs and contract versions:
- the hub already holds tokens, and every payer and payee already has a token balance, so the token's
  own balance slots are written nonzero -> nonzero (the steady state, not a first-ever transfer);
- the payee already has earnings before any measured claim, so only the channel and payer slots differ
  between "first" and "second" claims;
- claim rows pay 1 USDC each from distinct payers to one payee, with 65-byte signatures and no fee;
- payers of claims are funded with depositFor and never send a transaction themselves.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from importlib import resources
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3
from web3.contract import Contract
from web3.types import TxReceipt

from app.chain.anvil import Anvil, find_binary
from app.chain.deploy import contract, deploy_contract, deploy_hub
from app.core.eip712 import EIP712_DOMAIN_FIELDS, Domain, SignerAuthorization, Voucher, digest
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


def sign(account: LocalAccount, message_digest: bytes) -> bytes:
    signed = Account.unsafe_sign_hash(message_digest, account.key)
    return signed.r.to_bytes(32, "big") + signed.s.to_bytes(32, "big") + bytes([signed.v])


class Bench:
    """The fresh chain, the hub and its token; sends every transaction from unlocked dev accounts."""

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

    def fund(self, payers: list[LocalAccount], amount: int) -> None:
        for payer in payers:
            self.send(self.hub.functions.depositFor(payer.address, self.token, amount), gas=150_000)

    def voucher_row(
        self, payer: LocalAccount, payee: str, cumulative: int, signer: LocalAccount | None = None
    ) -> tuple[Any, ...]:
        voucher = Voucher(
            payer=to_address(payer.address),
            payee=to_address(payee),
            token=self.token,
            cumulative_amount=cumulative,
            purchase=keccak(text=f"{payer.address}/{cumulative}"),
        )
        signature = sign(signer or payer, digest(self.domain.separator, voucher.struct_hash()))
        return (voucher.payer, voucher.payee, voucher.token, cumulative, voucher.purchase, signature)

    def claim(self, rows: list[tuple[Any, ...]]) -> int:
        receipt = self.send(self.hub.functions.claim(rows))
        claimed = self.hub.events.Claimed().process_receipt(receipt)
        if len(claimed) != len(rows):
            raise RuntimeError(f"{len(rows) - len(claimed)} of {len(rows)} claim rows were skipped")
        return int(receipt["gasUsed"])

    def register_signer(self, payer: LocalAccount, signer: LocalAccount, allowance: int) -> int:
        auth = SignerAuthorization(
            payer=to_address(payer.address),
            signer=to_address(signer.address),
            token=self.token,
            allowance=allowance,
            valid_until=int(self.w3.eth.get_block("latest")["timestamp"]) + 86_400,
            nonce=0,
        )
        auth_tuple = (auth.payer, auth.signer, auth.token, auth.allowance, auth.valid_until, auth.nonce)
        signature = sign(payer, digest(self.domain.separator, auth.struct_hash()))
        return int(self.send(self.hub.functions.registerSigner(auth_tuple, signature))["gasUsed"])

    def deposit_with_permit_call(self, payer: LocalAccount, amount: int) -> Any:
        """hub.depositWithPermit with a fresh EIP-2612 permit signed by `payer` (its first: nonce 0)."""
        deadline = int(self.w3.eth.get_block("latest")["timestamp"]) + 3_600
        permit = Account.sign_typed_data(
            payer.key,
            full_message={
                "types": {
                    "EIP712Domain": EIP712_DOMAIN_FIELDS,
                    "Permit": PERMIT_FIELDS,
                },
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

    def token_domain(self) -> dict[str, Any]:
        return {
            "name": "Test USD Coin",
            "version": "1",
            "chainId": self.w3.eth.chain_id,
            "verifyingContract": self.usdc.address,
        }


def measure(bench: Bench) -> dict[str, int]:
    gas: dict[str, int] = {}
    hub, usdc, token, w3 = bench.hub, bench.usdc, bench.token, bench.w3
    dev = w3.eth.accounts
    payee = dev[2]

    progress("funding the owner, the payee, and a first depositor so the hub already holds tokens")
    bench.mint(bench.owner, 10**9 * USDC)
    bench.send(usdc.functions.approve(hub.address, MAX_UINT256))
    bench.mint(payee, 1 * USDC)
    bench.fund([key("warm-up")], 1_000 * USDC)

    progress("deposits")
    payer = dev[1]
    bench.mint(payer, 1_000 * USDC)
    gas["approve"] = int(bench.send(usdc.functions.approve(hub.address, 100 * USDC), payer)["gasUsed"])
    gas["deposit_first"] = int(bench.send(hub.functions.deposit(token, 100 * USDC), payer)["gasUsed"])
    bench.send(usdc.functions.approve(hub.address, 50 * USDC), payer)
    gas["deposit_topup"] = int(bench.send(hub.functions.deposit(token, 50 * USDC), payer)["gasUsed"])

    permit_payer = key("permit")
    bench.mint(permit_payer.address, 1_000 * USDC)
    call = bench.deposit_with_permit_call(permit_payer, 100 * USDC)
    gas["deposit_with_permit"] = int(bench.send(call)["gasUsed"])

    deadline = int(w3.eth.get_block("latest")["timestamp"]) + 3_600
    authorization_payer = key("eip-3009")
    bench.mint(authorization_payer.address, 1_000 * USDC)
    nonce = keccak(text="gas-report/eip-3009-nonce")
    authorization = Account.sign_typed_data(
        authorization_payer.key,
        full_message={
            "types": {
                "EIP712Domain": EIP712_DOMAIN_FIELDS,
                "ReceiveWithAuthorization": RECEIVE_WITH_AUTHORIZATION_FIELDS,
            },
            "primaryType": "ReceiveWithAuthorization",
            "domain": bench.token_domain(),
            "message": {
                "from": authorization_payer.address,
                "to": hub.address,
                "value": 100 * USDC,
                "validAfter": 0,
                "validBefore": deadline,
                "nonce": nonce,
            },
        },
    )
    call = hub.functions.depositWithAuthorization(
        authorization_payer.address,
        token,
        100 * USDC,
        0,
        deadline,
        nonce,
        authorization.v,
        authorization.r.to_bytes(32, "big"),
        authorization.s.to_bytes(32, "big"),
    )
    gas["deposit_with_authorization"] = int(bench.send(call)["gasUsed"])

    groups = {size: [key(f"payer-{size}", i) for i in range(size)] for size in (1, 10, 100)}
    progress("funding 111 claim payers with depositFor, and a first claim so the payee has earnings")
    for payers in groups.values():
        bench.fund(payers, 10 * USDC)
    bench.claim([bench.voucher_row(key("warm-up"), payee, 1 * USDC)])

    progress("claims: first, then second on the same channels")
    for size, payers in groups.items():
        gas[f"claim_{size}_first"] = bench.claim([bench.voucher_row(p, payee, 1 * USDC) for p in payers])
    for size, payers in groups.items():
        gas[f"claim_{size}_second"] = bench.claim([bench.voucher_row(p, payee, 2 * USDC) for p in payers])

    progress("registering 100 session keys, then a claim they signed")
    session_keys = [key("session-key", i) for i in range(100)]
    registrations = [
        bench.register_signer(p, k, 5 * USDC) for p, k in zip(groups[100], session_keys, strict=True)
    ]
    gas["register_signer"] = registrations[0]
    rows = [
        bench.voucher_row(p, payee, 3 * USDC, signer=k)
        for p, k in zip(groups[100], session_keys, strict=True)
    ]
    gas["claim_100_second_session_key"] = bench.claim(rows)

    progress("withdrawals")
    gas["request_withdrawal"] = int(
        bench.send(hub.functions.requestWithdrawal(token, 10 * USDC), payer)["gasUsed"]
    )
    bench.rpc("evm_increaseTime", [WITHDRAW_DELAY + 1])
    bench.rpc("evm_mine", [])
    gas["withdraw"] = int(bench.send(hub.functions.withdraw(token), payer)["gasUsed"])
    gas["withdraw_earnings"] = int(bench.send(hub.functions.withdrawEarnings(token, payee), payee)["gasUsed"])

    gas["claim_marginal_gas_first"] = round((gas["claim_100_first"] - gas["claim_1_first"]) / 99)
    gas["claim_marginal_gas_second"] = round((gas["claim_100_second"] - gas["claim_1_second"]) / 99)
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
        "claim_row_amount_usdc": 1,
        "signature_bytes": 65,
        "conditions": [
            "the hub, payers and payee already hold tokens: token balance slots go nonzero -> nonzero",
            "approve is for the exact deposit amount, so each deposit clears the allowance (4,800 refund)",
            "the payee already has earnings before any measured claim; claim payers are distinct, no fee",
            "first = the channel's claimed slot goes 0 -> nonzero; second = nonzero -> nonzero",
            "session keys are registered with 5 USDC of allowance and spend 1 USDC in the measured claim",
        ],
    }


def main() -> int:
    progress("starting anvil")
    with Anvil(accounts=10) as node:
        w3 = Web3(Web3.HTTPProvider(node.url, request_kwargs={"timeout": 60}))
        progress("deploying TestStablecoin and the hub")
        gas = measure(Bench(w3))
    report: dict[str, Any] = {**gas, "context": context()}
    print(json.dumps(report, indent=2))
    progress("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
