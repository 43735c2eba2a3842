"""The schema. Addresses are checksummed 0x strings; amounts are Uint256; times are unix seconds."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
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
    # sum over the payer's channels of (accepted - claimed), kept in step in the same
    # transactions that change either, so the headroom check reads one row, not all channels
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

channels = Table(
    "channels",
    metadata,
    Column("channel_id", Hex, primary_key=True),
    Column("payer", ADDRESS, nullable=False),
    Column("payee", ADDRESS, nullable=False),
    Column("token", ADDRESS, nullable=False),
    Column("accepted", Uint256, nullable=False),
    Column("claimed", Uint256, nullable=False),
    Column("latest_receipt", String(66), nullable=True),  # the id of its latest accepted receipt
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_channels_payer", "payer", "token"),
    Index("ix_channels_payee", "payee", "token"),
)

receipts = Table(
    "receipts",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("id", String(66), nullable=False, unique=True),
    Column("channel_id", Hex, ForeignKey("channels.channel_id"), nullable=False),
    Column("payer", ADDRESS, nullable=False),
    Column("payee", ADDRESS, nullable=False),
    Column("token", ADDRESS, nullable=False),
    Column("cumulative_amount", Uint256, nullable=False),
    Column("price", Uint256, nullable=False),
    Column("purchase", Hex, nullable=False),
    Column("resource_id", String(128), nullable=False),
    Column("signer", ADDRESS, nullable=False),
    Column("signature", Hex, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("claim_tx", Hex, nullable=True),
    Column("failure", String(64), nullable=True),
    # The same voucher twice is one receipt: this constraint is the last line of that defence.
    UniqueConstraint("channel_id", "cumulative_amount", name="uq_receipts_channel_amount"),
    Index("ix_receipts_payer", "payer", "seq"),
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

session_keys = Table(
    "session_keys",
    metadata,
    Column("payer", ADDRESS, primary_key=True),
    Column("signer", ADDRESS, primary_key=True),
    Column("token", ADDRESS, nullable=False),
    Column("allowance", Uint256, nullable=False),  # remaining on chain
    Column("outstanding", Uint256, nullable=False),  # accepted from this key, not yet claimed
    Column("valid_until", BigInteger, nullable=False),
    Column("revoke_at", BigInteger, nullable=True),
    Column("nonce", Uint256, nullable=False),
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
    Index("ix_resources_payee", "payee"),
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
