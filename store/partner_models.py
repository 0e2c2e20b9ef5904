"""Tables of partner self-service and harvest health (same ``Base`` as :mod:`store.models`).

Kept apart from the core tables so the core stays the registry's mirror: a partner's own
sources, keys and contact live here, as does what the harvest learns about each source's
health. ``store.repository`` imports this module so ``create_all`` makes these tables too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from store.models import Base


class ApiKeyRow(Base):
    """A partner API key: only its scrypt hash is kept, scoped to one network."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # public key id, part of the key
    network_id: Mapped[str] = mapped_column(ForeignKey("networks.id"), index=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    salt: Mapped[bytes] = mapped_column(LargeBinary)
    digest: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class NetworkContactRow(Base):
    """Where a network wants to hear about its sources: a webhook and/or an e-mail address."""

    __tablename__ = "network_contacts"

    network_id: Mapped[str] = mapped_column(ForeignKey("networks.id"), primary_key=True)
    webhook_url: Mapped[str | None] = mapped_column(String(2000))
    email: Mapped[str | None] = mapped_column(String(320))


class PartnerSourceRow(Base):
    """A source a partner added through the API (the full SourceSpec as JSON)."""

    __tablename__ = "partner_sources"

    id: Mapped[str] = mapped_column(ForeignKey("sources.id"), primary_key=True)
    network_id: Mapped[str] = mapped_column(ForeignKey("networks.id"), index=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    interval_s: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SourceHealthRow(Base):
    """What the harvest knows about one source's health, and when it is due next."""

    __tablename__ = "source_health"

    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id"), primary_key=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_status: Mapped[str | None] = mapped_column(String(20))
    error_code: Mapped[str | None] = mapped_column(String(60))
    http_status: Mapped[int | None] = mapped_column(Integer)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    unchanged_streak: Mapped[int] = mapped_column(Integer, default=0)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    duration_s: Mapped[float | None] = mapped_column(Float)
    warnings: Mapped[list[Any]] = mapped_column(JSON, default=list)
    interval_s: Mapped[int | None] = mapped_column(Integer)
    next_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    auto_paused: Mapped[bool] = mapped_column(Boolean, default=False)
    paused_reason: Mapped[str | None] = mapped_column(Text)
    paused_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    dead_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class HarvestAttemptRow(Base):
    """One source in one harvest while it runs: ``running`` until a terminal state is written.

    ``heartbeat_at`` moves while the crawl is alive; a row left ``running`` past
    ``health_stuck_after_s`` without a heartbeat (a killed worker) is marked ``stuck``.
    """

    __tablename__ = "harvest_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id"), index=True)
    state: Mapped[str] = mapped_column(String(20), index=True)  # running | done | failed | stuck
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    worker: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str | None] = mapped_column(String(20))
