"""database code from source files: functions and triggers live in <capability>/sql/*.sql

From this revision on, today's body of every PostgreSQL function and trigger of ours is its
``.sql`` file beside the capability that owns it (``kameng_api/dbcode.py`` reads them as
alembic_utils entities; ``env.py`` registers them, so ``alembic check`` fails when the
database differs from a file and ``alembic revision --autogenerate`` writes the
``replace_entity`` for a changed file). This migration puts the four small functions'
bodies as their files write them (the same logic, laid out and commented); the purchase
functions' files hold exactly the bodies of revision a8c5e2f91d47 and 9a4d2f6e1c37. The
snapshots below are what ``replace_entity`` needs; nobody edits a body here.

Revision ID: b7d2e4f6a913
Revises: d5f1c3a8e207
Create Date: 2026-12-07 19:58:58
"""

from collections.abc import Sequence

from alembic import op
from alembic_utils.pg_function import PGFunction

revision: str = "b7d2e4f6a913"
down_revision: str | None = "d5f1c3a8e207"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    audit_log_append_only = PGFunction(
        schema="public",
        signature="audit_log_append_only()",
        definition="returns trigger\n LANGUAGE plpgsql\nAS $function$\nBEGIN\n    RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP\n        USING ERRCODE = 'insufficient_privilege';\nEND\n$function$",
    )
    op.replace_entity(audit_log_append_only)
    kameng_catalog_rows_changed = PGFunction(
        schema="public",
        signature="kameng_catalog_rows_changed()",
        definition="returns trigger\n LANGUAGE plpgsql\nAS $function$\nBEGIN\n    IF EXISTS (SELECT FROM changed) THEN\n        UPDATE catalog_version SET version = version + 1;\n    END IF;\n    RETURN NULL;\nEND\n$function$",
    )
    op.replace_entity(kameng_catalog_rows_changed)
    wallet_append_only = PGFunction(
        schema="public",
        signature="wallet_append_only()",
        definition="returns trigger\n LANGUAGE plpgsql\nAS $function$\nBEGIN\n    RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP\n        USING ERRCODE = 'insufficient_privilege';\nEND\n$function$",
    )
    op.replace_entity(wallet_append_only)
    wallet_entry_balanced = PGFunction(
        schema="public",
        signature="wallet_entry_balanced()",
        definition="returns trigger\n LANGUAGE plpgsql\nAS $function$\nDECLARE\n    total numeric;\n    legs  int;\nBEGIN\n    SELECT coalesce(sum(amount), 0), count(*) INTO total, legs\n        FROM wallet_lines WHERE entry_id = NEW.entry_id;\n    IF total <> 0 OR legs < 2 THEN\n        RAISE EXCEPTION 'wallet entry % does not balance (% over % lines)',\n            NEW.entry_id, total, legs USING ERRCODE = 'check_violation';\n    END IF;\n    RETURN NULL;\nEND\n$function$",
    )
    op.replace_entity(wallet_entry_balanced)


def downgrade() -> None:
    audit_log_append_only = PGFunction(
        schema="public",
        signature="audit_log_append_only()",
        definition="returns trigger\n LANGUAGE plpgsql\nAS $function$\n        BEGIN\n          RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP\n            USING ERRCODE = 'insufficient_privilege';\n        END $function$",
    )
    op.replace_entity(audit_log_append_only)
    kameng_catalog_rows_changed = PGFunction(
        schema="public",
        signature="kameng_catalog_rows_changed()",
        definition="returns trigger\n LANGUAGE plpgsql\nAS $function$BEGIN IF EXISTS (SELECT FROM changed) THEN UPDATE catalog_version SET version = version + 1; END IF; RETURN NULL; END$function$",
    )
    op.replace_entity(kameng_catalog_rows_changed)
    wallet_append_only = PGFunction(
        schema="public",
        signature="wallet_append_only()",
        definition="returns trigger\n LANGUAGE plpgsql\nAS $function$\n        BEGIN\n          RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP\n            USING ERRCODE = 'insufficient_privilege';\n        END $function$",
    )
    op.replace_entity(wallet_append_only)
    wallet_entry_balanced = PGFunction(
        schema="public",
        signature="wallet_entry_balanced()",
        definition="returns trigger\n LANGUAGE plpgsql\nAS $function$\n        DECLARE total numeric; legs int;\n        BEGIN\n          SELECT coalesce(sum(amount), 0), count(*) INTO total, legs\n            FROM wallet_lines WHERE entry_id = NEW.entry_id;\n          IF total <> 0 OR legs < 2 THEN\n            RAISE EXCEPTION 'wallet entry % does not balance (% over % lines)',\n              NEW.entry_id, total, legs USING ERRCODE = 'check_violation';\n          END IF;\n          RETURN NULL;\n        END $function$",
    )
    op.replace_entity(wallet_entry_balanced)
