from __future__ import annotations

import pytest
from pydantic import ValidationError

from kameng_api.settings import Settings


def test_plain_database_and_redis_urls_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAMENG_DATABASE_URL", raising=False)
    monkeypatch.delenv("KAMENG_REDIS_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://u:p@db:5432/k")
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/0")
    s = Settings()
    assert s.database_url == "postgresql+asyncpg://u:p@db:5432/k"
    assert s.redis_url == "redis://cache:6379/0"
    assert not s.embedded


def test_production_refuses_the_development_secret() -> None:
    with pytest.raises(ValidationError, match="KAMENG_SECRET_KEY"):
        Settings(environment="production")
    with pytest.raises(ValidationError, match="KAMENG_FIELD_KEYS"):
        Settings(environment="production", secret_key="x" * 40)
    keys = {"k1": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}
    with pytest.raises(ValidationError, match="KAMENG_DEDUPE_KEY"):
        Settings(environment="production", secret_key="x" * 40, field_keys=keys)
    ok = Settings(
        environment="production",
        secret_key="x" * 40,
        field_keys=keys,
        dedupe_key="ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=",
    )
    assert ok.environment == "production"


def test_readme_documents_every_setting() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for name in Settings.model_fields:
        assert f"`KAMENG_{name.upper()}`" in readme, f"README lacks KAMENG_{name.upper()}"
