"""All knobs of kameng, read from the environment with the ``KAMENG_`` prefix.

Every setting has a default that works on a laptop. ``DATABASE_URL`` and ``REDIS_URL`` are
also accepted without the prefix (the convention of most hosting platforms); when neither is
given, ``kameng run`` starts embedded PostgreSQL and Redis under ``var_dir``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _project_root() -> Path:
    # src/kameng_api/settings.py -> project root (only meaningful in a source checkout)
    return Path(__file__).resolve().parents[2]


DEV_SECRET = "dev-insecure-secret-change-me-0123456789abcdef"  # noqa: S105 — refused in production


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KAMENG_", extra="ignore")

    environment: Literal["development", "test", "production"] = Field(
        default="development", description="Deployment environment name."
    )
    host: str = Field(default="127.0.0.1", description="Address the HTTP server binds to.")
    port: int = Field(default=8000, ge=0, le=65535, description="Port of the HTTP server.")
    forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        description="Peers whose X-Forwarded-For / X-Forwarded-Proto are believed (comma-"
        "separated addresses or networks, `*` for any): your reverse proxies. From any other "
        "peer these headers change nothing, so a client cannot pose as another address (the "
        "per-IP lockout, the login log) or as HTTPS.",
    )
    public_url: str | None = Field(
        default=None, description="URL users reach the service at (printed by `kameng run`)."
    )
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("KAMENG_DATABASE_URL", "DATABASE_URL"),
        description="PostgreSQL URL (postgresql+asyncpg://…). Empty: embedded PostgreSQL.",
    )
    redis_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("KAMENG_REDIS_URL", "REDIS_URL"),
        description="Redis URL (redis://… or unix://…). Empty: embedded Redis.",
    )
    var_dir: Path = Field(
        default_factory=lambda: _project_root() / "var",
        description="Where embedded PostgreSQL/Redis keep their data and sockets.",
    )
    spa_dir: Path = Field(
        default_factory=lambda: _project_root() / "frontend" / "dist",
        description="Built SPA served at `/` (skipped when the folder does not exist).",
    )
    secret_key: SecretStr = Field(
        default=SecretStr(DEV_SECRET),
        description="Signing secret for tokens. Must be set in production.",
    )
    field_keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        description='Keys for secrets encrypted at rest, JSON {"key id": "base64 32 bytes"}. '
        "Empty: one key derived from secret_key (development only).",
    )
    field_key_id: str = Field(default="k1", description="Key id new secrets are encrypted with.")
    dedupe_key: SecretStr = Field(
        default=SecretStr(""),
        description="Key of the keyed hash that de-duplicates card keys (base64, 32 bytes). Never "
        "rotate it: stored hashes depend on it. Empty: derived from secret_key (development only).",
    )
    inventory_upload_max_bytes: int = Field(
        default=48 * 1024 * 1024, ge=1024, description="Largest card-key file accepted (bytes)."
    )
    inventory_max_lines: int = Field(
        default=1_000_000, ge=1, description="Most lines one card-key import may hold."
    )
    inventory_inline_lines: int = Field(
        default=20_000,
        ge=0,
        description="Imports up to this many lines are checked and imported within the request; "
        "larger ones run as jobs that report progress.",
    )
    inventory_draft_ttl_s: int = Field(
        default=86400, ge=60, description="An import left unconfirmed this long is discarded."
    )
    order_pay_timeout_s: int = Field(
        default=900, ge=60, description="An order not paid within this many seconds expires."
    )
    awaiting_stock_refund_s: int = Field(
        default=3600,
        ge=60,
        description="A paid order still waiting for stock after this long is refunded to the "
        "buyer's balance.",
    )
    idempotency_keep_s: int = Field(
        default=90000,
        ge=86400,
        description="Stored answers to Idempotency-Keys are kept at least this long (≥ 24 h).",
    )
    stuck_order_s: int = Field(
        default=900,
        ge=30,
        description="A paid order still not delivered after this many seconds is re-driven "
        "(its delivery job is started again).",
    )
    recharge_supplier_url: str | None = Field(
        default=None,
        description="Direct-recharge (直充) supplier base URL, kameng's JSON protocol "
        "(suppliers/http_json.py). Empty: direct-recharge orders wait and are re-driven.",
    )
    recharge_supplier_secret: SecretStr = Field(
        default=SecretStr(""), description="Shared HMAC secret of the direct-recharge supplier."
    )
    recharge_supplier_timeout_s: float = Field(
        default=8.0, gt=0, le=12, description="Timeout of one call to the supplier."
    )
    supplier_breaker_window_s: int = Field(
        default=60,
        ge=5,
        description="Circuit breaker: the window (seconds) whose calls to a supplier are counted.",
    )
    supplier_breaker_min_calls: int = Field(
        default=5,
        ge=1,
        description="Circuit breaker: fewest calls in the window before the "
        "error rate can open the circuit.",
    )
    supplier_breaker_error_rate: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="Circuit breaker: error rate (0–1) in the window "
        "that opens a supplier's circuit.",
    )
    supplier_breaker_cooldown_s: float = Field(
        default=30,
        gt=0,
        description="Circuit breaker: seconds an open circuit stays open "
        "before one probe call (half-open) may close it.",
    )
    supplier_balance_every_s: float = Field(
        default=300, gt=0, description="How often every enabled supplier's balance is asked."
    )
    recharge_poll_s: int = Field(
        default=15, ge=1, description="How often a processing direct recharge is asked about."
    )
    payment_poll_every_s: float = Field(
        default=30,
        gt=0,
        description="How often the gateway is asked about pending payments (a notice may be "
        "lost, e.g. while the database was away).",
    )
    payment_poll_first_s: int = Field(
        default=30,
        ge=0,
        description="A pending payment is first asked about this long after it was made; "
        "then after 30 s, 60 s, 120 s … at most every 15 minutes, for a day.",
    )
    supplier_simulator: bool = Field(
        default=False,
        description="Demo only: the API hosts a simulated direct-recharge supplier at "
        "/supplier-sim. `kameng run` turns it on when no supplier is set.",
    )
    outbound_allow_loopback: bool = Field(
        default=False,
        description="Development/test only: lets outbound calls (callbacks, suppliers, "
        "webhooks) reach 127.0.0.0/8 and ::1, e.g. local simulators. Never private or "
        "metadata addresses; ignored in production.",
    )
    outbound_connect_timeout_s: float = Field(
        default=5.0, gt=0, description="Connect timeout of one outbound call (callbacks, …)."
    )
    outbound_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="Total time one outbound call may take: resolving, connecting, sending and "
        "reading the whole answer.",
    )
    outbound_max_response_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="Largest answer body an outbound call reads (bytes); a larger one fails.",
    )
    callback_retry_s: str = Field(
        default="15,60,300,1800,7200,21600",
        pattern=r"^\s*\d+(\.\d+)?(\s*,\s*\d+(\.\d+)?)*\s*$",
        description="Reseller callbacks: seconds to wait before each retry after a failed "
        "attempt (comma-separated); once all are used the callback is given up (`failed`).",
    )
    callback_timeout_s: float = Field(
        default=5.0,
        gt=0,
        le=10,
        description="Reseller callbacks: total time one attempt may take (connect, send, "
        "read the answer); longer counts as a failed attempt.",
    )
    epay_gateway_url: str | None = Field(
        default=None,
        description="EPay (易支付) gateway base URL (its submit.php and api.php live there). "
        "Empty: paying through the gateway is off.",
    )
    epay_pid: str = Field(default="", description="EPay merchant id (商户ID).")
    epay_key: SecretStr = Field(default=SecretStr(""), description="EPay merchant key (商户密钥).")
    epay_simulator: bool = Field(
        default=False,
        description="Demo only: the API hosts a simulated EPay gateway at /epay-sim (its pay "
        "page sends real signed notices). `kameng run` turns it on when no gateway is set.",
    )
    xlsx_max_unzipped_bytes: int = Field(
        default=256 * 1024 * 1024,
        ge=1024,
        description="An XLSX upload whose parts unzip to more than this is refused (zip bombs).",
    )
    access_token_ttl_s: int = Field(default=900, ge=60, description="Access token lifetime.")
    refresh_token_ttl_s: int = Field(
        default=30 * 86400, ge=3600, description="Refresh token (session) lifetime."
    )
    step_up_window_s: int = Field(
        default=300, ge=30, description="How long a 2FA verification allows sensitive actions."
    )
    smtp_host: str | None = Field(default=None, description="SMTP server; empty: mail is logged.")
    smtp_port: int = Field(default=25, description="SMTP port.")
    smtp_username: str | None = Field(default=None, description="SMTP user (optional).")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP password.")
    smtp_starttls: bool = Field(default=False, description="Use STARTTLS.")
    mail_from: str = Field(
        default="kameng <no-reply@kameng.example>", description="Sender address."
    )
    db_pool_size: int = Field(default=10, ge=1, description="SQLAlchemy pool size per process.")
    db_max_overflow: int = Field(default=10, ge=0, description="Extra connections above the pool.")
    db_pool_timeout_s: float = Field(
        default=10,
        gt=0,
        description="How long a request waits for a database connection before it is answered "
        "503 (overloaded) instead.",
    )
    db_echo: bool = Field(default=False, description="Log every SQL statement.")
    purchase_batches_in_flight: int = Field(
        default=1,
        ge=1,
        description="Group commits of the purchase lane in the database at once, per API "
        "process. Purchases arriving meanwhile wait and go together in the next one: on few "
        "cores one batch at a time is fastest (a batch of 30 costs little more than one).",
    )
    reseller_key_grace_s: int = Field(
        default=86400,
        ge=0,
        description="After a reseller rotates an open-API key, the old key keeps working this "
        "many seconds (then it is refused as unknown_key).",
    )
    reseller_max_keys: int = Field(
        default=10, ge=1, le=100, description="Live open-API keys one reseller may hold."
    )
    reseller_default_rate_per_min: int = Field(
        default=600,
        ge=1,
        le=100_000,
        description="Requests per minute a new open-API key may make (per key; 429 beyond).",
    )
    purchase_batch_stretch_ms: float = Field(
        default=15,
        gt=0,
        description="When the purchase lane's batch in flight has run longer than this, one "
        "more batch takes the purchases waiting (they are not held up by a slow commit).",
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed by CORS (JSON list). Empty: same-origin."
    )
    max_body_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1024, description="Largest request body accepted (bytes)."
    )
    log_level: str = Field(default="INFO", description="Root log level.")
    log_json: bool = Field(default=True, description="Log as JSON lines (false: plain text).")
    queue_name: str = Field(default="kameng:queue", description="arq queue name.")
    outbox_sweep_interval_s: float = Field(
        default=2.0, gt=0, description="How often the sweeper looks for unrelayed outbox rows."
    )
    outbox_relay_grace_s: float = Field(
        default=5.0,
        ge=0,
        description="Age after which a pending outbox row is pushed by the sweeper, not the "
        "after-commit relay.",
    )
    outbox_requeue_after_s: float = Field(
        default=60.0,
        gt=0,
        description="A relayed row still not done after this long is pushed again (lost job).",
    )
    worker_health_interval_s: int = Field(
        default=5, ge=1, description="How often a worker reports itself alive to Redis."
    )
    worker_max_jobs: int = Field(default=20, ge=1, description="Concurrent jobs per worker.")
    worker_nice: int = Field(
        default=19,
        ge=0,
        le=19,
        description="CPU priority the worker lowers itself by (nice). On a machine it shares "
        "with the API, buyers are answered first and mails and notices catch up in idle time.",
    )
    worker_idle_class: bool = Field(
        default=True,
        description="Also run the worker in Linux's idle scheduling class (SCHED_IDLE): it "
        "takes a core only when no API process wants it and never preempts one.",
    )
    notice_hold_rate: int = Field(
        default=100,
        ge=0,
        description="Purchases a second (in one API process) from which a sale counts as hot: "
        "its buyers' mails and notices wait until it cools, so the worker leaves the cores to "
        "the sale (0: never wait). Buyers get their keys in the answer either way.",
    )
    notice_hold_max_s: float = Field(
        default=60.0,
        gt=0,
        description="The longest a mail or notice waits for a hot sale to cool.",
    )
    seed_demo: bool = Field(default=True, description="`kameng run` seeds the demo shop once.")

    @model_validator(mode="after")
    def _production_needs_real_secrets(self) -> Settings:
        if self.environment == "production":
            key = self.secret_key.get_secret_value()
            if key == DEV_SECRET or len(key) < 32:
                raise ValueError("KAMENG_SECRET_KEY must be set (32+ characters) in production")
            if not self.field_keys:
                raise ValueError("KAMENG_FIELD_KEYS must be set in production")
            if not self.dedupe_key.get_secret_value():
                raise ValueError("KAMENG_DEDUPE_KEY must be set in production")
        return self

    @property
    def callback_retry_schedule(self) -> tuple[float, ...]:
        """``callback_retry_s`` as seconds, in order."""
        return tuple(float(x) for x in self.callback_retry_s.split(",") if x.strip())

    @property
    def embedded(self) -> bool:
        return self.database_url is None or self.redis_url is None


@lru_cache
def get_settings() -> Settings:
    return Settings()
