"""Tables of the published event stream (LDES) and of the streams this instance follows.

They live on :class:`store.models.Base`, so ``Store()`` creates them with the others.
The member log is append-only: rows are inserted, never updated or deleted, which is
what makes a closed page immutable (see ``store/members.py``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from store.models import Base


class LdesMemberRow(Base):
    """One immutable version object (or ``as:Delete`` tombstone) of one item."""

    __tablename__ = "ldes_members"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version_iri: Mapped[str] = mapped_column(String(700), unique=True)
    item_iri: Mapped[str] = mapped_column(String(500), index=True)
    generated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: UTC day of ``generated_at`` (YYYY-MM-DD): the page a member belongs to.
    day: Mapped[str] = mapped_column(String(10))
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    #: The version object as N-Triples (subject: the version IRI).
    graph: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_ldes_members_day_seq", "day", "seq"),)


class LdesMemberFacetRow(Base):
    """What a filtered view selects on: type, network, source, language, theme."""

    __tablename__ = "ldes_member_facets"

    seq: Mapped[int] = mapped_column(ForeignKey("ldes_members.seq"), primary_key=True)
    facet: Mapped[str] = mapped_column(String(20), primary_key=True)
    value: Mapped[str] = mapped_column(String(500), primary_key=True)

    __table_args__ = (Index("ix_ldes_member_facets_lookup", "facet", "value", "seq"),)


class LdesHeadRow(Base):
    """The latest published version of each item: decides whether a harvest adds a member."""

    __tablename__ = "ldes_heads"

    item_iri: Mapped[str] = mapped_column(String(500), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    source_id: Mapped[str | None] = mapped_column(String(100), index=True)


class LdesFollowStateRow(Base):
    """Saved state of a followed stream (federation): which immutable pages are done."""

    __tablename__ = "ldes_follow_states"

    source_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    done_pages: Mapped[list[Any]] = mapped_column(JSON, default=list)
    last_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    members_seen: Mapped[int] = mapped_column(Integer, default=0)


class LdesFollowItemRow(Base):
    """The newest version of each item taken from a followed stream: an older one never overwrites it."""

    __tablename__ = "ldes_follow_items"

    source_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    item_iri: Mapped[str] = mapped_column(String(500), primary_key=True)
    version_iri: Mapped[str] = mapped_column(String(700))
    #: ``prov:generatedAtTime`` of that version on the followed stream (ISO 8601, UTC).
    version_time: Mapped[str] = mapped_column(String(40))
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
