"""Render the OpenAPI document deterministically (sorted keys, stable ids)."""

from __future__ import annotations

import json
from typing import Any

from kameng_api.settings import Settings


def openapi_dict() -> dict[str, Any]:
    from kameng_api.main import create_app

    # a fixed settings object: the document must not depend on the machine it is built on
    app = create_app(Settings(database_url=None, redis_url=None, spa_dir="/nonexistent"))
    return app.openapi()


def render_openapi() -> str:
    return json.dumps(openapi_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
