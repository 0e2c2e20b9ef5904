"""The one interface every search backend implements.

Elasticsearch is the reference; the embedded backend makes the main job run with no
server. ``tests/search/test_contract.py`` runs the same tests against both.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from search.documents import IndexReport, SearchDocument, SearchQuery, SearchResult, Suggestion


class SearchUnavailable(RuntimeError):
    """The backend cannot be reached or refused the request as a whole (not one document)."""


class Unsupported(RuntimeError):
    """A feature this backend does not have (the API answers 501 and names the backend that has it)."""

    def __init__(self, feature: str, backend: str) -> None:
        super().__init__(f"{feature} needs the Elasticsearch backend; this instance runs {backend}")
        self.feature = feature
        self.backend = backend


class SearchBackend(ABC):
    """Index and query :class:`SearchDocument` s.

    Semantics both backends keep:
    - ``upsert`` is idempotent by document id; a failing document is reported in
      :class:`IndexReport.errors` and never stops the others.
    - ``search`` matches every analysed term of ``q`` (AND) over title, summary and body
      (text analysed by :mod:`search.analysis`, the same for both), filters are exact
      keyword matches (OR within a field, AND across fields), facets count
      :data:`search.documents.FACET_FIELDS` over the filtered result set, hits sorted by
      relevance when ``q`` is given, otherwise by ``published`` descending, then id.
    - writes are visible to ``search`` after ``refresh()``.
    """

    name: str

    @abstractmethod
    def ensure_index(self) -> None:
        """Create the index (and alias) if missing; no-op when it exists."""

    @abstractmethod
    def upsert(self, docs: Sequence[SearchDocument]) -> IndexReport:
        """Insert or replace documents by id."""

    @abstractmethod
    def delete(self, ids: Sequence[str]) -> IndexReport:
        """Remove documents by id; unknown ids are not errors."""

    @abstractmethod
    def get(self, doc_id: str) -> SearchDocument | None:
        """One document by id."""

    @abstractmethod
    def search(self, query: SearchQuery) -> SearchResult:
        """Full text + filters + facets."""

    @abstractmethod
    def count(self) -> int:
        """Number of documents in the index."""

    @abstractmethod
    def refresh(self) -> None:
        """Make all writes so far visible to search."""

    @abstractmethod
    def suggest(self, prefix: str, size: int = 10) -> list[Suggestion]:
        """Titles of items whose title (or a later word of it) starts with ``prefix`` (folded)."""

    def related(self, doc_id: str, size: int = 10) -> SearchResult:
        """Items like this one (more-like-this), preferring other networks."""
        raise Unsupported("related items (more_like_this)", self.name)

    #: Features of :class:`SearchQuery` this backend refuses with :class:`Unsupported`.
    unsupported: tuple[str, ...] = ()

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
