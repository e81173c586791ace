"""Prometheus metrics shared by the API and the worker (docs/metrics.md lists them).

Every process writes them to the shared directory (core/procmetrics.py), and a scrape of the
API adds them up: gauges say how (``livemostrecent``: the figure the latest live process
set — each of them reads the same database)."""

from __future__ import annotations

import atexit

from prometheus_client import Counter, Gauge, Histogram

from kameng_api.core import procmetrics

# any process that counts (the API's, uvicorn's parent, the worker, the CLI) takes its live
# gauges out of the sums when it ends
atexit.register(procmetrics.process_exit)

HTTP_REQUESTS = Counter(
    "kameng_http_requests_total", "HTTP requests", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "kameng_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
JOBS = Counter("kameng_jobs_total", "Background jobs run, by task and outcome", ["task", "outcome"])
OUTBOX_PENDING = Gauge(
    "kameng_outbox_pending", "Outbox rows not yet done", multiprocess_mode="livemostrecent"
)
OUTBOX_LAG = Gauge(
    "kameng_outbox_lag_seconds",
    "Age of the oldest outbox row not yet done",
    multiprocess_mode="livemostrecent",
)
OUTBOX_RELAYED = Counter("kameng_outbox_relayed_total", "Outbox rows pushed to the queue", ["via"])
OUTBOX_REPUSHED = Counter(
    "kameng_outbox_repushed_total",
    "Open outbox rows pushed under a fresh job id (a finished run's kept result held the old)",
)
OUTBOX_HELD = Counter(
    "kameng_outbox_held_total",
    "Outbox rows of mails and notices left for the sweeper while a sale was hot",
)
SOLD_OUT_AT_GATE = Counter(
    "kameng_sold_out_at_gate_total",
    "Purchases answered sold_out by the Redis gate, before any database work",
)
PURCHASE_BATCH = Histogram(
    "kameng_purchase_batch_size",
    "Purchases per group commit of the purchase lane (one transaction each)",
    buckets=(1, 2, 4, 8, 16, 32, 64),
)
PURCHASE_LANE = Counter(
    "kameng_purchase_lane_total",
    "Purchases the lane answered in one statement (bought, sold_out) or handed to the route",
    ["outcome"],
)

PAYMENTS_PENDING = Gauge(
    "kameng_payments_pending",
    "Gateway payments still pending, by age (asked about by the poll for a day)",
    ["age"],
    multiprocess_mode="livemostrecent",
)
STOCK_AVAILABLE = Gauge(
    "kameng_stock_available_keys",
    "Card keys on sale, all SKUs together",
    multiprocess_mode="livemostrecent",
)
STOCK_LOW = Gauge(
    "kameng_stock_low_skus",
    "Card-key SKUs at or below their product's low-stock threshold",
    multiprocess_mode="livemostrecent",
)
