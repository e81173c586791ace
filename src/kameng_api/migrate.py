"""Run Alembic from code (``kameng migrate``, ``kameng run``, the tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config


def _find_alembic_ini() -> Path:
    here = Path(__file__).resolve()
    for parent in [Path.cwd(), *here.parents]:
        candidate = parent / "alembic.ini"
        if candidate.is_file() and (parent / "migrations" / "env.py").is_file():
            return candidate
    raise RuntimeError("alembic.ini not found (run from the project folder)")


def alembic_config(database_url: str) -> Config:
    cfg = Config(str(_find_alembic_ini()))
    cfg.attributes["database_url"] = database_url
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    """Migrate, then sync the data every deployment needs (built-in roles)."""
    import asyncio

    from kameng_api.bootstrap import bootstrap

    command.upgrade(alembic_config(database_url), revision)
    if revision == "head":
        asyncio.run(bootstrap(database_url))


def check(database_url: str) -> None:
    """Raise if the models differ from the migrated schema."""
    command.check(alembic_config(database_url))
