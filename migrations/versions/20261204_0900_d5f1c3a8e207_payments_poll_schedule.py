"""payments: a poll schedule per payment (next_poll_at, polls)

The pending-payment poll asked only about the 50 oldest pending payments of the last day:
with 50 abandoned checkouts, a newer payment whose notices were all lost was never asked
about and a paid buyer never credited. Each payment now carries when to ask next and how often
it was asked; the poll takes the least asked and newest first among those due, and backs off
per payment (30 s doubling to 15 min).

Revision ID: d5f1c3a8e207
Revises: a8c5e2f91d47
Create Date: 2026-12-04 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d5f1c3a8e207"
down_revision: str | None = "a8c5e2f91d47"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("payments", sa.Column("polls", sa.Integer(), server_default="0", nullable=False))
    op.add_column("payments", sa.Column("next_poll_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("payments", "next_poll_at")
    op.drop_column("payments", "polls")
