"""The schema. Addresses are checksummed 0x strings; amounts are Uint256; times are unix seconds."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from app.store.columns import Hex, Uint256

metadata = MetaData()

ADDRESS = String(42)

tokens = Table(
    "tokens",
    metadata,
    Column("address", ADDRESS, primary_key=True),
    Column("symbol", String(32), nullable=False),
    Column("name", String(128), nullable=False),
    Column("decimals", Integer, nullable=False),
    Column("allowed", Boolean, nullable=False),
)

# One row per (payer, token), created by the first deposit seen on chain. Locking this row
# serialises everything that spends the payer's money, across server processes.
accounts = Table(
    "accounts",
    metadata,
    Column("payer", ADDRESS, primary_key=True),
    Column("token", ADDRESS, primary_key=True),
    Column("balance", Uint256, nullable=False),  # confirmed on chain
    Column("withdrawal_amount", Uint256, nullable=False),
    Column("withdrawal_available_at", BigInteger, nullable=True),
    # sum over the payer's lanes of (accepted - claimed), kept in step in the same
    # transactions that change either, so the headroom check reads one row, not all lanes
    Column("outstanding", Uint256, nullable=False),
)

# Withdrawal requests seen in blocks not yet confirmed. They only ever shrink a payer's
# headroom, so they count at once; rewritten on every indexer run (a reorg simply drops them).
provisional_withdrawals = Table(
    "provisional_withdrawals",
    metadata,
    Column("payer", ADDRESS, primary_key=True),
    Column("token", ADDRESS, primary_key=True),
    Column("amount", Uint256, nullable=False),
    Column("available_at", BigInteger, nullable=False),
    Column("block_number", BigInteger, nullable=False),
)

# One row per lane of a payer: an ordered vector of cumulative amounts per payee (see
# docs/protocol.md). `lane` is below 2^63 on the server (the chain allows 2^64): lanes are numbers
# the server hands out.
lanes = Table(
    "lanes",
    metadata,
    Column("payer", ADDRESS, primary_key=True),
    Column("token", ADDRESS, primary_key=True),
    Column("lane", BigInteger, primary_key=True),
    Column("signer", ADDRESS, nullable=False),  # the payer (a wallet lane) or the session key of its grant
    Column("seq", BigInteger, nullable=False),  # vouchers accepted on the lane
    Column("accepted_total", Uint256, nullable=False),
    Column("claimed_total", Uint256, nullable=False),
    Column("claimed_seq", BigInteger, nullable=False),  # the lane_seq of the last claimed voucher
    # Why the chain skipped the lane's last claim, until something it depends on changes.
    Column("blocked", String(32), nullable=True),
    Column("blocked_seq", BigInteger, nullable=True),
    Column("oldest_unclaimed_at", BigInteger, nullable=True),
    Column("updated_at", BigInteger, nullable=False),
)

# The lane's vector, one row per payee (at most MAX_LANE_ENTRIES per lane).
lane_entries = Table(
    "lane_entries",
    metadata,
    Column("payer", ADDRESS, primary_key=True),
    Column("token", ADDRESS, primary_key=True),
    Column("lane", BigInteger, primary_key=True),
    Column("payee", ADDRESS, primary_key=True),
    Column("accepted", Uint256, nullable=False),
    Column("claimed", Uint256, nullable=False),
    Index("ix_lane_entries_payee", "payee", "token"),
)

receipts = Table(
    "receipts",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("id", String(66), nullable=False, unique=True),
    Column("payer", ADDRESS, nullable=False),
    Column("token", ADDRESS, nullable=False),
    Column("lane", BigInteger, nullable=False),
    Column("lane_seq", BigInteger, nullable=False),
    Column("payee", ADDRESS, nullable=False),
    Column("price", Uint256, nullable=False),
    Column("cumulative_amount", Uint256, nullable=False),  # the payee's amount in the signed vector
    Column("purchase", Hex, nullable=False),
    Column("entries_hash", Hex, nullable=False),
    Column("signature", Hex, nullable=False),
    Column("acknowledgement", Hex, nullable=False),
    Column("signer", ADDRESS, nullable=False),
    Column("resource_id", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("claim_tx", Hex, nullable=True),
    Column("failure", String(64), nullable=True),
    # One voucher per position of a lane: the last line of the defence against charging twice.
    UniqueConstraint("payer", "token", "lane", "lane_seq", name="uq_receipts_lane_seq"),
    Index("ix_receipts_lane_payee", "payer", "token", "lane", "payee", "lane_seq"),
    Index("ix_receipts_entries_hash", "entries_hash"),
    Index("ix_receipts_payer", "payer", "seq"),
    Index("ix_receipts_payer_resource", "payer", "resource_id", "seq"),  # what a payer owns
    Index("ix_receipts_payee", "payee", "seq"),
    Index("ix_receipts_status", "status", "seq"),
)

# A payee's claimed earnings not yet withdrawn, as the hub's events say.
earnings = Table(
    "earnings",
    metadata,
    Column("payee", ADDRESS, primary_key=True),
    Column("token", ADDRESS, primary_key=True),
    Column("withdrawable", Uint256, nullable=False),
    Column("withdrawn", Uint256, nullable=False),
)

# Session grants the payers signed (no transaction: they ride with the claims).
grants = Table(
    "grants",
    metadata,
    Column("payer", ADDRESS, primary_key=True),
    Column("signer", ADDRESS, primary_key=True),
    Column("token", ADDRESS, primary_key=True),
    Column("lane", BigInteger, primary_key=True),
    Column("max_total", Uint256, nullable=False),
    Column("valid_until", BigInteger, nullable=False),
    Column("signature", Hex, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

# ECDSA keys a payer named on chain (hub.authorizeSigner) to sign with its full authority: how a
# smart wallet pays, since its EIP-1271 answers could change after the server acknowledged.
authorized_signers = Table(
    "authorized_signers",
    metadata,
    Column("payer", ADDRESS, primary_key=True),
    Column("signer", ADDRESS, primary_key=True),
    Column("authorized_at", BigInteger, nullable=False),
)

# Revocations seen on chain: when each takes effect.
revocations = Table(
    "revocations",
    metadata,
    Column("payer", ADDRESS, primary_key=True),
    Column("signer", ADDRESS, primary_key=True),
    Column("effective_at", BigInteger, nullable=False),
)

resources = Table(
    "resources",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("payee", ADDRESS, nullable=False),
    Column("token", ADDRESS, nullable=False),
    Column("price", Uint256, nullable=False),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("access", String(16), nullable=False, server_default="per_use"),  # app.core.access.AccessModel
    Column("pass_seconds", BigInteger, nullable=False, server_default="0"),  # TIME_PASS only
    Index("ix_resources_payee", "payee"),
)

# A creator's name for people, chosen by the creator (setDisplayName); addresses without one have no row.
creator_profiles = Table(
    "creator_profiles",
    metadata,
    Column("address", ADDRESS, primary_key=True),
    Column("display_name", String(64), nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

siwe_nonces = Table(
    "siwe_nonces",
    metadata,
    Column("nonce", String(64), primary_key=True),
    Column("expires_at", BigInteger, nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", Hex, primary_key=True),
    Column("address", ADDRESS, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("scope", String(64), primary_key=True),  # operation and caller
    Column("key", String(128), primary_key=True),
    Column("fingerprint", Hex, nullable=False),
    Column("response", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

# The indexer's cursor: the last block applied, with its hash to notice reorgs.
chain_cursor = Table(
    "chain_cursor",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("block_number", BigInteger, nullable=False),
    Column("block_hash", Hex, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    # The chain's own clock: the timestamp of the newest block seen. Deadlines the chain enforces
    # (key expiry, revocation, withdrawals) are compared with it, never with the server's clock.
    Column("head_timestamp", BigInteger, nullable=True),
)

# Transactions the operator signed, one row per nonce: the signed bytes are kept so a dropped
# transaction can be broadcast again, and every hash it was sent under (after fee bumps) so
# whichever one is mined is found, also after a crash.
operator_transactions = Table(
    "operator_transactions",
    metadata,
    Column("sender", ADDRESS, primary_key=True),
    Column("nonce", BigInteger, primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("to_address", ADDRESS, nullable=False),
    Column("data", Hex, nullable=False),
    Column("gas", BigInteger, nullable=False),
    Column("max_fee", Uint256, nullable=False),
    Column("priority_fee", Uint256, nullable=False),
    Column("raw", Hex, nullable=False),
    Column("hashes", Text, nullable=False),  # JSON list of 0x hashes, oldest first
    Column("status", String(16), nullable=False),  # pending | mined | reverted
    Column("payload", Text, nullable=False),  # JSON: what the transaction is for
    Column("created_at", BigInteger, nullable=False),
    Column("sent_at", BigInteger, nullable=False),
    Column("block_number", BigInteger, nullable=True),
    Index("ix_operator_transactions_status", "status"),
)
