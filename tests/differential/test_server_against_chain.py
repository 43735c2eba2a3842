"""The server against the chain: random histories driven through the real server (its services on
SQLite) and the real hub on anvil, checked after every step.

    what the server acknowledged  ==  what the chain pays the creators, once settled
    nobody is ever paid more than a voucher the server acknowledged allows
    the hub holds exactly the payers' balances plus the payees' earnings

Steps: deposits, vouchers signed by wallets, by session keys and by keys a payer authorised on
chain (mixed on the same creators), grants with small caps and short lives, revocations,
withdrawal requests and withdrawals, claims by the operator (its settler, on its own schedule) and
by creators with their exports, time passing, and a payer trying to spend its deposit around the
server.
"""

from __future__ import annotations

import os
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from web3 import Web3

from app.core.claims import ClaimBlock, encode_claim
from app.core.eip712 import Entry, PayerVoucher, SessionGrant, digest
from app.core.errors import Refusal
from app.core.signatures import sign
from app.core.types import to_address
from app.services.runtime import Services
from tests.differential.conftest import SETTLE_MARGIN, build_server, pay, settle
from tests.factories import Chain

pytestmark = pytest.mark.slow

PRICES = {"note": 3_000, "article": 10_000, "report": 40_000}
STEP = 900  # time passes in steps no longer than half the settler's urgency, the settler running in between


@dataclass
class Payer:
    account: LocalAccount
    second_address: LocalAccount  # where a dishonest payer would like its deposit to go
    keys: list[LocalAccount] = field(default_factory=list)


@dataclass
class Ledger:
    """What the test saw the server acknowledge, per creator."""

    acknowledged: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    withdrawn: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def make_machine(chain: Chain) -> type[RuleBasedStateMachine]:
    usdc = to_address(chain.usdc.address)
    creators = [chain.accounts[7], chain.accounts[8], chain.accounts[9]]
    payer_accounts = [chain.accounts[4], chain.accounts[5]]

    class ServerAgainstChain(RuleBasedStateMachine):
        keys = Bundle("keys")

        def __init__(self) -> None:
            super().__init__()
            self.snapshot = chain.w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
            self.directory = tempfile.TemporaryDirectory()
            self.services: Services = build_server(chain, Path(self.directory.name))
            self.payers = [Payer(a, Account.create()) for a in payer_accounts]
            self.ledger = Ledger()
            for creator in creators:
                for name, price in PRICES.items():
                    self.services.catalog.save(
                        to_address(creator.address), f"{name}-{creator.address[-4:]}", usdc, price, name
                    )

        def teardown(self) -> None:
            try:
                self.settle_everything()
                self.check_paid_in_full()
            finally:
                self.services.close()
                self.directory.cleanup()
                chain.w3.provider.make_request("evm_revert", [self.snapshot])  # type: ignore[arg-type]

        # ------------------------------------------------------------ helpers

        def sync(self) -> None:
            self.services.indexer.sync_once()

        def settle(self, force: bool) -> None:
            settle(self.services, force=force)

        def settle_everything(self) -> None:
            for _ in range(4):
                self.settle(force=True)

        def check_paid_in_full(self) -> None:
            """Once settled, every creator is paid exactly what the server acknowledged to it."""
            for creator in creators:
                paid = chain.earnings(creator.address) + self.ledger.withdrawn[creator.address]
                assert paid == self.ledger.acknowledged[creator.address], creator.address

        # ------------------------------------------------------------ steps

        @initialize()
        def deposit_something(self) -> None:
            for payer in self.payers:
                chain.deposit(payer.account, 30_000)
            self.sync()

        @rule(payer=st.integers(0, 1), amount=st.sampled_from([10_000, 30_000]))
        def deposit(self, payer: int, amount: int) -> None:
            chain.deposit(self.payers[payer].account, amount)
            self.sync()

        @rule(target=keys, payer=st.integers(0, 1))
        def authorize_a_signer_on_chain(self, payer: int) -> tuple[int, LocalAccount]:
            """How a smart wallet pays: it names an ECDSA key on chain, which then signs as the payer
            (revoking it goes through the same revokeSigner as a session key)."""
            owner, key = self.payers[payer], Account.create()
            hub = chain.hub.functions
            chain.send(hub.authorizeSigner(Web3.to_checksum_address(key.address)), owner.account)
            self.sync()
            return payer, key

        @rule(
            target=keys,
            payer=st.integers(0, 1),
            cap=st.sampled_from([15_000, 45_000, 10**7]),
            life=st.sampled_from([SETTLE_MARGIN + 3 * STEP, 7 * 86_400]),
        )
        def grant_a_session_key(self, payer: int, cap: int, life: int) -> tuple[int, LocalAccount]:
            owner, key = self.payers[payer], Account.create()
            typed = self.services.typed_data.grant(
                to_address(owner.account.address),
                to_address(key.address),
                usdc,
                cap,
                chain.timestamp() + life,
            )
            message = typed["message"]
            grant = SessionGrant(
                message["payer"], message["signer"], message["token"], message["lane"],
                message["maxTotal"], message["validUntil"],
            )  # fmt: skip
            self.services.session_keys.authorize(
                grant, sign(digest(self.services.domain, grant), owner.account.key)
            )
            owner.keys.append(key)
            return payer, key

        @rule(payer=st.integers(0, 1), creator=st.integers(0, 2), item=st.sampled_from(sorted(PRICES)))
        def pay_from_the_wallet(self, payer: int, creator: int, item: str) -> None:
            self._pay(self.payers[payer].account, None, creator, item)

        @rule(key=keys, creator=st.integers(0, 2), item=st.sampled_from(sorted(PRICES)))
        def pay_with_a_session_key(self, key: tuple[int, LocalAccount], creator: int, item: str) -> None:
            payer, signer = key
            self._pay(self.payers[payer].account, signer, creator, item)

        @rule(
            key=keys,
            creators_and_items=st.lists(
                st.tuples(st.integers(0, 2), st.sampled_from(sorted(PRICES))), min_size=2, max_size=6
            ),
        )
        def pay_several_times_mixing_the_key_and_the_wallet(
            self, key: tuple[int, LocalAccount], creators_and_items: list[tuple[int, str]]
        ) -> None:
            payer, signer = key
            for index, (creator, item) in enumerate(creators_and_items):
                self._pay(self.payers[payer].account, signer if index % 2 else None, creator, item)

        def _pay(self, payer: LocalAccount, signer: LocalAccount | None, creator: int, item: str) -> None:
            resource = f"{item}-{creators[creator].address[-4:]}"
            try:
                receipt = pay(self.services, payer, resource, signer)
            except Refusal:
                return  # refused: nothing was acknowledged, nothing is owed
            self.ledger.acknowledged[receipt.payee] += receipt.price

        @rule(key=keys)
        def revoke_a_session_key(self, key: tuple[int, LocalAccount]) -> None:
            payer, signer = key
            hub = chain.hub.functions
            chain.send(hub.revokeSigner(Web3.to_checksum_address(signer.address)), self.payers[payer].account)
            self.sync()

        @rule(payer=st.integers(0, 1), share=st.sampled_from([0.3, 1.0]))
        def request_a_withdrawal(self, payer: int, share: float) -> None:
            account = self.payers[payer].account
            balance = chain.balance(account.address)
            if balance > 0:
                amount = max(1, int(balance * share))
                chain.send(chain.hub.functions.requestWithdrawal(chain.usdc.address, amount), account)
                self.sync()

        @rule(payer=st.integers(0, 1))
        def withdraw_when_ready(self, payer: int) -> None:
            account = self.payers[payer].account
            amount, available_at = chain.hub.functions.withdrawalOf(
                account.address, chain.usdc.address
            ).call()
            if amount > 0 and chain.timestamp() >= available_at:
                chain.send(chain.hub.functions.withdraw(chain.usdc.address), account)
                self.sync()

        @rule(steps=st.integers(1, 5))
        def time_passes(self, steps: int) -> None:
            """The operator's settler runs on its own schedule while time passes."""
            for _ in range(steps):
                self.settle(force=False)
                chain.increase_time(STEP)
                self.sync()
            self.settle(force=False)

        @rule()
        def the_operator_settles(self) -> None:
            self.settle(force=True)

        @rule(creator=st.integers(0, 2))
        def a_creator_claims_its_exports_itself(self, creator: int) -> None:
            account = creators[creator]
            for tx in self.services.exits.claim_txs(to_address(account.address)):
                chain.w3.eth.wait_for_transaction_receipt(
                    chain.w3.eth.send_transaction({"from": account.address, "to": tx.to, "data": tx.data})
                )
            self.sync()

        @rule(creator=st.integers(0, 2))
        def a_creator_withdraws_its_earnings(self, creator: int) -> None:
            account = creators[creator]
            earned = chain.earnings(account.address)
            if earned:
                chain.send(chain.hub.functions.withdrawEarnings(chain.usdc.address, account.address), account)
                self.ledger.withdrawn[account.address] += earned
                self.sync()

        @rule(payer=st.integers(0, 1))
        def a_payer_tries_to_pay_itself_around_the_server(self, payer: int) -> None:
            """It signs its whole balance to its second address on a fresh lane and claims it
            itself: without the operator's acknowledgement the hub pays nothing."""
            cheat = self.payers[payer]
            balance = chain.balance(cheat.account.address)
            if balance == 0:
                return
            voucher = PayerVoucher(
                to_address(cheat.account.address), usdc, 2**40 + payer,
                (Entry(to_address(cheat.second_address.address), balance),), os.urandom(32),
            )  # fmt: skip
            block = ClaimBlock(voucher, sign(digest(self.services.domain, voucher), cheat.account.key))
            chain.send(chain.hub.functions.claim(chain.usdc.address, encode_claim([block])), cheat.account)
            assert chain.balance(cheat.account.address) == balance
            self.sync()

        # ------------------------------------------------------------ invariants

        @invariant()
        def the_hub_holds_exactly_what_it_owes(self) -> None:
            owed = sum(chain.balance(p.account.address) for p in self.payers)
            owed += sum(chain.earnings(c.address) for c in creators)
            owed += sum(chain.earnings(p.second_address.address) for p in self.payers)
            held = chain.usdc.functions.balanceOf(chain.hub.address).call()
            assert held == owed

        @invariant()
        def nobody_is_paid_beyond_what_was_acknowledged(self) -> None:
            for creator in creators:
                paid = chain.earnings(creator.address) + self.ledger.withdrawn[creator.address]
                assert paid <= self.ledger.acknowledged[creator.address]
            for payer in self.payers:
                assert chain.earnings(payer.second_address.address) == 0

        @invariant()
        def the_server_never_promises_more_than_the_deposit(self) -> None:
            for payer in self.payers:
                account = self.services.accounts.account(to_address(payer.account.address), usdc)
                assert account.outstanding <= account.balance

    return ServerAgainstChain


@pytest.fixture
def machine(deployed: Chain) -> type[RuleBasedStateMachine]:
    return make_machine(deployed)


def test_what_the_server_acknowledges_the_chain_pays_in_full(machine: type[RuleBasedStateMachine]) -> None:
    profile = os.environ.get("HYPOTHESIS_PROFILE", "dev")
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=6 if profile == "ci" else 3,
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
