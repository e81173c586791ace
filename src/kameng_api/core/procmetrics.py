"""One Prometheus view of every process: prometheus_client's multiprocess mode.

Every API process (``kameng serve --workers N``) and every worker writes its figures to files
in one directory (``PROMETHEUS_MULTIPROC_DIR``); the API's ``/metrics`` adds them up, so one
scrape of any API process sees the jobs a worker ran and the requests every API process
answered. prometheus_client picks its storage when it is imported, so the commands call
``prepare`` before anything imports it. Counters and histograms of a process that ended are
kept (totals do not go backwards while the others run); its gauges go with it
(``mark_process_dead`` at exit; the gauges are ``livemostrecent``). Files of processes that
are gone are removed when a process starts; ``kameng run`` empties the directory first.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"


def _pid_of(path: Path) -> int | None:
    try:
        return int(path.stem.rsplit("_", 1)[1])
    except (IndexError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def wipe(directory: Path) -> None:
    """Empty the directory (before any process of a new run writes to it)."""
    directory.mkdir(parents=True, exist_ok=True)
    for f in directory.glob("*.db"):
        f.unlink(missing_ok=True)


def prepare(directory: Path) -> Path:
    """Use ``PROMETHEUS_MULTIPROC_DIR`` (kept when already set) or ``directory`` for this
    process and its children; removes the files of processes that are gone. Call before
    prometheus_client is imported."""
    if "prometheus_client.values" in sys.modules and not os.environ.get(ENV):
        raise RuntimeError("prometheus_client was imported before its directory was chosen")
    path = Path(os.environ.get(ENV) or directory)
    path.mkdir(parents=True, exist_ok=True)
    for f in path.glob("*.db"):
        pid = _pid_of(f)
        if pid is not None and pid != os.getpid() and not _alive(pid):
            f.unlink(missing_ok=True)
    os.environ[ENV] = str(path)
    return path


def enabled() -> bool:
    return bool(os.environ.get(ENV))


def process_exit() -> None:
    """At the end of a process: its live gauges leave the sums."""
    if enabled():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


def render() -> bytes:
    """The text a scrape gets: every process's figures when in multiprocess mode."""
    from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess

    if not enabled():
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry)
