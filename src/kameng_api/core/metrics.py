"""Prometheus metrics shared by the API and the worker."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

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
OUTBOX_PENDING = Gauge("kameng_outbox_pending", "Outbox rows not yet done")
OUTBOX_LAG = Gauge("kameng_outbox_lag_seconds", "Age of the oldest outbox row not yet done")
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
)
