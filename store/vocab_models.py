"""Tables for the vocabulary side of the store: unmapped source tags and cluster keys.

Unmapped tags are kept per source with counts so a partner sees which of its tags to map
(SourceSpec.tag_map). Cluster keys let a new copy find the cluster of an earlier one without
comparing all pairs (ontology/cluster.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from store.models import Base


class UnmappedTagRow(Base):
    """A source's tag (or case value) that maps onto none of our concepts."""

    __tablename__ = "unmapped_tags"

    source_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    tag: Mapped[str] = mapped_column(String(300), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    example_item: Mapped[str | None] = mapped_column(String(500))


class ClusterKeyRow(Base):
    """One clustering key (canonical URL, content hash, event key, LSH band) -> its cluster."""

    __tablename__ = "cluster_keys"

    key: Mapped[str] = mapped_column(String(600), primary_key=True)
    #: Not indexed: every read is by key (store/clusters.py); stores made with the index lose it
    #: (store/repository.py ``_drop_unused_indexes``).
    cluster: Mapped[str] = mapped_column(String(500))


class ClusterSignatureRow(Base):
    """The MinHash signature of a cluster's first member (near-duplicates are checked against it)."""

    __tablename__ = "cluster_signatures"

    cluster: Mapped[str] = mapped_column(String(500), primary_key=True)
    signature: Mapped[list[Any]] = mapped_column(JSON)
