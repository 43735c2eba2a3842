"""resource access models: a purchase, per use, a time pass

Revision ID: 0005
Revises: 0004

Resources listed before keep being paid per use, as they were.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("resources") as batch_op:
        batch_op.add_column(
            sa.Column("access", sa.String(length=16), server_default="per_use", nullable=False)
        )
        batch_op.add_column(sa.Column("pass_seconds", sa.BigInteger(), server_default="0", nullable=False))
    op.create_index("ix_receipts_payer_resource", "receipts", ["payer", "resource_id", "seq"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_receipts_payer_resource", table_name="receipts")
    with op.batch_alter_table("resources") as batch_op:
        batch_op.drop_column("pass_seconds")
        batch_op.drop_column("access")
