"""protocol v2: lanes of per-payer vouchers, session grants, the chain's clock

Revision ID: 0004
Revises: 0003

A v2 hub is a new deployment: v1's channels, receipts and registered session keys do not carry
over (their vouchers are claimable on the v1 hub, which keeps working without the server).
"""

import sqlalchemy as sa
from alembic import op

import app.store.columns

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ADDRESS = sa.String(length=42)
UINT = app.store.columns.Uint256(length=78)


def upgrade() -> None:
    op.drop_table("receipts")
    op.drop_table("channels")
    op.drop_table("session_keys")
    with op.batch_alter_table("chain_cursor") as batch_op:
        batch_op.add_column(sa.Column("head_timestamp", sa.BigInteger(), nullable=True))
    op.create_table(
        "lanes",
        sa.Column("payer", ADDRESS, nullable=False),
        sa.Column("token", ADDRESS, nullable=False),
        sa.Column("lane", sa.BigInteger(), nullable=False),
        sa.Column("signer", ADDRESS, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("accepted_total", UINT, nullable=False),
        sa.Column("claimed_total", UINT, nullable=False),
        sa.Column("claimed_seq", sa.BigInteger(), nullable=False),
        sa.Column("blocked", sa.String(length=32), nullable=True),
        sa.Column("blocked_seq", sa.BigInteger(), nullable=True),
        sa.Column("oldest_unclaimed_at", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("payer", "token", "lane"),
    )
    op.create_table(
        "lane_entries",
        sa.Column("payer", ADDRESS, nullable=False),
        sa.Column("token", ADDRESS, nullable=False),
        sa.Column("lane", sa.BigInteger(), nullable=False),
        sa.Column("payee", ADDRESS, nullable=False),
        sa.Column("accepted", UINT, nullable=False),
        sa.Column("claimed", UINT, nullable=False),
        sa.PrimaryKeyConstraint("payer", "token", "lane", "payee"),
    )
    op.create_index("ix_lane_entries_payee", "lane_entries", ["payee", "token"])
    op.create_table(
        "receipts",
        sa.Column(
            "seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("id", sa.String(length=66), nullable=False),
        sa.Column("payer", ADDRESS, nullable=False),
        sa.Column("token", ADDRESS, nullable=False),
        sa.Column("lane", sa.BigInteger(), nullable=False),
        sa.Column("lane_seq", sa.BigInteger(), nullable=False),
        sa.Column("payee", ADDRESS, nullable=False),
        sa.Column("price", UINT, nullable=False),
        sa.Column("cumulative_amount", UINT, nullable=False),
        sa.Column("purchase", app.store.columns.Hex(), nullable=False),
        sa.Column("entries_hash", app.store.columns.Hex(), nullable=False),
        sa.Column("signature", app.store.columns.Hex(), nullable=False),
        sa.Column("acknowledgement", app.store.columns.Hex(), nullable=False),
        sa.Column("signer", ADDRESS, nullable=False),
        sa.Column("resource_id", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("claim_tx", app.store.columns.Hex(), nullable=True),
        sa.Column("failure", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("id"),
        sa.UniqueConstraint("payer", "token", "lane", "lane_seq", name="uq_receipts_lane_seq"),
    )
    op.create_index("ix_receipts_lane_payee", "receipts", ["payer", "token", "lane", "payee", "lane_seq"])
    op.create_index("ix_receipts_entries_hash", "receipts", ["entries_hash"])
    op.create_index("ix_receipts_payer", "receipts", ["payer", "seq"])
    op.create_index("ix_receipts_payee", "receipts", ["payee", "seq"])
    op.create_index("ix_receipts_status", "receipts", ["status", "seq"])
    op.create_table(
        "grants",
        sa.Column("payer", ADDRESS, nullable=False),
        sa.Column("signer", ADDRESS, nullable=False),
        sa.Column("token", ADDRESS, nullable=False),
        sa.Column("lane", sa.BigInteger(), nullable=False),
        sa.Column("max_total", UINT, nullable=False),
        sa.Column("valid_until", sa.BigInteger(), nullable=False),
        sa.Column("signature", app.store.columns.Hex(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("payer", "signer", "token", "lane"),
    )
    op.create_table(
        "authorized_signers",
        sa.Column("payer", ADDRESS, nullable=False),
        sa.Column("signer", ADDRESS, nullable=False),
        sa.Column("authorized_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("payer", "signer"),
    )
    op.create_table(
        "revocations",
        sa.Column("payer", ADDRESS, nullable=False),
        sa.Column("signer", ADDRESS, nullable=False),
        sa.Column("effective_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("payer", "signer"),
    )


def downgrade() -> None:
    raise NotImplementedError("protocol v2 cannot be migrated back to v1: deploy a v1 database instead")
