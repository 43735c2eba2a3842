"""gas_per_micropayment on a marketplace: 100 payers each pay 10 of 20 creators 10 times
(10,000 micropayments), counting every transaction it needs on chain:

  - each payer's deposit (a relayed EIP-2612 permit deposit: one transaction, no approve);
  - each payer's session key registration (so no wallet prompt per action);
  - the claims: the latest voucher of each of the 1,000 channels (10 vouchers each), in
    batches of 200 rows, as the settler sends them;
  - each creator's withdrawal of its earnings.
Also the same workload with payers signing vouchers themselves (no session keys).
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

PAYERS, CREATORS, CREATORS_PER_PAYER, PAYS_PER_CHANNEL = 100, 20, 10, 10
PRICE = 10_000  # one cent
BATCH = 200


def measure(session_keys: bool) -> dict[str, Any]:
    with Anvil(accounts=2) as node:
        bench = Bench(Web3(Web3.HTTPProvider(node.url, request_kwargs={"timeout": 120})))
        payers = [Account.from_key(keccak(text=f"market/payer/{i}")) for i in range(PAYERS)]
        creators = [Account.from_key(keccak(text=f"market/creator/{i}")) for i in range(CREATORS)]
        keys = [Account.from_key(keccak(text=f"market/key/{i}")) for i in range(PAYERS)]
        for creator in creators:  # creators send their own withdrawals: anvil signs for them
            bench.rpc("anvil_setBalance", [creator.address, hex(10**18)])
            bench.rpc("anvil_impersonateAccount", [creator.address])
        gas = {"deposits": 0, "session_keys": 0, "claims": 0, "withdrawals": 0}
        spend = CREATORS_PER_PAYER * PAYS_PER_CHANNEL * PRICE
        for payer in payers:
            bench.mint(payer.address, spend)
            gas["deposits"] += int(bench.send(bench.deposit_with_permit_call(payer, spend))["gasUsed"])
        if session_keys:
            for payer, key in zip(payers, keys, strict=True):
                gas["session_keys"] += bench.register_signer(payer, key, spend)
        rows = []
        for index, payer in enumerate(payers):
            for offset in range(CREATORS_PER_PAYER):
                creator = creators[(index + offset) % CREATORS]
                signer = keys[index] if session_keys else None
                rows.append(bench.voucher_row(payer, creator.address, PAYS_PER_CHANNEL * PRICE, signer))
        for start in range(0, len(rows), BATCH):
            gas["claims"] += bench.claim(rows[start : start + BATCH])
        for creator in creators:
            call = bench.hub.functions.withdrawEarnings(bench.token, creator.address)
            gas["withdrawals"] += int(bench.send(call, sender=creator.address)["gasUsed"])
    micropayments = PAYERS * CREATORS_PER_PAYER * PAYS_PER_CHANNEL
    total = sum(gas.values())
    return {
        "micropayments": micropayments,
        "transactions": {"deposits": PAYERS, "session_keys": PAYERS if session_keys else 0,
                         "claims": -(-len(rows) // BATCH), "withdrawals": CREATORS},
        "gas": gas,
        "total_gas": total,
        "gas_per_micropayment": round(total / micropayments),
    }  # fmt: skip
