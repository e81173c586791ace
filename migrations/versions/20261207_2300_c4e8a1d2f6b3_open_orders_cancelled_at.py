"""open_orders.cancelled_at: a reseller's cancel before processing

Revision ID: c4e8a1d2f6b3
Revises: fb6077ddd343
Create Date: 2026-12-07 23:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c4e8a1d2f6b3"
down_revision: str | None = "fb6077ddd343"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "open_orders", sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("open_orders", "cancelled_at")
