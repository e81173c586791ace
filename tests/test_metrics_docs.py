"""The Grafana dashboard operators import asks only for metrics we export, and the metrics
page lists every metric we export."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import REGISTRY

import kameng_api.core.metrics  # noqa: F401  (registers every metric of ours)

ROOT = Path(__file__).resolve().parents[1]
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def _exported() -> dict[str, str]:
    """Every series name a scrape can carry → the metric's name as written in the code."""
    out = {}
    for family in REGISTRY.collect():
        if not family.name.startswith("kameng_"):
            continue
        written = family.name + ("_total" if family.type == "counter" else "")
        for suffix in SUFFIXES[family.type]:
            out[family.name + suffix] = written
    return out


def test_every_panel_asks_for_metrics_we_export() -> None:
    dash = json.loads((ROOT / "deploy/grafana/kameng.json").read_text())
    exported = _exported()
    assert dash["uid"]
    assert dash["panels"]
    titles = set()
    for panel in dash["panels"]:
        assert panel["targets"], panel["title"]
        assert {"h", "w", "x", "y"} <= panel["gridPos"].keys()
        titles.add(panel["title"])
        for target in panel["targets"]:
            names = set(re.findall(r"\bkameng_[a-z0-9_]+", target["expr"]))
            assert names, f"{panel['title']}: {target['expr']} names no metric of ours"
            unknown = names - exported.keys()
            assert not unknown, f"{panel['title']}: {sorted(unknown)} are not exported"
    asked = " ".join(t["expr"] for p in dash["panels"] for t in p["targets"])
    # the figures operators watch
    for needed in (
        'route="/api/v1/orders",status="201"',  # orders/s
        "histogram_quantile(0.99",  # purchase p99
        "kameng_outbox_lag_seconds",
        'kameng_jobs_total{outcome="failed"}',
        "kameng_stock_available_keys",
        "kameng_payments_pending",
    ):
        assert needed in asked, needed
    assert len(titles) == len(dash["panels"])


def test_the_metrics_page_lists_every_metric() -> None:
    page = (ROOT / "docs/metrics.md").read_text()
    listed = set(re.findall(r"^\| `(kameng_[a-z0-9_]+)` \|", page, re.M))
    assert listed == set(_exported().values())
