"""Database code as source: every function and trigger kameng keeps in PostgreSQL is one
``.sql`` file beside the capability that owns it (``<capability>/sql/<name>.sql``, named
after the object), read here as ``alembic_utils`` entities for Alembic (as ``models.py``
gathers the tables).

- Today's body of a function is its file; ``git log`` of the file is its history.
- To change one: edit the file, then ``alembic revision --autogenerate`` writes a migration
  with ``replace_entity`` and a snapshot of the new body (migrations keep the snapshots they
  need; nobody edits a body there).
- ``tests/test_migrations.py`` runs ``alembic check`` after ``upgrade head``: a function or
  trigger in the database that differs from its file fails it, as a table would.

A file holds one ``CREATE [OR REPLACE] FUNCTION`` or ``CREATE [CONSTRAINT] TRIGGER``
statement, schema-qualified, optionally after ``--`` comment lines that say what it is for.
"""

from __future__ import annotations

from pathlib import Path

from alembic_utils.pg_function import PGFunction
from alembic_utils.pg_trigger import PGTrigger
from alembic_utils.replaceable_entity import ReplaceableEntity

PACKAGE = Path(__file__).resolve().parent


def sql_files() -> list[Path]:
    return sorted(PACKAGE.glob("*/sql/*.sql"))


def statement(text: str) -> str:
    """The file's statement without its leading comment lines and final semicolon."""
    lines = text.splitlines()
    while lines and (not lines[0].strip() or lines[0].lstrip().startswith("--")):
        lines.pop(0)
    return "\n".join(lines).strip().removesuffix(";").rstrip()


def entity(path: Path) -> PGFunction | PGTrigger:
    sql = statement(path.read_text())
    head = " ".join(sql.split()[:4]).lower()
    found: PGFunction | PGTrigger
    if "function" in head:
        found = PGFunction.from_sql(sql)
        name = found.signature.split("(", 1)[0].strip()
    elif "trigger" in head:
        found = PGTrigger.from_sql(sql)
        name = found.signature
    else:
        raise ValueError(f"{path}: not a CREATE FUNCTION or CREATE TRIGGER statement")
    if name != path.stem:
        raise ValueError(f"{path}: the file of {name!r} must be named {name}.sql")
    return found


def entities() -> list[ReplaceableEntity]:
    """Every function, then every trigger (a trigger needs its function)."""
    found = [entity(p) for p in sql_files()]
    functions = [e for e in found if isinstance(e, PGFunction)]
    return [*functions, *(e for e in found if isinstance(e, PGTrigger))]
