"""An in-memory v2 hub for tests: the same events, views and claim rules as the contract,
with no chain. Implements app.chain.interface.Hub; `FakeOperator` stands in for the operator's
key (app.chain.operator.Operator) so app.services.transactions can send claims to it.

Each state change is one transaction mined at once in its own block (like anvil's automine), at
the fake's clock, which tests move with `advance`. Claim blocks are judged by
`app.core.ledger.claim_outcome`, the server's model of the contract, after the fake has checked
the signatures as the contract does.

    hub = FakeHub(chain_id=31337, withdraw_delay=3600)
    hub.allow_token(usdc); hub.deposit(payer, usdc, 10**6)
    hub.claim(hub.operator(), usdc, encode_claim(blocks))  # -> the claim's events
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from eth_abi.abi import decode

from app.chain.calls import selector
from app.chain.interface import Block, Hub, NotAToken, TokenInfo
from app.chain.operator import Broadcast, Call, Mined, Reverted
from app.core import events as ev
from app.core import ledger
from app.core.claims import ClaimBlock, MalformedClaim, decode_claim
from app.core.eip712 import Acknowledgement, Domain, Entries, digest, entries_hash
from app.core.keccak import keccak
from app.core.signatures import recover
from app.core.types import Address, to_address

ZERO_HASH = bytes(32)
FAKE_HUB = to_address("0x" + "4b" * 20)
FAKE_OPERATOR = to_address("0x" + "0e" * 20)
GAS_PER_CLAIM = 30_000
GAS_PER_BLOCK = 25_000
GAS_PER_BYTE = 16
MAX_FEE_BPS = 100


@dataclass
class _Block:
    number: int
    hash: bytes
    timestamp: int
    events: list[ev.HubEvent] = field(default_factory=list)


class FakeHub:
    """A v2 hub in memory. Amounts are ints; unknown (payer, token) pairs read as zero."""

    def __init__(
        self,
        chain_id: int = 31337,
        address: Address = FAKE_HUB,
        operator: Address = FAKE_OPERATOR,
        withdraw_delay: int = 3600,
        start_time: int = 1_700_000_000,
    ) -> None:
        self._address = address
        self._chain_id = chain_id
        self._operator = operator
        self._withdraw_delay = withdraw_delay
        self.now = start_time
        self.fee_bps = 0
        self.fee_recipient: Address | None = None
        self.balances: dict[tuple[Address, Address], int] = {}
        self.withdrawals: dict[tuple[Address, Address], tuple[int, int]] = {}
        self.claimed: dict[tuple[Address, Address, int], Entries] = {}  # the vector behind each commitment
        self.earnings: dict[tuple[Address, Address], int] = {}
        self.revocations: dict[tuple[Address, Address], int] = {}
        self.authorizations: set[tuple[Address, Address]] = set()  # (payer, signer) of authorizeSigner
        self.allowed: dict[Address, bool] = {}
        self.token_infos: dict[Address, TokenInfo] = {}
        self.holdings: dict[tuple[Address, Address], int] = {}  # ERC-20 balances (token, holder)
        # EIP-1271 answers, (digest, signature) each wallet approves: for the server's own checks only,
        # a claim never asks them (the hub pays authorized signers instead)
        self._reorgs = 0
        self._blocks = [_Block(0, self._hash(0), start_time)]

    @property
    def domain(self) -> Domain:
        return Domain(self._chain_id, self._address)

    # ------------------------------------------------------------------ the Hub interface

    @property
    def address(self) -> Address:
        return self._address

    def chain_id(self) -> int:
        return self._chain_id

    def head(self) -> int:
        return self._blocks[-1].number

    def block(self, number: int) -> tuple[int, bytes, int]:
        found = self._blocks[number]
        return found.number, found.hash, found.timestamp

    def events(self, from_block: int, to_block: int) -> list[ev.HubEvent]:
        return [e for b in self._blocks[max(from_block, 0) : to_block + 1] for e in b.events]

    def balance_of(self, payer: Address, token: Address, block: Block = "latest") -> int:
        return self.balances.get((payer, token), 0)

    def withdrawal_of(self, payer: Address, token: Address, block: Block = "latest") -> tuple[int, int]:
        return self.withdrawals.get((payer, token), (0, 0))

    def lane_commitment(self, payer: Address, token: Address, lane: int, block: Block = "latest") -> bytes:
        claimed = self.claimed.get((payer, token, lane), ())
        return entries_hash(claimed) if claimed else ZERO_HASH

    def earnings_of(self, payee: Address, token: Address, block: Block = "latest") -> int:
        return self.earnings.get((payee, token), 0)

    def revoked_at(self, payer: Address, signer: Address, block: Block = "latest") -> int:
        return self.revocations.get((payer, signer), 0)

    def is_authorized_signer(self, payer: Address, signer: Address, block: Block = "latest") -> bool:
        return (payer, signer) in self.authorizations and self._unrevoked(payer, signer, self.now)

    def _unrevoked(self, payer: Address, signer: Address, now: int) -> bool:
        revoked_at = self.revocations.get((payer, signer), 0)
        return revoked_at == 0 or now < revoked_at

    def operator(self) -> Address:
        return self._operator

    def tokens(self) -> list[Address]:
        return list(self.allowed)

    def is_token_allowed(self, token: Address) -> bool:
        return self.allowed.get(token, False)

    def withdraw_delay(self) -> int:
        return self._withdraw_delay

    def domain_separator(self) -> bytes:
        return self.domain.separator

    def token_info(self, token: Address) -> TokenInfo:
        if token not in self.token_infos:
            raise NotAToken(f"{token} does not answer as an ERC-20 token")
        return self.token_infos[token]

    def token_balance(self, token: Address, holder: Address) -> int:
        return self.holdings.get((token, holder), 0)

    def permit_nonce(self, token: Address, owner: Address) -> int:
        return 0

    # ------------------------------------------------------------------ time and blocks

    def advance(self, seconds: int) -> None:
        """Moves the clock; the next block is stamped with it."""
        self.now += seconds

    def mine(self, blocks: int = 1) -> None:
        for _ in range(blocks):
            self._mine([])

    def reorg(self, depth: int) -> None:
        """The last `depth` blocks are replaced by others with the same transactions (new hashes,
        same events): what the indexer must notice when it already applied them."""
        self._reorgs += 1
        for old in self._blocks[-depth:]:
            new_hash = self._hash(old.number)
            old.events = [replace(e, at=replace(e.at, block_hash=new_hash)) for e in old.events]
            old.hash = new_hash

    def _hash(self, number: int) -> bytes:
        seed = number.to_bytes(8, "big") + self._chain_id.to_bytes(8, "big") + self._reorgs.to_bytes(4, "big")
        return keccak(b"fake block" + seed)

    def next_timestamp(self) -> int:
        """The time of the next block: the clock, and always after the last block."""
        return max(self.now, self._blocks[-1].timestamp + 1)

    def _mine(self, pending: list[Any], tx_hash: bytes | None = None) -> list[ev.HubEvent]:
        """Mines one block holding one transaction's events (built from (cls, kwargs) pairs)."""
        number = self.head() + 1
        self.now = self.next_timestamp()
        block_hash = self._hash(number)
        tx_hash = tx_hash or keccak(b"fake tx" + number.to_bytes(8, "big"))
        built = [
            cls(at=ev.Position(number, block_hash, index, tx_hash, self.now), **fields)
            for index, (cls, fields) in enumerate(pending)
        ]
        self._blocks.append(_Block(number, block_hash, self.now, built))
        return built

    # ------------------------------------------------------------------ owner

    def allow_token(
        self, token: Address, allowed: bool = True, symbol: str = "USDC", decimals: int = 6
    ) -> None:
        self.allowed[token] = allowed
        self.token_infos.setdefault(token, TokenInfo(token, symbol, f"Test {symbol}", decimals, None))
        self._mine([(ev.TokenAllowed, {"token": token, "allowed": allowed})])

    def set_fee(self, fee_bps: int, recipient: Address) -> None:
        if fee_bps > MAX_FEE_BPS:
            raise Reverted("FeeTooHigh", (fee_bps,))
        self.fee_bps, self.fee_recipient = fee_bps, recipient
        self._mine([(ev.FeeSet, {"fee_bps": fee_bps, "recipient": recipient})])

    def set_operator(self, operator: Address) -> None:
        self._operator = operator
        self._mine([(ev.OperatorSet, {"operator": operator})])

    # ------------------------------------------------------------------ payers

    def deposit(self, payer: Address, token: Address, amount: int, sender: Address | None = None) -> None:
        if not self.is_token_allowed(token):
            raise Reverted("TokenNotAllowed", (token,))
        self._add(self.balances, (payer, token), amount)
        self._add(self.holdings, (token, self._address), amount)
        self._mine(
            [(ev.Deposited, {"payer": payer, "token": token, "sender": sender or payer, "amount": amount})]
        )

    def request_withdrawal(self, payer: Address, token: Address, amount: int) -> int:
        available_at = self.next_timestamp() + self._withdraw_delay
        self.withdrawals[(payer, token)] = (amount, available_at)
        fields = {"payer": payer, "token": token, "amount": amount, "available_at": available_at}
        self._mine([(ev.WithdrawalRequested, fields)])
        return available_at

    def cancel_withdrawal(self, payer: Address, token: Address) -> None:
        self.withdrawals.pop((payer, token), None)
        self._mine([(ev.WithdrawalCancelled, {"payer": payer, "token": token})])

    def withdraw(self, payer: Address, token: Address) -> int:
        amount, available_at = self.withdrawals.get((payer, token), (0, 0))
        if amount == 0 or self.next_timestamp() < available_at:
            raise Reverted("WithdrawalNotReady", (available_at,))
        paid = min(amount, self.balance_of(payer, token))
        del self.withdrawals[(payer, token)]
        self._add(self.balances, (payer, token), -paid)
        self._add(self.holdings, (token, self._address), -paid)
        self._mine([(ev.Withdrawn, {"payer": payer, "token": token, "amount": paid})])
        return paid

    def authorize_signer(self, payer: Address, signer: Address) -> None:
        """`authorizeSigner(signer)` sent by `payer`: the key signs with the payer's full authority
        until a revocation takes effect. A revoked key cannot be authorized again."""
        if int(signer, 16) == 0:
            raise Reverted("InvalidSigner", ())
        if (payer, signer) in self.revocations:
            raise Reverted("SignerAlreadyRevoked", (signer, self.revocations[(payer, signer)]))
        self.authorizations.add((payer, signer))
        self._mine([(ev.SignerAuthorized, {"payer": payer, "signer": signer})])

    def revoke_signer(self, payer: Address, signer: Address) -> int:
        """Takes effect after withdrawDelay; revoking again never postpones it."""
        effective_at = self.revocations.get((payer, signer)) or self.next_timestamp() + self._withdraw_delay
        self.revocations[(payer, signer)] = effective_at
        self._mine([(ev.SignerRevoked, {"payer": payer, "signer": signer, "effective_at": effective_at})])
        return effective_at

    def withdraw_earnings(self, payee: Address, token: Address, to: Address) -> int:
        amount = self.earnings.pop((payee, token), 0)
        self._add(self.holdings, (token, self._address), -amount)
        self._add(self.holdings, (token, to), amount)
        self._mine([(ev.EarningsWithdrawn, {"payee": payee, "token": token, "to": to, "amount": amount})])
        return amount

    # ------------------------------------------------------------------ claims

    def claim(
        self, sender: Address, token: Address, data: bytes, tx_hash: bytes | None = None
    ) -> list[ev.HubEvent]:
        """`claim(token, data)` sent by `sender`: one VoucherClaimed or VoucherSkipped per block,
        then one Earned per payee paid (and the fee recipient's). Raises Reverted where the hub
        reverts the whole claim; then nothing changes."""
        pending, state = self._judge(sender, token, data)
        self.balances, self.claimed, self.earnings = state
        return self._mine(pending, tx_hash)

    def preview_claim(
        self, sender: Address, token: Address, data: bytes
    ) -> list[tuple[type, dict[str, Any]]]:
        """What `claim` would emit now, changing nothing (eth_call)."""
        return self._judge(sender, token, data)[0]

    def _judge(self, sender: Address, token: Address, data: bytes) -> tuple[list[Any], tuple[Any, Any, Any]]:
        """The claim's events and the state after it, computed on copies."""
        if not self.is_token_allowed(token):
            raise Reverted("TokenNotAllowed", (token,))
        try:
            blocks = decode_claim(data, token)
        except MalformedClaim as error:
            raise Reverted("MalformedClaim", (error.offset,)) from error
        balances = dict(self.balances)
        claimed = dict(self.claimed)
        gross: dict[Address, int] = {}
        pending: list[Any] = []
        for block in blocks:
            voucher = block.voucher
            key = (voucher.payer, token, voucher.lane)
            now = self.next_timestamp()  # of the block this transaction is mined in
            facts, signer = self._facts(sender, block, now)
            lane = ledger.ChainLane(
                claimed=claimed.get(key, ()),
                balance=balances.get((voucher.payer, token), 0),
                revoked_at=self.revocations.get((voucher.payer, signer), 0) if block.grant else 0,
                now=now,
            )
            reason = ledger.claim_outcome(facts, lane)
            valid = reason is not ledger.SkipReason.ENTRIES_INVALID
            commitment = entries_hash(voucher.entries) if valid else ZERO_HASH
            fields = {
                "payer": voucher.payer,
                "token": token,
                "lane": voucher.lane,
                "entries_hash": commitment,
            }
            if reason is not None:
                pending.append((ev.VoucherSkipped, {**fields, "reason": reason}))
                continue
            amount = ledger.total(voucher.entries) - ledger.total(block.previous)
            balances[(voucher.payer, token)] = lane.balance - amount
            claimed[key] = voucher.entries
            before = ledger.amounts(block.previous)
            for entry in voucher.entries:
                delta = entry.cumulative_amount - before.get(entry.payee, 0)
                if delta:
                    gross[entry.payee] = gross.get(entry.payee, 0) + delta
            pending.append((ev.VoucherClaimed, {**fields, "signer": signer, "amount": amount}))
        earnings = dict(self.earnings)
        fees = 0
        for payee, amount in gross.items():
            fee = amount * self.fee_bps // 10_000 if self.fee_recipient else 0
            fees += fee
            earnings[(payee, token)] = earnings.get((payee, token), 0) + amount - fee
            pending.append((ev.Earned, {"payee": payee, "token": token, "amount": amount - fee, "fee": fee}))
        if fees and self.fee_recipient is not None:
            key_fee = (self.fee_recipient, token)
            earnings[key_fee] = earnings.get(key_fee, 0) + fees
            pending.append(
                (ev.Earned, {"payee": self.fee_recipient, "token": token, "amount": fees, "fee": 0})
            )
        return pending, (balances, claimed, earnings)

    def _facts(self, sender: Address, block: ClaimBlock, now: int) -> tuple[ledger.BlockFacts, Address]:
        """What the block's signatures prove at `now`, checked as the hub checks them; and who signed."""
        domain = self.domain
        voucher_digest = digest(domain, block.voucher)
        acknowledged = sender == self._operator or (
            block.acknowledgement is not None
            and recover(digest(domain, Acknowledgement(voucher_digest)), block.acknowledgement)
            == self._operator
        )
        payer = block.voucher.payer
        recovered = recover(voucher_digest, block.signature)
        authorized = recovered is not None and (payer, recovered) in self.authorizations
        payer_signed = recovered == payer or (
            recovered is not None and authorized and self._unrevoked(payer, recovered, now)
        )
        signer = recovered if payer_signed and recovered is not None else payer
        grant = block.grant.grant if block.grant else None
        grant_valid = False
        if block.grant is not None and grant is not None and not payer_signed:
            signer = grant.signer
            grant_valid = (
                self._signed_by(payer, digest(domain, grant), block.grant.signature, now)
                and (grant.payer, grant.token, grant.lane) == (payer, block.voucher.token, block.voucher.lane)
                and recovered == grant.signer
            )
        facts = ledger.BlockFacts(
            block.previous,
            block.voucher,
            acknowledged,
            payer_signed,
            grant,
            grant_valid,
            signer_revoked=authorized and not payer_signed,
        )
        return facts, signer

    def _signed_by(self, payer: Address, message_digest: bytes, signature: bytes, now: int) -> bool:
        """Recovers the payer, or a key the payer authorized whose revocation has not taken effect."""
        recovered = recover(message_digest, signature)
        if recovered is None:
            return False
        return recovered == payer or (
            (payer, recovered) in self.authorizations and self._unrevoked(payer, recovered, now)
        )

    @staticmethod
    def _add(table: dict[Any, int], key: Any, delta: int) -> None:
        table[key] = table.get(key, 0) + delta


class FakeOperator:
    """The operator's key against a FakeHub, with the methods app.services.transactions uses:
    a sent transaction is mined at once (or kept in the pool with `hold()`, to test pending
    claims), its gas is a simple function of its size."""

    def __init__(self, hub: FakeHub, address: Address | None = None) -> None:
        self._hub = hub
        self._address = address or hub.operator()
        self._nonce = 0
        self._pool: dict[bytes, tuple[Call, int]] = {}  # raw -> (call, nonce)
        self._hashes: dict[bytes, bytes] = {}  # tx hash -> raw
        self._mined: dict[bytes, Mined] = {}
        self.holding = False

    @property
    def address(self) -> Address:
        return self._address

    def hold(self, holding: bool = True) -> None:
        """While holding, broadcast transactions wait in the pool; `release()` mines them."""
        self.holding = holding

    def release(self) -> None:
        self.holding = False
        for raw in list(self._pool):
            self._execute(raw)

    def encode(self, function: str, *args: Any) -> Call:
        raise NotImplementedError("build the call with app.chain.calls")

    def simulate(self, call: Call) -> None:
        token, data = self._claim_args(call)
        self._hub.preview_claim(self._address, token, data)

    def estimate_gas(self, call: Call) -> int:
        token, data = self._claim_args(call)
        blocks = len(decode_claim(data, token))
        return GAS_PER_CLAIM + GAS_PER_BLOCK * blocks + GAS_PER_BYTE * len(call.data)

    def fees(self) -> tuple[int, int]:
        return 2 * 10**9, 10**9

    def nonce(self, block: str = "latest") -> int:
        return self._nonce + (len(self._pool) if block == "pending" else 0)

    def sign(self, call: Call, nonce: int, gas: int, max_fee: int, priority_fee: int) -> tuple[bytes, bytes]:
        raw = nonce.to_bytes(8, "big") + max_fee.to_bytes(16, "big") + call.data
        tx_hash = keccak(raw)
        self._hashes[tx_hash] = raw
        self._pool.setdefault(raw, (call, nonce))
        return raw, tx_hash

    def broadcast(self, raw: bytes) -> Broadcast:
        if raw not in self._pool:
            return Broadcast.NONCE_USED
        if not self.holding:
            self._execute(raw)
        return Broadcast.SENT

    def receipt(self, tx_hash: bytes) -> Mined | None:
        return self._mined.get(tx_hash)

    def is_pending(self, tx_hash: bytes) -> bool:
        return tx_hash in self._mined or self._hashes.get(tx_hash) in self._pool

    def _execute(self, raw: bytes) -> None:
        call, nonce = self._pool.pop(raw)
        # other signatures of the same nonce (fee bumps) can no longer be mined
        for other, (_, other_nonce) in list(self._pool.items()):
            if other_nonce == nonce:
                del self._pool[other]
        tx_hash = keccak(raw)
        token, data = self._claim_args(call)
        try:
            self._hub.claim(self._address, token, data, tx_hash)
            success = True
        except Reverted:
            self._hub.mine()
            success = False
        self._nonce = max(self._nonce, nonce + 1)
        self._mined[tx_hash] = Mined(self._hub.head(), success, self.estimate_gas(call))

    @staticmethod
    def _claim_args(call: Call) -> tuple[Address, bytes]:
        if call.data[:4] != selector("claim"):
            raise NotImplementedError(f"the fake operator sends claims only, not {call.name}")
        token, data = decode(["address", "bytes"], call.data[4:])
        return to_address(token), bytes(data)


_IS_A_HUB: type[Hub] = FakeHub
