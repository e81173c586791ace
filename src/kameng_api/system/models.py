from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Identity, Integer, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from kameng_api.core.db import Base


class WorkerProbe(Base):
    """A round trip through outbox → arq → worker → database, used to prove the pipeline works
    (and by the tests of the outbox's guarantees). ``runs`` counts applied effects."""

    __tablename__ = "worker_probes"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    label: Mapped[str] = mapped_column(String(100))
    work_ms: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    runs: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("work_ms >= 0 AND work_ms <= 15000", name="work_ms_range"),
        CheckConstraint("runs >= 0", name="runs_nonnegative"),
    )
