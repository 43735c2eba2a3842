"""gas_per_micropayment on a long tail: one payer pays 500 distinct payees 1 cent once each, settled every
25 payments. The payer's lanes hold at most 32 payees: it moves to a new lane when one is full, so a claim
re-proves at most 32 entries per lane it touches.

Counted: the payer's deposit (one EIP-3009 authorization relayed by depositWithAuthorization) and the 20
claims the operator sends. Payees' withdrawals are reported apart (`withdrawal_gas_per_payee`): a long-tail
payee withdraws what many payers paid it, not one cent. The v1 hub spent 59,197 per micropayment on the same
workload (one channel per payee; docs/gas.md).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_utils import keccak
from web3 import Web3

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gas_report import MAX_UINT256, Bench, entries

from app.chain.anvil import Anvil
from app.core.eip712 import MAX_LANE_ENTRIES

PAYEES, SETTLE_EVERY = 500, 25
PRICE = 10_000  # one cent
V1_GAS_PER_MICROPAYMENT = 59_197


def measure() -> dict[str, Any]:
    with Anvil(accounts=2) as node:
        bench = Bench(Web3(Web3.HTTPProvider(node.url, request_kwargs={"timeout": 120})))
        # The hub already holds tokens (as in the v1 measurement).
        bench.mint(bench.owner, 10**12)
        bench.send(bench.usdc.functions.approve(bench.hub.address, MAX_UINT256))
        bench.send(bench.hub.functions.deposit(bench.token, 10**6))

        payer = Account.from_key(keccak(text="longtail/payer"))
        payees = [Account.from_key(keccak(text=f"longtail/payee/{i}")).address for i in range(PAYEES)]
        spend = PAYEES * PRICE
        bench.mint(payer.address, spend)
        auth = bench.authorization(payer, spend)
        call = bench.hub.functions.depositWithAuthorization(auth[0], bench.token, *auth[1:])
        deposit = int(bench.send(call)["gasUsed"])

        lanes: dict[int, dict[str, int]] = {}  # what the payer signed, per lane
        claimed: dict[int, dict[str, int]] = {}  # what was claimed, per lane
        claims: list[int] = []
        touched: set[int] = set()
        for index, payee in enumerate(payees):
            lane = index // MAX_LANE_ENTRIES
            lanes.setdefault(lane, {})[payee] = PRICE
            touched.add(lane)
            if (index + 1) % SETTLE_EVERY == 0 or index + 1 == PAYEES:
                blocks = [
                    bench.block(
                        bench.voucher(payer.address, lanes[lane], lane=lane),
                        payer,
                        entries(claimed.get(lane, {})),
                    )
                    for lane in sorted(touched)
                ]
                claims.append(bench.claim(blocks))
                for lane in touched:
                    claimed[lane] = dict(lanes[lane])
                touched.clear()

        withdrawals = []
        for payee in payees[:5]:
            bench.rpc("anvil_setBalance", [payee, hex(10**18)])
            bench.rpc("anvil_impersonateAccount", [payee])
            call = bench.hub.functions.withdrawEarnings(bench.token, payee)
            withdrawals.append(int(bench.send(call, sender=payee)["gasUsed"]))
    total = deposit + sum(claims)
    withdrawal = round(sum(withdrawals) / len(withdrawals))
    return {
        "micropayments": PAYEES,
        "transactions": {"deposits": 1, "claims": len(claims)},
        "gas": {"deposit": deposit, "claims": sum(claims)},
        "claim_transactions": claims,
        "total_gas": total,
        "gas_per_micropayment": round(total / PAYEES),
        "withdrawal_gas_per_payee": withdrawal,
        "gas_per_micropayment_with_withdrawals": round((total + withdrawal * PAYEES) / PAYEES),
        "v1_gas_per_micropayment": V1_GAS_PER_MICROPAYMENT,
    }
