"""Random deposits, vouchers, claims, session keys and withdrawals keep the hub solvent and model-equal."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from eth_abi import decode, encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from web3.types import TxReceipt

from app.core.eip712 import Voucher, channel_id
from app.core.types import to_address
from tests.factories import Chain, claim_row, reverts_with, skip_reason, to_compact, to_high_s

WITHDRAW_DELAY = 3600
MAX_EXAMPLES = int(os.environ.get("INVARIANT_MAX_EXAMPLES", "15"))

PAYER = st.integers(0, 2)
PAYEE = st.integers(0, 2)
# How a claim row is made: the latest voucher of a channel, any earlier (often stale) one, or a row
# whose signature is wrong in one of several ways.
ROW_KINDS = [
    "latest",
    "latest",
    "latest",
    "older",
    "tampered",
    "stranger",
    "other_payer",
    "high_s",
    "garbage",
]
# (payer, payee, increment, signed by a session key if the payer has one, EIP-2098 compact signature)
VOUCHER_SPECS = st.lists(
    st.tuples(PAYER, PAYEE, st.integers(1, 2_000_000), st.booleans(), st.booleans()), min_size=1, max_size=4
)
SESSION_KEY_LIFETIMES = [600, 2 * WITHDRAW_DELAY, 30 * 86_400]
TIME_STEPS = [1, 600, WITHDRAW_DELAY + 1, 86_400]


def calldata(signature: str, args: list[Any]) -> str:
    """ABI calldata of a call to `signature`, e.g. "balanceOf(address,address)"."""
    types = signature[signature.index("(") + 1 : -1]
    return "0x" + (keccak(text=signature)[:4] + encode(types.split(",") if types else [], args)).hex()


def _pairs(values: dict[Any, Any]) -> list[tuple[tuple[str, Any], Any]]:
    return [(label, value) for label, value in values.items() if isinstance(label, tuple)]


def deterministic_key(label: str, index: int) -> LocalAccount:
    """The same key in every run, so a failing example replays identically."""
    return Account.from_key(keccak(text=f"{label}-{index}"))


@dataclass
class SessionKeyModel:
    account: LocalAccount
    allowance: int  # as registered
    spent: int
    valid_until: int
    revoke_at: int = 0


@dataclass(frozen=True)
class SignedVoucher:
    """A voucher a payer (or one of its session keys) really signed."""

    payer: int
    payee: int
    voucher: Voucher
    signer: LocalAccount
    row: tuple[Any, ...]


@dataclass(frozen=True)
class Row:
    """One claim row and who the hub should recover as its authorised signer (None: nobody)."""

    payer: int
    payee: int
    amount: int
    row: tuple[Any, ...]
    signer: str | None


@dataclass(frozen=True)
class OnChain:
    block: int
    hub_tokens: int
    balances: dict[str, int]
    withdrawals: dict[str, tuple[int, int]]
    earnings: dict[str, int]
    wallets: dict[str, int]
    claimed: dict[tuple[int, int], int]
    keys: dict[tuple[int, str], tuple[str, int, int, int]]


class HubMachine(RuleBasedStateMachine):
    """3 payers x 3 payees on the session's hub and test stablecoin; every run starts from a snapshot."""

    def __init__(self, chain: Chain) -> None:
        super().__init__()
        self.chain = chain
        self.hub = chain.hub
        self.token = to_address(chain.usdc.address)
        self.snapshot = self._rpc("evm_snapshot")
        self.payers = chain.accounts[1:4]
        self.payees = chain.accounts[4:7]
        self.fee_recipient = chain.accounts[7]
        self.fee_bps = 0
        self.channels = [(i, j) for i in range(3) for j in range(3)]
        self.keys: list[dict[str, SessionKeyModel]] = [{} for _ in self.payers]
        self._cache: OnChain | None = None

        start = self._read()
        self.wallets = dict(start.wallets)
        self.balances = dict(start.balances)
        self.withdrawals = dict(start.withdrawals)
        self.earnings = dict(start.earnings)
        self.claimed = dict(start.claimed)
        self.highest_signed = dict(start.claimed)
        self.seen_claimed = dict(start.claimed)
        # Tokens the hub held before this run for accounts outside the model (zero when tests are isolated).
        self.untracked = start.hub_tokens - sum(start.balances.values()) - sum(start.earnings.values())
        self.vouchers: list[SignedVoucher] = []
        self.nonce = 0
        self.keys_made = 0
        self.purchases = 0

    def teardown(self) -> None:
        self._rpc("evm_revert", [self.snapshot])

    # ------------------------------------------------------------ helpers

    def _rpc(self, method: str, params: list[Any] | None = None) -> Any:
        return self.chain.w3.provider.make_request(method, params or [])["result"]  # type: ignore[arg-type]

    def _timestamp_of(self, receipt: TxReceipt) -> int:
        return int(self.chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"])

    def _purchase(self) -> bytes:
        self.purchases += 1
        return keccak(text=f"purchase-{self.purchases}")

    def _read(self) -> OnChain:
        """Every view the invariants check, in one JSON-RPC batch of raw eth_calls, once per block
        (state only changes in mined blocks; web3's contract calls would take ~10 ms each)."""
        block = int(self._rpc("eth_blockNumber"), 16)
        if self._cache and self._cache.block == block:
            return self._cache
        usdc, hub, token = self.chain.usdc.address, self.hub.address, self.token
        views: list[tuple[Any, str, str, list[Any], list[str]]] = []

        def view(
            label: Any, to: str, signature: str, args: list[Any], out: tuple[str, ...] = ("uint256",)
        ) -> None:
            views.append((label, to, signature, args, list(out)))

        view("hub_tokens", usdc, "balanceOf(address)", [hub])
        for p in self.payers:
            view(("balance", p.address), hub, "balanceOf(address,address)", [p.address, token])
            pair = ("uint256", "uint256")
            view(("withdrawal", p.address), hub, "withdrawalOf(address,address)", [p.address, token], pair)
        for a in [*self.payees, self.fee_recipient]:
            view(("earnings", a.address), hub, "earningsOf(address,address)", [a.address, token])
        for a in [*self.payers, *self.payees, self.fee_recipient]:
            view(("wallet", a.address), usdc, "balanceOf(address)", [a.address])
        for i, j in self.channels:
            channel = channel_id(
                to_address(self.payers[i].address), to_address(self.payees[j].address), token
            )
            view(("claimed", (i, j)), hub, "claimed(bytes32)", [channel])
        for i, p in enumerate(self.payers):
            for key in self.keys[i]:
                fields = ("address", "uint256", "uint256", "uint256")
                view(("key", (i, key)), hub, "signerOf(address,address)", [p.address, key], fields)
        responses = self.chain.w3.provider.make_batch_request(
            [
                ("eth_call", [{"to": to, "data": calldata(sig, args)}, "latest"])
                for _, to, sig, args, _ in views
            ]
        )
        assert isinstance(responses, list), responses
        values: dict[Any, Any] = {}
        for (label, *_, types), response in zip(views, responses, strict=True):
            decoded = decode(types, bytes.fromhex(response["result"][2:]))
            values[label] = decoded[0] if len(decoded) == 1 else tuple(decoded)
        self._cache = OnChain(
            block=block,
            hub_tokens=values["hub_tokens"],
            balances={p.address: values[("balance", p.address)] for p in self.payers},
            withdrawals={p.address: values[("withdrawal", p.address)] for p in self.payers},
            earnings={a.address: values[("earnings", a.address)] for a in [*self.payees, self.fee_recipient]},
            wallets={a: v for (kind, a), v in _pairs(values) if kind == "wallet"},
            claimed={ch: values[("claimed", ch)] for ch in self.channels},
            keys={k: (to_address(v[0]), *v[1:]) for (kind, k), v in _pairs(values) if kind == "key"},
        )
        return self._cache

    def _latest_voucher(self, channel: tuple[int, int]) -> SignedVoucher:
        return max(
            (v for v in self.vouchers if (v.payer, v.payee) == channel),
            key=lambda v: v.voucher.cumulative_amount,
        )

    def _draw_row(self, kind: str, data: st.DataObject) -> Row:
        if kind == "latest":
            channels = sorted({(v.payer, v.payee) for v in self.vouchers})
            signed = self._latest_voucher(channels[data.draw(st.integers(0, len(channels) - 1))])
        else:
            signed = self.vouchers[data.draw(st.integers(0, len(self.vouchers) - 1))]
        voucher, payer = signed.voucher, self.payers[signed.payer]
        amount = voucher.cumulative_amount
        if kind in ("latest", "older"):
            return Row(signed.payer, signed.payee, amount, signed.row, signed.signer.address)
        if kind == "tampered":
            # Someone raises the amount of a signed voucher: ecrecover yields an unrelated address.
            row = (*signed.row[:3], amount + 1, *signed.row[4:])
            return Row(signed.payer, signed.payee, amount + 1, row, None)
        if kind == "stranger":
            signature = self.chain.sign_voucher(deterministic_key("stranger", 0), voucher)
        elif kind == "other_payer":
            signature = self.chain.sign_voucher(self.payers[(signed.payer + 1) % 3], voucher)
        elif kind == "high_s":
            signature = to_high_s(self.chain.sign_voucher(payer, voucher))
        else:
            signature = b"\x01" * 10
        return Row(signed.payer, signed.payee, amount, claim_row(voucher, signature), None)

    def _settle(self, row: Row, timestamp: int) -> tuple[str, dict[str, Any]]:
        """Applies one row to the model as the hub should; returns the event it should emit."""
        payer, payee = self.payers[row.payer].address, self.payees[row.payee].address
        skipped = {"payer": payer, "payee": payee, "token": self.token, "cumulativeAmount": row.amount}
        claimed = self.claimed[(row.payer, row.payee)]
        if row.amount <= claimed:
            return "ClaimSkipped", {**skipped, "reason": skip_reason("NothingDue")}
        if row.signer is None:
            return "ClaimSkipped", {**skipped, "reason": skip_reason("BadSignature")}
        cap = None
        key = None
        if row.signer != payer:
            key = self.keys[row.payer][row.signer]
            reason = None
            if timestamp > key.valid_until:
                reason = "SignerExpired"
            elif key.revoke_at and timestamp >= key.revoke_at:
                reason = "SignerRevoked"
            elif key.spent == key.allowance:
                reason = "SignerExhausted"
            if reason:
                return "ClaimSkipped", {**skipped, "reason": skip_reason(reason)}
            cap = key.allowance - key.spent
        amount = min(row.amount - claimed, self.balances[payer])
        if cap is not None:
            amount = min(amount, cap)
        if amount == 0:
            return "ClaimSkipped", {**skipped, "reason": skip_reason("NoBalance")}
        fee = amount * self.fee_bps // 10_000
        self.balances[payer] -= amount
        self.claimed[(row.payer, row.payee)] = claimed + amount
        if key is not None:
            key.spent += amount
        self.earnings[payee] += amount - fee
        if fee:
            self.earnings[self.fee_recipient.address] += fee
        return "Claimed", {
            "payer": payer,
            "payee": payee,
            "token": self.token,
            "signer": row.signer,
            "amount": amount,
            "fee": fee,
            "claimed": claimed + amount,
        }

    # -------------------------------------------------------------- rules

    @initialize(fee_bps=st.sampled_from([0, 0, 30, 100]))
    def set_fee(self, fee_bps: int) -> None:
        self.chain.send(self.hub.functions.setFee(fee_bps, self.fee_recipient.address), self.chain.owner)
        self.fee_bps = fee_bps

    @initialize(amounts=st.lists(st.integers(0, 20_000_000), min_size=3, max_size=3))
    def fund_payers(self, amounts: list[int]) -> None:
        for payer, amount in enumerate(amounts):
            if amount:
                self.deposit(payer, amount)

    @initialize(
        allowances=st.lists(st.none() | st.integers(1, 3_000_000), min_size=3, max_size=3),
        specs=VOUCHER_SPECS,
        data=st.data(),
    )
    def register_keys_and_sign_first_vouchers(
        self, allowances: list[int | None], specs: list[tuple[int, int, int, bool, bool]], data: st.DataObject
    ) -> None:
        for payer, allowance in enumerate(allowances):
            if allowance is not None:
                lifetime = data.draw(st.sampled_from(SESSION_KEY_LIFETIMES))
                self.register_session_key(payer, allowance, lifetime, reuse=False, data=data)
        self.sign_vouchers(specs, data)

    @rule(payer=PAYER, amount=st.integers(1, 10_000_000))
    def deposit(self, payer: int, amount: int) -> None:
        account = self.payers[payer]
        receipt = self.chain.deposit(account, amount)
        assert self.chain.events(receipt, "Deposited") == [
            {"payer": account.address, "token": self.token, "from": account.address, "amount": amount}
        ]
        self.balances[account.address] += amount
        self.wallets[account.address] -= amount

    @rule(specs=VOUCHER_SPECS, data=st.data())
    def sign_vouchers(self, specs: list[tuple[int, int, int, bool, bool]], data: st.DataObject) -> None:
        """Payers (or their session keys) sign vouchers off-chain; nothing is sent."""
        for payer, payee, increment, by_session_key, compact in specs:
            keys = list(self.keys[payer].values())
            signer = self.payers[payer]
            if by_session_key and keys:
                signer = keys[data.draw(st.integers(0, len(keys) - 1))].account
            amount = self.highest_signed[(payer, payee)] + increment
            voucher = self.chain.voucher(
                self.payers[payer], self.payees[payee].address, amount, purchase=self._purchase()
            )
            signature = self.chain.sign_voucher(signer, voucher)
            if compact:
                signature = to_compact(signature)
            self.vouchers.append(SignedVoucher(payer, payee, voucher, signer, claim_row(voucher, signature)))
            self.highest_signed[(payer, payee)] = amount

    @precondition(lambda self: bool(self.vouchers))
    @rule(sender=st.sampled_from([0, 4, 5]))
    def claim_latest_vouchers(self, sender: int) -> None:
        """What the operator sends: one batch with the latest voucher of every channel."""
        rows = []
        for channel in sorted({(v.payer, v.payee) for v in self.vouchers}):
            v = self._latest_voucher(channel)
            rows.append(Row(v.payer, v.payee, v.voucher.cumulative_amount, v.row, v.signer.address))
        self._claim(rows, self.chain.accounts[sender])

    @precondition(lambda self: bool(self.vouchers))
    @rule(
        kinds=st.lists(st.sampled_from(ROW_KINDS), min_size=1, max_size=6),
        sender=st.sampled_from([0, 4, 5]),
        data=st.data(),
    )
    def claim_random_rows(self, kinds: list[str], sender: int, data: st.DataObject) -> None:
        """A batch sent by anyone with rows drawn among latest, stale and badly signed vouchers."""
        self._claim([self._draw_row(kind, data) for kind in kinds], self.chain.accounts[sender])

    def _claim(self, rows: list[Row], sender: LocalAccount) -> None:
        receipt = self.chain.claim([r.row for r in rows], sender)
        timestamp = self._timestamp_of(receipt)
        expected: dict[str, list[dict[str, Any]]] = {"Claimed": [], "ClaimSkipped": []}
        for row in rows:
            name, args = self._settle(row, timestamp)
            expected[name].append(args)
        assert self.chain.events(receipt, "Claimed") == expected["Claimed"]
        assert self.chain.events(receipt, "ClaimSkipped") == expected["ClaimSkipped"]

    @rule(
        payer=PAYER,
        allowance=st.integers(1, 3_000_000),
        lifetime=st.sampled_from(SESSION_KEY_LIFETIMES),
        reuse=st.booleans(),
        data=st.data(),
    )
    def register_session_key(
        self, payer: int, allowance: int, lifetime: int, reuse: bool, data: st.DataObject
    ) -> None:
        existing = list(self.keys[payer].values())
        if existing and (reuse or len(existing) >= 3):
            key = existing[data.draw(st.integers(0, len(existing) - 1))].account
        else:
            self.keys_made += 1
            key = deterministic_key("session-key", self.keys_made)
        valid_until = self.chain.timestamp() + lifetime
        self.chain.authorize_signer(self.payers[payer], key.address, allowance, valid_until, nonce=self.nonce)
        self.nonce += 1
        # A new authorisation replaces the key's previous one and clears a pending revocation.
        self.keys[payer][key.address] = SessionKeyModel(key, allowance, 0, valid_until)

    @precondition(lambda self: any(self.keys))
    @rule(data=st.data())
    def revoke_session_key(self, data: st.DataObject) -> None:
        payer = data.draw(st.sampled_from([i for i, keys in enumerate(self.keys) if keys]))
        key = data.draw(st.sampled_from(sorted(self.keys[payer])))
        account = self.payers[payer]
        receipt = self.chain.send(self.hub.functions.revokeSigner(key), account)
        model = self.keys[payer][key]
        effective_at = self._timestamp_of(receipt) + WITHDRAW_DELAY
        if model.revoke_at == 0 or model.revoke_at > effective_at:
            model.revoke_at = effective_at
        assert self.chain.events(receipt, "SignerRevoked") == [
            {"payer": account.address, "signer": key, "effectiveAt": model.revoke_at}
        ]

    @rule(payer=PAYER, data=st.data())
    def request_withdrawal(self, payer: int, data: st.DataObject) -> None:
        account = self.payers[payer]
        balance = self.balances[account.address]
        amount = data.draw(st.integers(0, balance + 1_000_000))
        call = self.hub.functions.requestWithdrawal(self.token, amount)
        if amount == 0:
            with reverts_with(self.hub, "ZeroAmount"):
                self.chain.send(call, account)
            return
        if amount > balance:
            with reverts_with(self.hub, "InsufficientBalance", balance, amount):
                self.chain.send(call, account)
            return
        receipt = self.chain.send(call, account)
        available_at = self._timestamp_of(receipt) + WITHDRAW_DELAY
        self.withdrawals[account.address] = (amount, available_at)
        assert self.chain.events(receipt, "WithdrawalRequested") == [
            {"payer": account.address, "token": self.token, "amount": amount, "availableAt": available_at}
        ]

    @rule(payer=PAYER)
    def cancel_withdrawal(self, payer: int) -> None:
        account = self.payers[payer]
        call = self.hub.functions.cancelWithdrawal(self.token)
        if self.withdrawals[account.address][0] == 0:
            with reverts_with(self.hub, "NoWithdrawalPending"):
                self.chain.send(call, account)
            return
        receipt = self.chain.send(call, account)
        self.withdrawals[account.address] = (0, 0)
        assert self.chain.events(receipt, "WithdrawalCancelled") == [
            {"payer": account.address, "token": self.token}
        ]

    @rule(payer=PAYER, wait=st.booleans())
    def withdraw(self, payer: int, wait: bool) -> None:
        account = self.payers[payer]
        requested, available_at = self.withdrawals[account.address]
        call = self.hub.functions.withdraw(self.token)
        if requested == 0:
            with reverts_with(self.hub, "NoWithdrawalPending"):
                self.chain.send(call, account)
            return
        now = self.chain.timestamp()
        if not wait and now < available_at - 60:
            with reverts_with(self.hub, "WithdrawalNotReady", available_at):
                self.chain.send(call, account)
            return
        if now < available_at:
            self.chain.increase_time(available_at - now + 1)
        receipt = self.chain.send(call, account)
        amount = min(requested, self.balances[account.address])
        self.balances[account.address] -= amount
        self.wallets[account.address] += amount
        self.withdrawals[account.address] = (0, 0)
        assert self.chain.events(receipt, "Withdrawn") == [
            {"payer": account.address, "token": self.token, "amount": amount}
        ]

    @rule(who=st.integers(0, 3))
    def withdraw_earnings(self, who: int) -> None:
        account = [*self.payees, self.fee_recipient][who]
        amount = self.earnings[account.address]
        call = self.hub.functions.withdrawEarnings(self.token, account.address)
        if amount == 0:
            with reverts_with(self.hub, "ZeroAmount"):
                self.chain.send(call, account)
            return
        receipt = self.chain.send(call, account)
        self.earnings[account.address] = 0
        self.wallets[account.address] += amount
        assert self.chain.events(receipt, "EarningsWithdrawn") == [
            {"payee": account.address, "token": self.token, "to": account.address, "amount": amount}
        ]

    @rule(seconds=st.sampled_from(TIME_STEPS))
    def pass_time(self, seconds: int) -> None:
        self.chain.increase_time(seconds)

    # --------------------------------------------------------- invariants

    @invariant()
    def hub_holds_exactly_what_it_owes(self) -> None:
        state = self._read()
        owed = sum(state.balances.values()) + sum(state.earnings.values())
        assert state.hub_tokens == self.untracked + owed

    @invariant()
    def claimed_never_falls(self) -> None:
        for channel, value in self._read().claimed.items():
            assert value >= self.seen_claimed[channel], f"claimed fell on channel {channel}"
            self.seen_claimed[channel] = value

    @invariant()
    def no_payee_is_paid_beyond_the_highest_signed_voucher(self) -> None:
        for channel, value in self._read().claimed.items():
            assert value <= self.highest_signed[channel], f"channel {channel} paid beyond its vouchers"

    @invariant()
    def session_keys_spend_within_their_allowance(self) -> None:
        keys = self._read().keys
        for i, models in enumerate(self.keys):
            for address, model in models.items():
                remaining = keys[(i, address)][1]
                assert 0 <= remaining <= model.allowance, f"session key {address} overspent"
                assert model.spent <= model.allowance
                assert model.allowance - remaining == model.spent

    @invariant()
    def chain_matches_the_model(self) -> None:
        state = self._read()
        assert state.balances == self.balances
        assert state.withdrawals == self.withdrawals
        assert state.earnings == self.earnings
        assert state.wallets == self.wallets
        assert state.claimed == self.claimed
        for i, models in enumerate(self.keys):
            for address, model in models.items():
                expected = (self.token, model.allowance - model.spent, model.valid_until, model.revoke_at)
                assert state.keys[(i, address)] == expected


def test_random_operations_keep_the_hub_solvent_and_equal_to_the_model(deployed: Chain) -> None:
    """Each run starts from a snapshot of the session chain and reverts to it in teardown."""
    run_state_machine_as_test(
        lambda: HubMachine(deployed),
        settings=settings(
            max_examples=MAX_EXAMPLES,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
