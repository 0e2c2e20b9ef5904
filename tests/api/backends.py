"""The two search backends the API's contract tests run on: the embedded index and a real
Elasticsearch (the ``es_*`` fixtures; integration tests)."""

from __future__ import annotations

from typing import Any

import pytest

from search.embedded import EmbeddedBackend

#: ``@pytest.fixture(params=BACKENDS)``: one run per backend, Elasticsearch marked integration.
BACKENDS = ["embedded", pytest.param("elasticsearch", marks=pytest.mark.integration)]


def settings_and_backend(request: Any, make_settings: Any, tmp_path: Any) -> tuple[Any, Any]:
    """Settings for the app and the backend of ``request.param``, empty and ready to fill."""
    if request.param == "elasticsearch":
        backend = request.getfixturevalue("es_backend")
        settings = make_settings(
            search_backend="elasticsearch",
            es_url=request.getfixturevalue("es_url"),
            es_index=request.getfixturevalue("es_alias"),
        )
    else:
        settings = make_settings(embedded_index_path=tmp_path / "idx.sqlite3")
        backend = EmbeddedBackend(settings.resolved_index_path)
    return settings, backend
