"""Attacks on the hub's one promise: what the server acknowledges, the chain pays, in full, whoever tries
what. Each test is one attack. Those that say "Was FINDING" pin a hole the review found and its fix; the
others pin an attack that the hub defends and that no other test covered."""

from __future__ import annotations

from dataclasses import replace
from enum import IntEnum

from eth_account.signers.local import LocalAccount
from web3.contract import Contract

from app.chain.deploy import contract, deploy_hub
from app.core.claims import ClaimBlock, encode_claim
from app.core.eip712 import Acknowledgement, Domain, Entries, PayerVoucher, digest, entries_hash
from app.core.types import UINT128_MAX
from tests.conftest import WITHDRAW_DELAY
from tests.contracts.lanes import (
    acknowledge,
    claimed,
    claimed_event,
    entries,
    make_grant,
    make_voucher,
    raw_block,
    raw_claim,
    send_raw,
    signed_block,
    skipped,
    skipped_event,
)
from tests.contracts.test_weird_tokens import arm, assert_solvent, held, reentrant_setup
from tests.factories import Chain, new_key, reverts_with, sign, sign_digest, to_compact, to_high_s

DEPOSIT = 10_000_000
ERC1271_MAGIC = bytes.fromhex("1626ba7e")


class Mode(IntEnum):
    """MockERC1271Wallet.Mode"""

    VALID = 0
    INVALID = 1


def funded_payer(chain: Chain, index: int = 1, amount: int = DEPOSIT) -> LocalAccount:
    payer = chain.accounts[index]
    chain.deposit(payer, amount)
    return payer


def fund_address(chain: Chain, payer: str, amount: int = DEPOSIT) -> None:
    chain.send(chain.usdc.functions.approve(chain.hub.address, amount), chain.owner)
    chain.send(chain.hub.functions.depositFor(payer, chain.usdc.address, amount), chain.owner)


def payees(count: int) -> list[str]:
    return sorted((new_key().address for _ in range(count)), key=lambda a: int(a, 16))


def acknowledged(
    chain: Chain, voucher: PayerVoucher, signer: LocalAccount, previous: Entries = ()
) -> ClaimBlock:
    """A block as a creator holds it: the voucher, its signature and the operator's acknowledgement."""
    return signed_block(
        chain, voucher, signer, previous=previous, acknowledgement=acknowledge(chain, voucher)
    )


def wallet_call(chain: Chain, wallet: Contract, owner: LocalAccount, function: str, *args: object) -> None:
    data = bytes.fromhex(chain.hub.encode_abi(function, list(args))[2:])
    chain.send(wallet.functions.execute(chain.hub.address, 0, data), owner)


def set_code(chain: Chain, address: str, code: bytes) -> None:
    chain.w3.provider.make_request("anvil_setCode", [address, "0x" + code.hex()])  # type: ignore[arg-type]


def returning(data: bytes) -> bytes:
    """EVM code that returns `data` whatever it is called with."""
    padded = data + bytes(-len(data) % 32)
    code = b""
    for at in range(0, len(padded), 32):
        code += b"\x7f" + padded[at : at + 32] + b"\x61" + at.to_bytes(2, "big") + b"\x52"  # MSTORE(at, word)
    return code + b"\x61" + len(data).to_bytes(2, "big") + b"\x60\x00\xf3"  # RETURN(0, len)


def valid_unless_called_by(caller: str) -> bytes:
    """EVM code of an EIP-1271 wallet that returns the magic word to everyone except `caller`."""
    magic_word = ERC1271_MAGIC.ljust(32, b"\0")
    return (
        b"\x73" + bytes.fromhex(caller[2:]) + b"\x33\x14"  # PUSH20 caller, CALLER, EQ
        + b"\x60\x43\x57"  # PUSH1 0x43, JUMPI
        + b"\x7f" + magic_word + b"\x60\x00\x52"  # MSTORE(0, magic)
        + b"\x60\x20\x60\x00\xf3"  # RETURN(0, 32)
        + b"\x5b\x60\x20\x60\x00\xf3"  # JUMPDEST, RETURN(0, 32) of zeros
    )  # fmt: skip


def mine_at(chain: Chain, timestamp: int) -> None:
    """The next block (the next transaction) is mined at exactly `timestamp`."""
    chain.w3.provider.make_request("evm_setNextBlockTimestamp", [timestamp])  # type: ignore[arg-type]


# ================================================================ findings of the review, now closed


def test_a_contract_payer_cannot_void_its_acknowledged_vouchers(chain: Chain) -> None:
    """Was FINDING (high): an EIP-1271 payer's signature was re-checked by the wallet at claim time, and
    the wallet's answer is the payer's to change (a mode switch, an owner rotation, an upgrade): the payer
    flipped the wallet, requested its withdrawal, and the creator's claim was skipped. Now the wallet
    authorizes its owner's key on chain once; what the key signed stays claimable whatever the wallet
    answers later, and a revocation (like the withdrawal) waits the delay, which the creator claims in."""
    owner, creator = chain.accounts[3], chain.accounts[4]
    wallet = chain.deploy("MockERC1271Wallet", owner.address)
    fund_address(chain, wallet.address)
    wallet_call(chain, wallet, owner, "authorizeSigner", owner.address)
    voucher = make_voucher(chain, wallet.address, {creator.address: DEPOSIT})
    block = acknowledged(chain, voucher, owner)  # accepted: the key is authorized on chain

    chain.send(wallet.functions.setMode(Mode.INVALID), owner)
    wallet_call(chain, wallet, owner, "revokeSigner", owner.address)
    wallet_call(chain, wallet, owner, "requestWithdrawal", chain.usdc.address, DEPOSIT)
    receipt = chain.claim([block], sender=creator)
    chain.increase_time(WITHDRAW_DELAY)
    wallet_call(chain, wallet, owner, "withdraw", chain.usdc.address)

    assert skipped(chain, receipt) == [], "the acknowledged voucher was skipped"
    assert claimed(chain, receipt) == [claimed_event(voucher, owner.address, DEPOSIT)]
    assert chain.earnings(creator.address) == DEPOSIT
    assert chain.balance(wallet.address) == 0


def test_the_servers_view_of_a_contract_payer_agrees_with_the_hub(chain: Chain) -> None:
    """Was FINDING (high, same root): the server asked the wallet by eth_call, where it saw msg.sender =
    0x0, while on chain it saw the hub, so a wallet could say yes to the server and no to the hub. Now
    the hub never asks the wallet: the server reads isAuthorizedSigner, the same state the hub pays by.
    A wallet that answers EIP-1271 yes to everyone but the hub gets nothing paid without an
    authorization, and everything its authorized key signs with one."""
    payer, shop, key = new_key().address, payees(1)[0], new_key()
    set_code(chain, payer, valid_unless_called_by(chain.hub.address))
    fund_address(chain, payer)
    voucher = make_voucher(chain, payer, {shop: 500})

    def server_accepts(signer: str) -> bool:
        return bool(chain.hub.functions.isAuthorizedSigner(payer, signer).call())

    def chain_pays(block: ClaimBlock) -> bool:
        return claimed(chain, chain.claim([block])) == [claimed_event(voucher, key.address, 500)]

    assert not server_accepts(key.address)
    receipt = chain.claim([ClaimBlock(voucher=voucher, signature=bytes(65))])
    assert skipped(chain, receipt) == [skipped_event(voucher, "BadSignature")]
    receipt = chain.claim([signed_block(chain, voucher, key)])
    assert skipped(chain, receipt) == [skipped_event(voucher, "BadSignature")]

    # The wallet's own transaction (anvil impersonates the contract).
    chain.w3.provider.make_request("anvil_impersonateAccount", [payer])  # type: ignore[arg-type]
    chain.fund_eth(payer)
    chain.send(chain.hub.functions.authorizeSigner(key.address), payer)
    assert server_accepts(key.address)
    assert chain_pays(signed_block(chain, voucher, key))


def test_a_withdraw_delay_below_ten_minutes_is_refused(chain: Chain) -> None:
    """Was FINDING (medium): the constructor took any withdrawDelay up to 30 days, 0 included, and with a
    delay shorter than the time the settler needs, a payer withdrew (or revoked its key) before the
    acknowledged voucher was claimed. Now MIN_WITHDRAW_DELAY (10 minutes) is the floor."""
    assert chain.hub.functions.MIN_WITHDRAW_DELAY().call() == 600
    for delay in (0, 599):
        with reverts_with(chain.hub, "InvalidWithdrawDelay", delay):
            deploy_hub(chain.w3, chain.owner.address, [chain.usdc.address], withdraw_delay=delay)
    deployment = deploy_hub(chain.w3, chain.owner.address, [chain.usdc.address], withdraw_delay=600)
    hub = contract(chain.w3, "MicropaymentHub", deployment.hub)
    fast = replace(chain, hub=hub)
    payer, creator = funded_payer(fast, index=2, amount=DEPOSIT), chain.accounts[4]
    voucher = make_voucher(fast, payer.address, {creator.address: DEPOSIT})
    block = acknowledged(fast, voucher, payer)

    fast.send(hub.functions.requestWithdrawal(chain.usdc.address, DEPOSIT), payer)
    with reverts_with(hub, "WithdrawalNotReady", fast.timestamp() + 600):
        fast.send(hub.functions.withdraw(chain.usdc.address), payer)
    receipt = fast.claim([block], sender=creator)

    assert skipped(fast, receipt) == [], "the acknowledged voucher was skipped"
    assert fast.earnings(creator.address) == DEPOSIT


def test_a_stranger_cannot_sweep_a_payers_allowance_into_the_hub(chain: Chain) -> None:
    """Was FINDING (low): depositWithPermit fell back to the payer's existing allowance when the permit
    failed, whoever called it. Now only the payer or the operator gets the fallback; anyone else with a
    failing permit gets PermitFailed(0, amount)."""
    payer, stranger = chain.accounts[5], chain.accounts[6]
    chain.send(chain.usdc.functions.approve(chain.hub.address, DEPOSIT), payer)
    before = int(chain.usdc.functions.balanceOf(payer.address).call())

    zero = bytes(32)
    with reverts_with(chain.hub, "PermitFailed", 0, DEPOSIT):
        chain.send(
            chain.hub.functions.depositWithPermit(
                payer.address, chain.usdc.address, DEPOSIT, 0, 0, zero, zero
            ),
            stranger,
        )
    assert int(chain.usdc.functions.balanceOf(payer.address).call()) == before
    assert chain.balance(payer.address) == 0


# ================================================================ acknowledgements


def test_an_acknowledgement_binds_its_lane_token_purchase_hub_and_type(chain: Chain) -> None:
    payer, creator = funded_payer(chain), chain.accounts[4]
    other_token = chain.deploy("TestStablecoin")
    chain.allow_token(other_token)
    chain.send(other_token.functions.mint(payer.address, DEPOSIT), chain.owner)
    chain.deposit(payer, DEPOSIT, token=other_token)
    [shop] = payees(1)
    voucher = make_voucher(chain, payer.address, {shop: 100})
    ack = acknowledge(chain, voucher)
    other_hub = Domain(chain.domain.chain_id, new_key().address)
    other_chain = Domain(chain.domain.chain_id + 1, chain.domain.hub)
    voucher_digest = digest(chain.domain, voucher)

    attempts = {
        "another lane": (replace(voucher, lane=1), ack),
        "another purchase": (replace(voucher, purchase=bytes(32)), ack),
        "another amount": (make_voucher(chain, payer.address, {shop: 101}, purchase=voucher.purchase), ack),
        "another hub": (voucher, sign(chain.owner.key, other_hub, Acknowledgement(voucher_digest))),
        "another chain": (voucher, sign(chain.owner.key, other_chain, Acknowledgement(voucher_digest))),
        "the voucher digest signed bare": (voucher, sign_digest(chain.owner.key, voucher_digest)),
        "the voucher signed as a voucher": (voucher, sign(chain.owner.key, chain.domain, voucher)),
        "a high-s acknowledgement": (voucher, to_high_s(ack)),
        "v = 0/1": (voucher, ack[:64] + bytes([ack[64] - 27])),
    }
    for name, (target, acknowledgement) in attempts.items():
        block = signed_block(chain, target, payer, acknowledgement=acknowledgement)
        receipt = chain.claim([block], sender=creator)
        assert skipped(chain, receipt) == [skipped_event(target, "NotAcknowledged")], name

    token_voucher = replace(voucher, token=other_token.address)
    receipt = chain.claim(
        [signed_block(chain, token_voucher, payer, acknowledgement=ack)], sender=creator, token=other_token
    )
    assert skipped(chain, receipt) == [skipped_event(token_voucher, "NotAcknowledged")]
    assert chain.balance(payer.address) == DEPOSIT

    # The genuine one, in its compact EIP-2098 form, still works.
    receipt = chain.claim(
        [signed_block(chain, voucher, payer, acknowledgement=to_compact(ack))], sender=creator
    )
    assert claimed(chain, receipt) == [claimed_event(voucher, payer.address, 100)]


def test_a_payer_cannot_claim_around_the_server_with_a_voucher_to_its_second_address(chain: Chain) -> None:
    payer, second = funded_payer(chain), chain.accounts[5]
    voucher = make_voucher(chain, payer.address, {second.address: DEPOSIT})
    for sender in (payer, second):
        receipt = chain.claim([signed_block(chain, voucher, payer)], sender=sender)
        assert skipped(chain, receipt) == [skipped_event(voucher, "NotAcknowledged")]
    # An acknowledgement the payer signs itself is no better.
    fake = sign(payer.key, chain.domain, Acknowledgement(digest(chain.domain, voucher)))
    receipt = chain.claim([signed_block(chain, voucher, payer, acknowledgement=fake)], sender=second)
    assert skipped(chain, receipt) == [skipped_event(voucher, "NotAcknowledged")]
    assert chain.balance(payer.address) == DEPOSIT


def test_the_old_operator_loses_its_sender_right_at_once_after_set_operator(chain: Chain) -> None:
    payer, successor = funded_payer(chain), chain.accounts[7]
    [shop] = payees(1)
    voucher = make_voucher(chain, payer.address, {shop: 100})
    chain.send(chain.hub.functions.setOperator(successor.address), chain.owner)

    receipt = chain.claim([signed_block(chain, voucher, payer)], sender=chain.owner)
    assert skipped(chain, receipt) == [skipped_event(voucher, "NotAcknowledged")]
    by_successor = acknowledge(chain, voucher, operator=successor)
    receipt = chain.claim(
        [signed_block(chain, voucher, payer, acknowledgement=by_successor)], sender=chain.owner
    )
    assert claimed(chain, receipt) == [claimed_event(voucher, payer.address, 100)]


# ================================================================ claiming twice, more, or out of order


def test_the_same_block_twice_in_one_claim_pays_once(chain: Chain) -> None:
    payer = funded_payer(chain)
    [shop] = payees(1)
    voucher = make_voucher(chain, payer.address, {shop: 300})
    block = signed_block(chain, voucher, payer)

    receipt = chain.claim([block, block])

    # The second copy still says the lane was empty: the first one moved the commitment.
    assert claimed(chain, receipt) == [claimed_event(voucher, payer.address, 300)]
    assert skipped(chain, receipt) == [skipped_event(voucher, "PreviousMismatch")]
    assert chain.earnings(shop) == 300
    assert chain.balance(payer.address) == DEPOSIT - 300


def test_a_creator_cannot_claim_more_than_the_signed_vector_by_lowering_previous(chain: Chain) -> None:
    payer = funded_payer(chain)
    [shop] = payees(1)
    first = make_voucher(chain, payer.address, {shop: 100})
    chain.claim([signed_block(chain, first, payer)])
    later = make_voucher(chain, payer.address, {shop: 150})
    # previous 0 on a claimed lane (as if empty), or a previous below what was claimed: both mismatch.
    for previous in ((), entries({shop: 1})):
        receipt = chain.claim(
            [acknowledged(chain, later, payer, previous=previous)], sender=chain.accounts[4]
        )
        assert skipped(chain, receipt) == [skipped_event(later, "PreviousMismatch")]
    assert chain.earnings(shop) == 100


def test_an_empty_lane_refuses_a_non_zero_previous(chain: Chain) -> None:
    payer = funded_payer(chain)
    [shop] = payees(1)
    voucher = make_voucher(chain, payer.address, {shop: 150})
    receipt = chain.claim([signed_block(chain, voucher, payer, previous=entries({shop: 50}))])
    assert skipped(chain, receipt) == [skipped_event(voucher, "PreviousMismatch")]
    assert chain.balance(payer.address) == DEPOSIT


def test_a_vector_that_lowers_a_payee_cannot_be_claimed_after_a_higher_one(chain: Chain) -> None:
    payer = funded_payer(chain)
    shop, blog = payees(2)
    high = make_voucher(chain, payer.address, {shop: 500})
    chain.claim([signed_block(chain, high, payer)])
    # A vector that lowers shop but adds blog: previous cannot exceed next, and a previous of 0 mismatches.
    lower = make_voucher(chain, payer.address, {shop: 100, blog: 600})
    receipt = chain.claim([signed_block(chain, lower, payer, previous=entries({shop: 500}))])
    assert skipped(chain, receipt) == [skipped_event(lower, "EntriesInvalid", hashed=False)]
    receipt = chain.claim([signed_block(chain, lower, payer, previous=())])
    assert skipped(chain, receipt) == [skipped_event(lower, "PreviousMismatch")]
    assert chain.balance(payer.address) == DEPOSIT - 500


# ================================================================ the earnings accumulator


def test_one_payee_at_two_table_indices_is_credited_for_both_blocks(chain: Chain) -> None:
    first, second = funded_payer(chain, 1), funded_payer(chain, 2)
    [shop] = payees(1)
    one = make_voucher(chain, first.address, {shop: 100})
    two = make_voucher(chain, second.address, {shop: 250})
    data = raw_claim(
        [shop, shop],
        raw_block(
            first.address, [(0, 0, 100)], signature=sign(first.key, chain.domain, one), purchase=one.purchase
        ),
        raw_block(
            second.address,
            [(1, 0, 250)],
            signature=sign(second.key, chain.domain, two),
            purchase=two.purchase,
        ),
    )
    receipt = send_raw(chain, data)
    assert len(claimed(chain, receipt)) == 2
    assert chain.earnings(shop) == 350
    assert chain.balance(first.address) + chain.balance(second.address) == 2 * DEPOSIT - 350


def test_one_payee_at_two_table_indices_in_one_block_is_entries_invalid(chain: Chain) -> None:
    payer = funded_payer(chain)
    [shop] = payees(1)
    data = raw_claim([shop, shop], raw_block(payer.address, [(0, 0, 100), (1, 0, 100)]))
    receipt = send_raw(chain, data)
    assert [e["reason"] for e in skipped(chain, receipt)] == [0]
    assert chain.earnings(shop) == 0


def test_a_block_skipped_halfway_through_its_entries_takes_back_exactly_what_it_added(chain: Chain) -> None:
    payer, other = funded_payer(chain, 1), funded_payer(chain, 2)
    low, high = payees(2)
    good = make_voucher(chain, other.address, {low: 70, high: 30})
    too_much = make_voucher(chain, other.address, {low: DEPOSIT, high: 31})
    blocks = [
        # Valid first entry (adds 1_000 to low), then an index outside the table.
        raw_block(payer.address, [(0, 0, 1_000), (7, 0, 5)], lane=1),
        # Both entries valid, then the third descends: adds 2_000 and 3_000 before breaking.
        raw_block(payer.address, [(0, 0, 2_000), (1, 0, 3_000), (0, 0, 9)], lane=2),
        # Fully scanned, then skipped later (bad signature): its deltas are taken back too.
        raw_block(payer.address, [(0, 0, 4_000), (1, 0, 5_000)], lane=3),
        raw_block(
            other.address, [(0, 0, 70), (1, 0, 30)], signature=sign(other.key, chain.domain, good),
            purchase=good.purchase,
        ),
        # Above the balance: scanned, signed, skipped.
        raw_block(
            other.address, [(0, 70, DEPOSIT), (1, 30, 31)], lane=0,
            signature=sign(other.key, chain.domain, too_much), purchase=too_much.purchase,
        ),
    ]  # fmt: skip
    receipt = send_raw(chain, raw_claim([low, high], *blocks))
    assert [e["reason"] for e in skipped(chain, receipt)] == [0, 0, 4, 9]
    assert (chain.earnings(low), chain.earnings(high)) == (70, 30)
    assert chain.events(receipt, "Earned") == [
        {"payee": low, "token": chain.usdc.address, "amount": 70, "fee": 0},
        {"payee": high, "token": chain.usdc.address, "amount": 30, "fee": 0},
    ]


# ================================================================ 128-bit amounts


def test_amounts_near_two_to_the_128_never_wrap(chain: Chain) -> None:
    payer = chain.accounts[8]
    chain.send(chain.usdc.functions.mint(payer.address, UINT128_MAX), chain.owner)
    chain.deposit(payer, UINT128_MAX - 1)
    balance = chain.balance(payer.address)
    assert balance == UINT128_MAX - 1
    crowd = payees(32)

    # 32 entries of 2^128 - 1: the delta is ~2^133, above any balance; no wrap to something small.
    huge = make_voucher(chain, payer.address, dict.fromkeys(crowd, UINT128_MAX))
    receipt = chain.claim([signed_block(chain, huge, payer)])
    assert skipped(chain, receipt) == [skipped_event(huge, "InsufficientBalance")]

    # A key's cap of 2^128 - 1 against a vector totalling 2^128: over the cap, not truncated under it.
    key = new_key()
    grant = make_grant(chain, payer, key.address, max_total=UINT128_MAX, lane=1)
    over = make_voucher(chain, payer.address, {crowd[0]: 2**127, crowd[1]: 2**127}, lane=1)
    receipt = chain.claim([signed_block(chain, over, key, grant=grant)])
    assert skipped(chain, receipt) == [skipped_event(over, "CapExceeded")]

    # Exactly the balance pays, split over two lanes whose deltas add up in one payee's accumulator.
    half = balance // 2
    first = make_voucher(chain, payer.address, {crowd[0]: half}, lane=2)
    second = make_voucher(chain, payer.address, {crowd[0]: balance - half}, lane=3)
    receipt = chain.claim([signed_block(chain, first, payer), signed_block(chain, second, payer)])
    assert len(claimed(chain, receipt)) == 2
    assert chain.balance(payer.address) == 0
    assert chain.earnings(crowd[0]) == balance


# ================================================================ malformed packed data


def test_lengths_that_point_past_the_end_revert(chain: Chain) -> None:
    payer = funded_payer(chain)
    [shop] = payees(1)
    header = 21  # payee count and one payee
    signature_at = header + 63 + 65  # what follows a 65-byte signature
    one_entry = raw_claim([shop], raw_block(payer.address, [(0, 0, 5)]))
    no_signature = raw_claim([shop], raw_block(payer.address, [(0, 0, 5)], signature=b""))
    with_grant = raw_claim([shop], raw_block(payer.address, [(0, 0, 5)], grant=bytes(44) + b"\xff\xff"))
    with_ack = raw_claim([shop], raw_block(payer.address, [], flags=2) + b"\xff\xff" + bytes(8))
    cases = {
        "sigLen 0xffff": (no_signature[: header + 61] + b"\xff\xff" + bytes(40), header + 61),
        "entry count 255 with one entry": (one_entry[:-34] + b"\xff" + one_entry[-33:], signature_at),
        "grantSigLen past the end": (with_grant, signature_at + 44),
        "ackLen past the end": (with_ack, signature_at),
        "payee count beyond the data": (b"\xff" + bytes(20 * 10), 1),
        "a trailing byte after the last block": (one_entry + b"\x00", signature_at + 1 + 33),
    }
    for name, (data, offset) in cases.items():
        with reverts_with(chain.hub, "MalformedClaim", offset):
            send_raw(chain, data)
        assert chain.balance(payer.address) == DEPOSIT, name


def test_a_table_without_blocks_changes_nothing(chain: Chain) -> None:
    payer = funded_payer(chain)
    receipt = send_raw(chain, raw_claim(payees(3)))
    assert chain.events(receipt, "Earned") == []
    assert skipped(chain, receipt) == []
    assert chain.balance(payer.address) == DEPOSIT


# ================================================================ grants at their edges


def test_a_grant_pays_at_exactly_valid_until_and_not_one_second_later(chain: Chain) -> None:
    payer = funded_payer(chain)
    key = new_key()
    [shop] = payees(1)
    valid_until = chain.timestamp() + 1_000
    grant = make_grant(chain, payer, key.address, max_total=1_000, valid_until=valid_until)
    first = make_voucher(chain, payer.address, {shop: 100})
    second = make_voucher(chain, payer.address, {shop: 200})

    mine_at(chain, valid_until)
    receipt = chain.claim([signed_block(chain, first, key, grant=grant)])
    assert claimed(chain, receipt) == [claimed_event(first, key.address, 100)]
    mine_at(chain, valid_until + 1)
    receipt = chain.claim([signed_block(chain, second, key, previous=first.entries, grant=grant)])
    assert skipped(chain, receipt) == [skipped_event(second, "SignerExpired")]


def test_a_revoked_key_pays_until_one_second_before_the_revocation(chain: Chain) -> None:
    payer = funded_payer(chain)
    key = new_key()
    [shop] = payees(1)
    grant = make_grant(
        chain, payer, key.address, max_total=1_000, valid_until=chain.timestamp() + 10 * WITHDRAW_DELAY
    )
    receipt = chain.send(chain.hub.functions.revokeSigner(key.address), payer)
    [event] = chain.events(receipt, "SignerRevoked")
    effective_at = event["effectiveAt"]
    first = make_voucher(chain, payer.address, {shop: 100})
    second = make_voucher(chain, payer.address, {shop: 200})

    mine_at(chain, effective_at - 1)
    receipt = chain.claim([signed_block(chain, first, key, grant=grant)])
    assert claimed(chain, receipt) == [claimed_event(first, key.address, 100)]
    mine_at(chain, effective_at)
    receipt = chain.claim([signed_block(chain, second, key, previous=first.entries, grant=grant)])
    assert skipped(chain, receipt) == [skipped_event(second, "SignerRevoked")]


def test_a_grant_in_another_encoding_or_by_the_key_itself_is_invalid(chain: Chain) -> None:
    payer = funded_payer(chain)
    key = new_key()
    [shop] = payees(1)
    grant = make_grant(chain, payer, key.address, max_total=1_000)
    voucher = make_voucher(chain, payer.address, {shop: 100})
    variants = {
        "high s": replace(grant, signature=to_high_s(grant.signature)),
        "v = 0/1": replace(grant, signature=grant.signature[:64] + bytes([grant.signature[64] - 27])),
        "signed by the key": make_grant(chain, payer, key.address, max_total=1_000, signed_by=key),
        "a larger cap than signed": replace(grant, grant=replace(grant.grant, max_total=2_000)),
        "a later expiry than signed": replace(grant, grant=replace(grant.grant, valid_until=2**64 - 1)),
    }
    for name, bad in variants.items():
        receipt = chain.claim([signed_block(chain, voucher, key, grant=bad)])
        assert skipped(chain, receipt) == [skipped_event(voucher, "GrantInvalid")], name
    compact = replace(grant, signature=to_compact(grant.signature))
    receipt = chain.claim([signed_block(chain, voucher, key, grant=compact)])
    assert claimed(chain, receipt) == [claimed_event(voucher, key.address, 100)]


def test_a_key_with_a_grant_from_one_payer_cannot_sign_for_another(chain: Chain) -> None:
    payer, victim = funded_payer(chain, 1), funded_payer(chain, 2)
    key = new_key()
    [shop] = payees(1)
    grant = make_grant(chain, payer, key.address, max_total=DEPOSIT)
    voucher = make_voucher(chain, victim.address, {shop: 100})
    receipt = chain.claim([signed_block(chain, voucher, key, grant=grant)])
    assert skipped(chain, receipt) == [skipped_event(voucher, "GrantInvalid")]
    assert chain.balance(victim.address) == DEPOSIT


# ================================================================ EIP-1271 answers


def test_no_eip1271_answer_pays_not_even_the_exact_magic_word(chain: Chain) -> None:
    """The hub never asks a contract payer at claim time (its answer could change after the
    acknowledgement): whatever the wallet returns, an unauthorized signature is BadSignature."""
    [shop] = payees(1)
    answers = {
        "magic with garbage after it": ERC1271_MAGIC + b"\x01" + bytes(27),
        "magic in 4 bytes only": ERC1271_MAGIC,
        "an empty answer": b"",
        "the magic word then more": ERC1271_MAGIC.ljust(32, b"\0") + b"\xff" * 32,
        "the magic word": ERC1271_MAGIC.ljust(32, b"\0"),
    }
    for lane, (name, answer) in enumerate(answers.items()):
        wallet = new_key().address
        set_code(chain, wallet, returning(answer))
        fund_address(chain, wallet, 1_000)
        voucher = make_voucher(chain, wallet, {shop: 100}, lane=lane)
        receipt = chain.claim([ClaimBlock(voucher=voucher, signature=b"\x00" * 65)])
        assert skipped(chain, receipt) == [skipped_event(voucher, "BadSignature")], name


# ================================================================ reentrancy and exits


def test_a_claim_reentered_from_a_withdrawals_transfer_cannot_spend_the_withdrawn_money(chain: Chain) -> None:
    """claim has no guard (it calls no token): a token that calls it from inside withdraw's transfer
    sees the balance already lowered, so the payer's exit and an acknowledged claim never both get it."""
    token, payer, payee, watched = reentrant_setup(chain)  # balance 2,000,000; 1,000,000 withdrawable
    voucher = make_voucher(chain, payer.address, {payee.address: 1_500_000}, lane=9, token=token)
    data = encode_claim([acknowledged(chain, voucher, payer)])
    arm(chain, token, "claim", token.address, data)

    receipt = chain.send(chain.hub.functions.withdraw(token.address), payer)

    assert skipped(chain, receipt) == [skipped_event(voucher, "InsufficientBalance")]
    assert chain.balance(payer.address, token) == 1_000_000
    assert_solvent(chain, token, watched)

    # What is left after the withdrawal is claimable from inside it, and no more.
    smaller = make_voucher(chain, payer.address, {payee.address: 600_000}, lane=9, token=token)
    chain.send(chain.hub.functions.requestWithdrawal(token.address, 400_000), payer)
    chain.increase_time(WITHDRAW_DELAY)
    arm(chain, token, "claim", token.address, encode_claim([acknowledged(chain, smaller, payer)]))
    before = held(token, payer.address)
    receipt = chain.send(chain.hub.functions.withdraw(token.address), payer)
    assert claimed(chain, receipt) == [claimed_event(smaller, payer.address, 600_000)]
    assert chain.balance(payer.address, token) == 0
    assert held(token, payer.address) == before + 400_000
    assert_solvent(chain, token, watched)


def test_a_claim_mined_one_second_before_available_at_beats_the_withdrawal(chain: Chain) -> None:
    payer, creator = funded_payer(chain), chain.accounts[4]
    receipt = chain.send(chain.hub.functions.requestWithdrawal(chain.usdc.address, DEPOSIT), payer)
    [event] = chain.events(receipt, "WithdrawalRequested")
    voucher = make_voucher(chain, payer.address, {creator.address: 4_000})

    mine_at(chain, event["availableAt"] - 1)
    receipt = chain.claim([acknowledged(chain, voucher, payer)], sender=creator)
    assert chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"] == event["availableAt"] - 1
    with reverts_with(chain.hub, "WithdrawalNotReady", event["availableAt"]):
        chain.send(chain.hub.functions.withdraw(chain.usdc.address), payer)
    mine_at(chain, event["availableAt"])
    chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    chain.send(chain.hub.functions.withdraw(chain.usdc.address), payer)

    assert chain.earnings(creator.address) == 4_000
    assert chain.balance(payer.address) == 0


# ================================================================ fees


def test_the_fee_is_rounded_down_per_payee_and_per_claim(chain: Chain) -> None:
    """Not a loss to anyone the server answers to (the payer pays the gross, the payee gets gross - fee),
    but a creator who claims in steps below 100 base units at 1% pays no fee: noted, and pinned."""
    payer = funded_payer(chain)
    [shop] = payees(1)
    recipient = chain.accounts[9].address
    chain.send(chain.hub.functions.setFee(100, recipient), chain.owner)
    previous: dict[str, int] = {}
    for step in range(1, 4):
        voucher = make_voucher(chain, payer.address, {shop: 99 * step})
        chain.claim([signed_block(chain, voucher, payer, previous=entries(previous))])
        previous = {shop: 99 * step}
    assert chain.earnings(shop) == 297
    assert chain.earnings(recipient) == 0
    assert chain.balance(payer.address) == DEPOSIT - 297
    assert entries_hash(make_voucher(chain, payer.address, previous).entries) == chain.commitment(
        payer.address
    )
