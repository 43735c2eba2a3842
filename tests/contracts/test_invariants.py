"""Random deposits, payments on lanes, claims (fresh, stale, forged, key-signed), fees and withdrawals keep
the hub solvent and equal to a model: it holds exactly sum(balances) + sum(earnings), a lane's commitment
only ever moves to a vector that dominates the last one, and no payee is paid beyond a signed voucher."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from app.core.claims import ClaimBlock, SignedGrant
from app.core.eip712 import PayerVoucher, SessionGrant, entries_hash
from app.core.types import to_address
from tests.contracts.lanes import entries
from tests.factories import Chain, sign

MAX_EXAMPLES = int(os.environ.get("INVARIANT_MAX_EXAMPLES", "10"))
LANES = 2
BLOCK_KINDS = ["latest", "latest", "latest", "older", "stale_previous", "stranger", "key", "key_over_cap"]
PAYER = st.integers(0, 2)
LANE = st.integers(0, LANES - 1)
PAYEE = st.integers(0, 2)


def dominates(new: dict[str, int], old: dict[str, int]) -> bool:
    return all(payee in new and new[payee] >= amount for payee, amount in old.items())


@dataclass
class LaneModel:
    signed: list[dict[str, int]] = field(default_factory=list)  # every vector the payer signed, in order
    claimed: dict[str, int] = field(default_factory=dict)  # the vector the lane's commitment hashes

    @property
    def latest(self) -> dict[str, int]:
        return self.signed[-1] if self.signed else {}


class HubMachine(RuleBasedStateMachine):
    """3 payers x 2 lanes x 3 payees on the session's hub; every run starts from a snapshot."""

    def __init__(self, chain: Chain) -> None:
        super().__init__()
        self.chain = chain
        self.hub = chain.hub.functions
        self.token = to_address(chain.usdc.address)
        self.snapshot = self._rpc("evm_snapshot")
        self.payers = chain.accounts[1:4]
        self.payees = [a.address for a in chain.accounts[4:7]]
        self.fee_recipient = chain.accounts[7].address
        self.stranger = Account.from_key(keccak(text="invariants/stranger"))
        self.keys = [Account.from_key(keccak(text=f"invariants/key/{i}")) for i in range(3)]
        self.fee_bps = 0
        self.lanes = {(p, lane): LaneModel() for p in range(3) for lane in range(LANES)}
        self.balances = {p.address: self._balance(p.address) for p in self.payers}
        tracked = [*self.payees, self.fee_recipient]
        self.earnings = {a: self._earnings(a) for a in tracked}
        self.untracked = self._held() - sum(self.balances.values()) - sum(self.earnings.values())
        self.purchases = 0

    def teardown(self) -> None:
        self._rpc("evm_revert", [self.snapshot])

    # ------------------------------------------------------------ helpers

    def _rpc(self, method: str, params: list[Any] | None = None) -> Any:
        return self.chain.w3.provider.make_request(method, params or [])["result"]  # type: ignore[arg-type]

    def _balance(self, payer: str) -> int:
        return int(self.hub.balanceOf(payer, self.token).call())

    def _earnings(self, payee: str) -> int:
        return int(self.hub.earningsOf(payee, self.token).call())

    def _held(self) -> int:
        return int(self.chain.usdc.functions.balanceOf(self.chain.hub.address).call())

    def _voucher(self, payer: int, lane: int, vector: dict[str, int]) -> PayerVoucher:
        self.purchases += 1
        return PayerVoucher(
            payer=to_address(self.payers[payer].address),
            token=self.token,
            lane=lane,
            entries=entries(vector),
            purchase=keccak(text=f"invariants/{self.purchases}"),
        )

    def _grant(self, payer: int, lane: int, max_total: int) -> SignedGrant:
        grant = SessionGrant(
            payer=to_address(self.payers[payer].address),
            signer=to_address(self.keys[payer].address),
            token=self.token,
            lane=lane,
            max_total=max_total,
            valid_until=2**64 - 1,
        )
        return SignedGrant(grant=grant, signature=sign(self.payers[payer].key, self.chain.domain, grant))

    # ------------------------------------------------------------ rules

    @rule(payer=PAYER, amount=st.integers(1, 5_000_000))
    def deposit(self, payer: int, amount: int) -> None:
        self.chain.deposit(self.payers[payer], amount)
        self.balances[self.payers[payer].address] += amount

    @rule(payer=PAYER, lane=LANE, payee=PAYEE, price=st.integers(1, 3_000_000))
    def pay(self, payer: int, lane: int, payee: int, price: int) -> None:
        """Off chain: the payer signs the lane's last vector with one payee raised by `price`."""
        model = self.lanes[(payer, lane)]
        vector = dict(model.latest)
        vector[self.payees[payee]] = vector.get(self.payees[payee], 0) + price
        model.signed.append(vector)

    @rule(picks=st.lists(st.tuples(PAYER, LANE, st.sampled_from(BLOCK_KINDS)), min_size=1, max_size=4))
    def claim(self, picks: list[tuple[int, int, str]]) -> None:
        blocks: list[ClaimBlock] = []
        expected: list[tuple[int, int, dict[str, int], str | None]] = []  # what each block should do
        pending = {key: dict(model.claimed) for key, model in self.lanes.items()}
        balances = dict(self.balances)
        for payer, lane, kind in picks:
            model = self.lanes[(payer, lane)]
            if not model.signed:
                continue
            vector = model.signed[0] if kind == "older" else model.latest
            previous = dict(model.claimed)
            if kind == "stale_previous" and previous:
                previous = {p: a - 1 if a > 1 else a for p, a in previous.items()}
            previous = {p: a for p, a in previous.items() if p in vector}
            voucher = self._voucher(payer, lane, vector)
            signer: LocalAccount = self.payers[payer]
            grant = None
            if kind == "stranger":
                signer = self.stranger
            elif kind in ("key", "key_over_cap"):
                signer = self.keys[payer]
                cap = sum(vector.values()) - (1 if kind == "key_over_cap" else 0)
                grant = self._grant(payer, lane, cap)
            blocks.append(
                ClaimBlock(
                    voucher=voucher,
                    signature=sign(signer.key, self.chain.domain, voucher),
                    previous=entries(previous),
                    grant=grant,
                )
            )
            # The model of the hub's rules, in order; `pending` is the lane's state within this claim.
            delta = sum(vector.values()) - sum(previous.values())
            address = self.payers[payer].address
            lane_moves = previous == pending[(payer, lane)] and dominates(vector, previous) and delta > 0
            authorised = kind not in ("stranger", "key_over_cap")
            if not (lane_moves and authorised and delta <= balances[address]):
                outcome = None
            else:
                outcome = signer.address
                pending[(payer, lane)] = dict(vector)
                balances[address] -= delta
            expected.append((payer, lane, {p: a - previous.get(p, 0) for p, a in vector.items()}, outcome))
        if not blocks:
            return
        receipt = self.chain.claim(blocks)
        events = [
            *self.chain.events(receipt, "VoucherClaimed"),
            *self.chain.events(receipt, "VoucherSkipped"),
        ]
        assert len(events) == len(blocks)
        claimed_events = self.chain.events(receipt, "VoucherClaimed")
        assert [e["signer"] for e in claimed_events] == [o for *_, o in expected if o is not None]

        gross: dict[str, int] = {}
        for payer, lane, deltas, outcome in expected:
            if outcome is None:
                continue
            model = self.lanes[(payer, lane)]
            new = {p: model.claimed.get(p, 0) + d for p, d in deltas.items()}
            assert dominates(new, model.claimed)
            model.claimed = new
            for payee, amount in deltas.items():
                gross[payee] = gross.get(payee, 0) + amount
        self.balances = balances
        fees = 0
        for payee, amount in gross.items():
            cut = amount * self.fee_bps // 10_000
            self.earnings[payee] += amount - cut
            fees += cut
        self.earnings[self.fee_recipient] += fees

    @rule(bps=st.sampled_from([0, 1, 37, 100]))
    def set_fee(self, bps: int) -> None:
        self.chain.send(self.chain.hub.functions.setFee(bps, self.fee_recipient), self.chain.owner)
        self.fee_bps = bps

    @rule(payee=PAYEE)
    def withdraw_earnings(self, payee: int) -> None:
        address = self.payees[payee]
        if self.earnings[address] == 0:
            return
        self.chain.send(self.chain.hub.functions.withdrawEarnings(self.token, address), address)
        self.earnings[address] = 0

    @rule(payer=PAYER, share=st.integers(1, 4))
    def withdraw(self, payer: int, share: int) -> None:
        account = self.payers[payer]
        amount = self.balances[account.address] // share
        if amount == 0:
            return
        self.chain.send(self.chain.hub.functions.requestWithdrawal(self.token, amount), account)
        self.chain.increase_time(int(self.hub.withdrawDelay().call()))
        self.chain.send(self.chain.hub.functions.withdraw(self.token), account)
        self.balances[account.address] -= amount

    # ------------------------------------------------------------ invariants

    @invariant()
    def the_hub_holds_exactly_what_it_owes(self) -> None:
        owed = sum(self._balance(p.address) for p in self.payers) + sum(
            self._earnings(a) for a in self.earnings
        )
        assert self._held() == owed + self.untracked

    @invariant()
    def chain_matches_the_model(self) -> None:
        assert {p.address: self._balance(p.address) for p in self.payers} == self.balances
        assert {a: self._earnings(a) for a in self.earnings} == self.earnings
        for (payer, lane), model in self.lanes.items():
            commitment = bytes(self.hub.laneCommitment(self.payers[payer].address, self.token, lane).call())
            assert commitment == (entries_hash(entries(model.claimed)) if model.claimed else bytes(32))

    @invariant()
    def nobody_is_paid_beyond_a_voucher(self) -> None:
        for model in self.lanes.values():
            assert dominates(model.latest, model.claimed)
            assert not model.claimed or model.claimed in model.signed


def test_random_operations_keep_the_hub_solvent_and_equal_to_the_model(deployed: Chain) -> None:
    """Each run starts from a snapshot of the session chain and reverts to it in teardown."""
    run_state_machine_as_test(
        lambda: HubMachine(deployed),
        settings=settings(
            max_examples=MAX_EXAMPLES,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
