"""Every capability's background work, gathered (as ``models.py`` gathers the tables): the
modules that register outbox jobs (``outbox_job``) and periodic tasks (``periodic``).

Every process that writes or runs background work loads them first — the API
(``create_app``), the worker, the CLI, the tests and the benchmarks — so the outbox knows
each task by name without reaching up into the capabilities: ``outbox.enqueue`` refuses a
task nobody registered.
"""

from __future__ import annotations

import importlib

# Each capability with background work lists its tasks module here.
TASK_MODULES = [
    "kameng_api.system.tasks",
    "kameng_api.notifications.tasks",
    "kameng_api.catalog.tasks",
    "kameng_api.inventory.tasks",
    "kameng_api.payments.tasks",
    "kameng_api.orders.tasks",
    "kameng_api.fulfilment.tasks",
    "kameng_api.resellers.callbacks_tasks",
    "kameng_api.suppliers.tasks",
    "kameng_api.suppliers.sync_tasks",
]


def load() -> None:
    # every table, so foreign keys resolve whatever a job touches (e.g. users for created_by)
    importlib.import_module("kameng_api.models")
    for name in TASK_MODULES:
        importlib.import_module(name)
