"""catalog version: moved only by statements that changed rows

The statement triggers of ``5b1f0c7d2a91`` moved ``catalog_version`` for every statement on
products, SKUs and prices, also one that changed nothing — and the schedule job
(``catalog:apply_schedules``, every 15 s) runs two such updates. Each run made every
process's catalogue snapshot stale, so every purchase in flight was refused as ``stale``
and went the long way at once (measured: p99 6.6 s in the flash-sale race). The triggers
now read the statement's transition table and move the counter only when it has rows (a
trigger with a transition table names one event, so three per table).

Revision ID: c4e2a7d9b815
Revises: b3d81f5a7c20
Create Date: 2026-11-26 09:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "c4e2a7d9b815"
down_revision: str | None = "b3d81f5a7c20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CATALOG_TABLES = (
    "catalog_products",
    "catalog_skus",
    "catalog_sku_audience_prices",
    "catalog_sku_tier_prices",
)
EVENTS = (("insert", "NEW"), ("update", "NEW"), ("delete", "OLD"))


def upgrade() -> None:
    op.execute(
        "CREATE FUNCTION kameng_catalog_rows_changed() RETURNS trigger LANGUAGE plpgsql AS"
        " $$BEGIN IF EXISTS (SELECT FROM changed) THEN"
        " UPDATE catalog_version SET version = version + 1; END IF; RETURN NULL; END$$"
    )
    for table in CATALOG_TABLES:
        op.execute(f"DROP TRIGGER {table}_version ON {table}")
        for event, side in EVENTS:
            op.execute(
                f"CREATE TRIGGER {table}_version_{event} AFTER {event.upper()} ON {table}"
                f" REFERENCING {side} TABLE AS changed"
                " FOR EACH STATEMENT EXECUTE FUNCTION kameng_catalog_rows_changed()"
            )
    op.execute("DROP FUNCTION kameng_catalog_changed()")


def downgrade() -> None:
    op.execute(
        "CREATE FUNCTION kameng_catalog_changed() RETURNS trigger LANGUAGE plpgsql AS"
        " $$BEGIN UPDATE catalog_version SET version = version + 1; RETURN NULL; END$$"
    )
    for table in CATALOG_TABLES:
        for event, _ in EVENTS:
            op.execute(f"DROP TRIGGER {table}_version_{event} ON {table}")
        op.execute(
            f"CREATE TRIGGER {table}_version AFTER INSERT OR UPDATE OR DELETE ON {table}"
            " FOR EACH STATEMENT EXECUTE FUNCTION kameng_catalog_changed()"
        )
    op.execute("DROP FUNCTION kameng_catalog_rows_changed()")
