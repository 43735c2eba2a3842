"""gas_per_micropayment on a marketplace: 100 payers each pay 10 of 20 creators 10 times
(10,000 micropayments), counting every transaction it needs on chain:

  - the payers' deposits: EIP-3009 authorizations relayed in one batch of 100 (depositWithAuthorizations);
  - the claims: each payer's lane (10 entries, the last voucher of 100) as one block, sent by the
    operator in one batch of 100 blocks (~6.1 M gas); with session keys, each block carries the payer's
    SessionGrant (no registration transaction);
  - each creator's withdrawal of its earnings.
Also, per (payer, creator) entry, the claim gas of that first claim (lanes empty) and of a second one after
every payer paid each of its creators 10 times more (lanes move from one vector to the next).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_utils import keccak
from web3 import Web3

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gas_report import Bench

from app.chain.anvil import Anvil
from app.core.claims import ClaimBlock

PAYERS, CREATORS, CREATORS_PER_PAYER, PAYS_PER_CHANNEL = 100, 20, 10, 10
PRICE = 10_000  # one cent
DEPOSIT_BATCH = 100
CLAIM_BATCH = 100


def measure(session_keys: bool) -> dict[str, Any]:
    with Anvil(accounts=2) as node:
        bench = Bench(Web3(Web3.HTTPProvider(node.url, request_kwargs={"timeout": 120})))
        payers = [Account.from_key(keccak(text=f"market/payer/{i}")) for i in range(PAYERS)]
        creators = [Account.from_key(keccak(text=f"market/creator/{i}")) for i in range(CREATORS)]
        keys = [Account.from_key(keccak(text=f"market/key/{i}")) for i in range(PAYERS)]
        for creator in creators:  # creators send their own withdrawals: anvil signs for them
            bench.rpc("anvil_setBalance", [creator.address, hex(10**18)])
            bench.rpc("anvil_impersonateAccount", [creator.address])
        spend = CREATORS_PER_PAYER * PAYS_PER_CHANNEL * PRICE
        deposit = 2 * spend  # both rounds
        gas = {"deposits": 0, "claims": 0, "withdrawals": 0}

        for payer in payers:
            bench.mint(payer.address, deposit)
        auths = [bench.authorization(payer, deposit) for payer in payers]
        for start in range(0, PAYERS, DEPOSIT_BATCH):
            gas["deposits"] += bench.deposit_with_authorizations(auths[start : start + DEPOSIT_BATCH])

        grants = (
            [bench.grant(p, k, deposit) for p, k in zip(payers, keys, strict=True)] if session_keys else []
        )

        def blocks(round_: int) -> list[ClaimBlock]:
            out = []
            for index, payer in enumerate(payers):
                payees = [
                    creators[(index + offset) % CREATORS].address for offset in range(CREATORS_PER_PAYER)
                ]
                paid = PAYS_PER_CHANNEL * PRICE
                voucher = bench.voucher(payer.address, dict.fromkeys(payees, round_ * paid))
                previous = bench.voucher(payer.address, dict.fromkeys(payees, (round_ - 1) * paid)).entries
                signer = keys[index] if session_keys else payer
                grant = grants[index] if session_keys else None
                out.append(bench.block(voucher, signer, previous if round_ > 1 else (), grant))
            return out

        def claim_all(round_blocks: list[ClaimBlock]) -> int:
            return sum(
                bench.claim(round_blocks[start : start + CLAIM_BATCH])
                for start in range(0, len(round_blocks), CLAIM_BATCH)
            )

        gas["claims"] = claim_all(blocks(1))
        second = claim_all(blocks(2))
        for creator in creators:
            call = bench.hub.functions.withdrawEarnings(bench.token, creator.address)
            gas["withdrawals"] += int(bench.send(call, sender=creator.address)["gasUsed"])
    micropayments = PAYERS * CREATORS_PER_PAYER * PAYS_PER_CHANNEL
    entries = PAYERS * CREATORS_PER_PAYER
    total = sum(gas.values())
    return {
        "micropayments": micropayments,
        "session_keys": session_keys,
        "transactions": {"deposits": -(-PAYERS // DEPOSIT_BATCH), "claims": -(-PAYERS // CLAIM_BATCH),
                         "withdrawals": CREATORS},
        "gas": gas,
        "total_gas": total,
        "gas_per_micropayment": round(total / micropayments),
        "per_micropayment": {name: round(value / micropayments) for name, value in gas.items()},
        "claim_gas_per_entry_first": round(gas["claims"] / entries),
        "claim_gas_per_entry_second": round(second / entries),
    }  # fmt: skip
