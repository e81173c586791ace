"""The demo shop seeded by ``kameng run`` / ``kameng seed-demo``: the capabilities' demo
modules, gathered (as ``tasks.py`` gathers their jobs) and run through the registry in
``demo.py``, which knows no capability.
"""

from __future__ import annotations

import importlib

from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api import demo
from kameng_api.suppliers import service as suppliers

# Modules that add steps when imported (in order).
DEMO_MODULES = [
    "kameng_api.identity.demo",
    "kameng_api.catalog.demo",
    "kameng_api.inventory.demo",
    "kameng_api.wallet.demo",
]


def load_steps() -> None:
    for name in DEMO_MODULES:
        importlib.import_module(name)


async def seed_demo(session: AsyncSession) -> list[str]:
    """Run the steps not yet recorded. Returns the names of the steps that ran."""
    load_steps()
    ran = await demo.run_steps(session)
    # KAMENG_RECHARGE_SUPPLIER_* as a supplier row (the delivery job also keeps it current)
    await suppliers.sync_settings_supplier(session)
    return ran
