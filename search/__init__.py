"""Search: the index stage's writer and the API's reader, behind one interface."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.settings import Settings
    from search.base import SearchBackend


def make_backend(settings: Settings) -> SearchBackend:
    """The backend the settings ask for (imports lazily so the embedded path needs no ES client)."""
    if settings.search_backend == "elasticsearch":
        from search.elasticsearch import ElasticsearchBackend

        return ElasticsearchBackend(
            settings.es_url,
            settings.es_index,
            timeout_s=settings.es_timeout_s,
            search_timeout=settings.es_search_timeout,
        )
    from search.embedded import EmbeddedBackend

    return EmbeddedBackend(settings.resolved_index_path)
